//! The index: the apps and models the user may see, with their links, and the user's recent
//! actions (Django's `AdminSite.index`).

use std::collections::BTreeMap;
use std::sync::Arc;

use canter_accounts::models::ContentType;
use canter_core::prelude::*;
use canter_pages::minijinja;
use serde::Serialize;

use crate::access::{staff_context, Perm};
use crate::display::capitalize;
use crate::models::LogEntry;
use crate::site::Site;

#[derive(Serialize)]
struct ModelLink {
    name: String,
    url: String,
    add_url: Option<String>,
    view_only: bool,
}

#[derive(Serialize)]
struct RecentAction {
    repr: String,
    flag: i32,
    url: Option<String>,
}

/// `GET /admin/`.
pub(crate) async fn index(site: Arc<Site>, mut req: Request) -> Result<Response> {
    let cx = match staff_context(site.clone(), &mut req).await {
        Ok(cx) => cx,
        Err(login) => return Ok(login),
    };
    let mut apps: BTreeMap<&str, Vec<ModelLink>> = BTreeMap::new();
    for entry in &site.entries {
        let meta = entry.meta();
        if !cx.sees(meta) {
            continue;
        }
        let url = cx.changelist_url(meta);
        apps.entry(meta.app).or_default().push(ModelLink {
            name: capitalize(&entry.names().1),
            add_url: cx.can(Perm::Add, meta).then(|| format!("{url}add/")),
            view_only: !cx.can(Perm::Change, meta),
            url,
        });
    }
    let apps: Vec<_> = apps
        .into_iter()
        .map(|(app, mut models)| {
            models.sort_by(|a, b| a.name.cmp(&b.name));
            minijinja::context! { label => capitalize(app), models }
        })
        .collect();
    let recent = LogEntry::objects()
        .filter(LogEntry::user.eq(cx.user.id))
        .order_by([LogEntry::action_time.desc(), LogEntry::id.desc()])
        .limit(10)
        .all()
        .await
        .map_err(|e| e.into_http())?;
    let types = ContentType::objects()
        .in_bulk(
            recent
                .iter()
                .filter_map(|e| e.content_type.as_ref().map(|ct| ct.id())),
        )
        .await
        .map_err(|e| e.into_http())?;
    let recent: Vec<RecentAction> = recent
        .into_iter()
        .map(|entry| {
            let url = entry
                .content_type
                .as_ref()
                .and_then(|ct| types.get(&ct.id()))
                .filter(|_| entry.action_flag != crate::models::DELETION)
                .zip(entry.object_id.as_ref())
                .map(|(ct, id)| format!("{}{}/{}/{id}/change/", cx.root, ct.app_label, ct.model));
            RecentAction {
                repr: entry.object_repr,
                flag: entry.action_flag,
                url,
            }
        })
        .collect();
    let context = minijinja::context! { apps, recent, title => "Site administration" };
    super::page(
        &mut req,
        &site,
        &cx.root,
        "admin/index.html",
        context,
        StatusCode::OK,
    )
    .await
}
