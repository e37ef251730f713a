//! `canter.auth`: Django's `AuthenticationMiddleware` (after `canter.sessions`).

use std::sync::Arc;

use canter_core::middleware::{Middleware, Next};
use canter_core::settings::{Settings, SettingsError};
use canter_core::template_globals::{TemplateGlobals, TemplateValue};
use canter_core::{Request, Response};
use serde_json::json;

use super::{get_user, AuthBackend, AuthConfig, AuthSettings, CurrentUser};
use crate::models::User;
use crate::sessions::{secret_keys, SessionExt};

/// Puts the auth configuration and the user on every request; templates get `user`.
pub struct AuthenticationMiddleware {
    config: Arc<AuthConfig>,
}

impl AuthenticationMiddleware {
    /// The middleware with `[auth]`'s backends, picked from `available` by name.
    pub fn from_settings(
        settings: &Settings,
        available: &[Arc<dyn AuthBackend>],
    ) -> Result<Self, SettingsError> {
        let section: AuthSettings = settings.section("auth")?;
        let invalid = |key: &str, message: String| SettingsError::Invalid {
            key: key.into(),
            message,
        };
        let hasher = section
            .preferred_hasher()
            .map_err(|m| invalid("auth.hasher", m))?;
        let mut backends = Vec::new();
        for name in &section.backends {
            let backend = available.iter().find(|b| b.name() == name).ok_or_else(|| {
                invalid(
                    "auth.backends",
                    format!("no backend named {name:?} is registered"),
                )
            })?;
            backends.push(backend.clone());
        }
        let (secret, fallbacks) = secret_keys(settings)?;
        Ok(Self {
            config: Arc::new(AuthConfig {
                backends,
                hasher,
                secret,
                fallbacks,
                login_url: section.login_url,
            }),
        })
    }
}

/// What templates see as `user` (Django's `user` context variable).
pub(crate) fn template_user(user: Option<&User>) -> serde_json::Value {
    match user {
        Some(user) => json!({
            "id": user.id,
            "username": user.username,
            "first_name": user.first_name,
            "last_name": user.last_name,
            "email": user.email,
            "is_staff": user.is_staff,
            "is_superuser": user.is_superuser,
            "is_authenticated": true,
            "is_anonymous": false,
        }),
        None => json!({"username": "", "is_authenticated": false, "is_anonymous": true}),
    }
}

impl Middleware for AuthenticationMiddleware {
    async fn call(&self, mut req: Request, next: Next) -> Response {
        let current = CurrentUser::default();
        req.extensions_mut().insert(self.config.clone());
        req.extensions_mut().insert(current.clone());
        // A session cookie means a user may be logged in: loaded now, so templates (which
        // render synchronously) can show it. Requests without one cost nothing.
        if let Ok(session) = req.session() {
            if session.session_key().await.is_some() {
                current.set(get_user(&self.config, &session).await);
            }
        }
        let shown = current.clone();
        TemplateGlobals::add(&mut req, "user", move || {
            TemplateValue::Json(template_user(shown.known().flatten().as_ref()))
        });
        next.run(req).await
    }
}
