//! Django's `django.utils.crypto`: `salted_hmac`, `constant_time_compare` and
//! `get_random_string`.

use hmac::{KeyInit, Mac};
use rand::Rng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The characters of Django's `RANDOM_STRING_CHARS` (`a-z`, `A-Z`, `0-9`, in that order).
pub const RANDOM_STRING_CHARS: &[u8] =
    b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// Django's `salted_hmac(key_salt, value, secret, algorithm="sha256")`: HMAC-SHA256 of
/// `value` under the key `SHA256(key_salt + secret)`.
pub fn salted_hmac(key_salt: &str, value: &[u8], secret: &[u8]) -> [u8; 32] {
    let mut key = Sha256::new();
    key.update(key_salt.as_bytes());
    key.update(secret);
    let key = key.finalize();
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes any key");
    mac.update(value);
    mac.finalize().into_bytes().into()
}

/// Equality that takes the same time wherever the inputs differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// `length` characters drawn uniformly from `chars` by a cryptographically secure generator
/// (Django's `get_random_string`, which uses `secrets.choice`).
pub fn random_string(length: usize, chars: &[u8]) -> String {
    // ThreadRng: a CSPRNG (ChaCha) seeded and reseeded from the operating system.
    let mut rng = rand::rng();
    (0..length)
        .map(|_| chars[rng.random_range(0..chars.len())] as char)
        .collect()
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_auth_hash_vector() {
        // interop-formats.md §1.5: Django's get_session_auth_hash() for SECRET_KEY "x".
        let password =
            "pbkdf2_sha256$1000000$abcdefghijklmnopqrstuv$tW94pSigUM2AlIkWSQO4yVeVgz1Hy8/tw6HFhR010Gk=";
        let mac = salted_hmac(
            "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash",
            password.as_bytes(),
            b"x",
        );
        assert_eq!(
            hex(&mac),
            "c6cf7cf98868a4609288bf29aa594e15d9e38c7092faaad3eb1aff708323ed53"
        );
    }

    #[test]
    fn random_strings_use_the_alphabet() {
        let s = random_string(64, RANDOM_STRING_CHARS);
        assert_eq!(s.len(), 64);
        assert!(s.bytes().all(|b| RANDOM_STRING_CHARS.contains(&b)));
        assert_ne!(s, random_string(64, RANDOM_STRING_CHARS));
    }
}
