//! The Redis store (Django's `sessions.backends.cache` on a Redis cache): one key per
//! session, expiring with it. The value is the signed encoding of the database store (Django
//! pickles cache values, so Django does not read these: share sessions through the database).

use futures_util::future::BoxFuture;
use redis::AsyncCommands;
use tokio::sync::OnceCell;

use super::store::{new_session_key, SessionCodec, SessionData, SessionError, SessionStore};

/// Django's `KEY_PREFIX` of the cache backend.
const PREFIX: &str = "django.contrib.sessions.cache";

/// Sessions in Redis, one key per session (see the module docs).
pub struct RedisStore {
    codec: SessionCodec,
    client: redis::Client,
    connection: OnceCell<redis::aio::ConnectionManager>,
}

impl RedisStore {
    /// A store on the Redis at `url` (connected on first use); an invalid URL is an error.
    pub fn new(codec: SessionCodec, url: &str) -> Result<Self, SessionError> {
        let client = redis::Client::open(url).map_err(|e| SessionError(e.to_string()))?;
        Ok(Self {
            codec,
            client,
            connection: OnceCell::new(),
        })
    }

    async fn connection(&self) -> Result<redis::aio::ConnectionManager, SessionError> {
        self.connection
            .get_or_try_init(|| self.client.get_connection_manager())
            .await
            .cloned()
            .map_err(|e| SessionError(e.to_string()))
    }
}

fn failed(e: redis::RedisError) -> SessionError {
    SessionError(e.to_string())
}

impl SessionStore for RedisStore {
    fn load<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Option<SessionData>> {
        Box::pin(async move {
            let mut conn = self.connection().await.ok()?;
            let text: Option<String> = conn.get(format!("{PREFIX}{key}")).await.ok()?;
            self.codec.decode(&text?)
        })
    }

    fn save<'a>(
        &'a self,
        key: Option<&'a str>,
        data: &'a SessionData,
        age: i64,
    ) -> BoxFuture<'a, Result<String, SessionError>> {
        Box::pin(async move {
            let mut conn = self.connection().await?;
            let value = self.codec.encode(data);
            let ttl = age.max(1) as u64;
            if let Some(key) = key {
                let options = redis::SetOptions::default()
                    .conditional_set(redis::ExistenceCheck::XX)
                    .with_expiration(redis::SetExpiry::EX(ttl));
                let done: Option<String> = conn
                    .set_options(format!("{PREFIX}{key}"), &value, options)
                    .await
                    .map_err(failed)?;
                if done.is_some() {
                    return Ok(key.to_owned());
                }
            }
            for _ in 0..10 {
                let key = new_session_key();
                let options = redis::SetOptions::default()
                    .conditional_set(redis::ExistenceCheck::NX)
                    .with_expiration(redis::SetExpiry::EX(ttl));
                let done: Option<String> = conn
                    .set_options(format!("{PREFIX}{key}"), &value, options)
                    .await
                    .map_err(failed)?;
                if done.is_some() {
                    return Ok(key);
                }
            }
            Err(SessionError("no free session key after 10 tries".into()))
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), SessionError>> {
        Box::pin(async move {
            let mut conn = self.connection().await?;
            let _: i64 = conn.del(format!("{PREFIX}{key}")).await.map_err(failed)?;
            Ok(())
        })
    }
}
