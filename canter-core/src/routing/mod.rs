//! URL routing in Django's shape: `path()`, `include()`, names, converters and `reverse()`.
//!
//! ```
//! use canter_core::prelude::*;
//! use canter_core::routing::{Resolver, UrlPattern};
//!
//! async fn article(Path((year, slug)): Path<(i64, String)>) -> String {
//!     format!("{year}/{slug}")
//! }
//! async fn item(req: Request) -> String {
//!     req.param::<String>("id").unwrap()
//! }
//!
//! let urls: Vec<UrlPattern> = vec![
//!     path("articles/<int:year>/<slug:slug>/", article).name("article-detail"),
//!     include("api/", vec![path("items/<str:id>/", item).name("item")]).namespace("api"),
//! ];
//! let resolver = Resolver::new(urls, &Default::default()).unwrap();
//! let url = resolver.reverse("article-detail", &[("year", "2024".into()), ("slug", "hello".into())]).unwrap();
//! assert_eq!(url, "/articles/2024/hello/");
//! assert_eq!(resolver.reverse("api:item", &[("id", "a b".into())]).unwrap(), "/api/items/a%20b/");
//! ```

mod converters;
mod resolver;

pub use converters::{
    Converter, Converters, FnConverter, IntConverter, PathConverter, SlugConverter, StrConverter,
    UuidConverter,
};
pub use resolver::{NoReverseMatch, ResolvedRoute, Resolver, UrlConfError};

use std::sync::Arc;

use axum::handler::Handler;
use futures_util::future::BoxFuture;
use http::Method;

use crate::middleware::{DynMiddleware, Middleware};
use crate::request::Request;
use crate::response::Response;

/// What a route calls: any axum-style handler, boxed once at start-up.
pub(crate) type Endpoint = Arc<dyn Fn(Request) -> BoxFuture<'static, Response> + Send + Sync>;

/// One entry of a URL conf: a route (`path`) or a nested conf (`include`).
pub struct UrlPattern {
    pub(crate) kind: PatternKind,
    pub(crate) name: Option<String>,
    pub(crate) namespace: Option<String>,
    pub(crate) methods: Option<Vec<Method>>,
    /// Middleware of this route (or of every route of this include), innermost last.
    pub(crate) middleware: Vec<Arc<dyn DynMiddleware>>,
    /// Values marking this route (or every route of this include): [`UrlPattern::tag`].
    pub(crate) tags: http::Extensions,
}

pub(crate) enum PatternKind {
    Route {
        pattern: String,
        endpoint: Endpoint,
        view_name: &'static str,
    },
    Include {
        prefix: String,
        patterns: Vec<UrlPattern>,
    },
}

/// A route: Django's `path("articles/<int:year>/", view)`. The pattern has no leading slash;
/// `<name>` is a `str` parameter, `<conv:name>` uses the converter `conv` (`str`, `int`,
/// `slug`, `uuid`, `path`, or one registered with [`App::converter`](crate::App::converter)).
///
/// The view is an `async fn` taking extractors (or the whole [`Request`]) and returning
/// anything [`IntoResponse`](crate::IntoResponse); or a class-based view's `as_view()`.
///
/// ```
/// use canter_core::prelude::*;
/// use canter_core::test::TestClient;
///
/// async fn index(_req: Request) -> &'static str { "index" }
/// async fn article(Path((year, slug)): Path<(i64, String)>) -> String { format!("{year}: {slug}") }
/// async fn page(req: Request) -> String { req.param::<String>("name").unwrap() }
///
/// let app = App::new().urls(vec![
///     path("", index).name("index"),
///     path("articles/<int:year>/<slug:slug>/", article).name("article"),
///     path("pages/<path:name>", page),                  // `path` takes slashes too
/// ]);
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let client = TestClient::new(app);
/// assert_eq!(client.get("/articles/2024/hello-world/").await.text(), "2024: hello-world");
/// assert_eq!(client.get("/pages/docs/intro.html").await.text(), "docs/intro.html");
/// assert_eq!(client.get("/articles/2024/").await.status(), 404);
/// # });
/// ```
pub fn path<H, T>(pattern: &str, view: H) -> UrlPattern
where
    H: Handler<T, ()>,
    T: 'static,
{
    let view_name = std::any::type_name::<H>();
    let endpoint: Endpoint = Arc::new(move |req: Request| boxed(view.clone().call(req, ())));
    UrlPattern {
        kind: PatternKind::Route {
            pattern: pattern.to_owned(),
            endpoint,
            view_name,
        },
        name: None,
        namespace: None,
        methods: None,
        middleware: Vec::new(),
        tags: http::Extensions::new(),
    }
}

