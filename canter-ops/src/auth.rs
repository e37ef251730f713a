//! Who may see the dashboard: `Authorization: Bearer <[ops] token>` (tools, deployments without
//! users), or a staff user's session (canter-accounts). Anonymous requests get 401 from the API
//! and a redirect to the login page from the page; a wrong token 401; a logged-in user who is
//! not staff 403.
//!
//! The ops routes are exempt from the CSRF middleware (a bearer token is not a cookie, so it
//! needs none); a session's unsafe request is checked here instead: its `X-CSRFToken` header
//! must match the CSRF cookie, as the middleware would require.

use canter_accounts::auth::RequestUser;
use canter_accounts::crypto::constant_time_eq;
use canter_accounts::csrf::CsrfSettings;
use canter_accounts::csrf::{token_format_error, token_matches, unmask, CSRF_TOKEN_LENGTH};
use canter_core::cookies::CookiesExt;
use canter_core::{IntoResponse, Request, RequestExt, Response};
use http::{header, HeaderValue, Method, StatusCode};
use serde_json::json;

use crate::board::OpsState;

/// How a request was let in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// The bearer token.
    Token,
    /// A staff user's session.
    Staff,
}

/// Whether the request is for the page (refusals redirect) or the API (refusals are JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    Page,
    Api,
}

/// A JSON error: `{"error": message}` with `status`.
pub fn json_error(status: StatusCode, message: &str) -> Response {
    (
        status,
        canter_core::response::Json(json!({"error": message})),
    )
        .into_response()
}

fn unauthorized(message: &str) -> Response {
    let mut response = json_error(StatusCode::UNAUTHORIZED, message);
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"ops\""),
    );
    response
}

// The refusal is the response itself, made once per request: not worth a box.
#[allow(clippy::result_large_err)]
/// Lets the request in, or answers why not (see the module docs). Everything needed of the
/// request is read before the returned future runs (a request body is not `Sync`).
pub fn check<'a>(
    req: &'a Request,
    state: &OpsState,
    audience: Audience,
) -> impl std::future::Future<Output = Result<Access, Response>> + Send + 'a {
    let bearer = req.headers().get(header::AUTHORIZATION).map(|value| {
        let given = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        match (given, state.settings.token()) {
            (Some(given), Some(token)) if constant_time_eq(given.as_bytes(), token.as_bytes()) => {
                Ok(Access::Token)
            }
            _ => Err(unauthorized("invalid token")),
        }
    });
    let csrf =
        (!req.method().is_safe() && req.method() != Method::OPTIONS).then(|| csrf_check(req));
    let anonymous = match audience {
        Audience::Api => unauthorized("authentication required: a staff session or a bearer token"),
        Audience::Page => login_redirect(req),
    };
    let user = bearer.is_none().then(|| req.user());
    async move {
        if let Some(decided) = bearer {
            return decided;
        }
        let Some(user) = user else {
            return Err(anonymous);
        };
        match user.await {
            Some(user) if user.is_staff && user.is_active => {
                if let Some(Err(reason)) = csrf {
                    return Err(json_error(StatusCode::FORBIDDEN, &reason));
                }
                Ok(Access::Staff)
            }
            Some(_) => Err(json_error(StatusCode::FORBIDDEN, "staff only")),
            None => Err(anonymous),
        }
    }
}

fn login_redirect(req: &Request) -> Response {
    let here = req.uri().path_and_query().map_or("/", |p| p.as_str());
    let next: String = here
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    let login = req
        .settings()
        .and_then(|s| s.section::<LoginUrl>("auth").ok())
        .map(|a| a.login_url)
        .unwrap_or_else(|| "/accounts/login/".into());
    canter_core::response::redirect(&format!("{login}?next={next}"))
}

#[derive(serde::Deserialize)]
#[serde(default)]
struct LoginUrl {
    login_url: String,
}

impl Default for LoginUrl {
    fn default() -> Self {
        Self {
            login_url: "/accounts/login/".into(),
        }
    }
}

/// The session's CSRF check: the header token against the cookie's secret.
fn csrf_check(req: &Request) -> Result<(), String> {
    let settings: CsrfSettings = req
        .settings()
        .and_then(|s| s.section("csrf").ok())
        .unwrap_or_default();
    let cookie = req
        .cookie(&settings.cookie_name)
        .filter(|c| token_format_error(c).is_none())
        .ok_or("CSRF cookie not set")?;
    let secret = if cookie.len() == CSRF_TOKEN_LENGTH {
        unmask(&cookie)
    } else {
        cookie
    };
    let token = req
        .headers()
        .get(settings.header_name.as_str())
        .and_then(|v| v.to_str().ok())
        .filter(|t| token_format_error(t).is_none())
        .ok_or("CSRF token missing")?;
    if token_matches(token, &secret) {
        Ok(())
    } else {
        Err("CSRF token incorrect".into())
    }
}
