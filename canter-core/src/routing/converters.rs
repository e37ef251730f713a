//! Path converters: `<int:year>`, `<slug:slug>`, … and user-defined ones, as in Django's
//! `django.urls.converters`: a regex that a segment must match, a conversion to a value (which
//! may refuse: then the pattern does not match, like Django's `ValueError`), and back to the URL.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

/// A path converter. Values are handed to views as JSON values so that `Path<(i64, String)>`,
/// `Path<MyParams>` and `req.param::<Uuid>("id")` all deserialize from them.
pub trait Converter: Send + Sync + 'static {
    /// The regex (without anchors) a segment must match.
    fn regex(&self) -> &str;
    /// The matched text → the value the view sees. `Err` means "this pattern does not match".
    fn to_value(&self, raw: &str) -> Result<Value, String> {
        Ok(Value::String(raw.to_owned()))
    }
    /// A value given to `reverse` → its text in the URL. The result must match [`regex`](Self::regex).
    fn to_url(&self, value: &str) -> Result<String, String> {
        Ok(value.to_owned())
    }
}

/// `str`: any non-empty text without a slash.
pub struct StrConverter;
impl Converter for StrConverter {
    fn regex(&self) -> &str {
        "[^/]+"
    }
}

/// `int`: zero or a positive integer, as `i64`.
pub struct IntConverter;
impl Converter for IntConverter {
    fn regex(&self) -> &str {
        "[0-9]+"
    }
    fn to_value(&self, raw: &str) -> Result<Value, String> {
        raw.parse::<i64>()
            .map(Value::from)
            .map_err(|e| e.to_string())
    }
}

/// `slug`: ASCII letters, digits, hyphens and underscores.
pub struct SlugConverter;
impl Converter for SlugConverter {
    fn regex(&self) -> &str {
        "[-a-zA-Z0-9_]+"
    }
}

/// `uuid`: a lowercase hyphenated UUID.
pub struct UuidConverter;
impl Converter for UuidConverter {
    fn regex(&self) -> &str {
        "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    }
}

/// `path`: any non-empty text, slashes included.
pub struct PathConverter;
impl Converter for PathConverter {
    fn regex(&self) -> &str {
        ".+"
    }
}

/// A converter made of a regex and two closures, for the common user-defined case.
///
/// ```
/// use canter_core::routing::FnConverter;
/// let four_digit_year = FnConverter::new("[0-9]{4}", |raw| raw.parse::<i64>().map(Into::into).map_err(|e| e.to_string()));
/// ```
pub struct FnConverter {
    regex: String,
    to_value: ToValue,
}

/// A converter's parse: the matched text → its value, or why it does not convert.
type ToValue = Box<dyn Fn(&str) -> Result<Value, String> + Send + Sync>;

impl FnConverter {
    /// A converter matching `regex` (without anchors) whose matches `to_value` parses; an
    /// `Err` makes the route not match, as a converter's `ValueError` does in Django.
    pub fn new(
        regex: impl Into<String>,
        to_value: impl Fn(&str) -> Result<Value, String> + Send + Sync + 'static,
    ) -> Self {
        Self {
            regex: regex.into(),
            to_value: Box::new(to_value),
        }
    }
}

impl Converter for FnConverter {
    fn regex(&self) -> &str {
        &self.regex
    }
    fn to_value(&self, raw: &str) -> Result<Value, String> {
        (self.to_value)(raw)
    }
}

/// The converters a URL conf may use, by name.
#[derive(Clone)]
pub struct Converters(HashMap<String, Arc<dyn Converter>>);

impl Default for Converters {
    fn default() -> Self {
        let mut map: HashMap<String, Arc<dyn Converter>> = HashMap::new();
        map.insert("str".into(), Arc::new(StrConverter));
        map.insert("int".into(), Arc::new(IntConverter));
        map.insert("slug".into(), Arc::new(SlugConverter));
        map.insert("uuid".into(), Arc::new(UuidConverter));
        map.insert("path".into(), Arc::new(PathConverter));
        Converters(map)
    }
}

impl Converters {
    /// Adds (or replaces) the converter `name`, for `<name:param>` ([`App::converter`](crate::App::converter)).
    pub fn register(&mut self, name: impl Into<String>, converter: impl Converter) {
        self.0.insert(name.into(), Arc::new(converter));
    }
    /// The converter `name` (`str`, `int`, `slug`, `uuid`, `path` or a registered one).
    pub fn get(&self, name: &str) -> Option<Arc<dyn Converter>> {
        self.0.get(name).cloned()
    }
}