/// `future` as a `BoxFuture`, without boxing it again when it already is one (axum's
/// function handlers return a boxed future of exactly this type).
fn boxed<F>(future: F) -> BoxFuture<'static, Response>
where
    F: std::future::Future<Output = Response> + Send + 'static,
{
    let mut slot = Some(future);
    if let Some(already) =
        (&mut slot as &mut dyn std::any::Any).downcast_mut::<Option<BoxFuture<'static, Response>>>()
    {
        if let Some(already) = already.take() {
            return already;
        }
    }
    Box::pin(slot.expect("not taken"))
}

/// Django's `include("api/", api_urls)`: every pattern of `patterns` under `prefix`.
///
/// Includes nest; a [`namespace`](UrlPattern::namespace) prefixes its routes' names, and
/// [`middleware`](UrlPattern::middleware) or a [`tag`](UrlPattern::tag) on the include applies
/// to every route in it.
///
/// ```
/// use canter_core::prelude::*;
/// use canter_core::test::TestClient;
///
/// async fn list(_req: Request) -> &'static str { "all items" }
/// async fn item(Path(id): Path<i64>) -> String { format!("item {id}") }
/// async fn links(req: Request) -> String { req.reverse("api:v1:item", &[("id", "3".into())]).unwrap() }
///
/// fn v1() -> Vec<UrlPattern> {
///     vec![path("items/", list).name("items"), path("items/<int:id>/", item).name("item")]
/// }
///
/// let app = App::new().urls(vec![
///     include("api/", vec![include("v1/", v1()).namespace("v1")]).namespace("api"),
///     path("links/", links),
/// ]);
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let client = TestClient::new(app);
/// assert_eq!(client.get("/api/v1/items/3/").await.text(), "item 3");
/// assert_eq!(client.get("/links/").await.text(), "/api/v1/items/3/");
/// # });
/// ```
pub fn include(prefix: &str, patterns: Vec<UrlPattern>) -> UrlPattern {
    UrlPattern {
        kind: PatternKind::Include {
            prefix: prefix.to_owned(),
            patterns,
        },
        name: None,
        namespace: None,
        methods: None,
        middleware: Vec::new(),
        tags: http::Extensions::new(),
    }
}

