//! The add and change forms (Django's `add_view` / `change_view`): the model's fields, errors
//! per field, saved through the model (its validation and unique constraints), logged, then
//! "Save", "Save and continue editing" or "Save and add another".

use std::collections::HashMap;
use std::sync::Arc;

use canter_core::prelude::*;
use canter_orm::{Model, ModelExt, OrmError, Value};
use canter_pages::minijinja;

use crate::access::{Cx, Perm};
use crate::display::capitalize;
use crate::entry::{key_text, name_of, names_of, row_by_key};
use crate::forms::{self, Errors};
use crate::many::{self, Selected};
use crate::models::{log_action, ADDITION, CHANGE};
use crate::options::ModelAdmin;

/// What the form page shows besides its fields.
struct FormPage<'a> {
    adding: bool,
    view_only: bool,
    key: Option<String>,
    name: Option<String>,
    shown: &'a HashMap<String, String>,
    selected: &'a Selected,
    errors: &'a Errors,
    status: StatusCode,
}

/// `/admin/<app>/<model>/add/`.
pub(crate) async fn add<M: Model + Default + Clone>(
    options: Arc<ModelAdmin<M>>,
    cx: Cx,
    mut req: Request,
) -> Result<Response> {
    if req.method() != Method::POST {
        let mut shown = forms::shown_from_values::<M>(&M::default().to_values());
        forms::start_dates_now::<M>(&mut shown);
        let page = FormPage {
            adding: true,
            view_only: false,
            key: None,
            name: None,
            shown: &shown,
            selected: &Selected::new(),
            errors: &Errors::new(),
            status: StatusCode::OK,
        };
        return render(&options, &cx, &mut req, page).await;
    }
    let (data, selected) = submission(&options, &mut req).await?;
    let mut row = M::default();
    let (mut errors, _) = forms::fill_row(&cx, &options, &data, &mut row).await;
    many::check(&cx, &options, &selected, &mut errors).await;
    if let Some(field) = &options.password_field {
        let hasher = crate::users::hasher(&req);
        set_new_password(hasher, field, &data, &mut row, &mut errors).await;
    }
    if errors.is_empty() {
        match save(&mut row).await {
            Ok(()) => {
                many::save(&options, &row, selected.clone())
                    .await
                    .map_err(|e| e.into_http())?;
                let (key, name) = (key_text(&row), name_of(&options, &row));
                let added = serde_json::json!([{"added": {}}]);
                log_action(&cx.user, M::meta(), &key, &name, ADDITION, added)
                    .await
                    .map_err(|e| e.into_http())?;
                let singular = names_of(&options).0;
                let message = format!("The {singular} “{name}” was added successfully.");
                let list = cx.changelist_url(M::meta());
                return saved(list, &mut req, &data, &key, message).await;
            }
            Err(found) => errors = found?,
        }
    }
    let page = FormPage {
        adding: true,
        view_only: false,
        key: None,
        name: None,
        shown: &data,
        selected: &selected,
        errors: &errors,
        status: StatusCode::BAD_REQUEST,
    };
    render(&options, &cx, &mut req, page).await
}

/// The submitted form: each field's first value, and the many-to-many selections.
async fn submission<M>(
    options: &ModelAdmin<M>,
    req: &mut Request,
) -> Result<(HashMap<String, String>, Selected)> {
    let form = super::form_data(req).await?;
    Ok((
        forms::shown_from_data(&form),
        many::submitted(options, &form),
    ))
}

/// `/admin/<app>/<model>/<key>/change/`: read-only for users with the view permission alone.
pub(crate) async fn change<M: Model + Default + Clone>(
    options: Arc<ModelAdmin<M>>,
    cx: Cx,
    mut req: Request,
    key: String,
) -> Result<Response> {
    let Some(row) = row_by_key::<M>(&key).await.map_err(|e| e.into_http())? else {
        return Err(not_found::<M>(&options, &key));
    };
    let name = name_of(&options, &row);
    if req.method() != Method::POST {
        let shown = forms::shown_from_values::<M>(&row.to_values());
        let selected = many::current(&options, &row)
            .await
            .map_err(|e| e.into_http())?;
        let page = FormPage {
            adding: false,
            view_only: !cx.can(Perm::Change, M::meta()),
            key: Some(key),
            name: Some(name),
            shown: &shown,
            selected: &selected,
            errors: &Errors::new(),
            status: StatusCode::OK,
        };
        return render(&options, &cx, &mut req, page).await;
    }
    let (data, selected) = submission(&options, &mut req).await?;
    let mut edited = row.clone();
    let (mut errors, mut changed) = forms::fill_row(&cx, &options, &data, &mut edited).await;
    many::check(&cx, &options, &selected, &mut errors).await;
    if errors.is_empty() {
        match save(&mut edited).await {
            Ok(()) => {
                let linked = many::save(&options, &edited, selected.clone())
                    .await
                    .map_err(|e| e.into_http())?;
                changed.extend(linked);
                let name = name_of(&options, &edited);
                let message = if changed.is_empty() {
                    serde_json::json!([])
                } else {
                    serde_json::json!([{"changed": {"fields": changed}}])
                };
                log_action(&cx.user, M::meta(), &key, &name, CHANGE, message)
                    .await
                    .map_err(|e| e.into_http())?;
                let singular = names_of(&options).0;
                let message = format!("The {singular} “{name}” was changed successfully.");
                let list = cx.changelist_url(M::meta());
                return saved(list, &mut req, &data, &key, message).await;
            }
            Err(found) => errors = found?,
        }
    }
    let page = FormPage {
        adding: false,
        view_only: false,
        key: Some(key),
        name: Some(name),
        shown: &data,
        selected: &selected,
        errors: &errors,
        status: StatusCode::BAD_REQUEST,
    };
    render(&options, &cx, &mut req, page).await
}

