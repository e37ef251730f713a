//! Field validation run before every write: `max_length` and `choices` (Django's
//! `full_clean()`), plus model-level validators.

use sea_query::Value;

use crate::error::ValidationError;
use crate::fields::FieldMeta;

#[doc(hidden)]
pub fn check_field(field: &FieldMeta, value: &Value, errors: &mut ValidationError) {
    if let Value::String(Some(text)) = value {
        if let Some(max) = field.max_length {
            let len = text.chars().count();
            if len > max as usize {
                errors.add(
                    field.name,
                    format!("ensure this value has at most {max} characters (it has {len})"),
                );
            }
        }
        if !field.choices.is_empty() && !field.choices.contains(&text.as_str()) {
            errors.add(
                field.name,
                format!(
                    "value {text:?} is not a valid choice ({})",
                    field.choices.join(", ")
                ),
            );
        }
    }
}
