//! `[ops]` settings.
//!
//! ```toml
//! [ops]
//! token = "…"            # Authorization: Bearer <token> opens the dashboard without a session
//! publish_every_ms = 1000 # how often each process publishes its counters (and the board samples)
//! ```

use serde::Deserialize;

/// See the module docs.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OpsSettings {
    /// A bearer token for tools and deployments without users; none: staff sessions only.
    pub token: Option<String>,
    /// How often each process publishes its counters and the dashboard samples, milliseconds.
    pub publish_every_ms: u64,
}

impl Default for OpsSettings {
    fn default() -> Self {
        Self {
            token: None,
            publish_every_ms: 1000,
        }
    }
}

impl OpsSettings {
    /// The publishing period, at least 100 ms.
    pub fn period(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.publish_every_ms.max(100))
    }

    /// The token, when one is set and not empty.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref().filter(|t| !t.is_empty())
    }
}
