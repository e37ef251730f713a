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

async fn permissions_of(user: &User) -> Result<Vec<Permission>, canter_orm::OrmError> {
    let mut all: Vec<Permission> = user.user_permissions.all().await?;
    for group in user.groups.all().await? {
        all.extend(group.permissions.all().await?);
    }
    Ok(all)
}
