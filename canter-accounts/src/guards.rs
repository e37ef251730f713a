//! Django's view decorators as route middleware: `login_required`, `permission_required`,
//! `csrf_exempt`, on `path(...)` or a whole `include(...)`.
//!
//! ```
//! use canter_accounts::guards::AccountsPatterns;
//! use canter_core::prelude::*;
//!
//! async fn view(_req: Request) -> &'static str { "ok" }
//!
//! let urls = vec![
//!     path("me/", view).login_required(),
//!     path("reports/", view).permission_required("reports.view_report"),
//!     include("api/", vec![path("echo/", view)]).csrf_exempt(),
//! ];
//! # let _ = urls;
//! ```

use canter_core::middleware::{Middleware, Next};
use canter_core::routing::UrlPattern;
use canter_core::{IntoResponse, Request, Response};
use http::StatusCode;

use crate::auth::{has_perm, AuthConfig, RequestUser};
use crate::csrf::CsrfExempt;

/// Sends anonymous users to the login page (Django's `login_required`): 302 to
/// `[auth] login_url` with `?next=<path>`.
pub struct LoginRequired;

/// Anonymous users go to the login page; logged-in users without the permission get 403
/// (Django's `permission_required(perm, raise_exception=True)` for them).
pub struct PermissionRequired(pub String);

fn redirect_to_login(req: &Request) -> Response {
    let login_url = req
        .extensions()
        .get::<std::sync::Arc<AuthConfig>>()
        .map(|c| c.login_url().to_owned())
        .unwrap_or_else(|| "/accounts/login/".into());
    let here = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let next: String = form_urlencoded::byte_serialize(here.as_bytes()).collect();
    canter_core::response::redirect(&format!("{login_url}?next={next}"))
}

impl Middleware for LoginRequired {
    async fn call(&self, req: Request, next: Next) -> Response {
        if req.user().await.is_none() {
            return redirect_to_login(&req);
        }
        next.run(req).await
    }
}

impl Middleware for PermissionRequired {
    async fn call(&self, req: Request, next: Next) -> Response {
        let Some(user) = req.user().await else {
            return redirect_to_login(&req);
        };
        if !has_perm(&user, &self.0).await {
            return canter_core::Error::new(StatusCode::FORBIDDEN, "permission denied")
                .into_response();
        }
        next.run(req).await
    }
}

/// The guards as methods of `path(...)` and `include(...)`.
pub trait AccountsPatterns {
    /// Django's `@login_required`.
    fn login_required(self) -> Self;
    /// Django's `@permission_required("app_label.codename")`.
    fn permission_required(self, perm: &str) -> Self;
    /// Django's `@csrf_exempt`.
    fn csrf_exempt(self) -> Self;
}

impl AccountsPatterns for UrlPattern {
    fn login_required(self) -> Self {
        self.middleware(LoginRequired)
    }
    fn permission_required(self, perm: &str) -> Self {
        self.middleware(PermissionRequired(perm.to_owned()))
    }
    fn csrf_exempt(self) -> Self {
        self.tag(CsrfExempt)
    }
}
