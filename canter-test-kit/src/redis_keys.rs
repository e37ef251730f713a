//! A Redis key prefix of a test's own.

use crate::block_on;

/// A key prefix of the test's own on `CANTER_TEST_REDIS_URL` (`<tag>-<random>:`); every key
/// under it is deleted when this is dropped.
pub struct RedisKeys {
    /// The Redis server's URL, as `CANTER_TEST_REDIS_URL` gives it.
    pub url: String,
    /// The prefix of every key the test makes (`<tag>-<random>:`).
    pub prefix: String,
}

impl RedisKeys {
    /// `None` (the test skips, printing why) when `CANTER_TEST_REDIS_URL` is unset; a panic
    /// then under `CANTER_REQUIRE_SERVICES=1`.
    pub fn create(tag: &str) -> Option<RedisKeys> {
        let url = canter_core::test::require_service("CANTER_TEST_REDIS_URL")?;
        let prefix = format!("{tag}-{}:", uuid::Uuid::new_v4().simple());
        Some(RedisKeys { url, prefix })
    }

    /// The URL with `?global_keyprefix=<prefix>` (what canter's Redis broker takes).
    pub fn broker_url(&self) -> String {
        let separator = if self.url.contains('?') { '&' } else { '?' };
        format!("{}{separator}global_keyprefix={}", self.url, self.prefix)
    }

    /// The keys under the prefix now.
    pub fn keys(&self) -> Vec<String> {
        let (url, pattern) = (self.url.clone(), format!("{}*", self.prefix));
        block_on(async move {
            let client = redis::Client::open(url).expect("a Redis URL");
            let mut conn = client
                .get_multiplexed_async_connection()
                .await
                .expect("Redis answers");
            redis::cmd("KEYS")
                .arg(pattern)
                .query_async(&mut conn)
                .await
                .expect("KEYS")
        })
    }
}

impl Drop for RedisKeys {
    fn drop(&mut self) {
        let keys = self.keys();
        if keys.is_empty() {
            return;
        }
        let url = self.url.clone();
        block_on(async move {
            let client = redis::Client::open(url).expect("a Redis URL");
            if let Ok(mut conn) = client.get_multiplexed_async_connection().await {
                let _: Result<(), _> = redis::cmd("DEL").arg(keys).query_async(&mut conn).await;
            }
        });
    }
}
