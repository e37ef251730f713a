//! `canter.csrf`: Django's `CsrfViewMiddleware`.

use bytes::Bytes;
use canter_core::cookies::cookie::time::{Duration, OffsetDateTime};
use canter_core::cookies::{Cookie, CookiesExt, ResponseCookies};
use canter_core::middleware::{Middleware, Next};
use canter_core::settings::{Settings, SettingsError};
use canter_core::template_globals::{TemplateGlobals, TemplateValue};
use canter_core::{Body, IntoResponse, Request, RequestExt, Response};
use futures_util::StreamExt;
use http::{header, Method, StatusCode};
use http_body_util::BodyExt;

use super::check::check_source;
use super::{token_format_error, token_matches, unmask, CsrfExempt, CsrfSettings, CsrfState};
use super::{CSRF_SECRET_LENGTH, CSRF_TOKEN_LENGTH};
use crate::sessions::same_site;

/// The form field of the token.
const FIELD: &str = "csrfmiddlewaretoken";
/// How much of a multipart body is read looking for the token field (put it first in the
/// form, as Django's templates do): the rest streams to the view untouched.
const MULTIPART_PREFIX: usize = 64 * 1024;

/// Checks unsafe requests (not `GET`, `HEAD`, `OPTIONS`, `TRACE`) of routes not tagged
/// [`CsrfExempt`]; offers templates `csrf_token` and `csrf_input`; sets the cookie.
pub struct CsrfViewMiddleware {
    settings: CsrfSettings,
    debug: bool,
}

impl CsrfViewMiddleware {
    /// The middleware for the app's `[csrf]` settings (as the `canter.csrf` name builds it).
    pub fn from_settings(settings: &Settings) -> Result<Self, SettingsError> {
        Ok(Self::new(settings.section("csrf")?, settings.debug))
    }

    /// The middleware with these settings; `debug` adds the reason to 403 pages.
    pub fn new(settings: CsrfSettings, debug: bool) -> Self {
        Self { settings, debug }
    }

    /// The secret of the request's cookie, if well-formed (a 64-character one, from Django
    /// before 4.0, is unmasked).
    fn cookie_secret(&self, req: &Request) -> Option<String> {
        let value = req.cookie(&self.settings.cookie_name)?;
        if token_format_error(&value).is_some() {
            return None;
        }
        Some(if value.len() == CSRF_TOKEN_LENGTH {
            unmask(&value)
        } else {
            value
        })
    }

    fn cookie(&self, secret: String) -> Cookie<'static> {
        let s = &self.settings;
        let mut cookie = Cookie::build((s.cookie_name.clone(), secret))
            .path(s.cookie_path.clone())
            .http_only(s.cookie_httponly)
            .secure(s.cookie_secure)
            .max_age(Duration::seconds(s.cookie_age))
            .expires(OffsetDateTime::now_utc() + Duration::seconds(s.cookie_age))
            .build();
        if let Some(domain) = &s.cookie_domain {
            cookie.set_domain(domain.clone());
        }
        if let Some(site) = same_site(&s.cookie_samesite) {
            cookie.set_same_site(site);
        }
        cookie
    }

    /// Django's `process_view` checks, in its order; the reason in Django's words.
    async fn check(&self, req: &mut Request, state: &CsrfState) -> Result<(), String> {
        check_source(req, &self.settings)?;
        let secret = state.secret().ok_or("CSRF cookie not set.")?;
        let mut source = "POST".to_owned();
        let mut token = if req.method() == Method::POST {
            form_token(req).await.unwrap_or_default()
        } else {
            String::new()
        };
        if token.is_empty() {
            source = format!(
                "the '{}' HTTP header",
                header_label(&self.settings.header_name)
            );
            token = req
                .headers()
                .get(self.settings.header_name.as_str())
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
        }
        if token.is_empty() {
            return Err("CSRF token missing.".into());
        }
        if let Some(problem) = token_format_error(&token) {
            return Err(format!("CSRF token from {source} {problem}."));
        }
        if !token_matches(&token, &secret) {
            return Err(format!("CSRF token from {source} incorrect."));
        }
        Ok(())
    }

    fn reject(&self, req: &Request, reason: &str) -> Response {
        tracing::warn!(target: "canter::security", "Forbidden ({reason}): {}", req.uri().path());
        let detail = if self.debug {
            format!(
                "<p>Reason given for failure:</p><pre>{}</pre>",
                escape(reason)
            )
        } else {
            String::new()
        };
        let page = format!(
            "<!doctype html><html lang=\"en\"><head><title>403 Forbidden</title></head><body>\
             <h1>Forbidden <span>(403)</span></h1><p>CSRF verification failed. Request aborted.</p>{detail}</body></html>"
        );
        (StatusCode::FORBIDDEN, canter_core::response::Html(page)).into_response()
    }
}

