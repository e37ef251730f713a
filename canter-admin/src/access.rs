//! Who may use the admin: active staff users; what each may do: the model's `view_`,
//! `add_`, `change_` and `delete_` permissions (a superuser has them all).

use std::collections::HashSet;
use std::sync::Arc;

use canter_accounts::auth::{get_all_permissions, RequestUser};
use canter_accounts::models::User;
use canter_core::{Request, RequestExt, Response};
use canter_orm::ModelMeta;

use crate::site::Site;

/// One request's admin context: the site, the staff user and their permissions, and the URL
/// the admin is mounted at (`/admin/`).
#[derive(Clone)]
pub(crate) struct Cx {
    pub site: Arc<Site>,
    pub user: User,
    pub perms: Arc<HashSet<String>>,
    pub root: String,
}

/// The four actions of Django's default permissions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Perm {
    View,
    Add,
    Change,
    Delete,
}

impl Perm {
    fn codename(self) -> &'static str {
        match self {
            Perm::View => "view",
            Perm::Add => "add",
            Perm::Change => "change",
            Perm::Delete => "delete",
        }
    }
}

impl Cx {
    /// Whether the user holds `perm` on the model (`"app.change_model"`).
    pub fn can(&self, perm: Perm, meta: &ModelMeta) -> bool {
        if self.user.is_superuser {
            return true;
        }
        let name = format!(
            "{}.{}_{}",
            meta.app,
            perm.codename(),
            meta.name.to_lowercase()
        );
        self.perms.contains(&name)
    }

    /// Django's `has_view_or_change_permission`.
    pub fn can_view(&self, meta: &ModelMeta) -> bool {
        self.can(Perm::View, meta) || self.can(Perm::Change, meta)
    }

    /// Whether the model shows on the index at all (Django's `has_module_permission`).
    pub fn sees(&self, meta: &ModelMeta) -> bool {
        [Perm::View, Perm::Add, Perm::Change, Perm::Delete]
            .into_iter()
            .any(|p| self.can(p, meta))
    }

    /// The change list's URL of a model.
    pub fn changelist_url(&self, meta: &ModelMeta) -> String {
        format!("{}{}/{}/", self.root, meta.app, meta.name.to_lowercase())
    }
}

/// The admin's root URL (`reverse("admin:index")`).
pub(crate) fn root_of(req: &Request) -> String {
    req.reverse("admin:index", &[])
        .unwrap_or_else(|_| "/admin/".to_owned())
}

/// The staff user's context, or the response sending anyone else to the admin's login page
/// (with `?next=` back here), as Django's `admin_view`.
pub(crate) async fn staff_context(site: Arc<Site>, req: &mut Request) -> Result<Cx, Response> {
    let root = root_of(req);
    let user_future = req.user();
    let user = user_future.await;
    let Some(user) = user.filter(|u| u.is_active && u.is_staff) else {
        let here = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let next: String = form_urlencoded::byte_serialize(here.as_bytes()).collect();
        return Err(canter_core::response::redirect(&format!(
            "{root}login/?next={next}"
        )));
    };
    let perms = if user.is_superuser {
        HashSet::new()
    } else {
        match get_all_permissions(&user).await {
            Ok(perms) => perms,
            Err(e) => {
                tracing::error!(target: "canter::admin", "loading permissions: {e}");
                HashSet::new()
            }
        }
    };
    Ok(Cx {
        site,
        user,
        perms: Arc::new(perms),
        root,
    })
}

/// Where to go after logging in: `next` when it is a path on this site, else the index
/// (Django's `url_has_allowed_host_and_scheme`: never another host).
pub(crate) fn safe_next(next: &str, fallback: &str) -> String {
    let local = next.starts_with('/') && !next.starts_with("//") && !next.contains('\\');
    if local {
        next.to_owned()
    } else {
        fallback.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_the_site() {
        assert_eq!(safe_next("/admin/x/", "/admin/"), "/admin/x/");
        assert_eq!(safe_next("//evil.example/", "/admin/"), "/admin/");
        assert_eq!(safe_next("https://evil.example/", "/admin/"), "/admin/");
        assert_eq!(safe_next("/\\evil.example", "/admin/"), "/admin/");
        assert_eq!(safe_next("", "/admin/"), "/admin/");
    }
}
