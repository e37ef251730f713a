//! Where sessions live: the [`SessionStore`] trait, Django's key rules and encoding.

use futures_util::future::BoxFuture;
use serde_json::{Map, Value};

use crate::crypto::random_string;
use crate::signing::Signer;

/// A session's data: what Django's `request.session` holds.
pub type SessionData = Map<String, Value>;

/// A store failing (a database or Redis error): the response is a 500, the data is not lost
/// silently.
#[derive(Debug, thiserror::Error)]
#[error("session store: {0}")]
pub struct SessionError(pub String);

/// A session backend (Django's `SessionBase` subclasses).
pub trait SessionStore: Send + Sync + 'static {
    /// The data of session `key`; `None` when it is missing, expired or corrupt (an
    /// unknown key is never adopted: saving makes a new one).
    fn load<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Option<SessionData>>;
    /// Saves `data` for `age` seconds under `key` (a new key when `None`), returning the
    /// key the cookie carries.
    fn save<'a>(
        &'a self,
        key: Option<&'a str>,
        data: &'a SessionData,
        age: i64,
    ) -> BoxFuture<'a, Result<String, SessionError>>;
    /// Deletes session `key`.
    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), SessionError>>;
    /// Removes expired sessions, where the store keeps them (`clearsessions`).
    fn clear_expired(&self) -> BoxFuture<'_, Result<u64, SessionError>> {
        Box::pin(async { Ok(0) })
    }
}

/// Django's `VALID_KEY_CHARS`: lowercase letters and digits.
const KEY_CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

/// A new session key: 32 characters of `a-z0-9` (Django's `_get_new_session_key`).
pub fn new_session_key() -> String {
    random_string(32, KEY_CHARS)
}

/// Django's `_validate_session_key`: at least 8 characters (and, here, at most the column's
/// 40, of Django's alphabet: anything else cannot be a key Django or canter made).
pub fn valid_session_key(key: &str) -> bool {
    (8..=40).contains(&key.len()) && key.bytes().all(|b| KEY_CHARS.contains(&b))
}

/// The salt of Django's built-in stores (`"django.contrib.sessions." + "SessionStore"`).
pub const SESSION_SALT: &str = "django.contrib.sessions.SessionStore";

/// Django's `SessionBase.encode` / `decode`: signed, compressed JSON.
#[derive(Clone)]
pub struct SessionCodec {
    signer: Signer,
}

impl SessionCodec {
    /// A codec signing with `key`, and reading data signed with any of `fallbacks` too
    /// (Django's `SECRET_KEY_FALLBACKS`).
    pub fn new(key: Vec<u8>, fallbacks: Vec<Vec<u8>>) -> Self {
        Self {
            signer: Signer::new(key, fallbacks, SESSION_SALT),
        }
    }
    /// `data` as Django stores it: compressed when that is shorter, JSON, signed.
    pub fn encode(&self, data: &SessionData) -> String {
        self.signer.sign_object(data, true)
    }
    /// `None` for data that is tampered with or corrupt (Django logs "Session data
    /// corrupted" and starts an empty session).
    pub fn decode(&self, text: &str) -> Option<SessionData> {
        match self.signer.unsign_object(text, None) {
            Ok(data) => Some(data),
            Err(e) => {
                tracing::warn!(target: "canter::security", "session data corrupted: {e}");
                None
            }
        }
    }
}
