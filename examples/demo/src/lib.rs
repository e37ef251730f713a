//! The demo app: the article "Asynchronous Programming in Django", in canter. Each part of the
//! article lives in the module named after it; [`app`] puts them together.

pub mod middleware;
pub mod urls;
pub mod views;

use canter::App;

/// The whole project: settings, URL patterns and middleware.
pub fn app() -> App {
    App::new()
        .about("canter's demo: the article 'Asynchronous Programming in Django', in Rust")
        .settings_toml(include_str!("settings.toml"))
        .urls(urls::urlpatterns())
        .middleware(middleware::AsyncMiddleware)
}
