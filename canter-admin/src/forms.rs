//! The add and change forms, built from the model's fields (Django's `ModelForm` made by
//! `ModelAdmin.get_form`): which fields, in which fieldsets, each field's widget and shown
//! value, and reading a submission back into a row with an error per field.

use std::collections::{BTreeMap, HashMap};

use canter_orm::chrono::{DateTime, NaiveDateTime, Utc};
use canter_orm::fields::{null_of, parse_text};
use canter_orm::{FieldMeta, Model, SqlType, Value};
use canter_pages::forms::FormData;
use serde::Serialize;

use crate::access::Cx;
use crate::display::{field_label, input_text, value_text};
use crate::options::ModelAdmin;

/// Errors by field name (`""`: the whole form's).
pub(crate) type Errors = BTreeMap<String, Vec<String>>;

/// How many rows a foreign key's select offers at most; past it, use `raw_id_fields`.
const MAX_SELECT_OPTIONS: u64 = 1000;

/// One field as the template draws it.
#[derive(Debug, Serialize)]
pub(crate) struct FormField {
    pub name: String,
    pub label: String,
    /// `text`, `textarea`, `number`, `checkbox`, `date`, `time`, `datetime-local`, `select`,
    /// `raw_id` or `readonly`.
    pub widget: &'static str,
    pub value: String,
    pub checked: bool,
    pub required: bool,
    pub errors: Vec<String>,
    pub choices: Vec<Choice>,
    pub maxlength: Option<u32>,
    pub step: Option<&'static str>,
    /// For a raw id or read-only foreign key: the related row's name.
    pub related_label: Option<String>,
}

/// An option of a select.
#[derive(Debug, Serialize)]
pub(crate) struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// A titled (or untitled) group of fields.
#[derive(Debug, Serialize)]
pub(crate) struct Fieldset {
    pub title: Option<String>,
    pub fields: Vec<FormField>,
}

/// The form's fields by index, grouped: `fieldsets`, else `fields`, else every field but an
/// auto key, binary fields, `exclude` and the password field.
pub(crate) fn layout<M: Model>(options: &ModelAdmin<M>) -> Vec<(Option<String>, Vec<usize>)> {
    let meta = M::meta();
    let index = |name: &String| meta.field(name).map(|(i, _)| i);
    if !options.fieldsets.is_empty() {
        return options
            .fieldsets
            .iter()
            .map(|(title, names)| (title.clone(), names.iter().filter_map(index).collect()))
            .collect();
    }
    let fields: Vec<usize> = match &options.fields {
        Some(names) => names.iter().filter_map(index).collect(),
        None => meta
            .fields
            .iter()
            .enumerate()
            .filter(|(_, f)| !f.auto_increment && f.sql_type != SqlType::Bytes)
            .filter(|(_, f)| !options.exclude.iter().any(|e| e == f.name))
            .filter(|(_, f)| options.password_field.as_deref() != Some(f.name))
            .map(|(i, _)| i)
            .collect(),
    };
    vec![(None, fields)]
}

/// Whether the form shows field `i` without letting it be written.
fn is_readonly<M: Model>(options: &ModelAdmin<M>, field: &FieldMeta, view_only: bool) -> bool {
    view_only
        || options.readonly_fields.iter().any(|r| r == field.name)
        || options.password_field.as_deref() == Some(field.name)
}

/// Whether an empty value is refused: not nullable, not `blank`, no default, not a checkbox.
fn required(field: &FieldMeta) -> bool {
    !field.nullable && !field.blank && field.default.is_none() && field.sql_type != SqlType::Boolean
}

/// The text each field shows for a row's values.
pub(crate) fn shown_from_values<M: Model>(values: &[Value]) -> HashMap<String, String> {
    M::meta()
        .fields
        .iter()
        .zip(values)
        .map(|(f, v)| {
            let text = match (f.sql_type, v) {
                (SqlType::Boolean, Value::Bool(Some(true))) => "on".to_owned(),
                (SqlType::Boolean, _) => String::new(),
                _ => input_text(f.sql_type, v),
            };
            (f.name.to_owned(), text)
        })
        .collect()
}

