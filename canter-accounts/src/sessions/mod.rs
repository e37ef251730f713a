//! Sessions: Django's `request.session`, on the stores of [`SessionSettings`] (database by
//! default, Redis, signed cookie), saved by the `canter.sessions` middleware only when changed.
//!
//! ```no_run
//! use canter_accounts::sessions::SessionExt;
//! use canter_core::prelude::*;
//!
//! async fn visits(req: Request) -> Result<String> {
//!     let session = req.session()?;
//!     let n: i64 = session.get("visits").await.unwrap_or(0) + 1;
//!     session.insert("visits", n).await;
//!     Ok(format!("{n} visits"))
//! }
//! ```

mod cookie;
mod db;
mod middleware;
#[cfg(feature = "redis")]
mod redis;
mod settings;
mod store;

pub use cookie::SignedCookieStore;
pub use db::DatabaseStore;
pub use middleware::{store_from_settings, SessionMiddleware};
#[cfg(feature = "redis")]
pub use redis::RedisStore;
pub use settings::{same_site, secret_keys, SessionSettings, SigningSettings};
pub use store::{
    new_session_key, valid_session_key, SessionCodec, SessionData, SessionError, SessionStore,
    SESSION_SALT,
};

use std::sync::Arc;

use canter_core::{Error, Request};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::{Mutex, MutexGuard};

/// Django's key for a session's own expiry (seconds, in the data).
const EXPIRY_KEY: &str = "_session_expiry";

/// One request's session: a cheap handle (clones share it), loaded from the store on first
/// use.
#[derive(Clone)]
pub struct Session {
    state: Arc<Mutex<State>>,
    store: Arc<dyn SessionStore>,
    default_age: i64,
}

pub(crate) struct State {
    pub(crate) key: Option<String>,
    data: Option<SessionData>,
    pub(crate) modified: bool,
    pub(crate) accessed: bool,
}

impl Session {
    /// A session for `key` (the cookie's value, if any) in `store`.
    pub fn new(key: Option<String>, store: Arc<dyn SessionStore>, default_age: i64) -> Self {
        Self {
            state: Arc::new(Mutex::new(State {
                key,
                data: None,
                modified: false,
                accessed: false,
            })),
            store,
            default_age,
        }
    }

    /// The state, its data loaded (an unknown key is dropped: fixation is not possible).
    async fn loaded(&self) -> MutexGuard<'_, State> {
        let mut state = self.state.lock().await;
        state.accessed = true;
        if state.data.is_none() {
            let data = match &state.key {
                Some(key) => self.store.load(key).await,
                None => None,
            };
            if data.is_none() {
                state.key = None;
            }
            state.data = Some(data.unwrap_or_default());
        }
        state
    }

    /// `request.session[key]`, as `T` (`None` when absent or of another shape).
    pub async fn get<T: DeserializeOwned>(&self, key: &str) -> Option<T> {
        let value = self.get_value(key).await?;
        serde_json::from_value(value).ok()
    }

    /// The raw JSON value of `key`.
    pub async fn get_value(&self, key: &str) -> Option<Value> {
        let state = self.loaded().await;
        state.data.as_ref()?.get(key).cloned()
    }

    /// Sets `key` (marks the session modified).
    pub async fn insert<T: Serialize>(&self, key: &str, value: T) {
        let value = serde_json::to_value(value).unwrap_or(Value::Null);
        let mut state = self.loaded().await;
        state
            .data
            .get_or_insert_default()
            .insert(key.to_owned(), value);
        state.modified = true;
    }

    /// Removes `key`, returning its value.
    pub async fn remove(&self, key: &str) -> Option<Value> {
        let mut state = self.loaded().await;
        let removed = state.data.get_or_insert_default().remove(key);
        if removed.is_some() {
            state.modified = true;
        }
        removed
    }

    /// Whether the session has `key` (Python's `key in request.session`).
    pub async fn contains(&self, key: &str) -> bool {
        self.get_value(key).await.is_some()
    }

    /// The keys, in order.
    pub async fn keys(&self) -> Vec<String> {
        let state = self.loaded().await;
        state.data.iter().flat_map(|d| d.keys().cloned()).collect()
    }

    /// Whether the session holds nothing (a new or flushed one).
    pub async fn is_empty(&self) -> bool {
        let state = self.loaded().await;
        state.data.as_ref().is_none_or(|d| d.is_empty())
    }

    /// The session's key, once it has one (a new session gets it when saved).
    pub async fn session_key(&self) -> Option<String> {
        self.state.lock().await.key.clone()
    }

    /// Django's `flush()`: the data and the stored session are deleted, the key dropped.
    pub async fn flush(&self) -> Result<(), SessionError> {
        let mut state = self.loaded().await;
        if let Some(key) = state.key.take() {
            self.store.delete(&key).await?;
        }
        state.data = Some(SessionData::new());
        state.modified = true;
        Ok(())
    }

    /// Django's `cycle_key()`: the data kept under a new key, the old one deleted (login
    /// does this, against session fixation).
    pub async fn cycle_key(&self) -> Result<(), SessionError> {
        let mut state = self.loaded().await;
        if let Some(key) = state.key.take() {
            self.store.delete(&key).await?;
        }
        state.modified = true;
        Ok(())
    }

    /// Django's `set_expiry(seconds)`: this session's age (0: until the browser closes);
    /// `None` goes back to the setting.
    pub async fn set_expiry(&self, seconds: Option<i64>) {
        match seconds {
            Some(seconds) => self.insert(EXPIRY_KEY, seconds).await,
            None => {
                self.remove(EXPIRY_KEY).await;
            }
        }
    }

    /// Seconds until the session expires (`get_expiry_age`).
    pub async fn expiry_age(&self) -> i64 {
        match self.get::<i64>(EXPIRY_KEY).await {
            Some(0) | None => self.default_age,
            Some(seconds) => seconds,
        }
    }

    /// Whether the cookie ends with the browser (`get_expire_at_browser_close`).
    pub(crate) async fn expires_at_browser_close(&self, setting: bool) -> bool {
        match self.get::<i64>(EXPIRY_KEY).await {
            Some(0) => true,
            Some(_) => false,
            None => setting,
        }
    }

    pub(crate) fn store(&self) -> &Arc<dyn SessionStore> {
        &self.store
    }

    pub(crate) async fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().await
    }

    /// The loaded data (for saving).
    pub(crate) async fn data(&self) -> SessionData {
        self.loaded().await.data.clone().unwrap_or_default()
    }
}

/// `request.session` on a request.
pub trait SessionExt {
    /// The request's session; a 500 naming the fix if the `canter.sessions` middleware is
    /// not installed.
    fn session(&self) -> Result<Session, Error>;
}

impl SessionExt for Request {
    fn session(&self) -> Result<Session, Error> {
        self.extensions().get::<Session>().cloned().ok_or_else(|| {
            Error::new(
                http::StatusCode::INTERNAL_SERVER_ERROR,
                "no session: add \"canter.sessions\" to the middleware setting (canter_accounts::install)",
            )
        })
    }
}
