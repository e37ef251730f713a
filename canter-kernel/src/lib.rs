//! canter's kernel: what every part of canter shares and none of them needs HTTP for.
//!
//! | module | Django equivalent |
//! |---|---|
//! | [`settings`] | `settings.py`, `django.conf` |
//! | [`management`] | `django.core.management.BaseCommand` |
//! | [`plugin`] | `django.apps.AppConfig.ready()` |
//! | [`services`] | (none: Django's process globals, held per app instead) |
//! | [`signals`] | the SIGINT/SIGTERM handling of `runserver` and Celery's workers |
//! | [`stall`] | (none: the article's best practice made a feature) |
//! | [`urls`] | (none: service URLs in messages, passwords hidden) |
//!
//! The HTTP crate (`canter-core`) builds the app and its server on top of this one; the ORM
//! and tasks depend on it alone unless their `http` feature is on.

#![warn(missing_docs)]

pub mod management;
pub mod plugin;
pub mod services;
pub mod settings;
pub mod signals;
pub mod stall;
pub mod urls;

pub use futures_util::future::BoxFuture;
pub use management::{CommandContext, CommandError, ManagementCommand};
pub use plugin::{Plugin, StartContext};
pub use services::Services;
pub use settings::Settings;
