//! `[csrf]`: Django's `CSRF_*` settings, with Django's defaults.

use serde::Deserialize;

/// `[csrf]` settings, Django's names without the `CSRF_` prefix.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CsrfSettings {
    /// The cookie holding the secret (`csrftoken`; `CSRF_COOKIE_NAME`).
    pub cookie_name: String,
    /// Seconds (`CSRF_COOKIE_AGE`: 52 weeks).
    pub cookie_age: i64,
    /// The cookie's `Path` (`/`; `CSRF_COOKIE_PATH`).
    pub cookie_path: String,
    /// The cookie's `Domain`, for cross-subdomain forms (`CSRF_COOKIE_DOMAIN`).
    pub cookie_domain: Option<String>,
    /// Sends the cookie over HTTPS only (`CSRF_COOKIE_SECURE`).
    pub cookie_secure: bool,
    /// False as in Django: JavaScript reads the cookie to send the header.
    pub cookie_httponly: bool,
    /// `Lax`, `Strict`, `None`, or empty for no attribute (`CSRF_COOKIE_SAMESITE`).
    pub cookie_samesite: String,
    /// The request header that carries the token (`CSRF_HEADER_NAME`).
    pub header_name: String,
    /// Origins trusted for unsafe requests besides the host's own (`CSRF_TRUSTED_ORIGINS`):
    /// `https://example.com`, or `https://*.example.com` for its subdomains.
    pub trusted_origins: Vec<String>,
}

impl Default for CsrfSettings {
    fn default() -> Self {
        Self {
            cookie_name: "csrftoken".into(),
            cookie_age: 31_449_600,
            cookie_path: "/".into(),
            cookie_domain: None,
            cookie_secure: false,
            cookie_httponly: false,
            cookie_samesite: "Lax".into(),
            header_name: "X-CSRFToken".into(),
            trusted_origins: Vec::new(),
        }
    }
}
