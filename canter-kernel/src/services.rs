//! The services of one app: its databases, task broker, channel layer and whatever the
//! project shares (`App::state`), one value per type, built by the parts at start-up.
//!
//! Django keeps these in process globals (`connections`, `get_channel_layer()`, the Celery
//! app); canter keeps them in the app, so two apps with different settings can live in one
//! process and nothing is set up behind a user's back. Code that runs for an app — a request,
//! a task body, a consumer, a management command — runs inside the app's *scope* (a tokio
//! task-local), which is how `delay()`, `channel_layer()` and the ORM find their service
//! without a handle being passed around:
//!
//! ```
//! use std::sync::Arc;
//! use canter_kernel::services::{self, Services};
//!
//! struct Greeting(&'static str);
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let app = Arc::new(Services::new().with(Greeting("hello")));
//! let said = app
//!     .scope(async { services::current().unwrap().get::<Greeting>().unwrap().0 })
//!     .await;
//! assert_eq!(said, "hello");
//! assert!(services::current().is_none(), "outside any app there is none");
//! # }
//! ```
//!
//! A task spawned with `tokio::spawn` starts outside every scope; [`spawn`] carries the
//! current one into it.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use tokio::task::futures::TaskLocalFuture;

/// One value per type, shared: an app's services.
#[derive(Default, Clone)]
pub struct Services {
    map: HashMap<TypeId, Arc<dyn Any + Send + Sync>>,
}

tokio::task_local! {
    static CURRENT: Arc<Services>;
}

/// A future running inside an app's scope ([`Services::scope`]).
pub type Scoped<F> = TaskLocalFuture<Arc<Services>, F>;

impl Services {
    /// No services yet: the parts add theirs at start-up.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `value`, replacing the one of the same type.
    pub fn insert<T: Send + Sync + 'static>(&mut self, value: T) {
        self.map.insert(TypeId::of::<T>(), Arc::new(value));
    }

    /// Adds a value already shared elsewhere (the same `Arc`, not a copy), replacing the one of
    /// its type; [`get_shared`](Self::get_shared) returns this very handle.
    pub fn insert_shared<T: Send + Sync + 'static>(&mut self, value: Arc<T>) {
        self.map.insert(TypeId::of::<T>(), value);
    }

    /// These services with `value` added (or replacing the one of its type).
    pub fn with<T: Send + Sync + 'static>(mut self, value: T) -> Self {
        self.insert(value);
        self
    }

    /// Adds every service of `other`, replacing those of the same types.
    pub fn extend(&mut self, other: Services) {
        self.map.extend(other.map);
    }

    /// The service of type `T`, if the app has one.
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.map
            .get(&TypeId::of::<T>())
            .and_then(|value| value.downcast_ref::<T>())
    }

    /// The service of type `T` as a shared handle (for the `State<T>` extractor).
    pub fn get_shared<T: Send + Sync + 'static>(&self) -> Option<Arc<T>> {
        self.map
            .get(&TypeId::of::<T>())
            .and_then(|value| value.clone().downcast::<T>().ok())
    }

    /// How many services (types) are held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no service has been added.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Runs `future` inside this app's scope: [`current`] returns these services in it.
    pub fn scope<F: Future>(self: &Arc<Self>, future: F) -> Scoped<F> {
        CURRENT.scope(self.clone(), future)
    }

    /// Runs `f` inside this app's scope, synchronously (a blocking thread's work).
    pub fn sync_scope<R>(self: &Arc<Self>, f: impl FnOnce() -> R) -> R {
        CURRENT.sync_scope(self.clone(), f)
    }
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Services({} values)", self.map.len())
    }
}

/// The services of the app whose code is running here, if any.
pub fn current() -> Option<Arc<Services>> {
    CURRENT.try_with(Arc::clone).ok()
}

/// Whether `services` are the current app's (the same handle, not an equal map): code that
/// already runs in them need not enter them again.
pub fn is_current(services: &Arc<Services>) -> bool {
    CURRENT
        .try_with(|current| Arc::ptr_eq(current, services))
        .unwrap_or(false)
}

/// `f` applied to the current app's services, without cloning their handle; `None` outside
/// any app.
pub fn with_current<R>(f: impl FnOnce(&Services) -> R) -> Option<R> {
    CURRENT.try_with(|services| f(services)).ok()
}

/// The current app's service of type `T`, or an error naming what was asked for and why
/// there is none.
pub fn require<T: Clone + Send + Sync + 'static>(what: &'static str) -> Result<T, Missing> {
    match with_current(|services| services.get::<T>().cloned()) {
        Some(Some(found)) => Ok(found),
        Some(None) => Err(Missing::NotConfigured { what }),
        None => Err(Missing::OutsideApp { what }),
    }
}

