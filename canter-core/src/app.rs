//! The one [`App`] of a project: URL patterns, middleware, state, converters and management
//! commands are registered here, then [`App::main`] hands over to the management CLI.
//!
//! (Over 600 lines with its doc examples, one per builder method; the code is about 530.)

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::Arc;

use canter_kernel::plugin::{Plugin, StartContext};
use canter_kernel::services::Services;

use crate::handler::{Core, Router};
use crate::management::{self, CommandError, ManagementCommand};
use crate::middleware::{self, Chain, DynMiddleware, Middleware, MiddlewareFactory};
use crate::routing::{Converter, Converters, Resolver, UrlPattern};
use crate::settings::{Settings, SettingsError};

/// What every request of an app carries (one extension, one reference count per request):
/// its settings, URL resolver and services (the parts' and `App::state`'s). Read it with [`RequestExt`](crate::request::RequestExt)'s
/// `settings()`, `reverse()` and `state()`, or the [`State`](crate::extract::State) extractor.
pub struct AppContext {
    pub(crate) settings: Arc<Settings>,
    pub(crate) resolver: Arc<Resolver>,
    /// The app's services; every request runs inside their scope.
    pub(crate) services: Arc<Services>,
    /// The serving server's shutdown (`None` outside a server: the test client).
    pub(crate) shutdown: Option<crate::server::Shutdown>,
}

impl AppContext {
    /// A copy for one connection of a server shutting down with `shutdown`: its requests then
    /// count references on the connection's own `Arc`, not on one that every request on every
    /// thread writes.
    pub(crate) fn for_connection(&self, shutdown: crate::server::Shutdown) -> Arc<AppContext> {
        Arc::new(AppContext {
            settings: self.settings.clone(),
            resolver: self.resolver.clone(),
            // The same handle, not a copy: the connection's task runs in the app's scope, and
            // `services::is_current` compares handles.
            services: self.services.clone(),
            shutdown: Some(shutdown),
        })
    }

    /// The server's graceful shutdown, for work that outlives its request (a WebSocket's
    /// task); `None` when no server serves the request (the test client).
    pub fn shutdown(&self) -> Option<&crate::server::Shutdown> {
        self.shutdown.as_ref()
    }

    /// The app's settings.
    pub fn settings(&self) -> &Arc<Settings> {
        &self.settings
    }
    /// The app's URL resolver (`reverse`).
    pub fn resolver(&self) -> &Arc<Resolver> {
        &self.resolver
    }
    /// The app's state (or service) of type `T` (`App::state`).
    pub fn state<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        self.services.get_shared::<T>()
    }
    /// The app's services: its parts' (databases, broker, channel layer) and its state.
    pub fn services(&self) -> &Arc<Services> {
        &self.services
    }
}

