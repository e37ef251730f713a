//! The admin's own login and logout pages (Django's `AdminSite.login` / `logout`): only
//! active staff users may log in here.

use std::sync::Arc;

use canter_accounts::auth::{authenticate, login as log_in, logout as log_out, RequestUser};
use canter_core::prelude::*;
use canter_pages::minijinja;

use crate::access::{root_of, safe_next};
use crate::site::Site;

/// Django's `AdminAuthenticationForm` message (the same for an unknown user, a wrong
/// password, and a user who is not staff).
const INVALID_LOGIN: &str = "Please enter the correct username and password for a staff account. Note that both fields may be case-sensitive.";

/// `GET /admin/login/`: the form (or, for staff already logged in, on to `next`);
/// `POST`: log in and go to `next`, or the form again with the error (200, nobody logged in).
pub(crate) async fn login(site: Arc<Site>, mut req: Request) -> Result<Response> {
    let root = root_of(&req);
    if req.method() != Method::POST {
        let next = req.query_param("next").unwrap_or_default();
        let user = req.user().await;
        if user.is_some_and(|u| u.is_active && u.is_staff) {
            return Ok(canter_core::response::redirect(&safe_next(&next, &root)));
        }
        let context = minijinja::context! { next, username => "", title => "Log in" };
        return super::page(
            &mut req,
            &site,
            &root,
            "admin/login.html",
            context,
            StatusCode::OK,
        )
        .await;
    }
    let data = super::form_data(&mut req).await?;
    let field = |name: &str| data.get(name).unwrap_or_default().to_owned();
    let (username, password, next) = (field("username"), field("password"), field("next"));
    let user = authenticate(&req, &username, &password).await;
    match user.filter(|u| u.is_active && u.is_staff) {
        Some(user) => {
            log_in(&req, &user).await?;
            Ok(canter_core::response::redirect(&safe_next(&next, &root)))
        }
        None => {
            let context = minijinja::context! {
                next, username, error => INVALID_LOGIN, title => "Log in",
            };
            super::page(
                &mut req,
                &site,
                &root,
                "admin/login.html",
                context,
                StatusCode::OK,
            )
            .await
        }
    }
}

/// `POST /admin/logout/` (CSRF-protected): logs out and shows "Logged out".
pub(crate) async fn logout(site: Arc<Site>, mut req: Request) -> Result<Response> {
    let root = root_of(&req);
    log_out(&req).await?;
    let context = minijinja::context! { title => "Logged out" };
    super::page(
        &mut req,
        &site,
        &root,
        "admin/logged_out.html",
        context,
        StatusCode::OK,
    )
    .await
}
