//! Which broker a URL names, and opening it: `sqlite://`, `redis://`, `amqp://` (with the
//! result backend RabbitMQ needs) or `memory://`; and which URL an app uses when its settings
//! name none (`BROKER_URL`, `REDIS_URL`, the embedded file).

use std::sync::Arc;

use crate::broker::{Broker, ResultBackend};
use crate::brokers::{MemoryBroker, SqliteBroker, WithResultBackend};
use crate::error::TaskError;

/// The broker URL and the setting it came from: `[tasks] broker` if set, else `BROKER_URL`,
/// else `REDIS_URL` if set, else the embedded default.
pub(crate) fn broker_url(
    configured: Option<&str>,
    broker_env: Option<String>,
    redis_url: Option<String>,
) -> (String, &'static str) {
    let set = |value: Option<String>| value.filter(|u| !u.trim().is_empty());
    match (configured, set(broker_env), set(redis_url)) {
        (Some(url), ..) => (url.to_owned(), "[tasks] broker"),
        (None, Some(url), _) => (url, "BROKER_URL"),
        (None, None, Some(redis)) => (redis, "REDIS_URL"),
        (None, None, None) => ("sqlite://tasks.sqlite3".to_owned(), "the default"),
    }
}

/// Where a broker that keeps no results (RabbitMQ) keeps them: `[tasks] result_backend`, else
/// `RESULT_BACKEND`, else `REDIS_URL`, else the embedded SQLite file.
pub(crate) fn result_backend_url(
    configured: Option<&str>,
    backend_env: Option<String>,
    redis_url: Option<String>,
) -> String {
    let set = |value: Option<String>| value.filter(|u| !u.trim().is_empty());
    configured
        .map(str::to_owned)
        .or_else(|| set(backend_env))
        .or_else(|| set(redis_url))
        .unwrap_or_else(|| "sqlite://tasks.sqlite3".to_owned())
}

/// The broker a URL names: `sqlite://FILE` (embedded, durable), `redis://HOST:PORT/DB`
/// (Celery's protocol, shared with Python; see [`RedisBroker`](crate::RedisBroker) for its
/// options) or `memory://` (this process only, for tests).
pub async fn open_broker(url: &str) -> Result<Arc<dyn Broker>, TaskError> {
    open_broker_limited(url, crate::broker::DEFAULT_MAX_MESSAGE_SIZE).await
}

/// The broker `url` names, with `backend` (a broker URL: Redis or SQLite) keeping its results
/// (Celery's `result_backend`): RabbitMQ's `amqp://`, which keeps none, needs one (`None`: the
/// environment's, see `result_backend_url`); another broker keeps its own unless `backend`
/// names a different store. Messages are limited to `max_message_size` bytes.
pub async fn open_broker_with_backend(
    url: &str,
    backend: Option<&str>,
    max_message_size: u64,
) -> Result<Arc<dyn Broker>, TaskError> {
    let amqp = url.starts_with("amqp://") || url.starts_with("amqps://");
    let backend = match backend {
        Some(backend) if backend != url => backend.to_owned(),
        _ if amqp => {
            let env = |name: &str| std::env::var(name).ok();
            result_backend_url(None, env("RESULT_BACKEND"), env("REDIS_URL"))
        }
        _ => return open_broker_limited(url, max_message_size).await,
    };
    if backend == "db" {
        return Err(TaskError::Broker(
            "the result backend `db` is the app's database: the tasks plugin opens it (after the ORM's plugin), or open_broker_with_results with a DatabaseResultBackend".into(),
        ));
    }
    if backend.starts_with("amqp") {
        return Err(TaskError::Broker(format!(
            "the result backend {}: expected redis://… or sqlite://… (RabbitMQ keeps no results)",
            crate::broker::redacted(&backend)
        )));
    }
    let results = Box::pin(open_broker_limited(&backend, max_message_size))
        .await
        .map_err(|e| {
            let shown = crate::broker::redacted(&backend);
            TaskError::Broker(format!("the result backend {shown}: {e}"))
        })?;
    if !amqp {
        let transport = open_broker_limited(url, max_message_size).await?;
        return Ok(Arc::new(WithResultBackend::new(transport, results)));
    }
    open_amqp(url, results, max_message_size).await
}

