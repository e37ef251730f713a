//! canter's accounts: Django's `contrib.sessions`, `contrib.auth` and CSRF protection,
//! natively async, and compatible with Django's own data — the same `SECRET_KEY` and
//! database give one login to a Django site and a canter service beside it.
//!
//! | Django | canter |
//! |---|---|
//! | `SessionMiddleware`, `request.session` | `canter.sessions`, [`sessions::SessionExt::session`] |
//! | `AuthenticationMiddleware`, `await request.auser()` | `canter.auth`, [`auth::RequestUser::user`] |
//! | `aauthenticate`, `alogin`, `alogout` | [`auth::authenticate`], [`auth::login`], [`auth::logout`] |
//! | `CsrfViewMiddleware`, `{% csrf_token %}` | `canter.csrf`, `{{ csrf_input }}` |
//! | `@login_required`, `@permission_required`, `@csrf_exempt` | [`guards::AccountsPatterns`] |
//! | `make_password`, `check_password` | [`hashers`] |
//! | `signing.dumps` / `loads` | [`signing`] |
//! | `createsuperuser`, `changepassword`, `clearsessions` | [`commands`] |
//!
//! ```no_run
//! use canter_core::App;
//!
//! let app = App::new().install(canter_accounts::install(canter_accounts::Accounts::new()));
//! // settings: middleware = ["canter.sessions", "canter.auth", "canter.csrf"]
//! # let _ = app;
//! ```
//!
//! See `docs/accounts.md`.

#![warn(missing_docs)]

pub mod auth;
pub mod commands;
pub mod crypto;
pub mod csrf;
pub mod guards;
pub mod hashers;
pub mod models;
pub mod sessions;
pub mod signed_cookies;
pub mod signing;
pub mod testing;
#[cfg(feature = "channels")]
pub mod websocket;

use std::sync::Arc;

use canter_core::App;

use auth::{AuthBackend, AuthenticationMiddleware, ModelBackend};
use csrf::CsrfViewMiddleware;
use sessions::SessionMiddleware;

/// The accounts part: its authentication backends (Django's `ModelBackend` by default).
#[derive(Clone)]
pub struct Accounts {
    backends: Vec<Arc<dyn AuthBackend>>,
}

impl Default for Accounts {
    fn default() -> Self {
        Self {
            backends: vec![Arc::new(ModelBackend)],
        }
    }
}

impl Accounts {
    /// The accounts part with Django's model backend (users in `auth_user`).
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers an authentication backend; `[auth] backends` lists which run, in order.
    pub fn backend(mut self, backend: impl AuthBackend) -> Self {
        self.backends.push(Arc::new(backend));
        self
    }
}

/// Installs the accounts part: the middleware names `canter.sessions`, `canter.auth` and
/// `canter.csrf` (list them in the `middleware` setting, in that order), and the
/// `createsuperuser`, `changepassword` and `clearsessions` commands. The tables come from
/// the ORM ([`models::register`] for `makemigrations` / `migrate`).
pub fn install(accounts: Accounts) -> impl FnOnce(App) -> App {
    move |app| {
        let backends = accounts.backends.clone();
        app.register_middleware("canter.sessions", SessionMiddleware::from_settings)
            .register_middleware("canter.auth", move |settings| {
                AuthenticationMiddleware::from_settings(settings, &backends)
            })
            .register_middleware("canter.csrf", CsrfViewMiddleware::from_settings)
            .command(commands::CreateSuperuser)
            .command(commands::ChangePassword)
            .command(commands::ClearSessions)
    }
}

/// Django's `patch_vary_headers(response, ["Cookie"])`: `Vary: Cookie` once, whoever adds it.
pub(crate) fn vary_on_cookie(response: &mut canter_core::Response) {
    let headers = response.headers_mut();
    let present = headers
        .get_all(http::header::VARY)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| v.trim().eq_ignore_ascii_case("cookie") || v.trim() == "*");
    if !present {
        headers.append(http::header::VARY, http::HeaderValue::from_static("Cookie"));
    }
}
