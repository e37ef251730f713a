//! The `[templates]` and `[staticfiles]` settings sections.

use std::path::PathBuf;

use serde::Deserialize;

/// `[templates]`: Django's `TEMPLATES` (`DIRS`; each app's folder comes from code).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TemplateSettings {
    /// The project's template folders, searched before the apps' (Django's `DIRS`).
    pub dirs: Vec<PathBuf>,
}

/// `[staticfiles]`: Django's `STATIC_URL`, `STATIC_ROOT` and `STATICFILES_DIRS`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StaticSettings {
    /// Where static files are served (`STATIC_URL`), a path starting and ending with `/`.
    pub url: String,
    /// Where `collectstatic` writes and where production serves from (`STATIC_ROOT`).
    pub root: PathBuf,
    /// Extra folders searched before the apps' `static` (`STATICFILES_DIRS`).
    pub dirs: Vec<PathBuf>,
}

impl Default for StaticSettings {
    fn default() -> Self {
        StaticSettings {
            url: "/static/".to_owned(),
            root: PathBuf::from("staticfiles"),
            dirs: Vec::new(),
        }
    }
}

/// A URL prefix, checked: a local path (`/static/`), not a full URL or a bare `/`.
pub(crate) fn checked_prefix(url: &str) -> Result<String, String> {
    let url = url.trim();
    if !url.starts_with('/') || !url.ends_with('/') || url == "/" || url.contains(['?', '#']) {
        return Err(format!(
            "{url:?} must be a path of its own that starts and ends with `/`, like \"/static/\""
        ));
    }
    Ok(url.to_owned())
}
