//! The test site: a few views over sessions, auth and CSRF, on a fresh database.

#![allow(dead_code)]

use std::any::Any;
use std::sync::Arc;

use canter_accounts::auth::{authenticate, login, logout, RequestUser};
use canter_accounts::csrf::get_token;
use canter_accounts::guards::AccountsPatterns;
use canter_accounts::hashers::{make_password_with, Hasher};
use canter_accounts::models::User;
use canter_accounts::sessions::SessionExt;
use canter_core::prelude::*;
use canter_core::settings::Settings;
use canter_core::test::TestClient;
use canter_orm::chrono::Utc;
use canter_orm::Databases;
use canter_test_kit::{PgSchema, SqliteFile};
use serde_json::json;

pub const PASSWORD: &str = "correct horse battery staple";

async fn login_view(mut req: Request) -> Result<Response> {
    let form: std::collections::HashMap<String, String> = {
        let body = req.text().await?;
        form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect()
    };
    let username = form.get("username").cloned().unwrap_or_default();
    let password = form.get("password").cloned().unwrap_or_default();
    match authenticate(&req, &username, &password).await {
        Some(user) => {
            login(&req, &user).await?;
            Ok(canter_core::response::redirect("/me/"))
        }
        None => Ok((
            StatusCode::OK,
            "Please enter a correct username and password.",
        )
            .into_response()),
    }
}

async fn logout_view(req: Request) -> Result<Response> {
    logout(&req).await?;
    Ok(canter_core::response::redirect("/me/"))
}

async fn me(req: Request) -> Response {
    match req.user().await {
        Some(user) => JsonResponse::new(json!({"username": user.username})).into_response(),
        None => (
            StatusCode::UNAUTHORIZED,
            JsonResponse::new(json!({"username": null})),
        )
            .into_response(),
    }
}

async fn session_set(mut req: Request) -> Result<&'static str> {
    let body = req.text().await?;
    let session = req.session()?;
    for (k, v) in form_urlencoded::parse(body.as_bytes()) {
        if k != "csrfmiddlewaretoken" {
            session.insert(&k, v.into_owned()).await;
        }
    }
    Ok("saved")
}

async fn session_get(req: Request) -> Result<JsonResponse> {
    let session = req.session()?;
    let mut out = serde_json::Map::new();
    for key in session.keys().await {
        out.insert(
            key.clone(),
            session.get_value(&key).await.unwrap_or_default(),
        );
    }
    Ok(JsonResponse::new(serde_json::Value::Object(out)))
}

async fn token(req: Request) -> String {
    get_token(&req).unwrap_or_default()
}

async fn echo(mut req: Request) -> Result<String> {
    req.text().await
}

pub fn app() -> App {
    App::new()
        .urls(vec![
            path("login/", login_view),
            path("logout/", logout_view),
            path("me/", me),
            path("session/set/", session_set),
            path("session/get/", session_get),
            path("token/", token),
            path("private/", me).login_required(),
            path("perm/", me).permission_required("auth.view_user"),
            include("api/", vec![path("echo/", echo)]).csrf_exempt(),
        ])
        .install(canter_accounts::install(canter_accounts::Accounts::new()))
}

pub fn settings(extra: &str) -> Settings {
    let mut settings = Settings::from_toml(&format!(
        "debug = true\nsecret_key = \"test-secret\"\nmiddleware = [\"canter.sessions\", \"canter.auth\", \"canter.csrf\"]\n{extra}"
    ))
    .expect("valid test settings");
    settings.allowed_hosts = vec!["testserver".into()];
    settings
}

/// Test settings' fast hasher (Django's tests use MD5; here few iterations).
pub const FAST: &str = "[auth]\npbkdf2_iterations = 1000\n";

pub struct Site {
    pub client: TestClient,
    pub dbs: Arc<Databases>,
    /// The database's URL (for another program on the same database).
    pub url: String,
    _place: Box<dyn Any + Send>,
}

impl Site {
    pub async fn run<F: std::future::Future>(&self, future: F) -> F::Output {
        self.dbs.clone().scope(future).await
    }

    /// A user with `PASSWORD`, hashed with `iterations`.
    pub async fn user(&self, username: &str, iterations: u32) -> User {
        let user = User {
            username: username.into(),
            password: make_password_with(PASSWORD, &Hasher::Pbkdf2Sha256 { iterations }),
            is_active: true,
            date_joined: Utc::now(),
            ..Default::default()
        };
        self.run(User::objects().create(user)).await.unwrap()
    }

    /// A new client on the same app, with no cookies.
    pub fn other_client(&self) -> TestClient {
        TestClient::from_service(self.client.service().clone())
    }

    /// Logs `client` in through the login view (GET for the CSRF cookie, then POST).
    pub async fn log_in(
        &self,
        client: &TestClient,
        username: &str,
        password: &str,
    ) -> canter_core::test::TestResponse {
        let token = client.get("/token/").await.text();
        client
            .post("/login/")
            .form(&[
                ("username", username),
                ("password", password),
                ("csrfmiddlewaretoken", &token),
            ])
            .await
    }
}

async fn site_on(url: &str, place: Box<dyn Any + Send>, extra: &str) -> Site {
    let dbs = Arc::new(Databases::single(url).unwrap());
    let client = dbs
        .clone()
        .scope(async {
            canter_accounts::models::create_tables("default")
                .await
                .unwrap();
            TestClient::start_with_settings(app(), settings(extra)).await
        })
        .await;
    Site {
        client,
        dbs,
        url: url.to_owned(),
        _place: place,
    }
}

/// The site on a fresh SQLite file.
pub async fn site(extra: &str) -> Site {
    let file = SqliteFile::new("canter-accounts");
    let url = file.url.clone();
    site_on(&url, Box::new(file), extra).await
}

/// The site on the SQLite file at `url` (kept by the caller).
pub async fn site_at(url: &str, extra: &str) -> Site {
    site_on(url, Box::new(()), extra).await
}

/// The site on a fresh PostgreSQL schema (`None`: skipped, said why).
pub async fn postgres_site(extra: &str) -> Option<Site> {
    let schema = PgSchema::create("canter_accounts")?;
    let url = schema.url.clone();
    Some(site_on(&url, Box::new(schema), extra).await)
}
