//! The one [`App`] of a project: URL patterns, middleware, state, converters and management
//! commands are registered here, then [`App::main`] hands over to the management CLI.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::Arc;

use crate::handler::{Core, Router};
use crate::management::{self, ManagementCommand};
use crate::middleware::{self, Chain, DynMiddleware, Middleware, MiddlewareFactory};
use crate::routing::{Converter, Converters, Resolver, UrlPattern};
use crate::settings::{Settings, SettingsError};

/// Values shared by every request, by type (`App::state(pool)`, then `State<Pool>`).
#[derive(Default)]
pub struct StateMap(HashMap<TypeId, Arc<dyn Any + Send + Sync>>);

impl StateMap {
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        self.0
            .get(&TypeId::of::<T>())
            .and_then(|v| v.clone().downcast::<T>().ok())
    }
    fn insert<T: Send + Sync + 'static>(&mut self, value: T) {
        self.0.insert(TypeId::of::<T>(), Arc::new(value));
    }
}

/// What every request of an app carries (one extension, one reference count per request):
/// its settings, URL resolver and state. Read it with [`RequestExt`](crate::request::RequestExt)'s
/// `settings()`, `reverse()` and `state()`, or the [`State`](crate::extract::State) extractor.
pub struct AppContext {
    pub(crate) settings: Arc<Settings>,
    pub(crate) resolver: Arc<Resolver>,
    pub(crate) state: Arc<StateMap>,
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
            state: self.state.clone(),
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
    /// The app's state of type `T` (`App::state`).
    pub fn state<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        self.state.get::<T>()
    }
}

/// Why an app could not be built: a URL conf or middleware problem, named.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    UrlConf(#[from] crate::routing::UrlConfError),
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
    state: StateMap,
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
    pub fn new() -> Self {
        Self {
            urls: Vec::new(),
            converters: Converters::default(),
            middleware: Vec::new(),
            named_middleware: HashMap::new(),
            state: StateMap::default(),
            commands: management::builtin_commands(),
            about: None,
            base_settings: String::new(),
            startup: Vec::new(),
            shutdown: Vec::new(),
        }
    }

    /// Appends URL patterns (Django's `urlpatterns`), matched in order.
    pub fn urls(mut self, patterns: Vec<UrlPattern>) -> Self {
        self.urls.extend(patterns);
        self
    }

    /// Registers a path converter for `<name:param>` (Django's `register_converter`).
    pub fn converter(mut self, name: &str, converter: impl Converter) -> Self {
        self.converters.register(name, converter);
        self
    }

    /// Appends a middleware; code-added middleware runs inside the ones named in settings, in
    /// the order added (first added is outermost).
    pub fn middleware(mut self, middleware: impl Middleware) -> Self {
        self.middleware.push(Arc::new(middleware));
        self
    }

    /// Appends a tower layer to the chain (any tower-http layer, for example).
    pub fn layer<L>(self, layer: L) -> Self
    where
        middleware::LayerMiddleware<L>: Middleware,
    {
        self.middleware(middleware::layer(layer))
    }

    /// Makes a middleware nameable in the `middleware` setting, built from the settings.
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
    pub fn state<T: Send + Sync + 'static>(mut self, value: T) -> Self {
        self.state.insert(value);
        self
    }

    /// Adds a management command (later parts add `migrate`, `worker`, … this way).
    pub fn command(mut self, command: impl ManagementCommand) -> Self {
        let command: Arc<dyn ManagementCommand> = Arc::new(command);
        self.commands.retain(|c| c.name() != command.name());
        self.commands.push(command);
        self
    }

    /// The project's own settings, as TOML text (usually `include_str!("settings.toml")`): the
    /// layer between canter's defaults and the settings file / environment, as Django's
    /// `settings.py` is part of the project.
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
    /// has returned, so a hook bounds its own wait.
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

    /// Applies a part's installer: `App::new().install(canter::orm::plugin)`.
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
    pub fn main(self) -> ExitCode {
        management::main(self, std::env::args_os().collect())
    }

    /// Compiles URL patterns and middleware against `settings` into the service the server
    /// and the test client call.
    pub fn build(self, settings: Settings) -> Result<CanterService, BuildError> {
        let settings = Arc::new(settings);
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
            state: Arc::new(self.state),
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
    pub fn settings(&self) -> &Settings {
        &self.core.context.settings
    }
    pub fn resolver(&self) -> &Resolver {
        &self.core.context.resolver
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
