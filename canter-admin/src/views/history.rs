//! An object's history (Django's `history_view`): its `django_admin_log` rows, oldest first.

use std::sync::Arc;

use canter_accounts::models::User;
use canter_core::prelude::*;
use canter_orm::{Model, OrmError};
use canter_pages::minijinja;
use serde::Serialize;

use crate::access::Cx;
use crate::display::capitalize;
use crate::entry::{name_of, names_of, row_by_key};
use crate::models::{content_type_of, LogEntry};
use crate::options::ModelAdmin;

#[derive(Serialize)]
struct Action {
    when: String,
    user: String,
    message: String,
}

/// `GET /admin/<app>/<model>/<key>/history/`.
pub(crate) async fn history<M: Model + Default + Clone>(
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
    let ct = content_type_of(meta).await.map_err(orm)?;
    let entries = LogEntry::objects()
        .filter(LogEntry::content_type.eq(ct.id) & LogEntry::object_id.eq(key.clone()))
        .order_by([LogEntry::action_time.asc(), LogEntry::id.asc()])
        .limit(1000)
        .all()
        .await
        .map_err(orm)?;
    // The users in one query, not one per line.
    let users = User::objects()
        .in_bulk(entries.iter().map(|e| e.user.id()))
        .await
        .map_err(orm)?;
    let actions: Vec<Action> = entries
        .iter()
        .map(|e| Action {
            when: e.action_time.format("%Y-%m-%d %H:%M:%S").to_string(),
            user: users
                .get(&e.user.id())
                .map(|u| u.username.clone())
                .unwrap_or_default(),
            message: e.message(),
        })
        .collect();
    let list = cx.changelist_url(meta);
    let context = minijinja::context! {
        title => format!("Change history: {}", name_of(&options, &row)),
        object_name => name_of(&options, &row),
        actions,
        app_label => capitalize(meta.app),
        plural => names_of(&options).1,
        changelist_url => list,
        object_url => format!("{list}{key}/change/"),
    };
    super::page(
        &mut req,
        &cx.site,
        &cx.root,
        "admin/object_history.html",
        context,
        StatusCode::OK,
    )
    .await
}