/// Why an app could not be built: a URL conf or middleware problem, named.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The URL patterns do not compile (an unknown converter, a duplicate parameter, …).
    #[error(transparent)]
    UrlConf(#[from] crate::routing::UrlConfError),
    /// A middleware named in the settings is unknown or its settings are invalid.
    #[error(transparent)]
    Settings(#[from] SettingsError),
}

/// A canter project: what Django spreads over `settings.py`, `urls.py` and `manage.py`.
///
/// ```no_run
/// use canter_core::prelude::*;
///
/// async fn index(_req: Request) -> Html<&'static str> {
///     Html("<h1>Hello</h1>")
/// }
///
/// fn main() -> std::process::ExitCode {
///     App::new().urls(vec![path("", index).name("index")]).main()
/// }
/// ```
pub struct App {
    pub(crate) urls: Vec<UrlPattern>,
    converters: Converters,
    middleware: Vec<Arc<dyn DynMiddleware>>,
    named_middleware: HashMap<String, MiddlewareFactory>,
    state: Services,
    plugins: Vec<Arc<dyn Plugin>>,
    pub(crate) commands: Vec<Arc<dyn ManagementCommand>>,
    pub(crate) about: Option<String>,
    pub(crate) base_settings: String,
    pub(crate) startup: Vec<StartupHook>,
    pub(crate) shutdown: Vec<ShutdownHook>,
}

/// Work a part of canter (or the project) does before any management command runs, inside
/// the runtime, with the loaded settings and the command's name (connect databases, …).
pub type StartupHook = Arc<
    dyn Fn(
            Arc<Settings>,
            String,
        )
            -> futures_util::future::BoxFuture<'static, Result<(), crate::management::CommandError>>
        + Send
        + Sync,
>;

/// Work a part of canter (or the project) does after the management command returns (however
/// it ended), before the process exits, inside the runtime: background work started at
/// start-up finishes here.
pub type ShutdownHook = Arc<
    dyn Fn(Arc<Settings>, String) -> futures_util::future::BoxFuture<'static, ()> + Send + Sync,
>;

impl Default for App {
    fn default() -> Self {
        Self::new()
    }
}

impl App {
    /// An app with no URLs, no middleware beyond the settings' and the built-in commands
    /// (`runserver`, `check`, `routes`).
    pub fn new() -> Self {
        Self {
            urls: Vec::new(),
            converters: Converters::default(),
            middleware: Vec::new(),
            named_middleware: HashMap::new(),
            state: Services::new(),
            plugins: Vec::new(),
            commands: management::builtin_commands(),
            about: None,
            base_settings: String::new(),
            startup: Vec::new(),
            shutdown: Vec::new(),
        }
    }

    /// Appends URL patterns (Django's `urlpatterns`), matched in order.
    ///
    /// ```
    /// use canter_core::prelude::*;
    /// use canter_core::test::TestClient;
    ///
    /// async fn index(_req: Request) -> &'static str { "home" }
    /// async fn article(Path(id): Path<i64>) -> String { format!("article {id}") }
    ///
    /// let app = App::new().urls(vec![
    ///     path("", index).name("index"),
    ///     path("articles/<int:id>/", article).name("article"),
    /// ]);
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let client = TestClient::new(app);
    /// assert_eq!(client.get("/articles/7/").await.text(), "article 7");
    /// assert_eq!(client.get("/articles/seven/").await.status(), 404);
    /// # });
    /// ```
    pub fn urls(mut self, patterns: Vec<UrlPattern>) -> Self {
        self.urls.extend(patterns);
        self
    }

    /// Registers a path converter for `<name:param>` (Django's `register_converter`).
    ///
    /// ```
    /// use canter_core::prelude::*;
    /// use canter_core::routing::FnConverter;
    /// use canter_core::test::TestClient;
    ///
    /// async fn archive(Path(year): Path<i64>) -> String { format!("year {year}") }
    ///
    /// let four_digits = FnConverter::new("[0-9]{4}", |raw| {
    ///     raw.parse::<i64>().map(Into::into).map_err(|e| e.to_string())
    /// });
    /// let app = App::new()
    ///     .converter("yyyy", four_digits)
    ///     .urls(vec![path("archive/<yyyy:year>/", archive)]);
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let client = TestClient::new(app);
    /// assert_eq!(client.get("/archive/2024/").await.text(), "year 2024");
    /// assert_eq!(client.get("/archive/24/").await.status(), 404); // the converter refuses it
    /// # });
    /// ```
    pub fn converter(mut self, name: &str, converter: impl Converter) -> Self {
        self.converters.register(name, converter);
        self
    }

    /// Appends a middleware; code-added middleware runs inside the ones named in settings, in
    /// the order added (first added is outermost).
    ///
    /// ```
    /// use canter_core::middleware::from_fn;
    /// use canter_core::prelude::*;
    /// use canter_core::test::TestClient;
    ///
    /// async fn hello(_req: Request) -> &'static str { "hello" }
    ///
    /// let app = App::new()
    ///     .middleware(from_fn(|req, next: Next| async move {
    ///         let mut response = next.run(req).await;
    ///         response.headers_mut().insert("x-powered-by", "canter".parse().unwrap());
    ///         response
    ///     }))
    ///     .urls(vec![path("", hello)]);
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let response = TestClient::new(app).get("/").await;
    /// assert_eq!(response.header("x-powered-by"), Some("canter"));
    /// # });
    /// ```
    pub fn middleware(mut self, middleware: impl Middleware) -> Self {
        self.middleware.push(Arc::new(middleware));
        self
    }

    /// Appends a tower layer to the chain (any tower-http layer, for example).
    ///
    /// ```
    /// use canter_core::prelude::*;
    /// use canter_core::test::TestClient;
    ///
    /// async fn hello(_req: Request) -> &'static str { "hello" }
    ///
    /// // tower's own layer that maps every response.
    /// let tag = tower::util::MapResponseLayer::new(|mut response: Response| {
    ///     response.headers_mut().insert("x-layer", "tower".parse().unwrap());
    ///     response
    /// });
    /// let app = App::new().layer(tag).urls(vec![path("", hello)]);
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// assert_eq!(TestClient::new(app).get("/").await.header("x-layer"), Some("tower"));
    /// # });
    /// ```
    pub fn layer<L>(self, layer: L) -> Self
    where
        middleware::LayerMiddleware<L>: Middleware,
    {
        self.middleware(middleware::layer(layer))
    }

    /// Makes a middleware nameable in the `middleware` setting, built from the settings.
    ///
    /// ```
    /// use canter_core::middleware::from_fn;
    /// use canter_core::prelude::*;
    /// use canter_core::settings::Settings;
    /// use canter_core::test::TestClient;
    ///
    /// async fn hello(_req: Request) -> &'static str { "hello" }
    ///
    /// let app = App::new()
    ///     .register_middleware("shop.no_cache", |_settings: &Settings| {
    ///         Ok(from_fn(|req, next: Next| async move {
    ///             let mut response = next.run(req).await;
    ///             response.headers_mut().insert("cache-control", "no-store".parse().unwrap());
    ///             response
    ///         }))
    ///     })
    ///     .settings_toml(r#"middleware = ["canter.request_id", "shop.no_cache"]"#)
    ///     .urls(vec![path("", hello)]);
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let response = TestClient::new(app).get("/").await;
    /// assert_eq!(response.header("cache-control"), Some("no-store"));
    /// assert!(response.header("x-request-id").is_some());
    /// # });
    /// ```
    pub fn register_middleware<M, F>(mut self, name: &str, factory: F) -> Self
    where
        M: Middleware,
        F: Fn(&Settings) -> Result<M, SettingsError> + Send + Sync + 'static,
    {
        let factory: MiddlewareFactory = Arc::new(move |settings| {
            factory(settings).map(|m| Arc::new(m) as Arc<dyn DynMiddleware>)
        });
        self.named_middleware.insert(name.to_owned(), factory);
        self
    }

    /// Shares a value with every view (`State<T>` or `req.state::<T>()`), one per type.
    ///
    /// ```
    /// use canter_core::prelude::*;
    /// use canter_core::test::TestClient;
    ///
    /// struct SiteName(String);
    ///
    /// async fn about(State(site): State<SiteName>) -> String {
    ///     format!("about {}", site.0)
    /// }
    ///
    /// let app = App::new()
    ///     .state(SiteName("the shop".into()))
    ///     .urls(vec![path("about/", about)]);
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// assert_eq!(TestClient::new(app).get("/about/").await.text(), "about the shop");
    /// # });
    /// ```
    pub fn state<T: Send + Sync + 'static>(mut self, value: T) -> Self {
        self.state.insert(value);
        self
    }

    /// Adds a management command (later parts add `migrate`, `worker`, … this way); one of
    /// the same name replaces it. `App::main` runs it as `<program> NAME [ARGS]`.
    ///
    /// ```no_run
    /// use canter_core::management::{CommandContext, CommandError, ManagementCommand};
    /// use canter_core::prelude::*;
    /// use canter_core::BoxFuture;
    ///
    /// /// `shop closeshop`: Django's `manage.py closeshop`.
    /// struct CloseShop;
    ///
    /// impl ManagementCommand for CloseShop {
    ///     fn name(&self) -> &'static str { "closeshop" }
    ///     fn command(&self) -> clap::Command { clap::Command::new("closeshop").about("Closes the shop") }
    ///     fn run<'a>(&'a self, _ctx: &'a CommandContext, _args: &'a clap::ArgMatches) -> BoxFuture<'a, Result<(), CommandError>> {
    ///         Box::pin(async { println!("closed"); Ok(()) })
    ///     }
    /// }
    ///
    /// fn main() -> std::process::ExitCode {
    ///     App::new().command(CloseShop).main()
    /// }
    /// ```
    pub fn command(mut self, command: impl ManagementCommand) -> Self {
        let command: Arc<dyn ManagementCommand> = Arc::new(command);
        self.commands.retain(|c| c.name() != command.name());
        self.commands.push(command);
        self
    }

    /// The project's own settings, as TOML text (usually `include_str!("settings.toml")`): the
    /// layer between canter's defaults and the settings file / environment, as Django's
    /// `settings.py` is part of the project.
    ///
    /// ```
    /// use canter_core::App;
    ///
    /// let app = App::new().settings_toml("append_slash = false\n[server]\nbind = \"0.0.0.0:8080\"\n");
    /// let settings = app.test_settings(); // the project's settings, as tests see them
    /// assert!(!settings.append_slash);
    /// assert_eq!(settings.server.bind, "0.0.0.0:8080");
    /// assert!(settings.allowed_hosts.contains(&"testserver".to_owned()));
    /// ```
    pub fn settings_toml(mut self, toml: &str) -> Self {
        self.base_settings = toml.to_owned();
        self
    }

    /// The settings tests run with (Django's test runner uses the project's settings): the
    /// app's own [`settings_toml`](Self::settings_toml) without file or environment, with the
    /// test client's host `testserver` allowed; [`Settings::for_tests`] for an app without.
    pub fn test_settings(&self) -> Settings {
        if self.base_settings.trim().is_empty() {
            return Settings::for_tests();
        }
        let mut settings = Settings::from_toml(&self.base_settings)
            .unwrap_or_else(|e| panic!("the app's embedded settings are invalid: {e}"));
        if !settings
            .allowed_hosts
            .iter()
            .any(|h| h == "testserver" || h == "*")
        {
            settings.allowed_hosts.push("testserver".into());
        }
        settings
    }

    /// Runs `hook` at start-up, before the command (in registration order).
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// use canter_core::settings::Settings;
    /// use canter_core::App;
    ///
    /// let (started, stopped) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    /// let (on_start, on_stop) = (started.clone(), stopped.clone());
    /// let app = App::new()
    ///     .on_startup(move |_settings, command| {
    ///         let on_start = on_start.clone();
    ///         async move {
    ///             assert_eq!(command, "test"); // `runserver`, `migrate`, … in a program
    ///             on_start.fetch_add(1, Ordering::SeqCst);
    ///             Ok(())
    ///         }
    ///     })
    ///     .on_shutdown(move |_settings, _command| {
    ///         let on_stop = on_stop.clone();
    ///         async move { on_stop.fetch_add(1, Ordering::SeqCst); }
    ///     });
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let running = app.start(Settings::for_tests()).await.unwrap();
    /// assert_eq!((started.load(Ordering::SeqCst), stopped.load(Ordering::SeqCst)), (1, 0));
    /// running.stop().await;
    /// assert_eq!(stopped.load(Ordering::SeqCst), 1);
    /// # });
    /// ```
    pub fn on_startup<F, Fut>(mut self, hook: F) -> Self
    where
        F: Fn(Arc<Settings>, String) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), crate::management::CommandError>>
            + Send
            + 'static,
    {
        self.startup.push(Arc::new(move |settings, command| {
            Box::pin(hook(settings, command))
        }));
        self
    }

    /// Runs `hook` after the command returns, before the process exits (in registration
    /// order), given the settings and the command's name: the tasks plugin lets runserver's
    /// in-process worker finish its running tasks here. The process exits once every hook
    /// has returned, so a hook bounds its own wait. Example: [`on_startup`](Self::on_startup).
    pub fn on_shutdown<F, Fut>(mut self, hook: F) -> Self
    where
        F: Fn(Arc<Settings>, String) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        self.shutdown.push(Arc::new(move |settings, command| {
            Box::pin(hook(settings, command))
        }));
        self
    }

    /// Adds a part of canter (or of the project): its commands now, its services when the
    /// app starts (`App::new().plugin(canter::orm::Orm)`). Plugins start in the order added.
    ///
    /// ```
    /// use canter_core::plugin::{Plugin, StartContext};
    /// use canter_core::management::CommandError;
    /// use canter_core::services::Services;
    /// use canter_core::prelude::*;
    /// use canter_core::BoxFuture;
    ///
    /// /// A project's part: a price list built from its `[prices]` settings at start-up.
    /// struct Prices;
    /// struct PriceList { currency: String }
    ///
    /// impl Plugin for Prices {
    ///     fn name(&self) -> &'static str { "prices" }
    ///     fn start<'a>(&'a self, ctx: &'a StartContext) -> BoxFuture<'a, Result<Services, CommandError>> {
    ///         Box::pin(async move {
    ///             let currency = ctx.settings.section::<toml::Table>("prices")?
    ///                 .get("currency").and_then(|v| v.as_str()).unwrap_or("EUR").to_owned();
    ///             Ok(Services::new().with(PriceList { currency }))
    ///         })
    ///     }
    /// }
    ///
    /// async fn currency(State(prices): State<PriceList>) -> String { prices.currency.clone() }
    ///
    /// let app = App::new()
    ///     .plugin(Prices)
    ///     .settings_toml("[prices]\ncurrency = \"CHF\"\n")
    ///     .urls(vec![path("currency/", currency)]);
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let client = canter_core::test::TestClient::start(app).await;
    /// assert_eq!(client.get("/currency/").await.text(), "CHF");
    /// # });
    /// ```
    pub fn plugin(mut self, plugin: impl Plugin) -> Self {
        for command in plugin.commands() {
            self.commands.retain(|c| c.name() != command.name());
            self.commands.push(command);
        }
        self.plugins.push(Arc::new(plugin));
        self
    }

    /// Applies an installer, a function that configures the app (a project's own grouping of
    /// URLs, middleware and plugins).
    ///
    /// ```
    /// use canter_core::prelude::*;
    ///
    /// async fn list(_req: Request) -> &'static str { "[]" }
    ///
    /// /// The blog app's URLs, under `blog/`, as one installer (Django's `INSTALLED_APPS` entry).
    /// fn blog(app: App) -> App {
    ///     app.urls(vec![include("blog/", vec![path("", list).name("list")]).namespace("blog")])
    /// }
    ///
    /// let service = App::new().install(blog).build(canter_core::settings::Settings::for_tests()).unwrap();
    /// assert_eq!(service.resolver().reverse("blog:list", &[]).unwrap(), "/blog/");
    /// ```
    pub fn install(self, installer: impl FnOnce(App) -> App) -> Self {
        installer(self)
    }

    /// The one-line description `--help` shows.
    pub fn about(mut self, about: impl Into<String>) -> Self {
        self.about = Some(about.into());
        self
    }

    /// Runs the management CLI on this app with the process's arguments: `runserver`,
    /// `check`, `routes`, and every registered command. Builds its own tokio runtime.
    ///
    /// The whole of a project's `main.rs` (Django's `manage.py`): `cargo run -- runserver`
    /// serves it, `cargo run -- check` checks its settings and URLs, `--help` lists the rest.
    ///
    /// ```no_run
    /// use canter_core::prelude::*;
    ///
    /// async fn index(_req: Request) -> Html<&'static str> { Html("<h1>Hello</h1>") }
    ///
    /// fn main() -> std::process::ExitCode {
    ///     App::new()
    ///         .about("The shop's web server")
    ///         .settings_toml("debug = true")
    ///         .urls(vec![path("", index).name("index")])
    ///         .main()
    /// }
    /// ```
    pub fn main(self) -> ExitCode {
        management::main(self, std::env::args_os().collect())
    }

    /// Compiles URL patterns and middleware against `settings` into the service the server
    /// and the test client call, with the app's state as its services: its plugins are not
    /// started (see [`start`](Self::start)). Built inside a services scope (a test's
    /// `Databases::scope`), the app takes that scope's services too.
    ///
    /// ```
    /// use canter_core::prelude::*;
    /// use canter_core::settings::Settings;
    /// use canter_core::Body;
    ///
    /// async fn ping(_req: Request) -> &'static str { "pong" }
    ///
    /// let service = App::new().urls(vec![path("ping/", ping)]).build(Settings::for_tests()).unwrap();
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let request = http::Request::get("/ping/").header("host", "testserver").body(Body::empty()).unwrap();
    /// assert_eq!(service.handle(request).await.status(), 200);
    /// # });
    ///
    /// // A URL conf that does not compile is an error naming the pattern.
    /// let error = App::new().urls(vec![path("x/<nope:id>/", ping)]).build(Settings::for_tests());
    /// assert!(error.err().unwrap().to_string().contains("x/<nope:id>/"));
    /// ```
    pub fn build(self, settings: Settings) -> Result<CanterService, BuildError> {
        let mut services = self.state.clone();
        services.extend(scope_services());
        self.build_with(Arc::new(settings), Arc::new(services))
    }

    /// Starts the app as a test runs it (the command is `"test"`): every plugin's services,
    /// then the built app. Started inside a services scope (a test's `Databases::scope`), the
    /// app takes that scope's services over its plugins' (the test's own database). Requests through [`StartedApp::service`] run in the app's scope;
    /// other code of the test does inside [`StartedApp::scope`].
    pub async fn start(self, settings: Settings) -> Result<StartedApp, CommandError> {
        self.start_as(Arc::new(settings), "test", true).await
    }

    /// Starts the plugins for `command` (in order; the services of each are seen by the
    /// next), runs the start-up hooks and the plugins' `ready` inside the app's scope, and
    /// builds the app. A plugin that fails stops those started before it.
    pub(crate) async fn start_as(
        mut self,
        settings: Arc<Settings>,
        command: &str,
        needs_services: bool,
    ) -> Result<StartedApp, CommandError> {
        let plugins = std::mem::take(&mut self.plugins);
        let mut services = self.state.clone();
        let mut started = 0;
        let mut failure = None;
        for plugin in &plugins {
            let ctx = StartContext {
                settings: settings.clone(),
                command: command.to_owned(),
                needs_services,
                services: Arc::new(services.clone()),
            };
            match plugin.start(&ctx).await {
                Ok(more) => {
                    services.extend(more);
                    started += 1;
                }
                Err(e) => {
                    failure = Some(format!("{}: {e}", plugin.name()).into());
                    break;
                }
            }
        }
        // A test's scope (its own databases, broker) wins over what the plugins made.
        services.extend(scope_services());
        let services = Arc::new(services);
        let mut app = StartedApp {
            service: None,
            services: services.clone(),
            plugins: plugins[..started].to_vec(),
            shutdown: std::mem::take(&mut self.shutdown),
            settings: settings.clone(),
            command: command.to_owned(),
        };
        if let Some(error) = failure {
            app.stop().await;
            return Err(error);
        }
        let ready = async {
            for hook in &self.startup {
                hook(settings.clone(), command.to_owned()).await?;
            }
            let ctx = StartContext {
                settings: settings.clone(),
                command: command.to_owned(),
                needs_services,
                services: services.clone(),
            };
            for plugin in &app.plugins {
                plugin.ready(&ctx).await?;
            }
            Ok::<(), CommandError>(())
        };
        if let Err(e) = services.clone().scope(ready).await {
            app.stop().await;
            return Err(e);
        }
        match self.build_with(settings, services) {
            Ok(service) => {
                app.service = Some(service);
                Ok(app)
            }
            Err(e) => {
                app.stop().await;
                Err(e.into())
            }
        }
    }

    fn build_with(
        self,
        settings: Arc<Settings>,
        services: Arc<Services>,
    ) -> Result<CanterService, BuildError> {
        let resolver = Arc::new(Resolver::new(self.urls, &self.converters)?);
        let mut chain_middleware: Vec<Arc<dyn DynMiddleware>> = Vec::new();
        for (i, name) in settings.middleware.iter().enumerate() {
            let made = match self.named_middleware.get(name) {
                Some(factory) => factory(&settings)?,
                None => match middleware::builtin(name, &settings) {
                    Some(made) => made?,
                    None => {
                        let mut known: Vec<&str> = middleware::BUILTIN_NAMES.to_vec();
                        known.extend(self.named_middleware.keys().map(String::as_str));
                        return Err(SettingsError::Invalid {
                            key: format!("middleware[{i}]"),
                            message: format!(
                                "unknown middleware {name:?}; known: {}",
                                known.join(", ")
                            ),
                        }
                        .into());
                    }
                },
            };
            chain_middleware.push(made);
        }
        chain_middleware.extend(self.middleware);
        let context = Arc::new(AppContext {
            settings,
            resolver,
            services,
            shutdown: None,
        });
        let router = Arc::new(Router::new(context.clone()));
        let endpoint: middleware::Endpoint = {
            let router = router.clone();
            Arc::new(move |req| router.clone().dispatch(req))
        };
        let chain = Arc::new(Chain {
            middleware: chain_middleware,
            endpoint,
        });
        Ok(CanterService {
            core: Arc::new(Core::new(context, chain, router)),
        })
    }
}

