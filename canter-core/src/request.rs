//! The request a view and a middleware see: an [`http::Request`] with canter's additions
//! reachable through [`RequestExt`] (path parameters, query, JSON body, app state, `reverse`).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use bytes::Bytes;
use http_body_util::BodyExt;
use serde::de::DeserializeOwned;

use crate::app::AppContext;
use crate::error::Error;
use crate::routing::ResolvedRoute;

/// The request type of views and middleware: a plain `http::Request`, so every tower and
/// hyper tool works with it, plus the helpers of [`RequestExt`].
pub type Request<B = Body> = http::Request<B>;

/// A body as the app's [`Body`]. One that has already ended (a GET, a zero
/// `Content-Length`) becomes [`Body::empty`], which allocates nothing; boxing it would.
pub(crate) fn into_body<B>(body: B) -> Body
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    if body.is_end_stream() {
        Body::empty()
    } else {
        Body::new(body)
    }
}

/// A client address for a request the server did not accept (a test, a tower stack of your
/// own): [`RequestExt::client_addr`] reads it when the request has no [`RequestContext`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddr(pub SocketAddr);

/// What canter puts on every request it handles, as one extension: the app (settings, URL
/// resolver, state), the client's address, and once routed, the route. One extension rather
/// than one per item, because `http`'s extensions box every value and grow their table past
/// three entries.
#[derive(Clone)]
pub struct RequestContext {
    pub(crate) app: Arc<AppContext>,
    pub(crate) client: Option<SocketAddr>,
    pub(crate) route: Option<ResolvedRoute>,
}

impl RequestContext {
    /// The context of a request's (or its `Parts`') extensions, if canter handled it.
    pub fn of(extensions: &http::Extensions) -> Option<&RequestContext> {
        extensions.get::<RequestContext>()
    }
    /// The app's settings, resolver and state.
    pub fn app(&self) -> &Arc<AppContext> {
        &self.app
    }
    /// The client's socket address, when the request came through canter's server.
    pub fn client_addr(&self) -> Option<SocketAddr> {
        self.client
    }
    /// The route the request resolved to (views and middleware after routing see it).
    pub fn route(&self) -> Option<&ResolvedRoute> {
        self.route.as_ref()
    }
}

fn route_of(extensions: &http::Extensions) -> Option<&ResolvedRoute> {
    RequestContext::of(extensions)?.route()
}

fn app_of(extensions: &http::Extensions) -> Option<&Arc<AppContext>> {
    RequestContext::of(extensions).map(RequestContext::app)
}

/// The id of this request: the incoming `X-Request-Id` if the `canter.request_id` middleware
/// trusted it, else a fresh UUID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestId(pub String);

