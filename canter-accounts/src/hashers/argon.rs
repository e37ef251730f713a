//! `argon2$argon2id$v=19$m=102400,t=2,p=8$<salt>$<hash>`: Django's `Argon2PasswordHasher`
//! (argon2-cffi's encoding after the `argon2` prefix; Django's 22-character salt as bytes).

use argon2::{Algorithm, Argon2, Params, Version};
use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;

use super::{Hasher, ParamsDiffer};
use crate::crypto::constant_time_eq;

/// Django's parameters: `memory_cost` 102400 KiB, `time_cost` 2, `parallelism` 8, 32 bytes.
fn djangos() -> Argon2<'static> {
    let params = Params::new(102_400, 2, 8, Some(32)).expect("valid Argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

pub(super) fn encode(password: &str, salt: &str) -> String {
    let mut hash = [0u8; 32];
    djangos()
        .hash_password_into(password.as_bytes(), salt.as_bytes(), &mut hash)
        .expect("a 22-byte salt and 32-byte output are valid");
    format!(
        "argon2$argon2id$v=19$m=102400,t=2,p=8${}${}",
        STANDARD_NO_PAD.encode(salt.as_bytes()),
        STANDARD_NO_PAD.encode(hash)
    )
}

/// Reads `argon2$<variant>$v=19$m=M,t=T,p=P$<salt>$<hash>` (argon2id, argon2i, argon2d).
pub(super) fn verify(password: &str, encoded: &str) -> Option<(bool, ParamsDiffer)> {
    let mut parts = encoded.split('$');
    let (_, variant, version, params, salt, hash) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    let algorithm = match variant {
        "argon2id" => Algorithm::Argon2id,
        "argon2i" => Algorithm::Argon2i,
        "argon2d" => Algorithm::Argon2d,
        _ => return None,
    };
    let version = match version {
        "v=19" => Version::V0x13,
        "v=16" => Version::V0x10,
        _ => return None,
    };
    let (mut m, mut t, mut p) = (None, None, None);
    for pair in params.split(',') {
        let (name, value) = pair.split_once('=')?;
        let value: u32 = value.parse().ok()?;
        match name {
            "m" => m = Some(value),
            "t" => t = Some(value),
            "p" => p = Some(value),
            _ => return None,
        }
    }
    let salt = STANDARD_NO_PAD.decode(salt).ok()?;
    let expected = STANDARD_NO_PAD.decode(hash).ok()?;
    let params = Params::new(m?, t?, p?, Some(expected.len())).ok()?;
    let mut actual = vec![0u8; expected.len()];
    Argon2::new(algorithm, version, params)
        .hash_password_into(password.as_bytes(), &salt, &mut actual)
        .ok()?;
    let valid = constant_time_eq(&actual, &expected);
    let same_params = encoded.starts_with("argon2$argon2id$v=19$m=102400,t=2,p=8$");
    let differ: ParamsDiffer = Box::new(move |preferred| match preferred {
        Hasher::Argon2 => !same_params,
        _ => true,
    });
    Some((valid, differ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn djangos_vector() {
        // interop-formats.md §2.3: "secret", salt "abcdefghijklmnopqrstuv".
        let encoded = "argon2$argon2id$v=19$m=102400,t=2,p=8$YWJjZGVmZ2hpamtsbW5vcHFyc3R1dg$A9DAPQnz27exXaIEX/gYEkGY9RGfCEFQQ/I38bD2xuM";
        assert_eq!(super::encode("secret", "abcdefghijklmnopqrstuv"), encoded);
        assert!(super::verify("secret", encoded).unwrap().0);
        assert!(!super::verify("Secret", encoded).unwrap().0);
    }
}
