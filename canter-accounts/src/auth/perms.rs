//! Django's `ModelBackend.has_perm`: `"<app_label>.<codename>"`.

use crate::models::{ContentType, Permission, User};

/// Whether `user` has permission `perm` (`"app_label.codename"`): an active superuser has
/// every one; otherwise the user's own permissions and their groups', for an active user.
pub async fn has_perm(user: &User, perm: &str) -> bool {
    if !user.is_active {
        return false;
    }
    if user.is_superuser {
        return true;
    }
    let Some((app_label, codename)) = perm.split_once('.') else {
        return false;
    };
    match permissions_of(user).await {
        Ok(perms) => {
            for permission in perms.iter().filter(|p| p.codename == codename) {
                let ct = ContentType::objects()
                    .filter(ContentType::id.eq(permission.content_type.id()))
                    .first()
                    .await;
                if matches!(ct, Ok(Some(ct)) if ct.app_label == app_label) {
                    return true;
                }
            }
            false
        }
        Err(e) => {
            tracing::error!("loading permissions: {e}");
            false
        }
    }
}

/// Django's `user.get_all_permissions()`: every `"app_label.codename"` the user has, from
/// their own permissions and their groups' (none for an inactive user). For a page that asks
/// about many permissions (the admin's index), one load instead of a check each. A superuser's
/// are every permission in the table; ask [`has_perm`] or `is_superuser` for "all of them".
pub async fn get_all_permissions(
    user: &User,
) -> Result<std::collections::HashSet<String>, canter_orm::OrmError> {
    let mut names = std::collections::HashSet::new();
    if !user.is_active {
        return Ok(names);
    }
    let perms = if user.is_superuser {
        Permission::objects().all().await?
    } else {
        permissions_of(user).await?
    };
    let content_types = ContentType::objects()
        .in_bulk(perms.iter().map(|p| p.content_type.id()))
        .await?;
    for permission in perms {
        if let Some(ct) = content_types.get(&permission.content_type.id()) {
            names.insert(format!("{}.{}", ct.app_label, permission.codename));
        }
    }
    Ok(names)
}

async fn permissions_of(user: &User) -> Result<Vec<Permission>, canter_orm::OrmError> {
    let mut all: Vec<Permission> = user.user_permissions.all().await?;
    for group in user.groups.all().await? {
        all.extend(group.permissions.all().await?);
    }
    Ok(all)
}

/// Django's `create_permissions` (its `post_migrate` handler) for model `M`: its content type
/// (`app_label`, lowercased model name) and the permissions `add_`, `change_`, `delete_` and
/// `view_<model>` named `Can <action> <model>`, each created if missing. Returns the
/// permission strings (`"app.add_model"`, …).
pub async fn create_default_permissions<M: canter_orm::Model>(
) -> Result<Vec<String>, canter_orm::OrmError> {
    let meta = M::meta();
    let model = meta.name.to_lowercase();
    let (content_type, _) = ContentType::objects()
        .filter(ContentType::app_label.eq(meta.app) & ContentType::model.eq(model.clone()))
        .get_or_create(ContentType {
            id: 0,
            app_label: meta.app.to_owned(),
            model: model.clone(),
        })
        .await?;
    let mut made = Vec::new();
    for action in ["add", "change", "delete", "view"] {
        let codename = format!("{action}_{model}");
        Permission::objects()
            .filter(
                Permission::content_type.eq(content_type.id)
                    & Permission::codename.eq(codename.clone()),
            )
            .get_or_create(Permission {
                id: 0,
                name: format!("Can {action} {model}"),
                content_type: canter_orm::ForeignKey::new(content_type.id),
                codename: codename.clone(),
            })
            .await?;
        made.push(format!("{}.{codename}", meta.app));
    }
    Ok(made)
}
