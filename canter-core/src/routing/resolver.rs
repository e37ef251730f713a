//! The compiled URL conf: resolving a path to a route, and `reverse`.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use http::Method;
use regex::Regex;
use serde_json::Value;

use super::converters::{Converter, Converters};
use super::{Endpoint, PatternKind, UrlPattern};
use crate::middleware::{Chain, DynMiddleware, Next};

/// A URL conf that cannot be compiled: the message names the pattern.
#[derive(Debug, thiserror::Error)]
#[error("URL pattern {pattern:?}: {message}")]
pub struct UrlConfError {
    /// The pattern at fault, with its includes' prefixes.
    pub pattern: String,
    /// What is wrong with it.
    pub message: String,
}

/// Django's `NoReverseMatch`.
#[derive(Debug, thiserror::Error)]
#[error("Reverse for {name:?} with arguments {args:?} not found. {tried} pattern(s) tried: {patterns:?}")]
pub struct NoReverseMatch {
    /// The URL name asked for (`"namespace:name"`).
    pub name: String,
    /// The arguments given, by name.
    pub args: Vec<(String, String)>,
    /// How many patterns have that name.
    pub tried: usize,
    /// Those patterns, none of which the arguments fit.
    pub patterns: Vec<String>,
}

enum Segment {
    Literal(String),
    Param {
        name: String,
        converter: Arc<dyn Converter>,
        whole: Regex,
    },
}

pub(crate) struct Route {
    /// The whole pattern, prefixes of includes joined in.
    pub(crate) pattern: &'static str,
    /// `"namespace:name"`, if named.
    pub(crate) name: Option<&'static str>,
    pub(crate) view_name: &'static str,
    pub(crate) endpoint: Endpoint,
    pub(crate) methods: Option<Vec<Method>>,
    /// The route's tags and its includes' (`None` without any: nothing to count per request).
    pub(crate) tags: Option<Arc<http::Extensions>>,
    segments: Vec<Segment>,
    /// `None` for a pattern without parameters, matched by string comparison.
    regex: Option<Regex>,
}

/// What the router found for a request; in the request's extensions for views and middleware.
#[derive(Clone, Debug)]
pub struct ResolvedRoute {
    /// The route's URL name (`"namespace:name"`), if named.
    pub name: Option<&'static str>,
    /// The route's whole pattern (`"articles/<int:year>/"`).
    pub pattern: &'static str,
    /// The view's Rust path (`"blog::views::article"`), for logs and the DEBUG page.
    pub view_name: &'static str,
    /// The percent-decoded path, when decoding changed it (read it with `RequestExt::path`,
    /// which falls back to the URI's path: no copy of the path per request).
    pub(crate) decoded_path: Option<String>,
    /// The path's parameters, converted (`year` → `2024` for `<int:year>`), in pattern order.
    pub params: Vec<(String, Value)>,
    /// The route's tags ([`UrlPattern::tag`](super::UrlPattern::tag)).
    pub(crate) tags: Option<Arc<http::Extensions>>,
}

impl ResolvedRoute {
    /// The parameter `name`, converted, if the pattern has it.
    pub fn param(&self, name: &str) -> Option<&Value> {
        self.params.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }
}

/// The app's URL conf, compiled once at start-up.
pub struct Resolver {
    routes: Vec<Route>,
    by_name: HashMap<String, Vec<usize>>,
}

/// What [`Resolver::resolve_for_fuzzing`] returns: the route's pattern and name, and its
/// parameters.
#[doc(hidden)]
pub type FuzzMatch = (&'static str, Option<&'static str>, Vec<(String, Value)>);

