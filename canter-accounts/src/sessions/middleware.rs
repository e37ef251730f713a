//! `canter.sessions`: Django's `SessionMiddleware`.

use std::sync::Arc;

use canter_core::cookies::cookie::time::{Duration, OffsetDateTime};
use canter_core::cookies::{Cookie, CookiesExt, ResponseCookies};
use canter_core::middleware::{Middleware, Next};
use canter_core::settings::{Settings, SettingsError};
use canter_core::{Request, Response};

use super::store::{SessionCodec, SessionStore};
use super::{same_site, secret_keys, Session, SessionSettings};

/// Loads the session from the cookie, and after the view saves it (only when changed, or
/// on every request with `save_every_request`) and sets or deletes the cookie.
pub struct SessionMiddleware {
    settings: SessionSettings,
    store: Arc<dyn SessionStore>,
}

impl SessionMiddleware {
    /// The middleware on the store `[sessions] engine` names.
    pub fn from_settings(settings: &Settings) -> Result<Self, SettingsError> {
        let section: SessionSettings = settings.section("sessions")?;
        let store = store_from_settings(settings)?;
        Ok(Self::new(section, store))
    }

    /// The middleware on `store`, with these cookie settings (a test's own store).
    pub fn new(settings: SessionSettings, store: Arc<dyn SessionStore>) -> Self {
        Self { settings, store }
    }

    fn cookie(&self, value: String, max_age: Option<i64>) -> Cookie<'static> {
        let s = &self.settings;
        let mut cookie = Cookie::build((s.cookie_name.clone(), value))
            .path(s.cookie_path.clone())
            .http_only(s.cookie_httponly)
            .secure(s.cookie_secure)
            .build();
        if let Some(domain) = &s.cookie_domain {
            cookie.set_domain(domain.clone());
        }
        if let Some(site) = same_site(&s.cookie_samesite) {
            cookie.set_same_site(site);
        }
        if let Some(age) = max_age {
            cookie.set_max_age(Duration::seconds(age));
            cookie.set_expires(OffsetDateTime::now_utc() + Duration::seconds(age));
        }
        cookie
    }

    async fn finish(
        &self,
        session: &Session,
        had_cookie: bool,
        mut response: Response,
    ) -> Response {
        let (accessed, modified) = {
            let state = session.lock().await;
            (state.accessed, state.modified)
        };
        if !accessed && !self.settings.save_every_request {
            return response;
        }
        if accessed {
            crate::vary_on_cookie(&mut response);
        }
        let empty = session.is_empty().await;
        let s = &self.settings;
        if had_cookie && empty {
            if let Some(key) = session.session_key().await {
                if let Err(e) = session.store().delete(&key).await {
                    tracing::error!("deleting a session: {e}");
                }
            }
            response.delete_cookie(&s.cookie_name, &s.cookie_path, s.cookie_domain.as_deref());
            return response;
        }
        let wanted = modified || s.save_every_request;
        if !wanted || empty || response.status().is_server_error() {
            return response;
        }
        let age = session.expiry_age().await;
        let data = session.data().await;
        let key = session.session_key().await;
        match session.store().save(key.as_deref(), &data, age).await {
            Ok(key) => {
                session.lock().await.key = Some(key.clone());
                let browser = session
                    .expires_at_browser_close(s.expire_at_browser_close)
                    .await;
                response.set_cookie(self.cookie(key, (!browser).then_some(age)));
            }
            Err(e) => {
                tracing::error!("saving a session: {e}");
                return canter_core::IntoResponse::into_response(canter_core::Error::internal(e));
            }
        }
        response
    }
}

impl Middleware for SessionMiddleware {
    async fn call(&self, mut req: Request, next: Next) -> Response {
        let key = req.cookie(&self.settings.cookie_name);
        let had_cookie = key.is_some();
        // A value that cannot be a key is no key (a truncated or forged cookie: anonymous).
        let key =
            key.filter(|k| self.settings.engine == "signed_cookies" || super::valid_session_key(k));
        let session = Session::new(key, self.store.clone(), self.settings.cookie_age);
        req.extensions_mut().insert(session.clone());
        let response = next.run(req).await;
        self.finish(&session, had_cookie, response).await
    }
}

/// The store `[sessions] engine` names (`db`, `redis`, `signed_cookies`).
pub fn store_from_settings(settings: &Settings) -> Result<Arc<dyn SessionStore>, SettingsError> {
    let section: SessionSettings = settings.section("sessions")?;
    let (key, fallbacks) = secret_keys(settings)?;
    let codec = SessionCodec::new(key.clone(), fallbacks.clone());
    let store: Arc<dyn SessionStore> = match section.engine.as_str() {
        "db" => Arc::new(super::DatabaseStore::new(codec, &section.database)),
        "signed_cookies" => Arc::new(super::SignedCookieStore::new(
            key,
            fallbacks,
            section.cookie_age,
        )),
        #[cfg(feature = "redis")]
        "redis" => {
            let url = section
                .redis_url
                .clone()
                .or_else(|| std::env::var("REDIS_URL").ok())
                .unwrap_or_else(|| "redis://127.0.0.1:6379".into());
            let store =
                super::RedisStore::new(codec, &url).map_err(|e| SettingsError::Invalid {
                    key: "sessions.redis_url".into(),
                    message: e.to_string(),
                })?;
            Arc::new(store)
        }
        other => {
            return Err(SettingsError::Invalid {
                key: "sessions.engine".into(),
                message: format!("unknown engine {other:?}; known: db, redis, signed_cookies"),
            })
        }
    };
    Ok(store)
}
