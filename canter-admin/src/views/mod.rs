//! The admin's pages, one module each; [`page`] renders any of them with what every page
//! shows (titles, the admin's root, the messages waiting).

pub(crate) mod actions;
pub(crate) mod auth;
pub(crate) mod delete;
pub(crate) mod edit;
pub(crate) mod editable;
pub(crate) mod filters;
pub(crate) mod hierarchy;
pub(crate) mod history;
pub(crate) mod index;
pub(crate) mod list;

use canter_core::prelude::*;
use canter_pages::minijinja::{self, Value};

use crate::site::Site;

/// Renders `template` with `context` and the site's shared context, at `status`.
pub(crate) async fn page(
    req: &mut Request,
    site: &Site,
    root: &str,
    template: &str,
    context: Value,
    status: StatusCode,
) -> Result<Response> {
    let messages = crate::messages::take(req).await;
    let shared = minijinja::context! {
        site_header => site.header,
        site_title => site.title,
        admin_root => root,
        messages,
    };
    let context = minijinja::value::merge_maps([shared, context]);
    let html = canter_pages::render_to_string(req, template, context)?;
    Ok((status, Html(html)).into_response())
}

/// The form's values, first of each name (Django's `request.POST`); 400/413/415 for a body
/// that is no form.
pub(crate) async fn form_data(req: &mut Request) -> Result<canter_pages::forms::FormData> {
    canter_pages::forms::FormData::from_request(req).await
}
