//! `[sessions]` (Django's `SESSION_*` settings) and `[signing]` (`SECRET_KEY_FALLBACKS`).

use canter_core::settings::{Settings, SettingsError};
use serde::Deserialize;

/// `[sessions]`: Django's `SESSION_*` settings, with Django's defaults.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionSettings {
    /// `db` (the default: `django_session` through the ORM), `redis` (Django's cache
    /// backend on Redis) or `signed_cookies` (`SESSION_ENGINE`).
    pub engine: String,
    /// The database alias of the `db` engine.
    pub database: String,
    /// The Redis URL of the `redis` engine (default: `REDIS_URL`).
    pub redis_url: Option<String>,
    /// The cookie holding the session key (`sessionid`; `SESSION_COOKIE_NAME`).
    pub cookie_name: String,
    /// Seconds (`SESSION_COOKIE_AGE`, two weeks).
    pub cookie_age: i64,
    /// The cookie's `Path` (`/`; `SESSION_COOKIE_PATH`).
    pub cookie_path: String,
    /// The cookie's `Domain`, for sessions shared by subdomains (`SESSION_COOKIE_DOMAIN`).
    pub cookie_domain: Option<String>,
    /// Sends the cookie over HTTPS only (`SESSION_COOKIE_SECURE`).
    pub cookie_secure: bool,
    /// Hides the cookie from JavaScript (`true`; `SESSION_COOKIE_HTTPONLY`).
    pub cookie_httponly: bool,
    /// `Lax`, `Strict`, `None`, or empty for no attribute.
    pub cookie_samesite: String,
    /// A browser-session cookie (no `Max-Age`), gone when the browser closes
    /// (`SESSION_EXPIRE_AT_BROWSER_CLOSE`).
    pub expire_at_browser_close: bool,
    /// Saves (and so extends) the session on every request, not only when it changed
    /// (`SESSION_SAVE_EVERY_REQUEST`).
    pub save_every_request: bool,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            engine: "db".into(),
            database: "default".into(),
            redis_url: None,
            cookie_name: "sessionid".into(),
            cookie_age: 1_209_600,
            cookie_path: "/".into(),
            cookie_domain: None,
            cookie_secure: false,
            cookie_httponly: true,
            cookie_samesite: "Lax".into(),
            expire_at_browser_close: false,
            save_every_request: false,
        }
    }
}

/// `[signing]`: older secret keys that still verify (Django's `SECRET_KEY_FALLBACKS`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SigningSettings {
    /// Older secret keys: what they signed still verifies, nothing new is signed with them.
    pub secret_key_fallbacks: Vec<String>,
}

/// The secret key and its fallbacks, as bytes; an error naming the setting when unset.
pub fn secret_keys(settings: &Settings) -> Result<(Vec<u8>, Vec<Vec<u8>>), SettingsError> {
    let key = settings
        .secret_key
        .clone()
        .filter(|k| !k.is_empty())
        .ok_or_else(|| SettingsError::Invalid {
            key: "secret_key".into(),
            message: "sessions, signed cookies and CSRF need a secret_key".into(),
        })?;
    let fallbacks = settings
        .section::<SigningSettings>("signing")?
        .secret_key_fallbacks
        .into_iter()
        .map(String::into_bytes)
        .collect();
    Ok((key.into_bytes(), fallbacks))
}

/// `SameSite` from the setting's text (case-insensitive; empty for none).
pub fn same_site(text: &str) -> Option<canter_core::cookies::SameSite> {
    use canter_core::cookies::SameSite;
    match text.to_ascii_lowercase().as_str() {
        "lax" => Some(SameSite::Lax),
        "strict" => Some(SameSite::Strict),
        "none" => Some(SameSite::None),
        _ => None,
    }
}