/// The services of the scope this code runs in, if any (what an app built in a test's scope
/// takes over its own).
fn scope_services() -> Services {
    canter_kernel::services::current()
        .map(|scope| (*scope).clone())
        .unwrap_or_default()
}

/// An app whose plugins have started: its built service and services, until [`stop`](Self::stop).
pub struct StartedApp {
    service: Option<CanterService>,
    services: Arc<Services>,
    plugins: Vec<Arc<dyn Plugin>>,
    shutdown: Vec<ShutdownHook>,
    settings: Arc<Settings>,
    command: String,
}

impl StartedApp {
    /// The built app (what the server and the test client call).
    pub fn service(&self) -> &CanterService {
        self.service
            .as_ref()
            .expect("a StartedApp is returned built")
    }

    /// The app's services.
    pub fn services(&self) -> &Arc<Services> {
        &self.services
    }

    /// Runs `future` inside the app's scope (a test's `delay()`, `channel_layer()`, queries).
    pub fn scope<F: std::future::Future>(&self, future: F) -> canter_kernel::services::Scoped<F> {
        self.services.clone().scope(future)
    }

    /// Stops the plugins (last started first) and runs the shutdown hooks, inside the app's
    /// scope.
    pub async fn stop(self) {
        let services = self.services.clone();
        services
            .clone()
            .scope(async {
                for plugin in self.plugins.iter().rev() {
                    plugin.stop(&services).await;
                }
                for hook in &self.shutdown {
                    hook(self.settings.clone(), self.command.clone()).await;
                }
            })
            .await;
    }
}

/// A built app: a cheap-to-clone tower `Service` from requests to responses.
#[derive(Clone)]
pub struct CanterService {
    pub(crate) core: Arc<Core>,
}

impl CanterService {
    /// Handles one request (never fails: errors and panics are responses).
    pub fn handle(
        &self,
        req: crate::Request,
    ) -> impl std::future::Future<Output = crate::Response> + Send + 'static {
        self.core.handle(req)
    }
    /// The settings the app was built with.
    pub fn settings(&self) -> &Settings {
        &self.core.context.settings
    }
    /// The app's compiled URL patterns (`reverse`, `resolve`).
    pub fn resolver(&self) -> &Resolver {
        &self.core.context.resolver
    }
    /// The app's services (its requests run inside their scope).
    pub fn services(&self) -> &Arc<Services> {
        &self.core.context.services
    }
}

impl<B> tower::Service<http::Request<B>> for CanterService
where
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = crate::Response;
    type Error = std::convert::Infallible;
    type Future =
        futures_util::future::BoxFuture<'static, Result<crate::Response, std::convert::Infallible>>;

    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let core = self.core.clone();
        Box::pin(async move { Ok(core.handle(req.map(crate::request::into_body)).await) })
    }
}