/// On an add form, a required date-time whose default is the epoch (the type's `Default`)
/// starts at now instead (Django's `default=timezone.now`, as `date_joined` has).
pub(crate) fn start_dates_now<M: Model>(shown: &mut HashMap<String, String>) {
    let now = Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string();
    for field in M::meta().fields {
        if field.sql_type == SqlType::DateTime && !field.nullable && field.default.is_none() {
            if let Some(text) = shown.get_mut(field.name) {
                if text.starts_with("1970-01-01") {
                    *text = now.clone();
                }
            }
        }
    }
}

/// The text each field shows after a submission (what was sent).
pub(crate) fn shown_from_data(data: &FormData) -> HashMap<String, String> {
    let mut shown = HashMap::new();
    for (k, v) in data.values() {
        shown.entry(k.to_owned()).or_insert_with(|| v.to_owned());
    }
    shown
}

/// A date-time as a form sends it: `datetime-local`'s `2026-12-05T10:30[:00]`, or RFC 3339
/// (a value without an offset is UTC, the admin's time zone).
fn parse_datetime(text: &str) -> Option<Value> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(Value::ChronoDateTimeUtc(Some(at.with_timezone(&Utc))));
    }
    [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
    .map(|naive| Value::ChronoDateTimeUtc(Some(naive.and_utc())))
}

/// Django's messages for a value that does not fit its field.
fn invalid_message(sql_type: SqlType) -> &'static str {
    match sql_type {
        SqlType::Integer | SqlType::BigInteger => "Enter a whole number.",
        SqlType::Double | SqlType::Decimal => "Enter a number.",
        SqlType::Date => "Enter a valid date.",
        SqlType::Time => "Enter a valid time.",
        SqlType::DateTime => "Enter a valid date/time.",
        SqlType::Uuid => "Enter a valid UUID.",
        SqlType::Json => "Enter a valid JSON.",
        _ => "Enter a valid value.",
    }
}

/// One field's submitted text as a value of its type, or the field's error.
pub(crate) fn parse_field(field: &FieldMeta, raw: Option<&str>) -> Result<Value, String> {
    if field.sql_type == SqlType::Boolean {
        let on = matches!(raw, Some("on" | "1" | "true" | "True"));
        return Ok(Value::Bool(Some(on)));
    }
    let text = raw.unwrap_or_default();
    // Django strips text inputs; a NUL is refused by its forms and by PostgreSQL.
    let text = if field.sql_type == SqlType::Text && field.max_length.is_none() {
        text
    } else {
        text.trim()
    };
    if text.contains('\0') {
        return Err("Null characters are not allowed.".into());
    }
    if text.is_empty() {
        if field.nullable {
            return Ok(null_of(field.sql_type));
        }
        if let Some(default) = field.default {
            return Ok(default());
        }
        if field.sql_type == SqlType::Text && !required(field) {
            return Ok(Value::String(Some(String::new())));
        }
        return Err("This field is required.".into());
    }
    if !field.choices.is_empty() && !field.choices.contains(&text) {
        return Err(format!(
            "Select a valid choice. {text} is not one of the available choices."
        ));
    }
    if field.sql_type == SqlType::DateTime {
        return parse_datetime(text).ok_or_else(|| invalid_message(field.sql_type).into());
    }
    parse_text(field, text).map_err(|_| invalid_message(field.sql_type).into())
}

/// Reads a submission onto `row`: each writable field of the form parsed and set, foreign
/// keys checked against their rows. Returns the errors by field (empty: the row is ready to
/// save) and the labels of the fields whose values changed.
pub(crate) async fn fill_row<M: Model>(
    cx: &Cx,
    options: &ModelAdmin<M>,
    data: &HashMap<String, String>,
    row: &mut M,
) -> (Errors, Vec<String>) {
    let meta = M::meta();
    let before = row.to_values();
    let mut errors = Errors::new();
    for (_, fields) in layout(options) {
        for i in fields {
            let field = &meta.fields[i];
            if is_readonly(options, field, false) {
                continue;
            }
            let value = match parse_field(field, data.get(field.name).map(String::as_str)) {
                Ok(value) => value,
                Err(message) => {
                    errors.entry(field.name.into()).or_default().push(message);
                    continue;
                }
            };
            if let Some(message) = missing_related(cx, field, &value).await {
                errors.entry(field.name.into()).or_default().push(message);
                continue;
            }
            if let Err(message) = row.set_value(i, value) {
                errors.entry(field.name.into()).or_default().push(message);
            }
        }
    }
    let after = row.to_values();
    let changed = meta
        .fields
        .iter()
        .zip(before.iter().zip(&after))
        .filter(|(_, (b, a))| b != a)
        .map(|(f, _)| field_label(f.name))
        .collect();
    (errors, changed)
}