impl Resolver {
    /// Compiles `patterns` (includes flattened, prefixes joined) with `converters` for their
    /// `<name:param>` parts; an unknown converter or a malformed pattern is an error naming it.
    pub fn new(patterns: Vec<UrlPattern>, converters: &Converters) -> Result<Self, UrlConfError> {
        let mut routes = Vec::new();
        let outer = Inherited::default();
        flatten(patterns, &outer, converters, &mut routes)?;
        let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, route) in routes.iter().enumerate() {
            if let Some(name) = &route.name {
                by_name.entry(name.to_string()).or_default().push(i);
            }
        }
        Ok(Self { routes, by_name })
    }

    /// Every route in matching order: (pattern, name, view).
    pub fn routes(&self) -> impl Iterator<Item = (&str, Option<&str>, &'static str)> {
        self.routes.iter().map(|r| (r.pattern, r.name, r.view_name))
    }

    pub(crate) fn route(&self, index: usize) -> &Route {
        &self.routes[index]
    }

    /// The tags of the route `path` (decoded, without its leading `/`) resolves to: what a
    /// middleware running before routing reads ([`RequestExt::route_tag`](crate::RequestExt::route_tag)).
    pub fn tags_for(&self, path: &str) -> Option<&http::Extensions> {
        let (index, _) = self.resolve(path)?;
        self.routes[index].tags.as_deref()
    }

    /// The first route matching `path` (decoded, without its leading `/`), in order, as Django
    /// walks `urlpatterns`. A converter refusing a value makes its route not match.
    pub(crate) fn resolve(&self, path: &str) -> Option<(usize, Vec<(String, Value)>)> {
        'routes: for (index, route) in self.routes.iter().enumerate() {
            match &route.regex {
                None => {
                    if route.pattern == path {
                        return Some((index, Vec::new()));
                    }
                }
                Some(regex) => {
                    let Some(captures) = regex.captures(path) else {
                        continue;
                    };
                    let mut params = Vec::with_capacity(route.segments.len());
                    for segment in &route.segments {
                        if let Segment::Param {
                            name, converter, ..
                        } = segment
                        {
                            let raw = captures.name(name).map(|m| m.as_str()).unwrap_or("");
                            match converter.to_value(raw) {
                                Ok(value) => params.push((name.clone(), value)),
                                Err(_) => continue 'routes,
                            }
                        }
                    }
                    return Some((index, params));
                }
            }
        }
        None
    }

    /// [`resolve`](Self::resolve) for the fuzz targets (`fuzz/`): the matching route's pattern
    /// and name, and its parameters. Not API.
    #[doc(hidden)]
    pub fn resolve_for_fuzzing(&self, path: &str) -> Option<FuzzMatch> {
        let (index, params) = self.resolve(path)?;
        let route = &self.routes[index];
        Some((route.pattern, route.name, params))
    }

    /// Django's `reverse(name, kwargs=...)`: the path (with its leading `/`) of the route named
    /// `name` (`"namespace:name"` inside an include) with these parameters.
    ///
    /// Each value must be one the parameter's converter accepts, and is percent-encoded; when
    /// several routes share the name, the first whose parameters fit wins.
    ///
    /// ```
    /// use canter_core::prelude::*;
    /// use canter_core::routing::Resolver;
    ///
    /// async fn view(_req: Request) -> &'static str { "" }
    ///
    /// let resolver = Resolver::new(vec![
    ///     path("articles/<int:year>/<slug:slug>/", view).name("article"),
    ///     include("shop/", vec![path("items/<str:sku>/", view).name("item")]).namespace("shop"),
    /// ], &Default::default()).unwrap();
    ///
    /// let url = resolver.reverse("article", &[("year", "2024".into()), ("slug", "hello".into())]);
    /// assert_eq!(url.unwrap(), "/articles/2024/hello/");
    /// assert_eq!(resolver.reverse("shop:item", &[("sku", "a b".into())]).unwrap(), "/shop/items/a%20b/");
    ///
    /// // Django's NoReverseMatch: an unknown name, or values the converters refuse.
    /// assert!(resolver.reverse("nowhere", &[]).is_err());
    /// let wrong = resolver.reverse("article", &[("year", "MMXXIV".into()), ("slug", "hello".into())]);
    /// assert!(wrong.unwrap_err().to_string().contains("1 pattern(s) tried"));
    /// ```
    pub fn reverse(&self, name: &str, args: &[(&str, String)]) -> Result<String, NoReverseMatch> {
        let candidates = self.by_name.get(name).map(Vec::as_slice).unwrap_or(&[]);
        'candidates: for &index in candidates {
            let route = &self.routes[index];
            let param_count = route
                .segments
                .iter()
                .filter(|s| matches!(s, Segment::Param { .. }))
                .count();
            if param_count != args.len() {
                continue;
            }
            let mut url = String::from("/");
            for segment in &route.segments {
                match segment {
                    Segment::Literal(text) => url.push_str(text),
                    Segment::Param {
                        name,
                        converter,
                        whole,
                    } => {
                        let Some((_, value)) = args.iter().find(|(n, _)| n == name) else {
                            continue 'candidates;
                        };
                        let Ok(text) = converter.to_url(value) else {
                            continue 'candidates;
                        };
                        if !whole.is_match(&text) {
                            continue 'candidates;
                        }
                        url.push_str(&super::percent_encode_path(&text));
                    }
                }
            }
            return Ok(url);
        }
        Err(NoReverseMatch {
            name: name.to_owned(),
            args: args
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            tried: candidates.len(),
            patterns: candidates
                .iter()
                .map(|&i| self.routes[i].pattern.to_string())
                .collect(),
        })
    }
}