/// Django's spelling of the header in its message (`X-Csrftoken`).
fn header_label(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let lower = part.to_ascii_lowercase();
            let mut chars = lower.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The token field of a form body: an urlencoded body is read (within the body limit) and
/// put back; a multipart one is read only as far as its first part.
async fn form_token(req: &mut Request) -> Option<String> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if content_type.starts_with("application/x-www-form-urlencoded") {
        let bytes = req.bytes().await.ok()?;
        let token = form_urlencoded::parse(&bytes)
            .find(|(k, _)| k == FIELD)
            .map(|(_, v)| v.into_owned());
        *req.body_mut() = Body::from(bytes);
        return token;
    }
    if content_type.starts_with("multipart/form-data") {
        return multipart_token(req).await;
    }
    None
}

/// Reads up to [`MULTIPART_PREFIX`] bytes of the body, finds the token part in them, and
/// puts those bytes back in front of the rest of the stream.
async fn multipart_token(req: &mut Request) -> Option<String> {
    let mut body = std::mem::take(req.body_mut());
    let mut prefix = Vec::new();
    let mut token = None;
    while prefix.len() < MULTIPART_PREFIX {
        let Some(Ok(frame)) = body.frame().await else {
            break;
        };
        if let Ok(data) = frame.into_data() {
            prefix.extend_from_slice(&data);
        }
        if let Some(found) = find_part(&prefix) {
            token = Some(found);
            break;
        }
    }
    type BoxError = Box<dyn std::error::Error + Send + Sync>;
    let head = futures_util::stream::once(async move { Ok::<_, BoxError>(Bytes::from(prefix)) });
    let rest = body
        .into_data_stream()
        .map(|chunk| chunk.map_err(|e| Box::new(e) as BoxError));
    *req.body_mut() = Body::from_stream(head.chain(rest));
    token
}

/// The value of the `csrfmiddlewaretoken` part in a multipart prefix, once complete.
fn find_part(prefix: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(prefix);
    let at = text.find(&format!("name=\"{FIELD}\""))?;
    let rest = &text[at..];
    let start = rest.find("\r\n\r\n")? + 4;
    let end = rest[start..].find("\r\n")?;
    Some(rest[start..start + end].trim().to_owned())
}

impl Middleware for CsrfViewMiddleware {
    async fn call(&self, mut req: Request, next: Next) -> Response {
        let state = CsrfState::new(self.cookie_secret(&req));
        req.extensions_mut().insert(state.clone());
        let token_state = state.clone();
        TemplateGlobals::add(&mut req, "csrf_token", move || {
            TemplateValue::Json(token_state.token().into())
        });
        let input_state = state.clone();
        TemplateGlobals::add(&mut req, "csrf_input", move || {
            TemplateValue::SafeHtml(format!(
                "<input type=\"hidden\" name=\"{FIELD}\" value=\"{}\">",
                input_state.token()
            ))
        });
        let safe = matches!(
            *req.method(),
            Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
        );
        if !safe && req.route_tag::<CsrfExempt>().is_none() {
            if let Err(reason) = self.check(&mut req, &state).await {
                return self.reject(&req, &reason);
            }
        }
        let mut response = next.run(req).await;
        if let Some(secret) = state.cookie_update() {
            debug_assert_eq!(secret.len(), CSRF_SECRET_LENGTH);
            response.set_cookie(self.cookie(secret));
            crate::vary_on_cookie(&mut response);
        }
        response
    }
}
