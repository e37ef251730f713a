//! canter's admin: Django's `django.contrib.admin` — register a model and staff users can
//! list, search, filter, add, change and delete its rows, with nothing else written.
//!
//! ```no_run
//! use canter_admin::{Admin, ModelAdmin};
//! use canter_core::prelude::*;
//!
//! #[derive(canter_orm::Model, Clone, Default)]
//! #[model(crate = canter_orm, app = "shop")]
//! struct Product { id: i64, #[field(max_length = 100)] name: String, active: bool }
//!
//! let admin = Admin::new().register::<Product>(
//!     ModelAdmin::new()
//!         .list_display(["name", "active"])
//!         .search_fields(["^name"])
//!         .list_filter(["active"])
//!         .display(|p: &Product| p.name.clone()),
//! );
//! let app = App::new()
//!     .urls(vec![admin.urls("admin/")])
//!     // The admin's templates and static files beside the app's own.
//!     .install(canter_pages::install(canter_admin::pages(canter_pages::Pages::new())));
//! // settings: middleware = [..., "canter.static", "canter.sessions", "canter.auth", "canter.csrf"]
//! // and the ORM plugin with canter_admin::models::register (the django_admin_log table).
//! # let _ = app;
//! ```
//!
//! | Django | canter |
//! |---|---|
//! | `admin.site.register(Book, BookAdmin)` | `Admin::new().register::<Book>(ModelAdmin::new()...)` |
//! | `path("admin/", admin.site.urls)` | `admin.urls("admin/")` |
//! | `ModelAdmin.list_display`, `search_fields`, … | [`ModelAdmin`]'s methods of the same names |
//! | `LogEntry` (`django_admin_log`) | [`models::LogEntry`] |
//!
//! See `docs/admin.md`.

mod access;
mod changelist;
mod display;
mod entry;
mod forms;
mod many;
mod messages;
pub mod models;
mod options;
mod query;
mod site;
mod users;
mod views;

pub use options::{Action, ModelAdmin};
pub use site::Admin;

/// The admin's templates (`admin/*.html`) and static files (`admin/css`, `admin/js`) added to
/// the pages part: `canter_pages::install(canter_admin::pages(Pages::new().app(...)))`. An
/// app listed before may override any admin template by its name (Django's admin overrides).
pub fn pages(pages: canter_pages::Pages) -> canter_pages::Pages {
    pages.app(
        "admin",
        canter_pages::embed_dir!("templates"),
        canter_pages::embed_dir!("static"),
    )
}
