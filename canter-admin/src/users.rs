//! Users and groups in the admin (Django's `UserAdmin` and `GroupAdmin`), and the password
//! form of models with a password field.

use std::collections::HashMap;
use std::sync::Arc;

use canter_accounts::auth::{update_session_auth_hash, AuthConfig};
use canter_accounts::hashers::{amake_password, Hasher};
use canter_accounts::models::{Group, User};
use canter_core::prelude::*;
use canter_orm::{Model, ModelExt, OrmError, Value};
use canter_pages::minijinja;

use crate::access::Cx;
use crate::display::capitalize;
use crate::entry::{name_of, names_of, row_by_key};
use crate::models::{log_action, CHANGE};
use crate::options::ModelAdmin;
use crate::Admin;

/// Users as Django's `UserAdmin` lists them, and groups by name.
pub(crate) fn register(admin: Admin) -> Admin {
    admin
        .register::<User>(
            ModelAdmin::new()
                .list_display(["username", "email", "first_name", "last_name", "is_staff"])
                .list_filter(["is_staff", "is_superuser", "is_active"])
                .search_fields(["username", "first_name", "last_name", "email"])
                .ordering(["username"])
                .fieldset(None, ["username"])
                .fieldset(Some("Personal info"), ["first_name", "last_name", "email"])
                .fieldset(
                    Some("Permissions"),
                    ["is_active", "is_staff", "is_superuser"],
                )
                .fieldset(Some("Important dates"), ["last_login", "date_joined"])
                .readonly_fields(["last_login"])
                .many_to_many("groups", |u: &User| &u.groups)
                .password_field("password")
                .display(|u: &User| u.username.clone()),
        )
        .register::<Group>(
            ModelAdmin::new()
                .search_fields(["name"])
                .ordering(["name"])
                .display(|g: &Group| g.name.clone()),
        )
}

/// The hasher new passwords get: the auth middleware's preferred one.
pub(crate) fn hasher(req: &Request) -> Hasher {
    req.extensions()
        .get::<Arc<AuthConfig>>()
        .map(|c| c.hasher().clone())
        .unwrap_or_default()
}

/// Django's `SetPasswordMixin`: both boxes filled and equal. The error names its box.
pub(crate) fn check_new_password(
    data: &HashMap<String, String>,
) -> Result<String, (&'static str, String)> {
    let first = data.get("password1").cloned().unwrap_or_default();
    let second = data.get("password2").cloned().unwrap_or_default();
    if first.is_empty() {
        return Err(("password1", "This field is required.".into()));
    }
    if second.is_empty() {
        return Err(("password2", "This field is required.".into()));
    }
    if first != second {
        return Err(("password2", "The two password fields didn’t match.".into()));
    }
    Ok(first)
}

/// `/admin/<app>/<model>/<key>/password/`: the new password twice, stored hashed; changing
/// one's own keeps this session logged in (Django's `update_session_auth_hash`).
pub(crate) async fn password<M: Model + Default + Clone>(
    options: Arc<ModelAdmin<M>>,
    cx: Cx,
    mut req: Request,
    key: String,
) -> Result<Response> {
    let orm = |e: OrmError| e.into_http();
    let Some(field) = options.password_field.clone() else {
        return Err(Error::not_found("this model has no password"));
    };
    let Some(mut row) = row_by_key::<M>(&key).await.map_err(orm)? else {
        return Err(crate::views::edit::not_found::<M>(&options, &key));
    };
    let name = name_of(&options, &row);
    let meta = M::meta();
    let mut errors: HashMap<&str, Vec<String>> = HashMap::new();
    if req.method() == Method::POST {
        let data = crate::forms::shown_from_data(&crate::views::form_data(&mut req).await?);
        match check_new_password(&data) {
            Err((box_name, message)) => errors.entry(box_name).or_default().push(message),
            Ok(password) => {
                let hash = amake_password(password, hasher(&req)).await;
                let index = meta.field(&field).map(|(i, _)| i).unwrap_or(meta.pk);
                row.set_value(index, Value::String(Some(hash)))
                    .map_err(|e| Error::new(StatusCode::INTERNAL_SERVER_ERROR, e))?;
                row.save().await.map_err(orm)?;
                let message = serde_json::json!([{"changed": {"fields": ["Password"]}}]);
                log_action(&cx.user, meta, &key, &name, CHANGE, message)
                    .await
                    .map_err(orm)?;
                if std::ptr::eq(meta, User::meta()) && key == cx.user.id.to_string() {
                    let me = User::objects()
                        .filter(User::id.eq(cx.user.id))
                        .get()
                        .await
                        .map_err(orm)?;
                    update_session_auth_hash(&req, &me).await?;
                }
                crate::messages::add(&mut req, "success", "Password changed successfully.".into())
                    .await;
                let url = format!("{}{key}/change/", cx.changelist_url(meta));
                return Ok(canter_core::response::redirect(&url));
            }
        }
    }
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let list = cx.changelist_url(meta);
    let context = minijinja::context! {
        title => format!("Change password: {name}"),
        object_name => name,
        password1_errors => errors.get("password1").cloned().unwrap_or_default(),
        password2_errors => errors.get("password2").cloned().unwrap_or_default(),
        app_label => capitalize(meta.app),
        plural => names_of(&options).1,
        changelist_url => list,
        object_url => format!("{list}{key}/change/"),
    };
    crate::views::page(
        &mut req,
        &cx.site,
        &cx.root,
        "admin/password_change.html",
        context,
        status,
    )
    .await
}
