//! `canter.security`: Django's `SecurityMiddleware` (and `XFrameOptionsMiddleware`): the
//! headers, HSTS on HTTPS responses only, the redirect to HTTPS, and a Content-Security-Policy.
//! A header the view set itself is left alone.

use http::{HeaderName, HeaderValue, StatusCode};

use super::{Middleware, Next};
use crate::request::Request;
use crate::response::Response;
use crate::settings::SecuritySettings;

/// Adds the security headers configured in `[security]`.
pub struct SecurityHeaders {
    headers: Vec<(HeaderName, HeaderValue)>,
    /// Sent on HTTPS responses only, as Django does (a browser ignores it over HTTP).
    hsts: Option<HeaderValue>,
    ssl_redirect: bool,
    ssl_host: Option<String>,
}

impl SecurityHeaders {
    /// The headers `settings` asks for (empty values send none).
    pub fn from_settings(settings: &SecuritySettings) -> Self {
        let mut headers = Vec::new();
        let mut add = |name: &'static str, value: String| {
            if let Ok(value) = HeaderValue::from_str(&value) {
                if !value.is_empty() {
                    headers.push((HeaderName::from_static(name), value));
                }
            }
        };
        if settings.content_type_nosniff {
            add("x-content-type-options", "nosniff".into());
        }
        add("x-frame-options", settings.frame_options.clone());
        add("referrer-policy", settings.referrer_policy.clone());
        add(
            "cross-origin-opener-policy",
            settings.cross_origin_opener_policy.clone(),
        );
        add(
            "content-security-policy",
            settings.content_security_policy.clone(),
        );
        add(
            "content-security-policy-report-only",
            settings.content_security_policy_report_only.clone(),
        );
        let hsts = (settings.hsts_seconds > 0).then(|| {
            let mut value = format!("max-age={}", settings.hsts_seconds);
            if settings.hsts_include_subdomains {
                value.push_str("; includeSubDomains");
            }
            if settings.hsts_preload {
                value.push_str("; preload");
            }
            HeaderValue::from_str(&value).expect("digits and ASCII words")
        });
        Self {
            headers,
            hsts,
            ssl_redirect: settings.ssl_redirect,
            ssl_host: settings.ssl_host.clone(),
        }
    }

    /// Django's `SECURE_SSL_REDIRECT`: `https://host/path?query`, 301.
    fn redirect_to_https(&self, req: &Request) -> Response {
        let host = self
            .ssl_host
            .clone()
            .or_else(|| {
                req.headers()
                    .get(http::header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .map(str::to_owned)
            })
            .unwrap_or_default();
        let path = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let mut response = Response::new(crate::Body::empty());
        *response.status_mut() = StatusCode::MOVED_PERMANENTLY;
        if let Ok(location) = HeaderValue::from_str(&format!("https://{host}{path}")) {
            response
                .headers_mut()
                .insert(http::header::LOCATION, location);
        }
        response
    }
}

impl Default for SecurityHeaders {
    fn default() -> Self {
        Self::from_settings(&SecuritySettings::default())
    }
}

impl Middleware for SecurityHeaders {
    async fn call(&self, req: Request, next: Next) -> Response {
        let secure = crate::RequestExt::is_secure(&req);
        if self.ssl_redirect && !secure {
            return self.redirect_to_https(&req);
        }
        let mut response = next.run(req).await;
        let headers = response.headers_mut();
        if let (Some(hsts), true) = (&self.hsts, secure) {
            if !headers.contains_key(http::header::STRICT_TRANSPORT_SECURITY) {
                headers.insert(http::header::STRICT_TRANSPORT_SECURITY, hsts.clone());
            }
        }
        for (name, value) in &self.headers {
            if !headers.contains_key(name) {
                headers.insert(name.clone(), value.clone());
            }
        }
        response
    }
}
