//! Django's `django_admin_log` table: every add, change and delete made through the admin,
//! with who, when and what (the per-object history page reads it).

use canter_accounts::models::{ContentType, User};
use canter_orm::chrono::{DateTime, Utc};
use canter_orm::{ForeignKey, Model, ModelMeta, Orm, OrmError};
use serde::Serialize;

/// Django's `ADDITION`, `CHANGE` and `DELETION` action flags.
pub const ADDITION: i32 = 1;
pub const CHANGE: i32 = 2;
pub const DELETION: i32 = 3;

/// `django.contrib.admin.models.LogEntry`, column for column (Django's `action_flag` is a
/// `smallint`; here an `integer`, which holds the same values).
#[derive(Model, Serialize, Debug, Clone, Default, PartialEq)]
#[model(crate = canter_orm, app = "admin", table = "django_admin_log")]
pub struct LogEntry {
    pub id: i64,
    pub action_time: DateTime<Utc>,
    pub user: ForeignKey<User>,
    pub content_type: Option<ForeignKey<ContentType>>,
    pub object_id: Option<String>,
    #[field(max_length = 200)]
    pub object_repr: String,
    pub action_flag: i32,
    /// Django's JSON list: `[{"added": {}}]`, `[{"changed": {"fields": ["Name"]}}]`.
    pub change_message: String,
}

impl LogEntry {
    /// Django's `get_change_message()`: the JSON list in words.
    pub fn message(&self) -> String {
        let Ok(serde_json::Value::Array(parts)) = serde_json::from_str(&self.change_message) else {
            return self.change_message.clone();
        };
        let mut sentences = Vec::new();
        for part in parts {
            if part.get("added").is_some() {
                sentences.push("Added.".to_owned());
            } else if let Some(changed) = part.get("changed") {
                let fields: Vec<String> = changed["fields"]
                    .as_array()
                    .map(|f| {
                        f.iter()
                            .filter_map(|f| f.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
                sentences.push(format!("Changed {}.", and_list(&fields)));
            } else if part.get("deleted").is_some() {
                sentences.push("Deleted.".to_owned());
            }
        }
        if sentences.is_empty() {
            "No fields changed.".to_owned()
        } else {
            sentences.join(" ")
        }
    }
}

/// "a, b and c" (Django's `get_text_list(..., "and")`).
fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// Adds the admin's model to the ORM (for `makemigrations` / `migrate`).
pub fn register(orm: Orm) -> Orm {
    orm.model::<LogEntry>()
}

/// Creates the admin's table without migrations (tests, scripts), if missing.
pub async fn create_tables(alias: &str) -> Result<(), OrmError> {
    canter_orm::schema::create_table::<LogEntry>(alias).await
}

/// The content type of a model (`django_content_type`), made if missing.
pub(crate) async fn content_type_of(meta: &ModelMeta) -> Result<ContentType, OrmError> {
    let model = meta.name.to_lowercase();
    let (ct, _) = ContentType::objects()
        .filter(ContentType::app_label.eq(meta.app) & ContentType::model.eq(model.clone()))
        .get_or_create(ContentType {
            id: 0,
            app_label: meta.app.to_owned(),
            model,
        })
        .await?;
    Ok(ct)
}

/// Django's `LogEntry.objects.log_actions(...)` for one object.
pub(crate) async fn log_action(
    user: &User,
    meta: &ModelMeta,
    object_id: &str,
    object_repr: &str,
    action_flag: i32,
    change_message: serde_json::Value,
) -> Result<(), OrmError> {
    let ct = content_type_of(meta).await?;
    let repr: String = object_repr.chars().take(200).collect();
    LogEntry::objects()
        .create(LogEntry {
            id: 0,
            action_time: Utc::now(),
            user: ForeignKey::new(user.id),
            content_type: Some(ForeignKey::new(ct.id)),
            object_id: Some(object_id.to_owned()),
            object_repr: repr,
            action_flag,
            change_message: if change_message.is_null() {
                String::new()
            } else {
                change_message.to_string()
            },
        })
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_messages_read_as_djangos() {
        let entry = |m: &str| LogEntry {
            change_message: m.into(),
            ..Default::default()
        };
        assert_eq!(entry(r#"[{"added": {}}]"#).message(), "Added.");
        assert_eq!(
            entry(r#"[{"changed": {"fields": ["Name", "Active", "Email"]}}]"#).message(),
            "Changed Name, Active and Email."
        );
        assert_eq!(entry("[]").message(), "No fields changed.");
        assert_eq!(entry("").message(), "");
    }
}
