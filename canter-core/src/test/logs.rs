//! [`CapturedLogs`]: what the code under test logged, for assertions (Django's `assertLogs`).

use std::sync::{Arc, Mutex};

/// A tracing subscriber's output kept in memory. Cloning shares the buffer.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let logs = canter_core::test::CapturedLogs::default();
/// let _guard = logs.install(); // this thread's subscriber until the guard drops
/// tracing::warn!("disk almost full");
/// assert!(logs.text().contains("WARN") && logs.text().contains("disk almost full"));
/// # }
/// ```
#[derive(Clone, Default)]
pub struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
    fn subscriber(&self) -> impl tracing::Subscriber + Send + Sync + 'static {
        let writer = self.clone();
        tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish()
    }

    /// Captures this thread's log lines until the guard drops: enough for code that runs on
    /// the test's own current-thread runtime (the test client, an in-process socket).
    pub fn install(&self) -> tracing::subscriber::DefaultGuard {
        tracing::subscriber::set_default(self.subscriber())
    }

    /// Captures every thread's log lines for the rest of the process (a multi-thread runtime,
    /// a worker): once per test binary, so such a test wants a binary of its own.
    pub fn install_globally(&self) {
        tracing::subscriber::set_global_default(self.subscriber())
            .expect("the process has no global tracing subscriber yet");
    }

    /// Everything logged so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }

    /// Everything logged so far, emptying the buffer.
    pub fn take(&self) -> String {
        let bytes = std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()));
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// The lines logged at WARN so far.
    pub fn warnings(&self) -> Vec<String> {
        self.text()
            .lines()
            .filter(|line| line.contains(" WARN "))
            .map(str::to_owned)
            .collect()
    }
}

impl std::io::Write for CapturedLogs {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