/// A route's pattern or name, kept for the life of the process (once per distinct string, so
/// building an app again, as tests do, adds nothing). A request then carries them as plain
/// references: a shared `Arc<str>` would have its reference count written by every request on
/// every thread.
fn intern(text: String) -> &'static str {
    static INTERNED: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);
    let mut set = INTERNED.lock().unwrap_or_else(|e| e.into_inner());
    let set = set.get_or_insert_with(HashSet::new);
    if let Some(known) = set.get(text.as_str()) {
        return known;
    }
    let leaked: &'static str = Box::leak(text.into_boxed_str());
    set.insert(leaked);
    leaked
}

/// What an `include(...)` hands down to its patterns: its prefix, namespace, middleware and
/// tags, joined with those of the includes around it.
#[derive(Default, Clone)]
struct Inherited {
    prefix: String,
    namespace: String,
    middleware: Vec<Arc<dyn DynMiddleware>>,
    tags: http::Extensions,
}

/// `endpoint` behind `middleware` (outermost first), or as it is without any.
fn wrap(endpoint: Endpoint, middleware: Vec<Arc<dyn DynMiddleware>>) -> Endpoint {
    if middleware.is_empty() {
        return endpoint;
    }
    let chain = Arc::new(Chain {
        middleware,
        endpoint,
    });
    Arc::new(move |req| Next::start(chain.clone()).run(req))
}

fn flatten(
    patterns: Vec<UrlPattern>,
    outer: &Inherited,
    converters: &Converters,
    out: &mut Vec<Route>,
) -> Result<(), UrlConfError> {
    for pattern in patterns {
        let mut middleware = outer.middleware.clone();
        middleware.extend(pattern.middleware);
        let mut tags = outer.tags.clone();
        tags.extend(pattern.tags);
        match pattern.kind {
            PatternKind::Route {
                pattern: text,
                endpoint,
                view_name,
            } => {
                let full = format!("{}{text}", outer.prefix);
                if pattern.namespace.is_some() {
                    return Err(UrlConfError {
                        pattern: full,
                        message: "namespace() is for include(...); name a path with name()".into(),
                    });
                }
                let segments = parse(&full, converters)?;
                let regex = compile(&full, &segments)?;
                let name = pattern
                    .name
                    .map(|n| intern(format!("{}{n}", outer.namespace)));
                out.push(Route {
                    pattern: intern(full),
                    name,
                    view_name,
                    endpoint: wrap(endpoint, middleware),
                    methods: pattern.methods,
                    tags: (!tags.is_empty()).then(|| Arc::new(tags)),
                    segments,
                    regex,
                });
            }
            PatternKind::Include {
                prefix: inner,
                patterns,
            } => {
                let full = format!("{}{inner}", outer.prefix);
                if pattern.name.is_some() || pattern.methods.is_some() {
                    return Err(UrlConfError {
                        pattern: full,
                        message: "name() and methods() are for path(...); an include(...) takes namespace()".into(),
                    });
                }
                let namespace = match pattern.namespace {
                    Some(ns) => format!("{}{ns}:", outer.namespace),
                    None => outer.namespace.clone(),
                };
                let inner = Inherited {
                    prefix: full,
                    namespace,
                    middleware,
                    tags,
                };
                flatten(patterns, &inner, converters, out)?;
            }
        }
    }
    Ok(())
}

