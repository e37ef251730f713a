//! Values a middleware offers to every template rendered for a request (Django's context
//! processors): the CSRF middleware's `csrf_token` and `csrf_input`, the auth middleware's
//! `user`. canter's template part reads them; defined here so that neither side depends on
//! the other.
//!
//! ```
//! use canter_core::template_globals::{TemplateGlobals, TemplateValue};
//!
//! let mut req = canter_core::Request::new(canter_core::Body::empty());
//! TemplateGlobals::add(&mut req, "site_name", || TemplateValue::Json("Canter".into()));
//! let globals = req.extensions().get::<TemplateGlobals>().unwrap();
//! assert!(matches!(globals.get("site_name"), Some(TemplateValue::Json(_))));
//! assert_eq!(globals.names().collect::<Vec<_>>(), ["site_name"]);
//! ```

use std::sync::Arc;

/// One global's value.
#[derive(Clone, Debug)]
pub enum TemplateValue {
    /// Plain data, escaped when printed.
    Json(serde_json::Value),
    /// HTML the producer has escaped itself (`csrf_input`), printed as it is.
    SafeHtml(String),
}

type Producer = Arc<dyn Fn() -> TemplateValue + Send + Sync>;

/// The globals of one request, as a request extension: each a function called when a
/// template is rendered (so a token is only made, and its cookie only sent, when used).
#[derive(Clone, Default)]
pub struct TemplateGlobals(Vec<(&'static str, Producer)>);

impl TemplateGlobals {
    /// Adds (or replaces) global `name` on `req`.
    pub fn add<B>(
        req: &mut http::Request<B>,
        name: &'static str,
        value: impl Fn() -> TemplateValue + Send + Sync + 'static,
    ) {
        let globals = req
            .extensions_mut()
            .get_or_insert_with(TemplateGlobals::default);
        globals.0.retain(|(n, _)| *n != name);
        globals.0.push((name, Arc::new(value)));
    }

    /// Global `name`'s value, made now: a template asks for each global it uses when it
    /// uses it, so one it never mentions costs nothing (no CSRF token, no cookie).
    pub fn get(&self, name: &str) -> Option<TemplateValue> {
        self.0.iter().find(|(n, _)| *n == name).map(|(_, f)| f())
    }

    /// The globals' names, in the order added.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.0.iter().map(|(name, _)| *name)
    }
}

impl std::fmt::Debug for TemplateGlobals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}
