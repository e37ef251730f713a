//! canter's pages: templates, static files (and, next, forms and uploads) — Django's
//! `django.template`, `staticfiles` and WhiteNoise, on minijinja.
//!
//! ```no_run
//! use canter_core::prelude::*;
//! use canter_pages::{embed_dir, render, Pages};
//!
//! async fn index(req: Request) -> Result<Html<String>> {
//!     render(&req, "index.html", minijinja::context! { title => "Hello" })
//! }
//!
//! fn app() -> App {
//!     App::new()
//!         .urls(vec![path("", index)])
//!         // Each app's folders (next to its Cargo.toml; usually "templates" and "static"),
//!         // embedded in the binary and read from disk in DEBUG.
//!         .install(canter_pages::install(Pages::new().app(
//!             "demo",
//!             embed_dir!("tests/fixtures/templates"),
//!             embed_dir!("tests/fixtures/static"),
//!         )))
//! }
//! ```
//!
//! The `canter.static` middleware (listed in the `middleware` setting) serves `STATIC_URL`;
//! `collectstatic` writes `STATIC_ROOT`. See `docs/pages.md`.

#![warn(missing_docs)]

mod files;
pub mod forms;
mod settings;
pub mod staticfiles;
pub mod templates;
pub mod uploads;

use std::sync::Arc;

use canter_core::management::{CommandError, ManagementCommand};
use canter_core::plugin::{Plugin, StartContext};
use canter_core::services::Services;
use canter_core::App;
use futures_util::future::BoxFuture;

pub use canter_macros::embed_dir;
pub use files::AppFiles;
pub use minijinja;
pub use settings::{StaticSettings, TemplateSettings};
pub use staticfiles::serve::StaticFilesMiddleware;
pub use staticfiles::{StaticError, StaticFiles};
pub use templates::{render, render_to_string, Templates};
pub use uploads::{default_storage, FileSystemStorage, Storage, UploadedFile};

use files::Folder;
use templates::EnvironmentSetup;

/// The pages part: its apps' template and static folders, and hooks on the template
/// environment. Install it with [`install`].
#[derive(Default, Clone)]
pub struct Pages {
    apps: Vec<(String, AppFiles, AppFiles)>,
    setup: Vec<EnvironmentSetup>,
}

impl Pages {
    /// No apps yet: add their folders with [`app`](Self::app).
    pub fn new() -> Self {
        Self::default()
    }

    /// An app's `templates` and `static` folders (`embed_dir!("templates")`, or
    /// [`AppFiles::EMPTY`]); apps added first are searched first.
    pub fn app(
        mut self,
        name: &str,
        templates: impl Into<AppFiles>,
        statics: impl Into<AppFiles>,
    ) -> Self {
        self.apps
            .push((name.to_owned(), templates.into(), statics.into()));
        self
    }

    /// Adds to every template environment: filters, globals, tests.
    ///
    /// ```
    /// let pages = canter_pages::Pages::new().environment(|env| {
    ///     env.add_filter("shout", |text: String| format!("{}!", text.to_uppercase()));
    /// });
    /// ```
    pub fn environment(
        mut self,
        setup: impl Fn(&mut minijinja::Environment<'static>) + Send + Sync + 'static,
    ) -> Self {
        self.setup.push(Arc::new(setup));
        self
    }
}

/// `App::install(canter_pages::install(pages))`: the plugin (templates, static files,
/// `collectstatic`) and the `canter.static` middleware's name.
pub fn install(pages: Pages) -> impl FnOnce(App) -> App {
    move |app| {
        app.plugin(pages)
            .register_middleware("canter.static", |_| Ok(StaticFilesMiddleware))
    }
}

impl Plugin for Pages {
    fn name(&self) -> &'static str {
        "pages"
    }

    fn commands(&self) -> Vec<Arc<dyn ManagementCommand>> {
        vec![Arc::new(staticfiles::collect::CollectStatic)]
    }

    /// The [`Templates`] and [`StaticFiles`] services, from `[templates]` and `[staticfiles]`.
    fn start<'a>(&'a self, ctx: &'a StartContext) -> BoxFuture<'a, Result<Services, CommandError>> {
        Box::pin(async move {
            let template_settings: TemplateSettings = ctx.settings.section("templates")?;
            let static_settings: StaticSettings = ctx.settings.section("staticfiles")?;
            let url = settings::checked_prefix(&static_settings.url)
                .map_err(|e| format!("setting `staticfiles.url`: {e}"))?;
            let debug = ctx.settings.debug;
            let static_folders = static_settings
                .dirs
                .iter()
                .cloned()
                .map(Folder::Disk)
                .chain(self.apps.iter().map(|(_, _, s)| Folder::Embedded(*s)))
                .collect();
            let statics = Arc::new(StaticFiles::new(
                url,
                static_settings.root.clone(),
                static_folders,
                debug,
                ctx.command == "runserver",
            ));
            let template_folders = template_settings
                .dirs
                .iter()
                .cloned()
                .map(Folder::Disk)
                .chain(self.apps.iter().map(|(_, t, _)| Folder::Embedded(*t)))
                .collect();
            let templates = Templates::new(
                template_folders,
                debug,
                Some(statics.clone()),
                self.setup.clone(),
            );
            let upload_settings: uploads::UploadSettings = ctx.settings.section("uploads")?;
            let media: uploads::MediaSettings = ctx.settings.section("media")?;
            let media_url = settings::checked_prefix(&media.url)
                .map_err(|e| format!("setting `media.url`: {e}"))?;
            let storage: Arc<dyn Storage> = Arc::new(FileSystemStorage::new(
                media.root.clone(),
                media_url.clone(),
            ));
            let templates = Arc::new(templates);
            let error_pages: Arc<dyn canter_core::ErrorPages> =
                Arc::new(templates::TemplateErrorPages(templates.clone()));
            let mut services = Services::new();
            services.insert_shared(statics);
            services.insert_shared(templates);
            services.insert(error_pages);
            services.insert_shared(Arc::new(uploads::Uploads {
                settings: upload_settings,
            }));
            services.insert(storage);
            services.insert(staticfiles::serve::Media {
                url: media_url,
                root: media.root,
            });
            Ok(services)
        })
    }
}