/// The admin's 404 for a key naming no row (or not a key of the model's type).
pub(crate) fn not_found<M: Model>(options: &ModelAdmin<M>, key: &str) -> Error {
    let singular = capitalize(&names_of(options).0);
    Error::not_found(format!(
        "{singular} with ID “{key}” doesn’t exist. Perhaps it was deleted?"
    ))
}

/// Saves the row; the model's validation and unique constraints come back as the form's
/// errors (`Ok(errors)` inside the error), anything else as the error it is.
async fn save<M: Model>(row: &mut M) -> Result<(), Result<Errors>> {
    match row.save().await {
        Ok(()) => Ok(()),
        Err(OrmError::Validation(errors)) => Err(Ok(forms::validation_errors(errors))),
        // SQLite's and PostgreSQL's say "unique", MariaDB's "Duplicate entry".
        Err(OrmError::Integrity { message, .. })
            if ["unique", "duplicate"]
                .iter()
                .any(|w| message.to_lowercase().contains(w)) =>
        {
            let mut errors = Errors::new();
            let text = format!("{} with these values already exists.", M::meta().name);
            errors.entry(String::new()).or_default().push(text);
            Err(Ok(errors))
        }
        Err(e) => Err(Err(e.into_http())),
    }
}

/// The add form's two password boxes: equal and not empty, then hashed into the field.
async fn set_new_password<M: Model>(
    hasher: canter_accounts::hashers::Hasher,
    field: &str,
    data: &HashMap<String, String>,
    row: &mut M,
    errors: &mut Errors,
) {
    match crate::users::check_new_password(data) {
        Err((box_name, message)) => errors.entry(box_name.into()).or_default().push(message),
        Ok(password) => {
            let hash = canter_accounts::hashers::amake_password(password, hasher).await;
            if let Some((i, _)) = M::meta().field(field) {
                if let Err(e) = row.set_value(i, Value::String(Some(hash))) {
                    errors.entry(String::new()).or_default().push(e);
                }
            }
        }
    }
}

/// After a save: the message, then where the pressed button goes.
async fn saved(
    list: String,
    req: &mut Request,
    data: &HashMap<String, String>,
    key: &str,
    message: String,
) -> Result<Response> {
    let (url, message) = if data.contains_key("_continue") {
        (
            format!("{list}{key}/change/"),
            format!("{message} You may edit it again below."),
        )
    } else if data.contains_key("_addanother") {
        (
            format!("{list}add/"),
            format!("{message} You may add another below."),
        )
    } else {
        (list, message)
    };
    crate::messages::add(req, "success", message).await;
    Ok(canter_core::response::redirect(&url))
}

/// Renders the form page.
async fn render<M: Model>(
    options: &ModelAdmin<M>,
    cx: &Cx,
    req: &mut Request,
    page: FormPage<'_>,
) -> Result<Response> {
    let meta = M::meta();
    let mut fieldsets = forms::build(cx, options, page.shown, page.errors, page.view_only).await;
    let many = many::fieldset(cx, options, page.selected, page.errors, page.view_only).await;
    fieldsets.extend(many);
    let singular = names_of(options).0;
    let verb = if page.adding {
        "Add"
    } else if page.view_only {
        "View"
    } else {
        "Change"
    };
    let list = cx.changelist_url(meta);
    let object_url = page.key.as_ref().map(|k| format!("{list}{k}/"));
    let asks_password = page.adding && options.password_field.is_some();
    let context = minijinja::context! {
        title => format!("{verb} {singular}"),
        singular, plural => names_of(options).1,
        app_label => capitalize(meta.app),
        changelist_url => list,
        fieldsets,
        form_errors => page.errors.get("").cloned().unwrap_or_default(),
        has_errors => !page.errors.is_empty(),
        password1_errors => page.errors.get("password1").cloned().unwrap_or_default(),
        password2_errors => page.errors.get("password2").cloned().unwrap_or_default(),
        asks_password,
        password_url => object_url.as_ref().filter(|_| options.password_field.is_some() && !page.view_only).map(|u| format!("{u}password/")),
        history_url => object_url.as_ref().map(|u| format!("{u}history/")),
        delete_url => object_url.as_ref().filter(|_| cx.can(Perm::Delete, meta)).map(|u| format!("{u}delete/")),
        can_add_another => cx.can(Perm::Add, meta),
        view_only => page.view_only,
        object_name => page.name,
        adding => page.adding,
    };
    super::page(
        req,
        &cx.site,
        &cx.root,
        "admin/change_form.html",
        context,
        page.status,
    )
    .await
}
