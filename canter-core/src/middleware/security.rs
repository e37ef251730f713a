//! `canter.security`: Django's `SecurityMiddleware` (and `XFrameOptionsMiddleware`) headers.
//! A header the view set itself is left alone.

use http::{HeaderName, HeaderValue};

use super::{Middleware, Next};
use crate::request::Request;
use crate::response::Response;
use crate::settings::SecuritySettings;

/// Adds the security headers configured in `[security]`.
pub struct SecurityHeaders {
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl SecurityHeaders {
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
        if settings.hsts_seconds > 0 {
            let sub = if settings.hsts_include_subdomains {
                "; includeSubDomains"
            } else {
                ""
            };
            add(
                "strict-transport-security",
                format!("max-age={}{sub}", settings.hsts_seconds),
            );
        }
        Self { headers }
    }
}

impl Default for SecurityHeaders {
    fn default() -> Self {
        Self::from_settings(&SecuritySettings::default())
    }
}

impl Middleware for SecurityHeaders {
    async fn call(&self, req: Request, next: Next) -> Response {
        let mut response = next.run(req).await;
        let headers = response.headers_mut();
        for (name, value) in &self.headers {
            if !headers.contains_key(name) {
                headers.insert(name.clone(), value.clone());
            }
        }
        response
    }
}