impl UrlPattern {
    /// The route's name, for `reverse` (Django's `name=`). Only for `path(...)`.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
    /// The namespace of an `include(...)`: its routes reverse as `"namespace:name"`.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }
    /// Restricts a function view to these methods (Django's `require_http_methods`); others
    /// get 405 with an `Allow` header. `GET` brings `HEAD` along.
    ///
    /// ```
    /// use canter_core::prelude::*;
    /// use canter_core::test::TestClient;
    ///
    /// async fn vote(_req: Request) -> &'static str { "counted" }
    ///
    /// let app = App::new().urls(vec![path("vote/", vote).methods([Method::POST])]);
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let client = TestClient::new(app);
    /// assert_eq!(client.post("/vote/").await.text(), "counted");
    /// let refused = client.get("/vote/").await;
    /// assert_eq!(refused.status(), 405);
    /// assert_eq!(refused.header("allow"), Some("POST"));
    /// # });
    /// ```
    pub fn methods(mut self, methods: impl IntoIterator<Item = Method>) -> Self {
        let mut list: Vec<Method> = methods.into_iter().collect();
        if list.contains(&Method::GET) && !list.contains(&Method::HEAD) {
            list.push(Method::HEAD);
        }
        self.methods = Some(list);
        self
    }
    /// Runs `middleware` around this route's view (or around every route of this include),
    /// after routing: Django's view decorators (`login_required`, …), as middleware. The
    /// app's own middleware runs outside it; an include's runs outside its routes'.
    ///
    /// ```
    /// use canter_core::middleware::from_fn;
    /// use canter_core::prelude::*;
    /// use canter_core::test::TestClient;
    ///
    /// async fn report(_req: Request) -> &'static str { "secret report" }
    /// async fn home(_req: Request) -> &'static str { "home" }
    ///
    /// // A decorator-like guard: only requests carrying the staff header get through.
    /// let staff_only = from_fn(|req: Request, next: Next| async move {
    ///     if req.headers().contains_key("x-staff") {
    ///         next.run(req).await
    ///     } else {
    ///         StatusCode::FORBIDDEN.into_response()
    ///     }
    /// });
    /// let app = App::new().urls(vec![
    ///     include("admin/", vec![path("report/", report)]).middleware(staff_only),
    ///     path("", home),
    /// ]);
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let client = TestClient::new(app);
    /// assert_eq!(client.get("/admin/report/").await.status(), 403);
    /// assert_eq!(client.get("/admin/report/").header("x-staff", "1").await.text(), "secret report");
    /// assert_eq!(client.get("/").await.text(), "home"); // other routes are untouched
    /// # });
    /// ```
    pub fn middleware(mut self, middleware: impl Middleware) -> Self {
        self.middleware.push(Arc::new(middleware));
        self
    }
    /// Marks this route (or every route of this include) with `value`, which a middleware
    /// reads with [`RequestExt::route_tag`](crate::RequestExt::route_tag), before or after
    /// routing (Django's attributes on a view function, like `csrf_exempt`). A route's own
    /// tag wins over its include's of the same type.
    ///
    /// ```
    /// use canter_core::middleware::from_fn;
    /// use canter_core::prelude::*;
    /// use canter_core::test::TestClient;
    ///
    /// /// How long browsers may cache a route's responses.
    /// #[derive(Clone)]
    /// struct CacheFor(u32);
    ///
    /// async fn logo(_req: Request) -> &'static str { "<svg/>" }
    ///
    /// let app = App::new()
    ///     .middleware(from_fn(|req: Request, next: Next| async move {
    ///         let seconds = req.route_tag::<CacheFor>().map(|c| c.0);
    ///         let mut response = next.run(req).await;
    ///         if let Some(seconds) = seconds {
    ///             let value = format!("max-age={seconds}").parse().unwrap();
    ///             response.headers_mut().insert("cache-control", value);
    ///         }
    ///         response
    ///     }))
    ///     .urls(vec![path("logo.svg", logo).tag(CacheFor(3600))]);
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let response = TestClient::new(app).get("/logo.svg").await;
    /// assert_eq!(response.header("cache-control"), Some("max-age=3600"));
    /// # });
    /// ```
    pub fn tag<T: Clone + Send + Sync + 'static>(mut self, value: T) -> Self {
        self.tags.insert(value);
        self
    }
}

/// Percent-decodes a path or query component. `None` when the result is not UTF-8; a `%` not
/// followed by two hex digits is kept as it is (as Django does). Borrows when there is nothing
/// to decode (the common case, on every request).
pub fn percent_decode(input: &str) -> Option<std::borrow::Cow<'_, str>> {
    if !input.contains('%') {
        return Some(std::borrow::Cow::Borrowed(input));
    }
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        // Two hex digits exactly (not `u8::from_str_radix`, which takes `%+0` as 0: a NUL
        // where RFC 3986 and Python's `unquote` keep the text).
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(high), Some(low)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((high * 16 + low) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8(out).ok().map(std::borrow::Cow::Owned)
}

/// Percent-encodes what may not stand in a path segment (RFC 3986 unreserved, sub-delims and
/// `/~:@` stay, as with Django's `reverse`).
pub fn percent_encode_path(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    for b in input.bytes() {
        let keep = b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/".contains(&b);
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b").as_deref(), Some("a b"));
        assert_eq!(percent_decode("caf%C3%A9").as_deref(), Some("café"));
        assert_eq!(percent_decode("100%").as_deref(), Some("100%"));
        assert_eq!(percent_decode("%zz").as_deref(), Some("%zz"));
        assert_eq!(percent_decode("%ff%fe"), None);
        // Found by fuzz/url_resolve: a sign is not a hex digit.
        assert_eq!(percent_decode("a%+0b%+fc").as_deref(), Some("a%+0b%+fc"));
        assert_eq!(percent_decode("%-1%41").as_deref(), Some("%-1A"));
    }

    #[test]
    fn percent_encoding() {
        assert_eq!(percent_encode_path("a b/é"), "a%20b/%C3%A9");
    }
}
