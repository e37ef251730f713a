//! The bridge between blocking code and the async runtime (asgiref's `sync_to_async` and
//! `async_to_sync`), the article's best practice 1 made explicit.
//!
//! A view's future runs on one of a few runtime threads; a blocking call inside it (a sync
//! driver, `std::fs`, heavy CPU work, `std::thread::sleep`) holds that thread and every request
//! queued behind it. [`sync_to_async`] runs the closure on tokio's blocking pool and awaits it,
//! so the runtime thread serves others meanwhile. In DEBUG the [stall detector](crate::stall)
//! names views that forgot to.
//!
//! ```
//! use canter_core::prelude::*;
//!
//! async fn report(_req: Request) -> Result<String> {
//!     // Blocking work goes through the bridge; `?` turns a panic in it into a 500.
//!     let total = sync_to_async(|| (1..=1_000u64).sum::<u64>()).await?;
//!     Ok(format!("total {total}"))
//! }
//! ```

use std::future::Future;

/// What can go wrong on the other side of the bridge.
#[derive(Debug, thiserror::Error)]
pub enum BlockingError {
    /// The closure panicked; the message is the panic's.
    #[error("blocking function panicked: {0}")]
    Panicked(String),
    /// The runtime is shutting down and did not run the closure.
    #[error("blocking function was cancelled: the runtime is shutting down")]
    Cancelled,
}

/// Runs a blocking closure on the blocking thread pool and awaits its result.
pub async fn sync_to_async<F, T>(f: F) -> Result<T, BlockingError>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f).await.map_err(|err| {
        if err.is_panic() {
            BlockingError::Panicked(panic_message(err.into_panic().as_ref()))
        } else {
            BlockingError::Cancelled
        }
    })
}

/// Runs a future to completion from blocking code (inside [`sync_to_async`], a plain thread
/// or `main`). On a thread of a runtime it uses that runtime; elsewhere it starts a small
/// one for this call. Called from async code it panics, as asgiref's raises: awaiting is the
/// way there.
pub fn async_to_sync<F: Future>(future: F) -> F::Output {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => handle.block_on(future),
        Err(_) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a current-thread tokio runtime")
            .block_on(future),
    }
}

pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_on_the_blocking_pool() {
        let main = std::thread::current().id();
        let other = sync_to_async(move || std::thread::current().id())
            .await
            .unwrap();
        assert_ne!(main, other);
    }

    #[tokio::test]
    async fn panics_become_errors() {
        let err = sync_to_async(|| -> u8 { panic!("boom") })
            .await
            .unwrap_err();
        assert!(
            matches!(err, BlockingError::Panicked(ref m) if m == "boom"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn round_trip_through_both_bridges() {
        let value = sync_to_async(|| async_to_sync(async { 40 + 2 }))
            .await
            .unwrap();
        assert_eq!(value, 42);
    }

    #[test]
    fn async_to_sync_without_a_runtime() {
        assert_eq!(async_to_sync(async { 7 }), 7);
    }
}
