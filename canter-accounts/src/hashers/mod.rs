//! Django's password hashers (`django.contrib.auth.hashers`): the same encoded strings in
//! `auth_user.password`, so hashes made on either side verify on the other.
//!
//! | Django | canter |
//! |---|---|
//! | `make_password(pw)` | [`make_password`] (the preferred hasher: PBKDF2-SHA256, Django 5.2's 1,000,000 iterations) |
//! | `check_password(pw, encoded)` | [`check_password`] (also says whether the hash should be upgraded) |
//! | `make_password(None)` | [`make_unusable_password`] |
//! | `is_password_usable(encoded)` | [`is_password_usable`] |
//!
//! These are CPU-bound (about a second of work at full strength): call the `a*` versions
//! ([`amake_password`], [`acheck_password`]) from async code, which run them on the
//! blocking pool so the runtime keeps serving other requests.
//!
//! ```
//! use canter_accounts::hashers::{check_password, make_password_with, Hasher};
//!
//! let hasher = Hasher::Pbkdf2Sha256 { iterations: 1_000 };
//! let encoded = make_password_with("s3cret", &hasher);
//! assert!(encoded.starts_with("pbkdf2_sha256$1000$"));
//! assert!(check_password("s3cret", &encoded, &hasher).valid);
//! assert!(!check_password("wrong", &encoded, &hasher).valid);
//! ```

#[cfg(feature = "argon2")]
mod argon;
mod pbkdf2;

#[cfg(feature = "argon2")]
use pbkdf2::ParamsDiffer;

use crate::crypto::{constant_time_eq, random_string, RANDOM_STRING_CHARS};

/// Django 5.2's default PBKDF2 iteration count (`PBKDF2PasswordHasher.iterations`).
pub const PBKDF2_ITERATIONS: u32 = 1_000_000;

/// `UNUSABLE_PASSWORD_PREFIX`.
const UNUSABLE_PREFIX: char = '!';

/// The hasher new passwords are made with (Django's first `PASSWORD_HASHERS` entry).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Hasher {
    /// `pbkdf2_sha256$<iterations>$<salt>$<b64 hash>`.
    Pbkdf2Sha256 {
        /// Rounds of SHA-256 for new hashes; a hash with another count is upgraded at login.
        iterations: u32,
    },
    /// `argon2$argon2id$v=19$m=102400,t=2,p=8$<salt>$<hash>` (Django's parameters).
    #[cfg(feature = "argon2")]
    Argon2,
}

impl Default for Hasher {
    fn default() -> Self {
        Hasher::Pbkdf2Sha256 {
            iterations: PBKDF2_ITERATIONS,
        }
    }
}

/// What [`check_password`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checked {
    /// The password matches the hash.
    pub valid: bool,
    /// The hash was made by another hasher, or with other parameters, than the preferred
    /// one: re-hash the (valid) password and save it (Django's `must_update`).
    pub must_update: bool,
}

/// Django's 22-character salt (128 bits of `a-zA-Z0-9`).
pub fn new_salt() -> String {
    random_string(22, RANDOM_STRING_CHARS)
}

/// Hashes `password` with the default hasher (blocking: see [`amake_password`]).
pub fn make_password(password: &str) -> String {
    make_password_with(password, &Hasher::default())
}

/// Hashes `password` with `hasher` and a fresh salt.
pub fn make_password_with(password: &str, hasher: &Hasher) -> String {
    let salt = new_salt();
    match hasher {
        Hasher::Pbkdf2Sha256 { iterations } => pbkdf2::encode(password, &salt, *iterations),
        #[cfg(feature = "argon2")]
        Hasher::Argon2 => argon::encode(password, &salt),
    }
}

/// Django's `make_password(None)`: `!` and 40 random characters, which no password matches.
pub fn make_unusable_password() -> String {
    format!(
        "{UNUSABLE_PREFIX}{}",
        random_string(40, RANDOM_STRING_CHARS)
    )
}

