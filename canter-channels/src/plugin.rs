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

use canter_core::App;
use serde::Deserialize;

use crate::layers::{install, InMemoryChannelLayer, RedisChannelLayer, RedisLayerConfig};

#[derive(Deserialize, Default)]
#[serde(default)]
struct LayerChoice {
    layer: Option<String>,
    redis: Option<RedisLayerConfig>,
}

/// `App::new().install(canter::channels::plugin)`: at start-up, the in-process layer, or the
/// Redis one when `[channels] layer = "redis"` or `REDIS_URL` is set.
pub fn plugin(app: App) -> App {
    app.on_startup(|settings, _command| async move {
        let choice: LayerChoice = settings.section::<toml_section::Any>("channels").map(|s| s.0).unwrap_or_default();
        let redis_url = std::env::var("REDIS_URL").ok().filter(|u| !u.trim().is_empty());
        let wants_redis = choice.layer.as_deref() == Some("redis") || (choice.layer.is_none() && redis_url.is_some());
        if wants_redis {
            let mut config = choice.redis.unwrap_or_default();
            if let Some(url) = redis_url {
                config.hosts = vec![url];
            }
            let layer = RedisChannelLayer::connect(config.clone()).await?;
            install(layer.shared());
            tracing::info!(target: "canter::channels", hosts = ?config.hosts, "channel layer: Redis");
        } else {
            install(Arc::new(InMemoryChannelLayer::default()));
        }
        Ok(())
    })
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
            let redis = value
                .get("redis")
                .cloned()
                .map(serde_json::from_value)
                .transpose()
                .map_err(serde::de::Error::custom)?;
            Ok(Any(LayerChoice { layer, redis }))
        }
    }
}
