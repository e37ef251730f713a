//! `list_editable`: fields edited in the change list's rows and saved together (Django's
//! change-list formset): `form-<n>-key` names each row, `form-<n>-<field>` its values.

use std::collections::HashMap;
use std::sync::Arc;

use canter_core::prelude::*;
use canter_orm::{Model, ModelExt, SqlType, Value};
use serde::Serialize;

use crate::access::{Cx, Perm};
use crate::display::field_label;
use crate::entry::{key_text, name_of, names_of, rows_by_keys};
use crate::forms::{parse_field, shown_from_values};
use crate::models::{log_action, CHANGE};
use crate::options::ModelAdmin;

/// How many rows one save may change (Django's `DATA_UPLOAD_MAX_NUMBER_FIELDS` spirit).
const MAX_ROWS: usize = 1000;

/// An input in a change-list cell.
#[derive(Serialize)]
pub(crate) struct Input {
    name: String,
    label: String,
    /// `checkbox`, `select`, `number`, `date`, `datetime-local` or `text`.
    widget: &'static str,
    value: String,
    checked: bool,
    choices: Vec<String>,
}

/// The input of column `column` for the row at `index` of the page, when it is editable.
pub(crate) fn input_for<M: Model>(
    options: &ModelAdmin<M>,
    column: &str,
    index: usize,
    values: &[Value],
) -> Option<Input> {
    if !options.list_editable.iter().any(|f| f == column) {
        return None;
    }
    let (_, field) = M::meta().field(column)?;
    let shown = shown_from_values::<M>(values);
    let value = shown.get(column).cloned().unwrap_or_default();
    let widget = match field.sql_type {
        _ if !field.choices.is_empty() => "select",
        SqlType::Boolean => "checkbox",
        SqlType::Integer | SqlType::BigInteger | SqlType::Double | SqlType::Decimal => "number",
        SqlType::Date => "date",
        SqlType::DateTime => "datetime-local",
        _ => "text",
    };
    Some(Input {
        name: format!("form-{index}-{column}"),
        label: field_label(column),
        widget,
        checked: !value.is_empty() && field.sql_type == SqlType::Boolean,
        value,
        choices: field.choices.iter().map(|c| (*c).to_owned()).collect(),
    })
}

/// `POST` with `_save`: every row's editable fields, all checked before any is saved; each
/// changed row saved and logged.
pub(crate) async fn save<M: Model + Default + Clone>(
    options: Arc<ModelAdmin<M>>,
    cx: Cx,
    mut req: Request,
    back: String,
    data: HashMap<String, Vec<String>>,
) -> Result<Response> {
    let meta = M::meta();
    if !cx.can(Perm::Change, meta) || options.list_editable.is_empty() {
        return Err(Error::permission_denied("permission denied"));
    }
    let first = |name: &str| data.get(name).and_then(|v| v.first()).cloned();
    let total: usize = first("form-TOTAL_FORMS")
        .and_then(|t| t.parse().ok())
        .filter(|t| *t <= MAX_ROWS)
        .ok_or_else(|| Error::bad_request("form-TOTAL_FORMS is missing or too large"))?;
    let keys: Vec<String> = (0..total)
        .filter_map(|i| first(&format!("form-{i}-key")))
        .collect();
    let orm = |e: canter_orm::OrmError| e.into_http();
    let rows: HashMap<String, M> = rows_by_keys::<M>(&keys)
        .await
        .map_err(orm)?
        .into_iter()
        .map(|row| (key_text(&row), row))
        .collect();
    let mut edited = Vec::new();
    let mut problems = Vec::new();
    for i in 0..total {
        let Some(mut row) = first(&format!("form-{i}-key")).and_then(|k| rows.get(&k).cloned())
        else {
            continue;
        };
        let before = row.to_values();
        let mut changed = Vec::new();
        for name in &options.list_editable {
            let Some((index, field)) = meta.field(name) else {
                continue;
            };
            let raw = first(&format!("form-{i}-{name}"));
            match parse_field(field, raw.as_deref()).and_then(|v| row.set_value(index, v)) {
                Ok(()) if before[index] != row.to_values()[index] => {
                    changed.push(field_label(name))
                }
                Ok(()) => {}
                Err(message) => problems.push(format!(
                    "{} — {}: {message}",
                    name_of(&options, &row),
                    field_label(name)
                )),
            }
        }
        if !changed.is_empty() {
            edited.push((row, changed));
        }
    }
    if !problems.is_empty() {
        let text = format!("Nothing was saved. Please correct: {}", problems.join("; "));
        crate::messages::add(&mut req, "error", text).await;
        return Ok(canter_core::response::redirect(&back));
    }
    for (row, changed) in &mut edited {
        if let Err(e) = row.save().await {
            let text = format!("{} was not saved: {e}", name_of(&options, row));
            crate::messages::add(&mut req, "error", text).await;
            return Ok(canter_core::response::redirect(&back));
        }
        let message = serde_json::json!([{"changed": {"fields": changed}}]);
        log_action(
            &cx.user,
            meta,
            &key_text(row),
            &name_of(&options, row),
            CHANGE,
            message,
        )
        .await
        .map_err(orm)?;
    }
    let (singular, plural) = names_of(&options);
    let text = match edited.len() {
        1 => format!("1 {singular} was changed successfully."),
        n => format!("{n} {plural} were changed successfully."),
    };
    crate::messages::add(&mut req, "success", text).await;
    Ok(canter_core::response::redirect(&back))
}
