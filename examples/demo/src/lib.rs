//! The demo app: the article "Asynchronous Programming in Django", in canter. Each part of the
//! article lives in the module named after it; [`app`] puts them together.

pub mod middleware;
pub mod models;
pub mod urls;
pub mod views;

use canter::App;

/// The whole project: settings, URL patterns, middleware and the ORM.
pub fn app() -> App {
    App::new()
        .about("canter's demo: the article 'Asynchronous Programming in Django', in Rust")
        .settings_toml(include_str!("settings.toml"))
        .install(canter::orm::plugin)
        .on_startup(|_settings, command| async move {
            if command == "runserver" {
                create_tables().await?;
            }
            Ok(())
        })
        .urls(urls::urlpatterns())
        .middleware(middleware::AsyncMiddleware)
}

/// Creates the demo's tables if they are missing (until the migrations part replaces this).
pub async fn create_tables() -> Result<(), canter::orm::OrmError> {
    canter::orm::schema::create_table::<models::MyModel>(canter::orm::DEFAULT_DB_ALIAS).await
}
