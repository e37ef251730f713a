//! The database store (Django's `sessions.backends.db`): rows of `django_session` through
//! the ORM.

use canter_orm::chrono::{TimeDelta, Utc};
use futures_util::future::BoxFuture;

use super::store::{new_session_key, SessionCodec, SessionData, SessionError, SessionStore};
use crate::models::Session as Row;

/// Sessions in `django_session` on database `alias`.
pub struct DatabaseStore {
    codec: SessionCodec,
    alias: String,
}

impl DatabaseStore {
    /// A store on the ORM's database `alias` (`default`).
    pub fn new(codec: SessionCodec, alias: &str) -> Self {
        Self {
            codec,
            alias: alias.to_owned(),
        }
    }
}

fn failed(e: canter_orm::OrmError) -> SessionError {
    SessionError(e.to_string())
}

impl SessionStore for DatabaseStore {
    fn load<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Option<SessionData>> {
        Box::pin(async move {
            let row = Row::objects()
                .using(&self.alias)
                .filter(Row::session_key.eq(key) & Row::expire_date.gt(Utc::now()))
                .first()
                .await;
            match row {
                Ok(Some(row)) => self.codec.decode(&row.session_data),
                Ok(None) => None,
                Err(e) => {
                    tracing::error!("loading session: {e}");
                    None
                }
            }
        })
    }

    fn save<'a>(
        &'a self,
        key: Option<&'a str>,
        data: &'a SessionData,
        age: i64,
    ) -> BoxFuture<'a, Result<String, SessionError>> {
        Box::pin(async move {
            let session_data = self.codec.encode(data);
            let expire_date = Utc::now() + TimeDelta::seconds(age);
            if let Some(key) = key {
                let updated = Row::objects()
                    .using(&self.alias)
                    .filter(Row::session_key.eq(key))
                    .update([
                        Row::session_data.set(session_data.clone()),
                        Row::expire_date.set(expire_date),
                    ])
                    .await
                    .map_err(failed)?;
                if updated > 0 {
                    return Ok(key.to_owned());
                }
            }
            // A new key (Django's `create`): retried while one is taken.
            for _ in 0..10 {
                let row = Row {
                    session_key: new_session_key(),
                    session_data: session_data.clone(),
                    expire_date,
                };
                match Row::objects().using(&self.alias).create(row).await {
                    Ok(row) => return Ok(row.session_key),
                    Err(canter_orm::OrmError::Integrity { .. }) => continue,
                    Err(e) => return Err(failed(e)),
                }
            }
            Err(SessionError("no free session key after 10 tries".into()))
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<(), SessionError>> {
        Box::pin(async move {
            Row::objects()
                .using(&self.alias)
                .filter(Row::session_key.eq(key))
                .delete()
                .await
                .map_err(failed)?;
            Ok(())
        })
    }

    fn clear_expired(&self) -> BoxFuture<'_, Result<u64, SessionError>> {
        Box::pin(async move {
            Row::objects()
                .using(&self.alias)
                .filter(Row::expire_date.lt(Utc::now()))
                .delete()
                .await
                .map_err(failed)
        })
    }
}
