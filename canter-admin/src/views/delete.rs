//! Deleting one row (Django's `delete_view`): a confirmation page listing the rows of the
//! admin's models that point at it (and go with it), then the delete, logged.

use std::sync::Arc;

use canter_core::prelude::*;
use canter_orm::{Model, ModelExt, OrmError};
use canter_pages::minijinja;
use serde::Serialize;

use crate::access::Cx;
use crate::display::capitalize;
use crate::entry::{name_of, names_of, row_by_key};
use crate::models::{log_action, DELETION};
use crate::options::ModelAdmin;

/// How many related rows of each model the confirmation names (it counts them all).
const SHOWN_RELATED: u64 = 20;

#[derive(Serialize)]
pub(crate) struct RelatedGroup {
    model: String,
    count: u64,
    rows: Vec<RelatedRow>,
}

#[derive(Serialize)]
struct RelatedRow {
    name: String,
    url: String,
}

/// `/admin/<app>/<model>/<key>/delete/`.
pub(crate) async fn delete<M: Model + Default + Clone>(
    options: Arc<ModelAdmin<M>>,
    cx: Cx,
    mut req: Request,
    key: String,
) -> Result<Response> {
    let orm = |e: OrmError| e.into_http();
    let Some(row) = row_by_key::<M>(&key).await.map_err(orm)? else {
        return Err(super::edit::not_found::<M>(&options, &key));
    };
    let meta = M::meta();
    let name = name_of(&options, &row);
    let (singular, _) = names_of(&options);
    let mut error = None;
    if req.method() == Method::POST {
        // The form is read for its CSRF token's sake (the middleware checked it).
        super::form_data(&mut req).await?;
        match row.delete().await {
            Ok(_) => {
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
                let text = format!("The {singular} “{name}” was deleted successfully.");
                crate::messages::add(&mut req, "success", text).await;
                return Ok(canter_core::response::redirect(&cx.changelist_url(meta)));
            }
            // A protecting foreign key (PROTECT / RESTRICT) refuses the delete.
            Err(OrmError::Integrity { message, .. }) => {
                error = Some(format!(
                    "Deleting the {singular} “{name}” would require deleting related rows that protect it ({message})."
                ));
            }
            Err(e) => return Err(orm(e)),
        }
    }
    let related = related_groups(&cx, meta, &key).await.map_err(orm)?;
    let status = if error.is_some() {
        StatusCode::CONFLICT
    } else {
        StatusCode::OK
    };
    let context = minijinja::context! {
        title => "Are you sure?",
        singular, object_name => name, related, error,
        app_label => capitalize(meta.app),
        plural => names_of(&options).1,
        changelist_url => cx.changelist_url(meta),
        object_url => format!("{}{key}/change/", cx.changelist_url(meta)),
    };
    super::page(
        &mut req,
        &cx.site,
        &cx.root,
        "admin/delete_confirmation.html",
        context,
        status,
    )
    .await
}

/// The rows of every registered model whose foreign keys point at this row.
pub(crate) async fn related_groups(
    cx: &Cx,
    meta: &'static canter_orm::ModelMeta,
    key: &str,
) -> Result<Vec<RelatedGroup>, OrmError> {
    let mut groups = Vec::new();
    for entry in &cx.site.entries {
        let other = entry.meta();
        for (i, field) in other.fields.iter().enumerate() {
            let points_here = field.related.is_some_and(|t| std::ptr::eq(t(), meta));
            if !points_here {
                continue;
            }
            let (count, rows) = entry.related(i, key.to_owned(), SHOWN_RELATED).await?;
            if count == 0 {
                continue;
            }
            let list = cx.changelist_url(other);
            groups.push(RelatedGroup {
                model: capitalize(&entry.names().1),
                count,
                rows: rows
                    .into_iter()
                    .map(|(name, k)| RelatedRow {
                        name,
                        url: format!("{list}{k}/change/"),
                    })
                    .collect(),
            });
        }
    }
    Ok(groups)
}
