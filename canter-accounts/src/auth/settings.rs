//! `[auth]`: Django's `AUTHENTICATION_BACKENDS`, `PASSWORD_HASHERS` (the preferred one) and
//! `LOGIN_URL`.

use serde::Deserialize;

use crate::hashers::{Hasher, PBKDF2_ITERATIONS};

/// `[auth]` settings: which hasher new passwords get, where to log in, which backends run.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSettings {
    /// `pbkdf2_sha256` (Django's default) or `argon2` (with the `argon2` feature).
    pub hasher: String,
    /// PBKDF2 iterations of new hashes (Django 5.2: 1,000,000). Hashes with another count
    /// are upgraded at login. Lower it in tests only.
    pub pbkdf2_iterations: u32,
    /// Where `login_required` sends anonymous users (Django's `LOGIN_URL`).
    pub login_url: String,
    /// The dotted names of the backends to try, in order (Django's
    /// `AUTHENTICATION_BACKENDS`); each registered with [`crate::Accounts::backend`].
    pub backends: Vec<String>,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            hasher: "pbkdf2_sha256".into(),
            pbkdf2_iterations: PBKDF2_ITERATIONS,
            login_url: "/accounts/login/".into(),
            backends: vec![super::MODEL_BACKEND.into()],
        }
    }
}

impl AuthSettings {
    /// The preferred hasher; an error naming the setting for an unknown one.
    pub fn preferred_hasher(&self) -> Result<Hasher, String> {
        match self.hasher.as_str() {
            "pbkdf2_sha256" => Ok(Hasher::Pbkdf2Sha256 {
                iterations: self.pbkdf2_iterations,
            }),
            #[cfg(feature = "argon2")]
            "argon2" => Ok(Hasher::Argon2),
            other => Err(format!(
                "unknown hasher {other:?}; known: pbkdf2_sha256{}",
                if cfg!(feature = "argon2") {
                    ", argon2"
                } else {
                    " (argon2 needs the argon2 feature)"
                }
            )),
        }
    }
}
