//! Wiring Channels into an [`App`](canter_core::App): the channel layer from settings.
//!
//! ```toml
//! [channels]
//! layer = "redis"                       # "memory" (default) or "redis"
//!
//! [channels.redis]
//! hosts = ["redis://127.0.0.1:6379"]     # REDIS_URL, when set, is the only host
//! prefix = "asgi"
//! ```

use std::sync::Arc;
#[cfg(feature = "redis")]
use std::time::Duration;

use canter_kernel::management::CommandError;
use canter_kernel::plugin::{Plugin, StartContext};
use canter_kernel::{BoxFuture, Services};
use serde::Deserialize;

use crate::layers::{ChannelLayer, InMemoryChannelLayer};

#[derive(Deserialize, Default)]
#[serde(default)]
struct LayerChoice {
    layer: Option<String>,
    /// `[channels.redis]`, read when the Redis layer is chosen.
    redis: Option<serde_json::Value>,
}

/// How long start-up waits for a configured Redis layer before failing (the process must
/// exit within 10 s when it is unreachable).
#[cfg(feature = "redis")]
const CONNECT_LIMIT: Duration = Duration::from_secs(8);

/// The channels plugin (`App::new().plugin(canter::channels::Channels)`): at start-up, the
/// app's channel layer — the in-process one, or the Redis one when `[channels] layer =
/// "redis"` or `REDIS_URL` is set. A Redis layer that does not answer within 8 s fails the
/// start, naming the setting and the address. Commands that need no services (`check`,
/// `migrate`, …) get no layer.
#[derive(Clone, Copy, Default)]
pub struct Channels;

impl Plugin for Channels {
    fn name(&self) -> &'static str {
        "channels"
    }

    fn start<'a>(&'a self, ctx: &'a StartContext) -> BoxFuture<'a, Result<Services, CommandError>> {
        Box::pin(async move {
            let choice: LayerChoice = ctx
                .settings
                .section::<toml_section::Any>("channels")
                .map(|s| s.0)
                .unwrap_or_default();
            if !ctx.needs_services {
                return Ok(Services::new());
            }
            let redis_url = std::env::var("REDIS_URL")
                .ok()
                .filter(|u| !u.trim().is_empty());
            let wants_redis = choice.layer.as_deref() == Some("redis")
                || (choice.layer.is_none() && redis_url.is_some());
            let layer: Arc<dyn ChannelLayer> = if wants_redis {
                redis_layer(choice.redis, redis_url).await?
            } else {
                Arc::new(InMemoryChannelLayer::default())
            };
            Ok(Services::new().with(layer))
        })
    }
}

/// The Redis layer: `[channels.redis]`, its hosts replaced by `REDIS_URL` when that is set.
#[cfg(feature = "redis")]
async fn redis_layer(
    section: Option<serde_json::Value>,
    redis_url: Option<String>,
) -> Result<Arc<dyn ChannelLayer>, CommandError> {
    use crate::layers::{RedisChannelLayer, RedisLayerConfig};
    let mut config: RedisLayerConfig = section
        .map(serde_json::from_value)
        .transpose()
        .map_err(|e| format!("[channels.redis]: {e}"))?
        .unwrap_or_default();
    let setting = match redis_url {
        Some(url) => {
            config.hosts = vec![url];
            "REDIS_URL"
        }
        None => "[channels.redis] hosts",
    };
    let hosts: Vec<String> = config
        .hosts
        .iter()
        .map(|h| canter_kernel::urls::redacted(h))
        .collect();
    let layer = tokio::time::timeout(CONNECT_LIMIT, RedisChannelLayer::connect(config))
        .await
        .map_err(|_| format!("no answer within {}s", CONNECT_LIMIT.as_secs()))
        .and_then(|connected| connected.map_err(|e| e.to_string()))
        .map_err(|e| {
            format!(
                "the Redis channel layer at {} (from {setting}): {e}",
                hosts.join(", ")
            )
        })?;
    tracing::info!(target: "canter::channels", hosts = ?hosts, "channel layer: Redis");
    Ok(layer.shared())
}

#[cfg(not(feature = "redis"))]
async fn redis_layer(
    _section: Option<serde_json::Value>,
    _redis_url: Option<String>,
) -> Result<Arc<dyn ChannelLayer>, CommandError> {
    Err("the Redis channel layer is chosen ([channels] layer or REDIS_URL) but canter-channels is built without its `redis` feature".into())
}

/// Reads `[channels]` leniently: the socket limits live in the same section.
mod toml_section {
    use super::LayerChoice;

    #[derive(Default)]
    pub(super) struct Any(pub(super) LayerChoice);

    impl<'de> serde::Deserialize<'de> for Any {
        fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            let value = serde_json::Value::deserialize(deserializer)?;
            let layer = value
                .get("layer")
                .and_then(|v| v.as_str())
                .map(str::to_owned);
            let redis = value.get("redis").cloned();
            Ok(Any(LayerChoice { layer, redis }))
        }
    }
}