/// Django's `request.*` conveniences on [`Request`].
pub trait RequestExt {
    /// The path, percent-decoded (Django's `request.path`).
    fn path(&self) -> &str;
    /// The URL name of the matched route (`"article-detail"`, `"api:item"`), once routed.
    fn route_name(&self) -> Option<&str>;
    /// A converted path parameter: `req.param::<i64>("year")`.
    ///
    /// ```
    /// use canter_core::prelude::*;
    /// use canter_core::test::TestClient;
    ///
    /// async fn article(req: Request) -> Result<String> {
    ///     let year: i64 = req.param("year")?;
    ///     let slug: String = req.param("slug")?;
    ///     Ok(format!("{slug} ({year})"))
    /// }
    ///
    /// let app = App::new().urls(vec![path("<int:year>/<slug:slug>/", article)]);
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// assert_eq!(TestClient::new(app).get("/2024/hello/").await.text(), "hello (2024)");
    /// # });
    /// ```
    fn param<T: DeserializeOwned>(&self, name: &str) -> Result<T, Error>;
    /// The query string deserialized into `T` (a struct or a `HashMap<String, String>`);
    /// malformed → 400.
    ///
    /// ```
    /// use canter_core::prelude::*;
    /// use canter_core::test::TestClient;
    ///
    /// #[derive(serde::Deserialize)]
    /// struct Search { q: String, page: Option<u32> }
    ///
    /// async fn search(req: Request) -> Result<String> {
    ///     let search: Search = req.query()?;
    ///     Ok(format!("{} p{}", search.q, search.page.unwrap_or(1)))
    /// }
    ///
    /// let app = App::new().urls(vec![path("search/", search)]);
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let client = TestClient::new(app);
    /// assert_eq!(client.get("/search/?q=rust+orm&page=2").await.text(), "rust orm p2");
    /// assert_eq!(client.get("/search/?page=two").await.status(), 400);
    /// # });
    /// ```
    fn query<T: DeserializeOwned>(&self) -> Result<T, Error>;
    /// One query parameter, if present (`request.GET.get("q")`).
    ///
    /// ```
    /// use canter_core::prelude::*;
    /// use canter_core::test::TestClient;
    ///
    /// async fn greet(req: Request) -> String {
    ///     format!("hello {}", req.query_param("name").unwrap_or_else(|| "stranger".into()))
    /// }
    ///
    /// let app = App::new().urls(vec![path("greet/", greet)]);
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let client = TestClient::new(app);
    /// assert_eq!(client.get("/greet/?name=Ada%20L").await.text(), "hello Ada L");
    /// assert_eq!(client.get("/greet/").await.text(), "hello stranger");
    /// # });
    /// ```
    fn query_param(&self, name: &str) -> Option<String>;
    /// App state registered with [`App::state`](crate::App::state).
    fn state<T: Send + Sync + 'static>(&self) -> Option<Arc<T>>;
    /// `reverse()` against the app's URL patterns: the path of the route named `name` with
    /// these parameters (Django's `reverse("article", kwargs={"id": 3})`).
    ///
    /// ```
    /// use canter_core::prelude::*;
    /// use canter_core::response::redirect;
    /// use canter_core::test::TestClient;
    ///
    /// async fn article(Path(id): Path<i64>) -> String { format!("article {id}") }
    /// async fn latest(req: Request) -> Result<Response> {
    ///     Ok(redirect(&req.reverse("article", &[("id", "42".into())])?))
    /// }
    ///
    /// let app = App::new().urls(vec![
    ///     path("articles/<int:id>/", article).name("article"),
    ///     path("latest/", latest),
    /// ]);
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let response = TestClient::new(app).get("/latest/").await;
    /// assert_eq!(response.header("location"), Some("/articles/42/"));
    /// # });
    /// ```
    fn reverse(&self, name: &str, args: &[(&str, String)]) -> Result<String, Error>;
    /// The client's address (the socket peer; `None` in the in-process test client).
    fn client_addr(&self) -> Option<SocketAddr>;
    /// The request id, where the `canter.request_id` middleware runs.
    fn request_id(&self) -> Option<&str>;
    /// The app's settings (every routed request carries them).
    fn settings(&self) -> Option<Arc<crate::settings::Settings>>;
    /// The route's tag of type `T` ([`UrlPattern::tag`](crate::routing::UrlPattern::tag)):
    /// the routed route's, or, in a middleware before routing, the route the path resolves to.
    fn route_tag<T: Clone + Send + Sync + 'static>(&self) -> Option<&T>;
    /// Whether the request came over HTTPS (Django's `is_secure()`): the URI's scheme, or the
    /// `security.proxy_ssl_header` a trusted proxy sets.
    fn is_secure(&self) -> bool;
    /// Reads the whole body (bounded by `server.max_body_size`: over it → 413).
    fn bytes(&mut self) -> impl std::future::Future<Output = Result<Bytes, Error>> + Send;
    /// Reads the body as UTF-8 text (invalid → 400).
    fn text(&mut self) -> impl std::future::Future<Output = Result<String, Error>> + Send;
    /// Reads the body as JSON (malformed → 400 naming the problem).
    ///
    /// ```
    /// use canter_core::prelude::*;
    /// use canter_core::test::TestClient;
    ///
    /// #[derive(serde::Deserialize)]
    /// struct Order { item: String, quantity: u32 }
    ///
    /// async fn order(mut req: Request) -> Result<JsonResponse> {
    ///     let order: Order = req.json().await?;
    ///     Ok(JsonResponse::new(serde_json::json!({"item": order.item, "quantity": order.quantity})).status(201))
    /// }
    ///
    /// let app = App::new().urls(vec![path("orders/", order)]);
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let client = TestClient::new(app);
    /// let created = client.post_json("/orders/", &serde_json::json!({"item": "tea", "quantity": 2})).await;
    /// assert_eq!(created.status(), 201);
    /// assert_eq!(created.json::<serde_json::Value>()["quantity"], 2);
    /// let refused = client.post("/orders/").header("content-type", "application/json").body("{").await;
    /// assert_eq!(refused.status(), 400);
    /// # });
    /// ```
    fn json<T: DeserializeOwned>(
        &mut self,
    ) -> impl std::future::Future<Output = Result<T, Error>> + Send;
}

