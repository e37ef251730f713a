//! The signed-cookie store (Django's `sessions.backends.signed_cookies`): the cookie is the
//! data, signed (not encrypted: the user can read it, not change it).

use futures_util::future::BoxFuture;

use super::store::{SessionData, SessionError, SessionStore};
use crate::signing::Signer;

/// Django's salt for this backend.
const SALT: &str = "django.contrib.sessions.backends.signed_cookies";

/// Sessions kept in the cookie itself, signed (see the module docs).
pub struct SignedCookieStore {
    signer: Signer,
    max_age: u64,
}

impl SignedCookieStore {
    /// Cookies older than `max_age` seconds (`SESSION_COOKIE_AGE`) are refused.
    pub fn new(key: Vec<u8>, fallbacks: Vec<Vec<u8>>, max_age: i64) -> Self {
        Self {
            signer: Signer::new(key, fallbacks, SALT),
            max_age: max_age.max(0) as u64,
        }
    }
}

impl SessionStore for SignedCookieStore {
    fn load<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Option<SessionData>> {
        Box::pin(async move { self.signer.unsign_object(key, Some(self.max_age)).ok() })
    }

    fn save<'a>(
        &'a self,
        _key: Option<&'a str>,
        data: &'a SessionData,
        _age: i64,
    ) -> BoxFuture<'a, Result<String, SessionError>> {
        Box::pin(async move { Ok(self.signer.sign_object(data, true)) })
    }

    fn delete<'a>(&'a self, _key: &'a str) -> BoxFuture<'a, Result<(), SessionError>> {
        Box::pin(async { Ok(()) })
    }
}