/// For a foreign key to a registered model: Django's "Select a valid choice" when no row has
/// the key.
async fn missing_related(cx: &Cx, field: &FieldMeta, value: &Value) -> Option<String> {
    let target = field.related?;
    let entry = cx.site.entry_of(target())?.clone();
    let key = value_text(value)?;
    match entry.labels(vec![key]).await {
        Ok(found) if found.is_empty() => {
            Some("Select a valid choice. That choice is not one of the available choices.".into())
        }
        Ok(_) => None,
        Err(e) => Some(format!("The related row could not be checked: {e}")),
    }
}

/// The form's fieldsets as the template draws them: `shown` holds each field's text (a row's
/// values, or what was submitted), `errors` the submission's errors.
pub(crate) async fn build<M: Model>(
    cx: &Cx,
    options: &ModelAdmin<M>,
    shown: &HashMap<String, String>,
    errors: &Errors,
    view_only: bool,
) -> Vec<Fieldset> {
    let meta = M::meta();
    let mut sets = Vec::new();
    for (title, indexes) in layout(options) {
        let mut fields = Vec::new();
        for i in indexes {
            let field = &meta.fields[i];
            let value = shown.get(field.name).cloned().unwrap_or_default();
            let readonly = is_readonly(options, field, view_only);
            let mut out = FormField {
                name: field.name.to_owned(),
                label: field_label(field.name),
                widget: widget(field),
                checked: field.sql_type == SqlType::Boolean && !value.is_empty(),
                value,
                required: required(field),
                errors: errors.get(field.name).cloned().unwrap_or_default(),
                choices: Vec::new(),
                maxlength: field.max_length,
                step: match field.sql_type {
                    SqlType::Double | SqlType::Decimal => Some("any"),
                    SqlType::DateTime | SqlType::Time => Some("1"),
                    _ => None,
                },
                related_label: None,
            };
            if !field.choices.is_empty() {
                out.widget = "select";
                out.choices = choices(
                    field
                        .choices
                        .iter()
                        .map(|c| ((*c).to_owned(), (*c).to_owned())),
                    &out.value,
                    field,
                );
            }
            if field.related.is_some() {
                related_widget(cx, options, field, &mut out).await;
            }
            if readonly {
                out.widget = "readonly";
            }
            fields.push(out);
        }
        sets.push(Fieldset { title, fields });
    }
    sets
}

/// The input for a field's type.
fn widget(field: &FieldMeta) -> &'static str {
    match field.sql_type {
        SqlType::Boolean => "checkbox",
        SqlType::Integer | SqlType::BigInteger | SqlType::Double | SqlType::Decimal => "number",
        SqlType::Date => "date",
        SqlType::Time => "time",
        SqlType::DateTime => "datetime-local",
        SqlType::Json => "textarea",
        SqlType::Text if field.max_length.is_none() => "textarea",
        _ => "text",
    }
}

/// A select's options, with the empty one ("---------") when the field may be empty.
fn choices(
    options: impl Iterator<Item = (String, String)>,
    current: &str,
    field: &FieldMeta,
) -> Vec<Choice> {
    let mut out = Vec::new();
    if field.nullable || field.default.is_none() {
        out.push(Choice {
            value: String::new(),
            label: "---------".into(),
            selected: current.is_empty(),
        });
    }
    out.extend(options.map(|(value, label)| Choice {
        selected: value == current,
        value,
        label,
    }));
    out
}

