//! Test helpers: Django's `client.force_login(user)`.

use canter_core::test::TestClient;

use crate::auth::{
    session_auth_hash, BACKEND_SESSION_KEY, HASH_SESSION_KEY, MODEL_BACKEND, SESSION_KEY,
};
use crate::models::User;
use crate::sessions::{store_from_settings, SessionData, SessionSettings};

/// `force_login` on canter's test client.
pub trait ForceLogin {
    /// Logs `user` in without the login form: a session in the app's store holding Django's
    /// three keys, its cookie set on the client.
    fn force_login(&self, user: &User) -> impl std::future::Future<Output = ()> + Send;
}

impl ForceLogin for TestClient {
    async fn force_login(&self, user: &User) {
        let settings = self.service().settings().clone();
        let store = store_from_settings(&settings).expect("session settings");
        let section: SessionSettings = settings.section("sessions").expect("session settings");
        let secret = settings.secret_key.clone().expect("a secret_key");
        let mut data = SessionData::new();
        data.insert(SESSION_KEY.into(), user.id.to_string().into());
        data.insert(BACKEND_SESSION_KEY.into(), MODEL_BACKEND.into());
        data.insert(
            HASH_SESSION_KEY.into(),
            session_auth_hash(&user.password, secret.as_bytes()).into(),
        );
        let key = self
            .scope(store.save(None, &data, section.cookie_age))
            .await
            .expect("saving the session");
        self.set_cookie(&section.cookie_name, &key);
    }
}
