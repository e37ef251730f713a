//! The tutorial's polls app (docs/tutorial/): settings, models, URLs, pages, a task and a
//! WebSocket consumer, put together by [`app`].

pub mod consumers;
pub mod models;
pub mod tasks;
pub mod urls;
pub mod views;

use canter::channels::Channels;
use canter::orm::Orm;
use canter::pages::{embed_dir, Pages};
use canter::App;

/// The whole project (Django's settings.py and the root URL conf in one place).
pub fn app() -> App {
    App::new()
        .about("polls: the canter tutorial's app")
        .settings_toml(include_str!("settings.toml"))
        .plugin(
            Orm::new()
                .model::<models::Question>()
                .model::<models::Choice>()
                .migrations(embed_dir!("migrations")),
        )
        .plugin(Channels)
        .plugin(tasks::tasks())
        .install(canter::pages::install(Pages::new().app(
            "polls",
            embed_dir!("templates"),
            embed_dir!("static"),
        )))
        .urls(urls::urlpatterns())
}

/// Where `makemigrations` writes the migration files (also compiled into the binary).
pub const MIGRATIONS_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