fn parse(pattern: &str, converters: &Converters) -> Result<Vec<Segment>, UrlConfError> {
    let err = |message: String| UrlConfError {
        pattern: pattern.to_owned(),
        message,
    };
    if pattern.starts_with('/') {
        return Err(err("patterns have no leading slash (Django's rule: write \"articles/\", not \"/articles/\")".into()));
    }
    let mut segments = Vec::new();
    let mut names: Vec<String> = Vec::new();
    let mut rest = pattern;
    while let Some(open) = rest.find('<') {
        if open > 0 {
            segments.push(Segment::Literal(rest[..open].to_owned()));
        }
        let close = rest[open..]
            .find('>')
            .ok_or_else(|| err("'<' without a closing '>'".into()))?
            + open;
        let inner = &rest[open + 1..close];
        let (conv_name, name) = match inner.split_once(':') {
            Some((c, n)) => (c, n),
            None => ("str", inner),
        };
        let valid_ident = !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit());
        if !valid_ident {
            return Err(err(format!("parameter name {name:?} is not an identifier")));
        }
        if names.iter().any(|n| n == name) {
            return Err(err(format!("parameter {name:?} appears twice")));
        }
        let converter = converters
            .get(conv_name)
            .ok_or_else(|| err(format!("unknown converter {conv_name:?}")))?;
        let whole = Regex::new(&format!("^(?:{})$", converter.regex())).map_err(|e| {
            err(format!(
                "converter {conv_name:?} has a regex that does not compile: {e}"
            ))
        })?;
        names.push(name.to_owned());
        segments.push(Segment::Param {
            name: name.to_owned(),
            converter,
            whole,
        });
        rest = &rest[close + 1..];
    }
    if rest.contains('>') {
        return Err(err("'>' without an opening '<'".into()));
    }
    if !rest.is_empty() {
        segments.push(Segment::Literal(rest.to_owned()));
    }
    Ok(segments)
}

