//! Error pages: Django's technical pages in DEBUG (the message, its causes, the routes tried),
//! and short generic pages otherwise, which never show internals — or the app's own pages
//! there (Django's `404.html`, `500.html`), when it holds an [`ErrorPages`] service.

use std::sync::Arc;

use axum::response::{Html, IntoResponse};

use crate::error::ErrorReport;
use crate::response::Response;
use crate::routing::Resolver;

/// HTML-escapes `text` as Django's `escape` does: `& < > " '`.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
    out
}

/// The app's own error pages outside DEBUG: a service (`Arc<dyn ErrorPages>` among the app's
/// services) that draws the page for a status, or declines (`None`: canter's generic page).
/// canter-pages renders `404.html`, `500.html`, `403.html` and `400.html` templates this way.
pub trait ErrorPages: Send + Sync + 'static {
    /// The page for `status`; `path` is the request's path when known (Django's
    /// `request_path` of `404.html`).
    fn render(&self, status: http::StatusCode, path: Option<&str>) -> Option<String>;
}

/// The current app's page for `status`, if it has one. Looked up only when an error page is
/// drawn outside DEBUG, never on a request that succeeds.
fn custom_page(status: http::StatusCode, path: Option<&str>) -> Option<Response> {
    let pages = crate::services::with_current(|s| s.get::<Arc<dyn ErrorPages>>().cloned())??;
    // A page that fails to draw must not take the error page down with it.
    let html =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| pages.render(status, path)))
            .ok()??;
    Some((status, Html(html)).into_response())
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>\
         <style>body{{font-family:sans-serif;margin:2em}}pre{{background:#f4f4f4;padding:1em;white-space:pre-wrap}}\
         .hint{{color:#555}}</style></head><body>{body}</body></html>\n",
        title = escape(title)
    )
}

fn generic_text(status: http::StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "Bad Request (400)",
        403 => "Forbidden (403)",
        404 => "Not Found (404): the requested resource was not found on this server.",
        405 => "Method Not Allowed (405)",
        408 => "Request Timeout (408)",
        413 => "Payload Too Large (413)",
        _ if status.is_server_error() => "Server Error (500)",
        _ => "Error",
    }
}

pub(crate) fn render(
    report: &ErrorReport,
    debug: bool,
    route: Option<(&str, &'static str)>,
) -> Response {
    let reason = report.status.canonical_reason().unwrap_or("Error");
    let html = if debug {
        let mut body = format!(
            "<h1>{} {}</h1><pre>{}</pre>",
            report.status.as_u16(),
            escape(reason),
            escape(&report.message)
        );
        if !report.causes.is_empty() {
            body.push_str("<h2>Caused by</h2><ol>");
            for cause in &report.causes {
                body.push_str(&format!("<li><pre>{}</pre></li>", escape(cause)));
            }
            body.push_str("</ol>");
        }
        if let Some((name, view)) = route {
            body.push_str(&format!(
                "<p>Route <code>{}</code>, view <code>{}</code>.</p>",
                escape(name),
                escape(view)
            ));
        }
        body.push_str("<p class=\"hint\">You see this page because <code>debug = true</code>. With debug off, a short generic page is shown instead.</p>");
        page(reason, &body)
    } else if let Some(custom) = custom_page(report.status, None) {
        return custom;
    } else {
        page(
            reason,
            &format!("<h1>{}</h1>", escape(generic_text(report.status))),
        )
    };
    (report.status, Html(html)).into_response()
}

pub(crate) fn not_found(path: &str, resolver: &Resolver, debug: bool) -> Response {
    let status = http::StatusCode::NOT_FOUND;
    if !debug {
        if let Some(custom) = custom_page(status, Some(path)) {
            return custom;
        }
        return (
            status,
            Html(page(
                "Not Found",
                &format!("<h1>{}</h1>", generic_text(status)),
            )),
        )
            .into_response();
    }
    let mut body = format!("<h1>Page not found (404)</h1><p>No URL pattern matched <code>{}</code>. Tried, in order:</p><ol>", escape(path));
    for (pattern, name, _) in resolver.routes() {
        let name = name
            .map(|n| format!(" [name='{}']", escape(n)))
            .unwrap_or_default();
        body.push_str(&format!("<li><code>{}</code>{name}</li>", escape(pattern)));
    }
    body.push_str(
        "</ol><p class=\"hint\">You see this page because <code>debug = true</code>.</p>",
    );
    (status, Html(page("Page not found", &body))).into_response()
}
