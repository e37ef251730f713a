//! Authentication: Django's `aauthenticate`, `alogin`, `alogout`, `request.auser()`, with
//! the session keys Django uses (`_auth_user_id`, `_auth_user_backend`, `_auth_user_hash`),
//! so a login made by either side is a login on both.
//!
//! ```no_run
//! use canter_accounts::auth::{authenticate, login, RequestUser};
//! use canter_core::prelude::*;
//!
//! async fn sign_in(req: Request) -> Result<Response> {
//!     match authenticate(&req, "ann", "her password").await {
//!         Some(user) => {
//!             login(&req, &user).await?;
//!             Ok(Redirect::to("/").into_response())
//!         }
//!         None => Ok((StatusCode::UNAUTHORIZED, "no").into_response()),
//!     }
//! }
//!
//! async fn me(req: Request) -> String {
//!     match req.user().await {
//!         Some(user) => user.username,
//!         None => "anonymous".into(),
//!     }
//! }
//! ```

mod backends;
mod middleware;
mod perms;
mod settings;

pub use backends::{AuthBackend, ModelBackend, MODEL_BACKEND};
pub use middleware::AuthenticationMiddleware;
pub use perms::{create_default_permissions, get_all_permissions, has_perm};
pub use settings::AuthSettings;

use std::sync::{Arc, Mutex};

use canter_core::{Error, Request};
use canter_orm::chrono::Utc;

use crate::crypto::{constant_time_eq, hex, salted_hmac};
use crate::hashers::Hasher;
use crate::models::User;
use crate::sessions::{Session, SessionExt};
#[allow(unused_imports)]
use canter_orm::Model as _;

/// Session key of Django's `login()`: the logged-in user's id.
pub const SESSION_KEY: &str = "_auth_user_id";
/// Session key of Django's `login()`: the dotted name of the backend that authenticated.
pub const BACKEND_SESSION_KEY: &str = "_auth_user_backend";
/// Session key of Django's `login()`: the HMAC of the password hash, so changing the password
/// ends the user's other sessions.
pub const HASH_SESSION_KEY: &str = "_auth_user_hash";

/// The auth configuration every request of the app shares (put there by the middleware).
pub struct AuthConfig {
    pub(crate) backends: Vec<Arc<dyn AuthBackend>>,
    pub(crate) hasher: Hasher,
    pub(crate) secret: Vec<u8>,
    pub(crate) fallbacks: Vec<Vec<u8>>,
    pub(crate) login_url: String,
}

impl AuthConfig {
    /// The preferred password hasher.
    pub fn hasher(&self) -> &Hasher {
        &self.hasher
    }
    /// Django's `LOGIN_URL`.
    pub fn login_url(&self) -> &str {
        &self.login_url
    }
    /// `user.get_session_auth_hash()` under the current secret key.
    pub fn session_auth_hash(&self, user: &User) -> String {
        session_auth_hash(&user.password, &self.secret)
    }
}

/// Django's `get_session_auth_hash()`: HMAC-SHA256 of the password hash, hex.
pub fn session_auth_hash(password_hash: &str, secret: &[u8]) -> String {
    hex(&salted_hmac(
        "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash",
        password_hash.as_bytes(),
        secret,
    ))
}

/// The request's user, once known (`None` inside: anonymous). Shared by the request's
/// clones; never locked across an `.await`.
#[derive(Clone, Default)]
pub(crate) struct CurrentUser(Arc<Mutex<Option<Option<User>>>>);

impl CurrentUser {
    pub(crate) fn known(&self) -> Option<Option<User>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
    pub(crate) fn set(&self, user: Option<User>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(user);
    }
}

fn config(req: &Request) -> Result<Arc<AuthConfig>, Error> {
    req.extensions()
        .get::<Arc<AuthConfig>>()
        .cloned()
        .ok_or_else(|| {
            Error::new(
                http::StatusCode::INTERNAL_SERVER_ERROR,
                "no auth: add \"canter.auth\" to the middleware setting (canter_accounts::install)",
            )
        })
}

/// What the auth functions need of a request, taken out of it before any `.await` (a
/// request's body is not `Sync`, so a future holding `&Request` could not be sent).
struct Parts {
    config: Result<Arc<AuthConfig>, Error>,
    session: Result<Session, Error>,
    current: Option<CurrentUser>,
    csrf: Option<crate::csrf::CsrfState>,
}

impl Parts {
    fn of(req: &Request) -> Self {
        Self {
            config: config(req),
            session: req.session(),
            current: req.extensions().get::<CurrentUser>().cloned(),
            csrf: req.extensions().get::<crate::csrf::CsrfState>().cloned(),
        }
    }
}

/// Django's `aauthenticate(request, username=…, password=…)`: the user of the first backend
/// that accepts the credentials. Hashing runs on the blocking pool. An unknown user and a
/// wrong password are the same `None`, after the same work.
pub fn authenticate(
    req: &Request,
    username: &str,
    password: &str,
) -> impl std::future::Future<Output = Option<User>> + Send + 'static {
    let config = config(req).ok();
    let (username, password) = (username.to_owned(), password.to_owned());
    async move {
        let config = config?;
        for backend in &config.backends {
            if let Some(user) = backend
                .authenticate(&username, &password, &config.hasher)
                .await
            {
                return Some(user);
            }
        }
        None
    }
}

