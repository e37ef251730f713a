//! The demo app: the article "Asynchronous Programming in Django", in canter. Each part of the
//! article lives in the module named after it; [`app`] puts them together.

pub mod accounts;
pub mod admin;
pub mod consumers;
pub mod middleware;
pub mod models;
pub mod pages;
pub mod tasks;
pub mod urls;
pub mod views;

use canter::channels::{Channels, Workers};
use canter::orm::Orm;
use canter::App;

/// The whole project: settings, URL patterns, middleware and the ORM.
pub fn app() -> App {
    App::new()
        .about("canter's demo: the article 'Asynchronous Programming in Django', in Rust")
        .settings_toml(include_str!("settings.toml"))
        // The ORM: databases from settings, the demo's models and migrations, and the
        // makemigrations / migrate / showmigrations / sqlmigrate commands. `runserver` applies
        // pending migrations to the embedded SQLite database (and says so).
        // django-celery-results' tables too: `RESULT_BACKEND=db` keeps task results there.
        .plugin(
            canter::tasks::brokers::database::models::register(canter::admin::models::register(
                canter::accounts::models::register(Orm::new()),
            ))
            .model::<models::MyModel>()
            .model::<models::Note>()
            // Compiled into the binary: `demo migrate` works from the binary alone.
            .migrations(canter::pages::embed_dir!("migrations")),
        )
        // Accounts: sessions in the default database (`django_session`), users in
        // `auth_user`, CSRF protection, and createsuperuser / changepassword / clearsessions.
        .install(canter::accounts::install(canter::accounts::Accounts::new()))
        // The channel layer: in-process, or Redis when REDIS_URL is set (or [channels] layer = "redis").
        .plugin(Channels)
        // The operations dashboard at /ops/ (after the layer, whose group messages it counts):
        // staff sessions, or `Authorization: Bearer $CANTER_OPS_TOKEN`.
        .plugin(
            canter::ops::Ops::new()
                .token_from_env("CANTER_OPS_TOKEN")
                .periodic(tasks::tasks().beat()),
        )
        // Background consumers and the `runworker` command: `demo runworker room-notices`
        // announces joins and leaves in the chat rooms (needs a layer shared with the server:
        // REDIS_URL).
        .plugin(Workers::new().channel(consumers::ROOM_NOTICES, || consumers::RoomNotices))
        // Background tasks: the embedded durable broker (an SQLite file), the `worker` command,
        // and an in-process worker under runserver.
        .plugin(tasks::tasks())
        // Pages: the demo's templates and static files (read from disk in DEBUG, embedded in
        // the binary), the `canter.static` middleware and `collectstatic`.
        // The admin's templates and static files come after the demo's (which may override
        // them by name).
        .install(canter::pages::install(canter::admin::pages(
            canter::pages::Pages::new().app(
                "demo",
                canter::pages::embed_dir!("templates"),
                canter::pages::embed_dir!("static"),
            ),
        )))
        .urls(urls::urlpatterns())
        .middleware(middleware::AsyncMiddleware)
}

/// Where the demo's migration files live (`migrations/demo/*.json`, committed; also compiled
/// into the binary).
pub const MIGRATIONS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");

/// Applies the demo's migrations to the default database (tests use it on their own database).
pub async fn migrate() -> Result<Vec<String>, canter::orm::migrations::MigrationError> {
    canter::orm::migrations::migrate_all(
        std::path::Path::new(MIGRATIONS_DIR),
        canter::orm::DEFAULT_DB_ALIAS,
    )
    .await
}