fn compile(pattern: &str, segments: &[Segment]) -> Result<Option<Regex>, UrlConfError> {
    if segments.iter().all(|s| matches!(s, Segment::Literal(_))) {
        return Ok(None);
    }
    let mut source = String::from("^");
    for segment in segments {
        match segment {
            Segment::Literal(text) => source.push_str(&regex::escape(text)),
            Segment::Param {
                name, converter, ..
            } => source.push_str(&format!("(?P<{name}>{})", converter.regex())),
        }
    }
    source.push('$');
    Regex::new(&source).map(Some).map_err(|e| UrlConfError {
        pattern: pattern.to_owned(),
        message: format!("converter regex does not compile: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routing::{include, path, FnConverter};

    async fn view() -> &'static str {
        "ok"
    }

    fn resolver(patterns: Vec<UrlPattern>) -> Resolver {
        let mut converters = Converters::default();
        converters.register(
            "year",
            FnConverter::new("[0-9]{4}", |raw| {
                raw.parse::<i64>()
                    .map(Value::from)
                    .map_err(|e| e.to_string())
            }),
        );
        Resolver::new(patterns, &converters).unwrap()
    }

    #[test]
    fn converters_match_and_convert() {
        let r = resolver(vec![
            path("a/<int:n>/", view).name("int"),
            path("b/<slug:s>/", view).name("slug"),
            path("c/<uuid:u>/", view).name("uuid"),
            path("d/<path:p>", view).name("path"),
            path("e/<x>/", view).name("str"),
            path("f/<year:y>/", view).name("year"),
        ]);
        let (i, p) = r.resolve("a/42/").unwrap();
        assert_eq!(
            (r.routes[i].name, p[0].1.clone()),
            (Some("int"), Value::from(42))
        );
        assert!(r.resolve("a/x/").is_none());
        assert!(r.resolve("a/-1/").is_none());
        assert!(
            r.resolve("a/99999999999999999999/").is_none(),
            "i64 overflow does not match"
        );
        assert_eq!(
            r.resolve("b/hello-world_1/").unwrap().1[0].1,
            "hello-world_1"
        );
        assert!(r.resolve("b/hé/").is_none());
        assert!(r
            .resolve("c/6ba7b810-9dad-11d1-80b4-00c04fd430c8/")
            .is_some());
        assert!(r
            .resolve("c/6BA7B810-9dad-11d1-80b4-00c04fd430c8/")
            .is_none());
        assert_eq!(r.resolve("d/x/y/z").unwrap().1[0].1, "x/y/z");
        assert!(r.resolve("e/a/b/").is_none(), "str stops at a slash");
        assert_eq!(r.resolve("f/2024/").unwrap().1[0].1, Value::from(2024));
        assert!(r.resolve("f/24/").is_none());
    }

    #[test]
    fn first_match_wins_and_refusal_falls_through() {
        let r = resolver(vec![
            path("x/<int:n>/", view).name("first"),
            path("x/<str:s>/", view).name("second"),
        ]);
        assert_eq!(r.routes[r.resolve("x/1/").unwrap().0].name, Some("first"));
        assert_eq!(
            r.routes[r.resolve("x/abc/").unwrap().0].name,
            Some("second")
        );
        // int's regex matches but the value overflows: the next pattern gets its chance.
        assert_eq!(
            r.routes[r.resolve("x/99999999999999999999/").unwrap().0].name,
            Some("second")
        );
    }

    #[test]
    fn include_and_namespaces() {
        let r = resolver(vec![include(
            "api/",
            vec![
                path("items/<int:id>/", view).name("item"),
                include("v2/", vec![path("ping/", view).name("ping")]).namespace("v2"),
            ],
        )
        .namespace("api")]);
        assert_eq!(
            r.reverse("api:item", &[("id", "7".into())]).unwrap(),
            "/api/items/7/"
        );
        assert_eq!(r.reverse("api:v2:ping", &[]).unwrap(), "/api/v2/ping/");
        assert!(r.resolve("api/v2/ping/").is_some());
    }

    #[test]
    fn reverse_errors() {
        let r = resolver(vec![path("a/<int:n>/", view).name("a")]);
        assert!(
            r.reverse("a", &[("n", "x".into())]).is_err(),
            "value must fit the converter"
        );
        assert!(r.reverse("a", &[]).is_err());
        assert!(r.reverse("a", &[("m", "1".into())]).is_err());
        let err = r.reverse("missing", &[]).unwrap_err();
        assert!(err.to_string().contains("Reverse for \"missing\""));
    }

    #[test]
    fn bad_patterns_are_named() {
        let bad = |p: &str| {
            Resolver::new(vec![path(p, view)], &Converters::default())
                .err()
                .unwrap()
                .to_string()
        };
        assert!(bad("a/<nope:x>/").contains("unknown converter \"nope\""));
        assert!(bad("a/<int:x/").contains("closing"));
        assert!(bad("a/<x>/<x>/").contains("twice"));
        assert!(bad("/a/").contains("leading slash"));
        assert!(bad("a/<int:1x>/").contains("identifier"));
    }
}