/// Django's `alogin(request, user)`: a new session key (or a flushed session when another
/// user was logged in), the three session keys, a new CSRF secret, `last_login` updated.
pub fn login(
    req: &Request,
    user: &User,
) -> impl std::future::Future<Output = Result<(), Error>> + Send + 'static {
    let parts = Parts::of(req);
    let user = user.clone();
    async move { login_parts(parts, &user).await }
}

async fn login_parts(parts: Parts, user: &User) -> Result<(), Error> {
    let config = parts.config?;
    let session = parts.session?;
    let hash = config.session_auth_hash(user);
    let stored_id: Option<String> = session.get(SESSION_KEY).await;
    match stored_id {
        Some(id) => {
            let stored_hash: String = session.get(HASH_SESSION_KEY).await.unwrap_or_default();
            let same_user = id == user.id.to_string()
                && constant_time_eq(stored_hash.as_bytes(), hash.as_bytes());
            if !same_user {
                session.flush().await.map_err(Error::internal)?;
            }
        }
        None => session.cycle_key().await.map_err(Error::internal)?,
    }
    let backend = config
        .backends
        .first()
        .map(|b| b.name().to_owned())
        .unwrap_or_else(|| MODEL_BACKEND.to_owned());
    session.insert(SESSION_KEY, user.id.to_string()).await;
    session.insert(BACKEND_SESSION_KEY, backend).await;
    session.insert(HASH_SESSION_KEY, hash).await;
    if let Some(csrf) = &parts.csrf {
        csrf.rotate();
    }
    if let Some(current) = &parts.current {
        current.set(Some(user.clone()));
    }
    let updated = User::objects()
        .filter(User::id.eq(user.id))
        .update([User::last_login.set(Some(Utc::now()))])
        .await;
    if let Err(e) = updated {
        tracing::error!("updating last_login: {e}");
    }
    Ok(())
}

/// Django's `alogout(request)`: the session flushed, the user anonymous.
pub fn logout(
    req: &Request,
) -> impl std::future::Future<Output = Result<(), Error>> + Send + 'static {
    let parts = Parts::of(req);
    async move {
        parts.session?.flush().await.map_err(Error::internal)?;
        if let Some(current) = &parts.current {
            current.set(None);
        }
        Ok(())
    }
}

/// Django's `update_session_auth_hash(request, user)`: after a password change, keeps this
/// session logged in (the user's other sessions are logged out by the new hash).
pub fn update_session_auth_hash(
    req: &Request,
    user: &User,
) -> impl std::future::Future<Output = Result<(), Error>> + Send + 'static {
    let parts = Parts::of(req);
    let user = user.clone();
    async move {
        let config = parts.config?;
        let session = parts.session?;
        session.cycle_key().await.map_err(Error::internal)?;
        if session.get::<String>(SESSION_KEY).await == Some(user.id.to_string()) {
            session
                .insert(HASH_SESSION_KEY, config.session_auth_hash(&user))
                .await;
        }
        Ok(())
    }
}

/// Django's `get_user(request)`: the session's user, if its backend is configured, the user
/// exists and is active, and the session's hash matches the password's (a current or
/// fallback key; a mismatch flushes the session).
pub async fn get_user(config: &AuthConfig, session: &Session) -> Option<User> {
    let id: String = session.get(SESSION_KEY).await?;
    let backend_name: String = session.get(BACKEND_SESSION_KEY).await?;
    let backend = config.backends.iter().find(|b| b.name() == backend_name)?;
    let user = backend.get_user(id.parse().ok()?).await?;
    let stored: String = session.get(HASH_SESSION_KEY).await.unwrap_or_default();
    if !stored.is_empty()
        && constant_time_eq(
            stored.as_bytes(),
            config.session_auth_hash(&user).as_bytes(),
        )
    {
        return Some(user);
    }
    let by_fallback = !stored.is_empty()
        && config.fallbacks.iter().any(|key| {
            constant_time_eq(
                stored.as_bytes(),
                session_auth_hash(&user.password, key).as_bytes(),
            )
        });
    if by_fallback {
        if session.cycle_key().await.is_ok() {
            session
                .insert(HASH_SESSION_KEY, config.session_auth_hash(&user))
                .await;
            return Some(user);
        }
        return None;
    }
    if let Err(e) = session.flush().await {
        tracing::error!("flushing a session with a stale auth hash: {e}");
    }
    None
}

/// `request.auser()` on a request.
pub trait RequestUser {
    /// The logged-in user, or `None` for an anonymous one (loaded once per request).
    fn user(&self) -> impl std::future::Future<Output = Option<User>> + Send;
}

impl RequestUser for Request {
    fn user(&self) -> impl std::future::Future<Output = Option<User>> + Send {
        let parts = Parts::of(self);
        async move {
            let current = parts.current?;
            if let Some(known) = current.known() {
                return known;
            }
            let config = parts.config.ok()?;
            let session = parts.session.ok()?;
            let user = get_user(&config, &session).await;
            current.set(user.clone());
            user
        }
    }
}
