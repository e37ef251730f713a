//! Templates: minijinja (Jinja2, one of Django's two template engines) over the project's
//! template folders and each app's, with Django's globals (`url`, `static`, `request`) and
//! filters. In DEBUG a template is read again at every render, so an edit shows at once;
//! otherwise each is compiled once and kept.

mod filters;
mod render;

pub use render::{render, render_to_string};

use std::sync::{Arc, OnceLock};

use minijinja::{Environment, Error as TemplateError, ErrorKind};

use crate::files::{safe_name, Folder};
use crate::staticfiles::StaticFiles;

/// A hook that adds to every template environment (filters, globals, tests).
pub(crate) type EnvironmentSetup = Arc<dyn Fn(&mut Environment<'static>) + Send + Sync>;

/// The app's templates (a service of the [`Pages`](crate::Pages) plugin).
pub struct Templates {
    /// `[templates] dirs` first, then each app's `templates` folder (Django's loaders' order).
    folders: Vec<Folder>,
    debug: bool,
    statics: Option<Arc<StaticFiles>>,
    setup: Vec<EnvironmentSetup>,
    /// Outside DEBUG: the one environment, its templates compiled on first use.
    cached: OnceLock<Arc<Environment<'static>>>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates")
            .field("folders", &self.folders)
            .field("debug", &self.debug)
            .finish_non_exhaustive()
    }
}

/// HTML autoescaping as Django's `escape`: `& < > " '` only (minijinja's default also escapes
/// `/`, which turns every URL into `&#x2f;static&#x2f;…`).
fn django_escaping(
    out: &mut minijinja::Output,
    state: &minijinja::State,
    value: &minijinja::Value,
) -> Result<(), TemplateError> {
    let html = matches!(state.auto_escape(), minijinja::AutoEscape::Html);
    if !html || value.is_safe() || value.is_undefined() || value.is_none() {
        return minijinja::escape_formatter(out, state, value);
    }
    // A form or a field writes its own HTML, every value in it escaped.
    let text = value.to_string();
    let escaped = if crate::forms::is_rendered_html(value) {
        text
    } else {
        crate::forms::escape(&text)
    };
    out.write_str(&escaped)
        .map_err(|e| TemplateError::new(ErrorKind::WriteFailure, e.to_string()))
}

impl Templates {
    pub(crate) fn new(
        folders: Vec<Folder>,
        debug: bool,
        statics: Option<Arc<StaticFiles>>,
        setup: Vec<EnvironmentSetup>,
    ) -> Self {
        Templates {
            folders,
            debug,
            statics,
            setup,
            cached: OnceLock::new(),
        }
    }

    /// Renders template `name` with `context` (any serializable value, or minijinja's
    /// `context!`), without a request: no `url` or `request` globals.
    pub fn render(&self, name: &str, context: minijinja::Value) -> Result<String, TemplateError> {
        let environment = self.environment();
        let template = environment.get_template(name)?;
        template.render(context)
    }

    /// Whether a template `name` exists.
    pub fn exists(&self, name: &str) -> bool {
        self.environment().get_template(name).is_ok()
    }

    fn environment(&self) -> Arc<Environment<'static>> {
        if self.debug {
            return Arc::new(self.build());
        }
        self.cached.get_or_init(|| Arc::new(self.build())).clone()
    }

    fn build(&self) -> Environment<'static> {
        let mut environment = Environment::new();
        let (folders, debug) = (self.folders.clone(), self.debug);
        environment.set_loader(move |name| {
            let Some(name) = safe_name(name) else {
                return Ok(None);
            };
            for folder in &folders {
                if let Some(found) = folder.find(name, debug) {
                    return String::from_utf8(found.bytes.into_owned())
                        .map(Some)
                        .map_err(|_| {
                            TemplateError::new(
                                ErrorKind::InvalidOperation,
                                format!("template {name} is not UTF-8"),
                            )
                        });
                }
            }
            Ok(None)
        });
        environment.set_formatter(django_escaping);
        filters::register(&mut environment);
        if let Some(statics) = self.statics.clone() {
            environment.add_function("static", move |name: String| {
                statics
                    .url(&name)
                    .map_err(|e| TemplateError::new(ErrorKind::InvalidOperation, e.to_string()))
            });
        }
        for setup in &self.setup {
            setup(&mut environment);
        }
        environment
    }
}

/// The app's `404.html`, `500.html`, `403.html` and `400.html` templates as its error pages
/// outside DEBUG (Django's handlers render the same names); a status without its template, or a
/// template that fails, leaves canter's generic page.
pub(crate) struct TemplateErrorPages(pub Arc<Templates>);

impl canter_core::ErrorPages for TemplateErrorPages {
    fn render(&self, status: http::StatusCode, path: Option<&str>) -> Option<String> {
        let name = if status.is_server_error() {
            "500.html".to_owned()
        } else {
            format!("{}.html", status.as_u16())
        };
        if !self.0.exists(&name) {
            return None;
        }
        let context = minijinja::context! { request_path => path, status => status.as_u16() };
        match self.0.render(&name, context) {
            Ok(html) => Some(html),
            Err(e) => {
                tracing::error!(target: "canter::pages", template = %name, error = %e, "the error page's template failed");
                None
            }
        }
    }
}