/// A foreign key: a select of the target's rows, or with `raw_id_fields` (or a target not in
/// the admin) a key box with the current row's name beside it.
async fn related_widget<M: Model>(
    cx: &Cx,
    options: &ModelAdmin<M>,
    field: &FieldMeta,
    out: &mut FormField,
) {
    let Some(target) = field.related else {
        return;
    };
    let entry = cx.site.entry_of(target()).cloned();
    let raw = options.raw_id_fields.iter().any(|r| r == field.name);
    match entry {
        Some(entry) if !raw => {
            let rows = entry.options(MAX_SELECT_OPTIONS).await.unwrap_or_default();
            out.widget = "select";
            out.choices = choices(rows.into_iter(), &out.value, field);
            if !out.value.is_empty() && !out.choices.iter().any(|c| c.selected) {
                // The current row is past the select's limit: offered anyway.
                if let Ok(found) = entry.labels(vec![out.value.clone()]).await {
                    for (value, label) in found {
                        out.choices.push(Choice {
                            value,
                            label,
                            selected: true,
                        });
                    }
                }
            }
        }
        Some(entry) => {
            out.widget = "raw_id";
            if !out.value.is_empty() {
                out.related_label = entry
                    .labels(vec![out.value.clone()])
                    .await
                    .ok()
                    .and_then(|mut found| found.remove(&out.value));
            }
        }
        None => out.widget = "raw_id",
    }
    // A read-only foreign key shows the row's name.
    if out.related_label.is_none() {
        out.related_label = out
            .choices
            .iter()
            .find(|c| c.selected && !c.value.is_empty())
            .map(|c| c.label.clone());
    }
}

/// The ORM's validation errors as the form's (capitalised sentences).
pub(crate) fn validation_errors(errors: canter_orm::ValidationError) -> Errors {
    errors
        .fields
        .into_iter()
        .map(|(field, messages)| {
            let messages = messages
                .into_iter()
                .map(|m| {
                    let mut text = crate::display::capitalize(&m);
                    if !text.ends_with('.') {
                        text.push('.');
                    }
                    text
                })
                .collect();
            (field, messages)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(sql_type: SqlType, nullable: bool) -> FieldMeta {
        FieldMeta {
            name: "f",
            column: "f",
            sql_type,
            nullable,
            primary_key: false,
            auto_increment: false,
            unique: false,
            db_index: false,
            max_length: Some(10),
            choices: &[],
            blank: false,
            default: None,
            related: None,
            on_delete: canter_orm::OnDelete::Cascade,
            related_name: None,
        }
    }

    #[test]
    fn submissions_parse_per_type() {
        let int = field(SqlType::BigInteger, false);
        assert_eq!(parse_field(&int, Some(" 42 ")), Ok(Value::BigInt(Some(42))));
        assert_eq!(
            parse_field(&int, Some("4x")),
            Err("Enter a whole number.".into())
        );
        assert_eq!(
            parse_field(&int, Some("")),
            Err("This field is required.".into())
        );
        assert_eq!(
            parse_field(&field(SqlType::BigInteger, true), None),
            Ok(Value::BigInt(None))
        );
        let flag = field(SqlType::Boolean, false);
        assert_eq!(parse_field(&flag, None), Ok(Value::Bool(Some(false))));
        assert_eq!(parse_field(&flag, Some("on")), Ok(Value::Bool(Some(true))));
        let at = field(SqlType::DateTime, false);
        let parsed = parse_field(&at, Some("2026-12-05T10:30")).unwrap();
        assert_eq!(
            input_text(SqlType::DateTime, &parsed),
            "2026-12-05T10:30:00"
        );
        assert!(parse_field(&at, Some("yesterday")).is_err());
        let text = field(SqlType::Text, false);
        assert_eq!(
            parse_field(&text, Some("a\0b")),
            Err("Null characters are not allowed.".into())
        );
        let blank = FieldMeta {
            blank: true,
            ..field(SqlType::Text, false)
        };
        assert_eq!(
            parse_field(&blank, Some(" ")),
            Ok(Value::String(Some(String::new())))
        );
        assert_eq!(
            parse_field(&text, Some("")),
            Err("This field is required.".into())
        );
        let choice = FieldMeta {
            choices: &["a", "b"],
            ..field(SqlType::Text, false)
        };
        assert!(parse_field(&choice, Some("c"))
            .unwrap_err()
            .starts_with("Select a valid choice"));
    }
}