impl<B: Send + 'static> RequestExt for http::Request<B>
where
    B: http_body::Body<Data = Bytes> + Unpin + Default,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    fn path(&self) -> &str {
        match route_of(self.extensions()).and_then(|route| route.decoded_path.as_deref()) {
            Some(decoded) => decoded,
            None => self.uri().path(),
        }
    }

    fn route_name(&self) -> Option<&str> {
        route_of(self.extensions()).and_then(|r| r.name)
    }

    fn param<T: DeserializeOwned>(&self, name: &str) -> Result<T, Error> {
        let route = route_of(self.extensions()).ok_or_else(|| {
            Error::new(
                http::StatusCode::INTERNAL_SERVER_ERROR,
                "request was not routed",
            )
        })?;
        let value = route.param(name).ok_or_else(|| {
            Error::new(
                http::StatusCode::INTERNAL_SERVER_ERROR,
                format!("route {:?} has no path parameter {name:?}", route.pattern),
            )
        })?;
        serde_json::from_value(value.clone()).map_err(|e| {
            Error::new(
                http::StatusCode::INTERNAL_SERVER_ERROR,
                format!("path parameter {name:?} = {value}: {e}"),
            )
        })
    }

    fn query<T: DeserializeOwned>(&self) -> Result<T, Error> {
        let query = self.uri().query().unwrap_or("");
        serde_urlencoded_from_str(query)
    }

    fn query_param(&self, name: &str) -> Option<String> {
        query_value(self.uri().query()?, name)
    }

    fn state<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        app_of(self.extensions())?.state::<T>()
    }

    fn reverse(&self, name: &str, args: &[(&str, String)]) -> Result<String, Error> {
        let context = app_of(self.extensions()).ok_or_else(|| {
            Error::new(
                http::StatusCode::INTERNAL_SERVER_ERROR,
                "no URL resolver on this request",
            )
        })?;
        context
            .resolver
            .reverse(name, args)
            .map_err(Error::internal)
    }

    fn client_addr(&self) -> Option<SocketAddr> {
        RequestContext::of(self.extensions())
            .and_then(RequestContext::client_addr)
            .or_else(|| self.extensions().get::<ClientAddr>().map(|a| a.0))
    }

    fn request_id(&self) -> Option<&str> {
        self.extensions().get::<RequestId>().map(|id| id.0.as_str())
    }

    fn settings(&self) -> Option<Arc<crate::settings::Settings>> {
        app_of(self.extensions()).map(|app| app.settings().clone())
    }

    fn route_tag<T: Clone + Send + Sync + 'static>(&self) -> Option<&T> {
        let context = RequestContext::of(self.extensions())?;
        if let Some(route) = context.route() {
            return route.tags.as_deref()?.get::<T>();
        }
        let path = crate::routing::percent_decode(self.uri().path())?;
        let relative = path.strip_prefix('/').unwrap_or(&path);
        context.app.resolver.tags_for(relative)?.get::<T>()
    }

    fn is_secure(&self) -> bool {
        if self.uri().scheme() == Some(&http::uri::Scheme::HTTPS) {
            return true;
        }
        let Some(settings) = app_of(self.extensions()).map(|app| app.settings()) else {
            return false;
        };
        let Some((name, value)) = &settings.security.proxy_ssl_header else {
            return false;
        };
        self.headers()
            .get(name.as_str())
            .is_some_and(|v| v.as_bytes() == value.as_bytes())
    }

    async fn bytes(&mut self) -> Result<Bytes, Error> {
        let body = std::mem::take(self.body_mut());
        match body.collect().await {
            Ok(collected) => Ok(collected.to_bytes()),
            Err(err) => Err(body_error(err.into())),
        }
    }

    async fn text(&mut self) -> Result<String, Error> {
        let bytes = self.bytes().await?;
        String::from_utf8(bytes.to_vec())
            .map_err(|e| Error::bad_request(format!("request body is not valid UTF-8: {e}")))
    }

    async fn json<T: DeserializeOwned>(&mut self) -> Result<T, Error> {
        let bytes = self.bytes().await?;
        serde_json::from_slice(&bytes)
            .map_err(|e| Error::bad_request(format!("invalid JSON in request body: {e}")))
    }
}

/// A body read error: over the size limit → 413, sent too slowly → 408, anything else
/// (client went away, bad chunking) → 400.
pub(crate) fn body_error(err: Box<dyn std::error::Error + Send + Sync>) -> Error {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err.as_ref());
    while let Some(e) = cur {
        if e.is::<http_body_util::LengthLimitError>() {
            return Error::payload_too_large("request body is larger than server.max_body_size");
        }
        if let Some(timeout) = e.downcast_ref::<crate::server::BodyReadTimeout>() {
            return Error::new(http::StatusCode::REQUEST_TIMEOUT, timeout.to_string());
        }
        cur = e.source();
    }
    Error::bad_request(format!("could not read the request body: {err}"))
}

/// The value of `name` in a query string (the first, if repeated), decoded as
/// `application/x-www-form-urlencoded` by `form_urlencoded`, as `req.query()` decodes: `+` is a
/// space, `%XX` a byte, a `%` without two hex digits stays as it is, and bytes that are not UTF-8
/// become U+FFFD. What `req.query_param` and a WebSocket scope's `query_param` read with. (The
/// request path rejects, with 400, a query that is not UTF-8 once decoded, before any view.)
pub fn query_value(query: &str, name: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

fn serde_urlencoded_from_str<T: DeserializeOwned>(query: &str) -> Result<T, Error> {
    // axum's Query extractor does the same parse; reuse it so both agree on every edge case.
    let uri: http::Uri = format!("/?{query}")
        .parse()
        .map_err(|_| Error::bad_request("malformed query string"))?;
    axum::extract::Query::<T>::try_from_uri(&uri)
        .map(|q| q.0)
        .map_err(|e| Error::bad_request(format!("invalid query string: {}", e.body_text())))
}
