//! `pbkdf2_sha256$<iterations>$<salt>$<hash>`: Django's `PBKDF2PasswordHasher`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::{same, Hasher};

/// The encoded hash of `password` with `salt` and `iterations`.
pub(super) fn encode(password: &str, salt: &str, iterations: u32) -> String {
    let mut hash = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(
        password.as_bytes(),
        salt.as_bytes(),
        iterations,
        &mut hash,
    );
    format!(
        "pbkdf2_sha256${iterations}${salt}${}",
        STANDARD.encode(hash)
    )
}

/// Whether a parameter test says the hash needs redoing under a preferred hasher.
pub(super) type ParamsDiffer = Box<dyn Fn(&Hasher) -> bool>;

/// `None` when `encoded` is not a well-formed PBKDF2 hash; else whether `password` matches,
/// and whether its iterations or salt differ from what the preferred hasher would use.
pub(super) fn verify(password: &str, encoded: &str) -> Option<(bool, ParamsDiffer)> {
    let mut parts = encoded.splitn(4, '$');
    let (_, iterations, salt, _) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let iterations: u32 = iterations.parse().ok().filter(|&n| n > 0)?;
    if salt.is_empty() {
        return None;
    }
    let valid = same(&encode(password, salt, iterations), encoded);
    // Django: fewer than 22 characters of a-zA-Z0-9 is under 128 bits of entropy.
    let short_salt = salt.len() < 22;
    let differ: ParamsDiffer = Box::new(move |preferred| match preferred {
        Hasher::Pbkdf2Sha256 { iterations: wanted } => short_salt || *wanted != iterations,
        #[allow(unreachable_patterns)]
        _ => true,
    });
    Some((valid, differ))
}
