//! The admin site: its registered models and its URLs (Django's `AdminSite`).

use std::sync::Arc;

use canter_core::prelude::*;
use canter_core::routing::UrlPattern;
use canter_orm::{Model, ModelMeta};

use crate::access::{staff_context, Cx, Perm};
use crate::entry::{Entry, Registered, View};
use crate::options::ModelAdmin;

/// The admin: the models registered in it, and its titles. Mount it with [`Admin::urls`].
#[derive(Clone)]
pub struct Admin {
    site: Site,
}

/// What every admin view shares.
#[derive(Clone)]
pub(crate) struct Site {
    pub entries: Vec<Arc<dyn Entry>>,
    pub header: String,
    pub title: String,
}

/// Django's default: the accounts' users and groups registered.
impl Default for Admin {
    fn default() -> Self {
        crate::users::register(Self::empty())
    }
}

impl Admin {
    /// An admin with the accounts' users and groups registered, as Django's `UserAdmin` and
    /// `GroupAdmin` (users listed by name, e-mail, names and staff status, searched and
    /// filtered, with their groups and a password form); register your models beside them.
    pub fn new() -> Self {
        Self::default()
    }

    /// An admin with no models at all (not even users and groups).
    pub fn empty() -> Self {
        Admin {
            site: Site {
                entries: Vec::new(),
                header: "canter administration".into(),
                title: "canter site admin".into(),
            },
        }
    }

    /// The header on every page (Django's `site_header`).
    pub fn site_header(mut self, header: &str) -> Self {
        self.site.header = header.to_owned();
        self
    }

    /// The pages' `<title>` suffix (Django's `site_title`).
    pub fn site_title(mut self, title: &str) -> Self {
        self.site.title = title.to_owned();
        self
    }

    /// Registers model `M` with its options (Django's `admin.site.register(M, MAdmin)`).
    ///
    /// # Panics
    /// When an option names a field `M` does not have, or `M` is registered twice (as
    /// Django's checks refuse to start).
    pub fn register<M: Model + Default + Clone>(mut self, options: ModelAdmin<M>) -> Self {
        if let Err(message) = options.check(M::meta()) {
            panic!("{message}");
        }
        let meta = M::meta();
        if self
            .site
            .entries
            .iter()
            .any(|e| std::ptr::eq(e.meta(), meta))
        {
            panic!("the model {} is already registered in the admin", meta.name);
        }
        self.site
            .entries
            .push(Arc::new(Registered::<M>::new(options)));
        self
    }

    /// The admin's URLs under `prefix` (`"admin/"`), in the namespace `admin`: put it in the
    /// URL conf (Django's `path("admin/", admin.site.urls)`).
    pub fn urls(&self, prefix: &str) -> UrlPattern {
        let site = Arc::new(self.site.clone());
        let model = |view: fn(String) -> View| {
            let site = site.clone();
            move |req: Request| {
                let site = site.clone();
                async move {
                    let id: String = req.param("id").unwrap_or_default();
                    model_view(site, req, view(id)).await
                }
            }
        };
        let any = [Method::GET, Method::POST];
        let site_login = site.clone();
        let site_logout = site.clone();
        let site_index = site.clone();
        include(
            prefix,
            vec![
                path("", move |req: Request| {
                    crate::views::index::index(site_index.clone(), req)
                })
                .name("index")
                .methods([Method::GET]),
                path("login/", move |req: Request| {
                    crate::views::auth::login(site_login.clone(), req)
                })
                .name("login")
                .methods(any.clone()),
                path("logout/", move |req: Request| {
                    crate::views::auth::logout(site_logout.clone(), req)
                })
                .name("logout")
                .methods([Method::POST]),
                path("<str:app>/<str:model>/", model(|_| View::List))
                    .name("changelist")
                    .methods(any.clone()),
                path("<str:app>/<str:model>/add/", model(|_| View::Add))
                    .name("add")
                    .methods(any.clone()),
                path(
                    "<str:app>/<str:model>/<str:id>/change/",
                    model(View::Change),
                )
                .name("change")
                .methods(any.clone()),
                path(
                    "<str:app>/<str:model>/<str:id>/delete/",
                    model(View::Delete),
                )
                .name("delete")
                .methods(any.clone()),
                path(
                    "<str:app>/<str:model>/<str:id>/history/",
                    model(View::History),
                )
                .name("history")
                .methods([Method::GET]),
                path(
                    "<str:app>/<str:model>/<str:id>/password/",
                    model(View::Password),
                )
                .name("password")
                .methods(any),
            ],
        )
        .namespace("admin")
    }
}

impl Site {
    /// The entry of a registered model, by its URL's app label and lower-case name.
    pub fn entry(&self, app: &str, model: &str) -> Option<&Arc<dyn Entry>> {
        self.entries
            .iter()
            .find(|e| e.meta().app == app && e.meta().name.eq_ignore_ascii_case(model))
    }

    /// The entry of a model by its metadata (a foreign key's target).
    pub fn entry_of(&self, meta: &ModelMeta) -> Option<&Arc<dyn Entry>> {
        self.entries.iter().find(|e| std::ptr::eq(e.meta(), meta))
    }
}

/// A model's view: staff only (others go to the login page), the model registered (else 404),
/// and the view's permission (else 403), then the model's own code.
async fn model_view(site: Arc<Site>, mut req: Request, view: View) -> Result<Response> {
    let cx: Cx = match staff_context(site.clone(), &mut req).await {
        Ok(cx) => cx,
        Err(login) => return Ok(login),
    };
    let app: String = req.param("app")?;
    let model: String = req.param("model")?;
    let Some(entry) = site.entry(&app, &model).cloned() else {
        return Err(Error::not_found(format!(
            "no model {app}.{model} in the admin"
        )));
    };
    let meta = entry.meta();
    let post = req.method() == Method::POST;
    let allowed = match &view {
        View::List | View::History(_) => cx.can_view(meta),
        View::Add => cx.can(Perm::Add, meta),
        View::Change(_) if post => cx.can(Perm::Change, meta),
        View::Change(_) => cx.can_view(meta),
        View::Delete(_) => cx.can(Perm::Delete, meta),
        View::Password(_) => cx.can(Perm::Change, meta),
    };
    if !allowed {
        return Err(Error::permission_denied("permission denied"));
    }
    entry.view(cx, req, view).await
}