/// Django's `is_password_usable`.
pub fn is_password_usable(encoded: &str) -> bool {
    !encoded.starts_with(UNUSABLE_PREFIX)
}

/// Verifies `password` against `encoded` (blocking: see [`acheck_password`]), `preferred`
/// deciding whether the hash needs an upgrade. An unusable, unknown or malformed hash is
/// not valid, after the same work as a real check (as Django does, so the time taken does
/// not tell a missing user from a wrong password).
pub fn check_password(password: &str, encoded: &str, preferred: &Hasher) -> Checked {
    let invalid = Checked {
        valid: false,
        must_update: false,
    };
    let algorithm = encoded.split('$').next().unwrap_or("");
    let verdict = match algorithm {
        "pbkdf2_sha256" => pbkdf2::verify(password, encoded),
        #[cfg(feature = "argon2")]
        "argon2" => argon::verify(password, encoded),
        _ => None,
    };
    let Some((valid, params_differ)) = verdict else {
        make_password_with(password, preferred);
        return invalid;
    };
    // Each hasher's test is true for another preferred hasher too (Django's
    // `algorithm != preferred.algorithm or preferred.must_update(encoded)`).
    Checked {
        valid,
        must_update: params_differ(preferred),
    }
}

/// [`make_password`] on the blocking pool.
pub async fn amake_password(password: String, hasher: Hasher) -> String {
    tokio::task::spawn_blocking(move || make_password_with(&password, &hasher))
        .await
        .expect("hashing does not panic")
}

/// [`check_password`] on the blocking pool.
pub async fn acheck_password(password: String, encoded: String, preferred: Hasher) -> Checked {
    tokio::task::spawn_blocking(move || check_password(&password, &encoded, &preferred))
        .await
        .expect("hashing does not panic")
}

/// Compares two encoded strings in constant time.
fn same(a: &str, b: &str) -> bool {
    constant_time_eq(a.as_bytes(), b.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn djangos_vector_and_upgrade_rules() {
        // interop-formats.md §2.1: password "secret", salt "abcdefghijklmnopqrstuv".
        let encoded =
            "pbkdf2_sha256$1000000$abcdefghijklmnopqrstuv$tW94pSigUM2AlIkWSQO4yVeVgz1Hy8/tw6HFhR010Gk=";
        assert_eq!(
            pbkdf2::encode("secret", "abcdefghijklmnopqrstuv", 1_000_000),
            encoded
        );
        let checked = check_password("secret", encoded, &Hasher::default());
        assert_eq!(
            checked,
            Checked {
                valid: true,
                must_update: false
            }
        );
        let fewer = Hasher::Pbkdf2Sha256 { iterations: 1_000 };
        assert!(
            check_password("secret", encoded, &fewer).must_update,
            "either direction"
        );
        assert!(!check_password("Secret", encoded, &Hasher::default()).valid);
    }

    #[test]
    fn unusable_unknown_and_malformed_hashes_never_match() {
        let fast = Hasher::Pbkdf2Sha256 { iterations: 10 };
        let unusable = make_unusable_password();
        assert_eq!(unusable.len(), 41);
        assert!(!is_password_usable(&unusable));
        for encoded in [
            unusable.as_str(),
            "",
            "md5$$x",
            "pbkdf2_sha256$",
            "pbkdf2_sha256$x$salt$hash",
            "pbkdf2_sha256$10$$hash",
            "pbkdf2_sha256$0$salt$hash",
        ] {
            assert!(!check_password("", encoded, &fast).valid, "{encoded:?}");
        }
    }

    #[test]
    fn a_short_salt_asks_for_an_upgrade() {
        let fast = Hasher::Pbkdf2Sha256 { iterations: 10 };
        let encoded = pbkdf2::encode("pw", "short", 10);
        assert_eq!(
            check_password("pw", &encoded, &fast),
            Checked {
                valid: true,
                must_update: true
            }
        );
    }
}
