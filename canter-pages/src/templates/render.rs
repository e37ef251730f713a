//! `render(&req, "notes/list.html", context)`: Django's `render` shortcut.

use std::collections::BTreeMap;
use std::sync::Arc;

use canter_core::request::RequestContext;
use canter_core::response::Html;
use canter_core::template_globals::{TemplateGlobals, TemplateValue};
use canter_core::{Error, Request, Result};
use http::StatusCode;
use minijinja::value::{Enumerator, Kwargs, Object, Value};
use serde::Serialize;

use super::Templates;

/// Renders template `name` with `context` and the request's globals, as an HTML response:
///
/// * `request`: `path`, `method`, `GET` (the query's parameters, first value each);
/// * `url(name, **params)`: Django's `{% url %}`, through the app's `reverse`;
/// * what middleware offer ([`TemplateGlobals`]): `csrf_token` and `csrf_input` (the
///   hidden form field) from the CSRF middleware, `user` from the auth middleware;
/// * `static(name)`, and the filters of [`docs/pages.md`](https://docs.rs/canter-pages).
///
/// A template that is missing or fails is a 500 whose DEBUG page shows the template, the line
/// and the message (with the lines around it); the error is logged.
pub fn render<S: Serialize>(req: &Request, name: &str, context: S) -> Result<Html<String>> {
    render_to_string(req, name, context).map(Html)
}

/// [`render`]'s text, for a response of your own (an email, a status other than 200).
pub fn render_to_string<S: Serialize>(req: &Request, name: &str, context: S) -> Result<String> {
    let templates = canter_core::services::with_current(|s| s.get_shared::<Templates>())
        .flatten()
        .ok_or_else(|| {
            Error::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "no templates: install the pages part (App::install(canter_pages::install(Pages::new()...)))",
            )
        })?;
    // A later map wins: the middleware's globals, then the view's context, then Django's.
    let context = minijinja::value::merge_maps([
        globals_value(req),
        Value::from_serialize(&context),
        minijinja::context! {
            request => request_value(req),
            url => url_function(req),
        },
    ]);
    templates
        .render(name, context)
        .map_err(|e| template_error(name, &e))
}

/// The error page's message: the template, line and message, with minijinja's excerpt of
/// the source around the failing line (shown in DEBUG only, like every 500's message).
fn template_error(name: &str, error: &minijinja::Error) -> Error {
    let line = error
        .line()
        .map(|l| format!(", line {l}"))
        .unwrap_or_default();
    let template = error.name().unwrap_or(name);
    let mut message = format!("template {template}{line}: {error}");
    let excerpt = error.display_debug_info().to_string();
    if !excerpt.trim().is_empty() {
        message.push_str("\n\n");
        message.push_str(&excerpt);
    }
    Error::new(StatusCode::INTERNAL_SERVER_ERROR, message)
}

/// What middleware offer every template ([`TemplateGlobals`]: `csrf_token`, `csrf_input`,
/// `user`); the view's own context wins over them.
fn globals_value(req: &Request) -> Value {
    match req.extensions().get::<TemplateGlobals>() {
        Some(globals) => Value::from_object(LazyGlobals(globals.clone())),
        None => Value::UNDEFINED,
    }
}

/// The middleware's globals as a map whose values are made when a template reads them, as
/// Django's `get_token` runs only when `{% csrf_token %}` is rendered: a page without a form
/// sets no `csrftoken` cookie.
#[derive(Debug)]
struct LazyGlobals(TemplateGlobals);

impl Object for LazyGlobals {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        Some(match self.0.get(key.as_str()?)? {
            TemplateValue::Json(json) => Value::from_serialize(&json),
            TemplateValue::SafeHtml(html) => Value::from_safe_string(html),
        })
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.0.names().map(Value::from).collect())
    }
}

fn request_value(req: &Request) -> Value {
    let mut query = BTreeMap::new();
    if let Some(raw) = req.uri().query() {
        for (key, value) in form_urlencoded::parse(raw.as_bytes()) {
            query.entry(key.into_owned()).or_insert(value.into_owned());
        }
    }
    minijinja::context! {
        path => req.uri().path(),
        method => req.method().as_str(),
        GET => query,
    }
}

/// `url("article-detail", year=2026, slug="hello")`.
fn url_function(req: &Request) -> Value {
    let resolver = RequestContext::of(req.extensions()).map(|c| c.app().resolver().clone());
    Value::from_function(move |name: String, params: Kwargs| {
        let resolver = resolver.as_ref().ok_or_else(|| {
            minijinja::Error::new(
                minijinja::ErrorKind::InvalidOperation,
                "url() needs a request that canter routed",
            )
        })?;
        let mut args = Vec::new();
        for key in params.args() {
            let value: Value = params.get(key)?;
            let text = value
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| value.to_string());
            args.push((key, text));
        }
        let args: Vec<(&str, String)> = args.into_iter().collect();
        resolver.reverse(&name, &args).map_err(|e| {
            minijinja::Error::new(minijinja::ErrorKind::InvalidOperation, e.to_string())
        })
    })
}
