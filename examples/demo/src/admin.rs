//! The demo's admin (Django's `admin.py`): the article's model, the notes, and the accounts'
//! users and groups, at `/admin/`.

use canter::admin::{Admin, ModelAdmin};
use canter::orm::ModelExt;

use crate::models::{MyModel, Note};

/// The admin site with the demo's models registered (users and groups come with
/// `Admin::new()`, as in Django).
pub fn site() -> Admin {
    Admin::new()
        .site_header("canter demo administration")
        .register::<MyModel>(
            ModelAdmin::new()
                .list_display(["name", "active"])
                .search_fields(["name"])
                .list_filter(["active"])
                .ordering(["name"])
                .display(|m: &MyModel| m.name.clone())
                .action("make_active", "Mark selected my models active", |rows| {
                    Box::pin(async move {
                        let n = rows.len();
                        for mut row in rows {
                            row.active = true;
                            row.save().await?;
                        }
                        Ok(format!("{n} my models marked active."))
                    })
                }),
        )
        .register::<Note>(
            ModelAdmin::new()
                .list_display(["title", "text"])
                .search_fields(["title", "text"])
                .display(|n: &Note| {
                    if n.title.is_empty() {
                        n.text.chars().take(40).collect()
                    } else {
                        n.title.clone()
                    }
                }),
        )
}
