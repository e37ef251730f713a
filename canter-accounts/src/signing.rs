//! Django's `django.core.signing`: `Signer`, `TimestampSigner`, `dumps` / `loads`, byte for
//! byte, so that values signed by either side verify on the other (same `SECRET_KEY`).
//!
//! `value:timestamp:signature`, the signature `b64url(HMAC-SHA256(SHA256(salt + "signer" +
//! key), value))` without padding; `dumps` puts compact JSON there, base64url without
//! padding, zlib-compressed behind a leading `.` when that is shorter.
//!
//! ```
//! use canter_accounts::signing::Signer;
//!
//! let signer = Signer::new(b"secret".to_vec(), vec![], "my.salt");
//! let signed = signer.sign_object(&serde_json::json!({"a": 1}), false);
//! let back: serde_json::Value = signer.unsign_object(&signed, None).unwrap();
//! assert_eq!(back["a"], 1);
//! assert!(signer.unsign_object::<serde_json::Value>(&format!("{signed}x"), None).is_err());
//! ```

use std::io::{Read, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::crypto::{constant_time_eq, salted_hmac};

/// Why a signed value was refused (Django's `BadSignature` / `SignatureExpired`).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BadSignature {
    /// The value has no separator: it was never signed.
    #[error("no \":\" found in value")]
    Malformed,
    /// The signature does not match the value under any of the keys (tampered with).
    #[error("signature does not match")]
    Mismatch,
    /// Signed, but longer ago than the reader accepts (Django's `SignatureExpired`).
    #[error("signature age {age} > {max_age} seconds")]
    Expired {
        /// Seconds since it was signed.
        age: u64,
        /// The most the reader accepts.
        max_age: u64,
    },
    /// The signature is good but the payload does not decode (bad base64, zlib or JSON).
    #[error("signed payload is not valid: {0}")]
    Payload(String),
}

/// Decompressed payloads are capped: a signed value is trusted, but a bug elsewhere should
/// not turn into an allocation of gigabytes.
const MAX_DECOMPRESSED: u64 = 16 * 1024 * 1024;

/// Django's `TimestampSigner`: a key (and older keys still accepted), a salt.
#[derive(Clone)]
pub struct Signer {
    key: Vec<u8>,
    fallback_keys: Vec<Vec<u8>>,
    salt: String,
}

impl Signer {
    /// A signer with `key` (Django: `SECRET_KEY`), the `fallback_keys` that still verify
    /// (`SECRET_KEY_FALLBACKS`) and `salt`.
    pub fn new(key: Vec<u8>, fallback_keys: Vec<Vec<u8>>, salt: &str) -> Self {
        Self {
            key,
            fallback_keys,
            salt: salt.to_owned(),
        }
    }

    fn signature(&self, key: &[u8], value: &str) -> String {
        let mac = salted_hmac(&format!("{}signer", self.salt), value.as_bytes(), key);
        URL_SAFE_NO_PAD.encode(mac)
    }

    /// `Signer.sign`: `value:signature` (no timestamp).
    pub fn sign_plain(&self, value: &str) -> String {
        format!("{value}:{}", self.signature(&self.key, value))
    }