/// The broker `url` names with `results` keeping its results (a result backend that is no
/// broker: [`DatabaseResultBackend`](crate::brokers::DatabaseResultBackend), `result_backend =
/// "db"`). RabbitMQ's schedules, unique claims, rate limits, revocations and worker snapshots
/// stay in the store the environment names (`REDIS_URL`, else the embedded SQLite file).
pub async fn open_broker_with_results(
    url: &str,
    results: Arc<dyn ResultBackend>,
    max_message_size: u64,
) -> Result<Arc<dyn Broker>, TaskError> {
    let amqp = url.starts_with("amqp://") || url.starts_with("amqps://");
    if !amqp {
        let transport = open_broker_limited(url, max_message_size).await?;
        return Ok(Arc::new(WithResultBackend::new(transport, results)));
    }
    let store_url = result_backend_url(None, None, std::env::var("REDIS_URL").ok());
    let store = Box::pin(open_broker_limited(&store_url, max_message_size))
        .await
        .map_err(|e| {
            let shown = crate::broker::redacted(&store_url);
            TaskError::Broker(format!("RabbitMQ's coordination store {shown}: {e}"))
        })?;
    let store: Arc<dyn Broker> = Arc::new(WithResultBackend::new(store, results));
    open_amqp(url, store, max_message_size).await
}

async fn open_amqp(
    url: &str,
    store: Arc<dyn Broker>,
    max_message_size: u64,
) -> Result<Arc<dyn Broker>, TaskError> {
    #[cfg(feature = "amqp")]
    {
        let broker = crate::brokers::AmqpBroker::connect(url, store).await?;
        Ok(Arc::new(broker.with_max_message_size(max_message_size)))
    }
    #[cfg(not(feature = "amqp"))]
    {
        let _ = (url, store, max_message_size);
        Err(TaskError::Broker(
            "the RabbitMQ broker needs canter-tasks' `amqp` feature (canter's `amqp`)".into(),
        ))
    }
}

/// [`open_broker`] with messages limited to `max_message_size` bytes: larger ones are refused
/// when enqueued, and dead-lettered unread when found in a queue.
pub async fn open_broker_limited(
    url: &str,
    max_message_size: u64,
) -> Result<Arc<dyn Broker>, TaskError> {
    if url.starts_with("sqlite:") {
        let broker = SqliteBroker::open(url).await?;
        Ok(Arc::new(broker.with_max_message_size(max_message_size)))
    } else if url.starts_with("amqp://") || url.starts_with("amqps://") {
        // Results where the environment says (see `result_backend_url`).
        Box::pin(open_broker_with_backend(url, None, max_message_size)).await
    } else if url == "memory://" {
        Ok(Arc::new(
            MemoryBroker::new().with_max_message_size(max_message_size),
        ))
    } else if url.starts_with("redis://") || url.starts_with("rediss://") {
        #[cfg(feature = "redis")]
        return Ok(Arc::new(
            crate::brokers::RedisBroker::connect(url)
                .await?
                .with_max_message_size(max_message_size),
        ));
        #[cfg(not(feature = "redis"))]
        Err(TaskError::Broker(
            "the Redis broker needs canter-tasks' `redis` feature".into(),
        ))
    } else {
        Err(TaskError::Broker(format!(
            "unknown broker URL {url:?}: expected sqlite://FILE, redis://HOST:PORT/DB, amqp://HOST:PORT/VHOST or memory://"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::{broker_url, result_backend_url};

    #[test]
    fn the_broker_is_the_setting_else_redis_url_else_embedded() {
        let redis = Some("redis://r:6379/0".to_owned());
        let amqp = Some("amqp://guest:guest@h:5672/%2f".to_owned());
        assert_eq!(
            broker_url(Some("sqlite://x.sqlite3"), amqp.clone(), redis.clone()),
            ("sqlite://x.sqlite3".to_owned(), "[tasks] broker")
        );
        assert_eq!(
            broker_url(None, amqp.clone(), redis.clone()),
            (amqp.clone().unwrap(), "BROKER_URL"),
            "BROKER_URL wins over REDIS_URL"
        );
        assert_eq!(
            broker_url(None, None, redis.clone()),
            ("redis://r:6379/0".to_owned(), "REDIS_URL")
        );
        assert_eq!(
            broker_url(None, None, Some(" ".into())),
            ("sqlite://tasks.sqlite3".to_owned(), "the default")
        );
        assert_eq!(broker_url(None, None, None).0, "sqlite://tasks.sqlite3");
        assert_eq!(
            result_backend_url(None, Some("sqlite://r.sqlite3".into()), redis.clone()),
            "sqlite://r.sqlite3"
        );
        assert_eq!(result_backend_url(None, None, redis), "redis://r:6379/0");
        assert_eq!(
            result_backend_url(None, None, None),
            "sqlite://tasks.sqlite3"
        );
    }
}
