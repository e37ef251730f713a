//! The change list's bulk actions (Django's `response_action`): "delete selected" with its
//! confirmation page, and the model's own actions.

use std::sync::Arc;

use canter_core::prelude::*;
use canter_orm::{Model, ModelExt};
use canter_pages::minijinja;

use crate::access::{Cx, Perm};
use crate::entry::{key_text, name_of, names_of, rows_by_keys};
use crate::models::{log_action, DELETION};
use crate::options::ModelAdmin;

/// `POST /admin/<app>/<model>/` with `action` and `_selected_action` keys.
pub(crate) async fn run<M: Model + Default + Clone>(
    options: Arc<ModelAdmin<M>>,
    cx: Cx,
    mut req: Request,
) -> Result<Response> {
    let back = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| cx.changelist_url(M::meta()));
    let data = super::form_data(&mut req).await?;
    if data.get("_save").is_some() {
        let mut all: std::collections::HashMap<String, Vec<String>> = Default::default();
        for (k, v) in data.values() {
            all.entry(k.to_owned()).or_default().push(v.to_owned());
        }
        drop(data);
        return super::editable::save(options, cx, req, back, all).await;
    }
    let action = data.get("action").unwrap_or_default().to_owned();
    let selected: Vec<String> = data
        .get_all("_selected_action")
        .into_iter()
        .map(str::to_owned)
        .collect();
    let confirmed = data.get("post") == Some("yes");
    drop(data);
    if selected.is_empty() {
        let text = "Items must be selected in order to perform actions on them. No items have been changed.";
        crate::messages::add(&mut req, "warning", text.into()).await;
        return Ok(canter_core::response::redirect(&back));
    }
    let meta = M::meta();
    let orm = |e: canter_orm::OrmError| e.into_http();
    if action == "delete_selected" {
        if !cx.can(Perm::Delete, meta) {
            return Err(Error::permission_denied("permission denied"));
        }
        let rows: Vec<M> = rows_by_keys::<M>(&selected).await.map_err(orm)?;
        let plural = names_of(&options).1;
        if !confirmed {
            let objects: Vec<String> = rows.iter().map(|r| name_of(&options, r)).collect();
            let keys: Vec<String> = rows.iter().map(key_text).collect();
            let context = minijinja::context! {
                title => "Are you sure?", plural, objects, keys, back,
                changelist_url => cx.changelist_url(meta),
            };
            let template = "admin/delete_selected_confirmation.html";
            return super::page(
                &mut req,
                &cx.site,
                &cx.root,
                template,
                context,
                StatusCode::OK,
            )
            .await;
        }
        for row in &rows {
            let (key, name) = (key_text(row), name_of(&options, row));
            log_action(
                &cx.user,
                meta,
                &key,
                &name,
                DELETION,
                serde_json::Value::Null,
            )
            .await
            .map_err(orm)?;
            row.delete().await.map_err(orm)?;
        }
        let text = format!("Successfully deleted {} {plural}.", rows.len());
        crate::messages::add(&mut req, "success", text).await;
        return Ok(canter_core::response::redirect(&back));
    }
    let Some(chosen) = options.actions.iter().find(|a| a.name == action).cloned() else {
        crate::messages::add(&mut req, "warning", "No action selected.".into()).await;
        return Ok(canter_core::response::redirect(&back));
    };
    if !cx.can(Perm::Change, meta) {
        return Err(Error::permission_denied("permission denied"));
    }
    let rows: Vec<M> = rows_by_keys::<M>(&selected).await.map_err(orm)?;
    let message = (chosen.run)(rows).await.map_err(orm)?;
    crate::messages::add(&mut req, "success", message).await;
    Ok(canter_core::response::redirect(&back))
}
