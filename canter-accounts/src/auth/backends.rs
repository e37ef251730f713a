//! Authentication backends: Django's `ModelBackend` (username and password against
//! `auth_user`), and the trait for your own.

use futures_util::future::BoxFuture;

use crate::hashers::{acheck_password, amake_password, Hasher};
use crate::models::User;

/// Django's dotted name of the model backend, stored in sessions as `_auth_user_backend`.
pub const MODEL_BACKEND: &str = "django.contrib.auth.backends.ModelBackend";

/// An authentication backend (Django's `AUTHENTICATION_BACKENDS` entries).
pub trait AuthBackend: Send + Sync + 'static {
    /// The dotted name sessions record (Django's backend path, for sessions both read).
    fn name(&self) -> &str;
    /// The user these credentials name, if they are right.
    fn authenticate<'a>(
        &'a self,
        username: &'a str,
        password: &'a str,
        hasher: &'a Hasher,
    ) -> BoxFuture<'a, Option<User>>;
    /// The user with this primary key, if active.
    fn get_user(&self, id: i64) -> BoxFuture<'_, Option<User>>;
}

/// Django's `ModelBackend`.
pub struct ModelBackend;

impl AuthBackend for ModelBackend {
    fn name(&self) -> &str {
        MODEL_BACKEND
    }

    fn authenticate<'a>(
        &'a self,
        username: &'a str,
        password: &'a str,
        hasher: &'a Hasher,
    ) -> BoxFuture<'a, Option<User>> {
        Box::pin(async move {
            let found = User::objects()
                .filter(User::username.eq(username))
                .first()
                .await
                .unwrap_or_else(|e| {
                    tracing::error!("loading a user to authenticate: {e}");
                    None
                });
            let Some(mut user) = found else {
                // The same work as a wrong password (Django hashes once here too), so the
                // time taken does not tell which usernames exist.
                amake_password(password.to_owned(), hasher.clone()).await;
                return None;
            };
            let checked =
                acheck_password(password.to_owned(), user.password.clone(), hasher.clone()).await;
            if !checked.valid {
                return None;
            }
            if checked.must_update {
                upgrade_hash(&mut user, password, hasher).await;
            }
            user.is_active.then_some(user)
        })
    }

    fn get_user(&self, id: i64) -> BoxFuture<'_, Option<User>> {
        Box::pin(async move {
            let user = User::objects().filter(User::id.eq(id)).first().await;
            match user {
                Ok(user) => user.filter(|u| u.is_active),
                Err(e) => {
                    tracing::error!("loading the session's user: {e}");
                    None
                }
            }
        })
    }
}

/// Re-hashes a valid password with the preferred hasher and saves only that column
/// (Django's `check_password` setter): the session auth hash changes with it.
async fn upgrade_hash(user: &mut User, password: &str, hasher: &Hasher) {
    let encoded = amake_password(password.to_owned(), hasher.clone()).await;
    let saved = User::objects()
        .filter(User::id.eq(user.id))
        .update([User::password.set(encoded.clone())])
        .await;
    match saved {
        Ok(_) => user.password = encoded,
        Err(e) => tracing::error!("upgrading a password hash: {e}"),
    }
}