    /// `Signer.unsign`: the value, if a current or fallback key signed it.
    pub fn unsign_plain<'a>(&self, signed: &'a str) -> Result<&'a str, BadSignature> {
        let (value, signature) = signed.rsplit_once(':').ok_or(BadSignature::Malformed)?;
        let keys = std::iter::once(&self.key).chain(&self.fallback_keys);
        for key in keys {
            if constant_time_eq(signature.as_bytes(), self.signature(key, value).as_bytes()) {
                return Ok(value);
            }
        }
        Err(BadSignature::Mismatch)
    }

    /// `TimestampSigner.sign`: `value:timestamp:signature`, the time now.
    pub fn sign(&self, value: &str) -> String {
        self.sign_at(value, now())
    }

    /// [`sign`](Self::sign) at a given Unix time (tests, vectors).
    pub fn sign_at(&self, value: &str, timestamp: u64) -> String {
        self.sign_plain(&format!("{value}:{}", b62_encode(timestamp)))
    }

    /// `TimestampSigner.unsign`: the value, refused when older than `max_age` seconds.
    pub fn unsign<'a>(
        &self,
        signed: &'a str,
        max_age: Option<u64>,
    ) -> Result<&'a str, BadSignature> {
        let value = self.unsign_plain(signed)?;
        let (value, timestamp) = value.rsplit_once(':').ok_or(BadSignature::Malformed)?;
        if let Some(max_age) = max_age {
            let timestamp = b62_decode(timestamp).ok_or(BadSignature::Malformed)?;
            let age = now().saturating_sub(timestamp);
            if age > max_age {
                return Err(BadSignature::Expired { age, max_age });
            }
        }
        Ok(value)
    }

    /// `signing.dumps(obj, salt, compress)`: `obj` as signed JSON.
    pub fn sign_object<T: Serialize + ?Sized>(&self, obj: &T, compress: bool) -> String {
        self.sign(&encode_payload(obj, compress))
    }

    /// [`sign_object`](Self::sign_object) at a given Unix time.
    pub fn sign_object_at<T: Serialize + ?Sized>(
        &self,
        obj: &T,
        compress: bool,
        timestamp: u64,
    ) -> String {
        self.sign_at(&encode_payload(obj, compress), timestamp)
    }

    /// `signing.loads(s, salt, max_age)`.
    pub fn unsign_object<T: DeserializeOwned>(
        &self,
        signed: &str,
        max_age: Option<u64>,
    ) -> Result<T, BadSignature> {
        decode_payload(self.unsign(signed, max_age)?)
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Compact JSON (Django's `JSONSerializer`: `separators=(",", ":")`), base64url, maybe zlib.
fn encode_payload<T: Serialize + ?Sized>(obj: &T, compress: bool) -> String {
    let data = serde_json::to_vec(obj).expect("a serialisable value");
    if compress {
        let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(6));
        encoder.write_all(&data).expect("writing to memory");
        let compressed = encoder.finish().expect("writing to memory");
        if compressed.len() < data.len().saturating_sub(1) {
            return format!(".{}", URL_SAFE_NO_PAD.encode(compressed));
        }
    }
    URL_SAFE_NO_PAD.encode(data)
}

fn decode_payload<T: DeserializeOwned>(payload: &str) -> Result<T, BadSignature> {
    let bad = |e: &dyn std::fmt::Display| BadSignature::Payload(e.to_string());
    let (compressed, text) = match payload.strip_prefix('.') {
        Some(rest) => (true, rest),
        None => (false, payload),
    };
    let mut data = URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .map_err(|e| bad(&e))?;
    if compressed {
        let mut out = Vec::new();
        flate2::read::ZlibDecoder::new(&data[..])
            .take(MAX_DECOMPRESSED)
            .read_to_end(&mut out)
            .map_err(|e| bad(&e))?;
        data = out;
    }
    serde_json::from_slice(&data).map_err(|e| bad(&e))
}

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Django's `b62_encode` (most significant digit first).
pub fn b62_encode(mut n: u64) -> String {
    if n == 0 {
        return "0".into();
    }
    let mut digits = Vec::new();
    while n > 0 {
        digits.push(BASE62[(n % 62) as usize]);
        n /= 62;
    }
    digits.reverse();
    String::from_utf8(digits).expect("ASCII")
}

/// Django's `b62_decode`; `None` for a character outside the alphabet, a sign or overflow.
pub fn b62_decode(text: &str) -> Option<u64> {
    if text.is_empty() {
        return None;
    }
    text.bytes().try_fold(0u64, |n, b| {
        let digit = BASE62.iter().position(|&c| c == b)? as u64;
        n.checked_mul(62)?.checked_add(digit)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn djangos_vectors() {
        // interop-formats.md §1.2 (checked with Django 5.2 and 6.0): SECRET_KEY "x",
        // salt "django.contrib.sessions.SessionStore", time 1700000000.
        let signer = Signer::new(
            b"x".to_vec(),
            vec![],
            "django.contrib.sessions.SessionStore",
        );
        assert_eq!(b62_encode(1_700_000_000), "1r31eq");
        assert_eq!(
            signer.sign_object_at(&json!({"a": 1}), true, 1_700_000_000),
            "eyJhIjoxfQ:1r31eq:WEZDX6CTgBVYZxQXePj9qw-d_Xmi980BZPS7Dl8FQdo"
        );
        // A struct keeps Python's insertion order (serde_json's map would sort the keys).
        #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
        struct Login {
            _auth_user_id: String,
            _auth_user_backend: String,
            _auth_user_hash: String,
        }
        let session = Login {
            _auth_user_id: "1".into(),
            _auth_user_backend: "django.contrib.auth.backends.ModelBackend".into(),
            _auth_user_hash: "x".repeat(64),
        };
        let signed = ".eJyrVopPLC3JiC8tTi2Kz0xRslIyVNJBFktKTM5OzQNJpGQl5qXn6yXn55UUZSbpgZToQWWL9XzzU1JznKBqUQzISCzOAOquoBAo1QIAkBRETQ:1r31eq:f9PXrKRdF6of8emap8mn9hH9Lm6GtraLwaMnc4J41JU";
        let back: Login = signer.unsign_object(signed, None).unwrap();
        assert_eq!(back, session);
        // Compressed bytes depend on the zlib implementation (flate2's miniz_oxide here,
        // zlib in Python), so only the format is compared: both sides read both.
        let ours = signer.sign_object_at(&session, true, 1_700_000_000);
        assert!(
            ours.starts_with(".eJ") && ours.contains(":1r31eq:"),
            "{ours}"
        );
        let back: Login = signer.unsign_object(&ours, None).unwrap();
        assert_eq!(back, session);
    }

    #[test]
    fn tampering_truncation_expiry_and_fallback_keys() {
        let old = Signer::new(b"old".to_vec(), vec![], "s");
        let signed = old.sign_object(&json!({"a": 1}), false);
        let rotated = Signer::new(b"new".to_vec(), vec![b"old".to_vec()], "s");
        assert!(rotated
            .unsign_object::<serde_json::Value>(&signed, None)
            .is_ok());
        let fresh = Signer::new(b"new".to_vec(), vec![], "s");
        assert_eq!(
            fresh.unsign(&signed, None).unwrap_err(),
            BadSignature::Mismatch
        );
        for cut in 0..signed.len() {
            assert!(old.unsign(&signed[..cut], None).is_err(), "cut at {cut}");
        }
        let tampered = signed.replacen('e', "f", 1);
        assert!(old.unsign(&tampered, None).is_err());
        let stale = old.sign_at("v", 1_000);
        assert!(matches!(
            old.unsign(&stale, Some(60)),
            Err(BadSignature::Expired { .. })
        ));
        assert_eq!(old.unsign(&stale, None), Ok("v"));
        assert_eq!(b62_decode("-1"), None);
        assert_eq!(b62_decode("zzzzzzzzzzzzzzzz"), None, "overflow");
    }
}
