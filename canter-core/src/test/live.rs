//! A real server on 127.0.0.1 and an ephemeral port, stopped when dropped.

use std::net::SocketAddr;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::app::App;
use crate::settings::Settings;

/// A real server for a test that needs a socket (a WebSocket client, a browser, another
/// process); see the [module docs](super).
pub struct LiveServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
    services: std::sync::Arc<canter_kernel::Services>,
}

impl LiveServer {
    /// Serves `app` with [`App::test_settings`].
    pub async fn start(app: App) -> Self {
        let settings = app.test_settings();
        Self::start_with_settings(app, settings).await
    }

    /// Serves `app`, started with its plugins as a test starts it, with these settings.
    pub async fn start_with_settings(app: App, settings: Settings) -> Self {
        // Started as a test runs it: its plugins' databases, broker and channel layer.
        let started = super::start_or_panic(app, settings).await;
        let service = started.service().clone();
        let services = started.services().clone();
        let listener = crate::server::bind(([127, 0, 0, 1], 0).into())
            .expect("an ephemeral port on 127.0.0.1");
        let addr = listener.local_addr().expect("a bound address");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(crate::server::serve(listener, service, async move {
            let _ = stopped.await;
        }));
        Self {
            addr,
            stop: Some(stop),
            task: Some(task),
            services,
        }
    }

    /// Runs `future` inside the served app's scope (a test's own `channel_layer()`, `delay()`).
    pub fn scope<F: std::future::Future>(&self, future: F) -> canter_kernel::services::Scoped<F> {
        self.services.scope(future)
    }

    /// The address it listens on (`127.0.0.1:PORT`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Graceful stop: no new connections, in-flight requests finish.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for LiveServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
