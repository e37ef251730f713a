//! Values and names as the admin shows them: field labels, model names, cell text.

use canter_orm::{SqlType, Value};

/// A field's label from its name: `first_name` → "First name" (Django's default
/// `verbose_name`, capitalised as forms show it).
pub(crate) fn field_label(name: &str) -> String {
    capitalize(&name.replace('_', " "))
}

/// `MyModel` → "my model" (Django's `verbose_name` from a class name).
pub(crate) fn model_words(name: &str) -> String {
    let mut words = String::new();
    let chars: Vec<char> = name.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        let starts_word = c.is_uppercase()
            && i > 0
            && (chars[i - 1].is_lowercase()
                || chars.get(i + 1).is_some_and(|next| next.is_lowercase()));
        if starts_word {
            words.push(' ');
        }
        words.extend(c.to_lowercase());
    }
    words
}

/// The first letter in upper case (Django's `capfirst`).
pub(crate) fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A value as text (a key in a URL, a form's initial value); `None` for NULL.
pub(crate) fn value_text(value: &Value) -> Option<String> {
    Some(match value {
        Value::ChronoDateTimeUtc(Some(at)) => at.format("%Y-%m-%d %H:%M:%S").to_string(),
        Value::ChronoDate(Some(day)) => day.format("%Y-%m-%d").to_string(),
        Value::ChronoTime(Some(time)) => time.format("%H:%M:%S").to_string(),
        Value::Bytes(Some(bytes)) => format!("<{} bytes>", bytes.len()),
        other => match canter_orm::fields::value_to_json(other) {
            serde_json::Value::Null => return None,
            serde_json::Value::String(text) => text,
            serde_json::Value::Bool(flag) => flag.to_string(),
            json => json.to_string(),
        },
    })
}

/// A value as a form input shows it (`datetime-local` wants a `T`).
pub(crate) fn input_text(sql_type: SqlType, value: &Value) -> String {
    match (sql_type, value) {
        (SqlType::DateTime, Value::ChronoDateTimeUtc(Some(at))) => {
            at.format("%Y-%m-%dT%H:%M:%S").to_string()
        }
        _ => value_text(value).unwrap_or_default(),
    }
}

/// What a change-list cell shows for a value: `-` for NULL (Django's `empty_value_display`).
pub(crate) fn cell_text(value: &Value) -> String {
    value_text(value).unwrap_or_else(|| "-".to_owned())
}

/// Whether a value is a boolean, and which (a cell shows it as an icon).
pub(crate) fn as_bool(value: &Value) -> Option<Option<bool>> {
    match value {
        Value::Bool(flag) => Some(*flag),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_as_words() {
        assert_eq!(field_label("first_name"), "First name");
        assert_eq!(model_words("MyModel"), "my model");
        assert_eq!(model_words("LogEntry"), "log entry");
        assert_eq!(model_words("HTTPLog"), "http log");
        assert_eq!(model_words("User"), "user");
    }

    #[test]
    fn values_as_text() {
        assert_eq!(value_text(&Value::BigInt(Some(5))).as_deref(), Some("5"));
        assert_eq!(value_text(&Value::BigInt(None)), None);
        assert_eq!(
            value_text(&Value::String(Some("<b>".into()))).as_deref(),
            Some("<b>")
        );
        assert_eq!(
            value_text(&Value::Bool(Some(true))).as_deref(),
            Some("true")
        );
        assert_eq!(cell_text(&Value::String(None)), "-");
    }
}
