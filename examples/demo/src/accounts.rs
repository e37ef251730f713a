//! Logging in and out (Django's `LoginView`, `LogoutView`) and `/accounts/me/`.

use canter::accounts::auth::{authenticate, login, logout, RequestUser};
use canter::pages::{minijinja, render};
use canter::prelude::*;
use canter::response::redirect;
use serde_json::json;

/// Django's message for wrong credentials (the same for an unknown user).
const INVALID_LOGIN: &str =
    "Please enter a correct username and password. Note that both fields may be case-sensitive.";

/// Where to go after logging in: `next` if it is a path on this site, else `/` (Django's
/// `url_has_allowed_host_and_scheme`: never another host).
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path) if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') => {
            path.to_owned()
        }
        _ => "/".into(),
    }
}

/// `GET /accounts/login/`: the form; `POST`: log in and redirect (302) to `next` or `/`, or
/// the form again with the error (nobody logged in).
pub async fn login_page(mut req: Request) -> Result<Response> {
    if req.method() != Method::POST {
        let next = req.query_param("next").unwrap_or_default();
        let context = minijinja::context! { next, username => "" };
        return Ok(render(&req, "login.html", context)?.into_response());
    }
    let body = req.text().await?;
    let field = |name: &str| {
        form_urlencoded::parse(body.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    let (username, password, next) = (field("username"), field("password"), field("next"));
    match authenticate(&req, &username, &password).await {
        Some(user) => {
            login(&req, &user).await?;
            Ok(redirect(&safe_next(Some(&next))))
        }
        None => {
            let context = minijinja::context! { next, username, error => INVALID_LOGIN };
            Ok(render(&req, "login.html", context)?.into_response())
        }
    }
}

/// `POST /accounts/logout/` (CSRF-protected): logs out, redirects to `/`.
pub async fn logout_view(req: Request) -> Result<Response> {
    logout(&req).await?;
    Ok(redirect("/"))
}

/// `GET /accounts/me/`: `200 {"username": "..."}` when logged in, `401 {"username": null}`.
pub async fn me(req: Request) -> Response {
    match req.user().await {
        Some(user) => JsonResponse::new(json!({"username": user.username})).into_response(),
        None => JsonResponse::new(json!({"username": null}))
            .status(401)
            .into_response(),
    }
}