/// Why a service could not be found.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Missing {
    /// Asked for outside any app's scope (a thread or task the app did not start).
    #[error("no app is running here, so there is no {what}: run this code inside the app (a view, a task, a consumer, a command), or carry the app's scope into it with canter::services::spawn or Services::scope")]
    OutsideApp {
        /// The service asked for, as messages name it (`"task broker"`).
        what: &'static str,
    },
    /// The app has no such service (its part is not installed, or its command did not start it).
    #[error("this app has no {what}: install its part (App::plugin) — the framework's own schema commands (migrate, check, …) start no brokers or layers")]
    NotConfigured {
        /// The service asked for, as messages name it (`"channel layer"`).
        what: &'static str,
    },
}

/// `tokio::spawn`, carrying the current app's scope (if any) into the new task.
pub fn spawn<F>(future: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    match current() {
        Some(services) => tokio::spawn(services.scope(future)),
        None => tokio::spawn(future),
    }
}

/// `future` made to run in the current app's scope wherever it is polled (for a future handed
/// to code that spawns it: a server, a runtime of its own).
pub fn carry<F: Future>(future: F) -> Carried<F> {
    match current() {
        Some(services) => Carried::Scoped {
            future: services.scope(future),
        },
        None => Carried::Plain { future },
    }
}

// pin_project_lite takes no docs on a variant's fields: the lint is allowed for its output.
#[allow(missing_docs)]
mod carried {
    use super::*;

    pin_project_lite::pin_project! {
        /// A future with the app's scope it was made in ([`carry`]).
        #[project = CarriedProj]
        pub enum Carried<F: Future> {
            /// Polled inside the scope.
            Scoped { #[pin] future: Scoped<F> },
            /// Polled as it is (no app's scope was current).
            Plain { #[pin] future: F },
        }
    }
}
pub use carried::Carried;
use carried::CarriedProj;

impl<F: Future> Carried<F> {
    /// `future`, to run in `services`' scope wherever it is polled.
    pub fn in_scope(services: &Arc<Services>, future: F) -> Self {
        Carried::Scoped {
            future: services.scope(future),
        }
    }

    /// `future` as it is: for one polled where the scope it needs is already current.
    pub fn as_is(future: F) -> Self {
        Carried::Plain { future }
    }
}

impl<F: Future> Future for Carried<F> {
    type Output = F::Output;
    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        match self.project() {
            CarriedProj::Scoped { future } => future.poll(cx),
            CarriedProj::Plain { future } => future.poll(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, PartialEq, Debug)]
    struct Name(&'static str);

    #[tokio::test]
    async fn each_app_sees_its_own_services_and_spawned_tasks_keep_them() {
        let a = Arc::new(Services::new().with(Name("a")));
        let b = Arc::new(Services::new().with(Name("b")));
        let in_a = a.clone().scope(async {
            let inner = spawn(async { require::<Name>("name").unwrap() });
            (require::<Name>("name").unwrap(), inner.await.unwrap())
        });
        let in_b = b.scope(async { require::<Name>("name").unwrap() });
        let ((a1, a2), b1) = tokio::join!(in_a, in_b);
        assert_eq!((a1, a2, b1), (Name("a"), Name("a"), Name("b")));
        let outside = a
            .scope(async { tokio::spawn(async { current().is_none() }).await })
            .await;
        assert!(
            outside.unwrap(),
            "tokio::spawn does not carry the scope; spawn does"
        );
    }

    #[tokio::test]
    async fn asking_outside_an_app_or_for_a_missing_service_says_which() {
        let outside = require::<Name>("channel layer").unwrap_err().to_string();
        assert!(
            outside.contains("no app is running here, so there is no channel layer"),
            "{outside}"
        );
        let app = Arc::new(Services::new());
        let missing = app
            .scope(async { require::<Name>("task broker").unwrap_err().to_string() })
            .await;
        assert!(missing.contains("this app has no task broker"), "{missing}");
    }

    #[test]
    fn a_later_value_of_a_type_replaces_the_earlier_one() {
        let mut services = Services::new().with(Name("first")).with(7u32);
        services.extend(Services::new().with(Name("second")));
        assert_eq!(services.get::<Name>(), Some(&Name("second")));
        assert_eq!(services.get::<u32>(), Some(&7));
        assert_eq!(services.len(), 2);
        assert!(services.get::<String>().is_none());
        assert_eq!(*services.get_shared::<u32>().unwrap(), 7);
    }
}
