//! A form's errors: messages per field, and the form's own (Django's `__all__`).

/// Messages by field name, in the order they were found; `None` holds the whole form's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FormErrors {
    entries: Vec<(Option<String>, Vec<String>)>,
}

impl FormErrors {
    /// No errors yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `message` to `field`'s errors (`None`: the form's own, Django's `add_error(None, …)`).
    pub fn add(&mut self, field: Option<&str>, message: impl Into<String>) {
        let message = message.into();
        match self
            .entries
            .iter_mut()
            .find(|(name, _)| name.as_deref() == field)
        {
            Some((_, messages)) => messages.push(message),
            None => self.entries.push((field.map(str::to_owned), vec![message])),
        }
    }

    /// Whether there is no error at all.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The messages of one field (none: an empty slice).
    pub fn field(&self, name: &str) -> &[String] {
        self.entries
            .iter()
            .find(|(field, _)| field.as_deref() == Some(name))
            .map(|(_, messages)| messages.as_slice())
            .unwrap_or(&[])
    }

    /// The whole form's messages.
    pub fn non_field(&self) -> &[String] {
        self.entries
            .iter()
            .find(|(field, _)| field.is_none())
            .map(|(_, messages)| messages.as_slice())
            .unwrap_or(&[])
    }

    /// Every field's messages (`None`: the form's own).
    pub fn iter(&self) -> impl Iterator<Item = (Option<&str>, &[String])> {
        self.entries
            .iter()
            .map(|(field, messages)| (field.as_deref(), messages.as_slice()))
    }

    /// As JSON: `{"title": ["…"], "__all__": ["…"]}` (Django's `errors.get_json_data()` keys).
    pub fn to_json(&self) -> serde_json::Value {
        let map: serde_json::Map<String, serde_json::Value> = self
            .iter()
            .map(|(field, messages)| {
                (
                    field.unwrap_or("__all__").to_owned(),
                    serde_json::json!(messages),
                )
            })
            .collect();
        serde_json::Value::Object(map)
    }
}

impl std::fmt::Display for FormErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (field, messages)) in self.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {}", field.unwrap_or("__all__"), messages.join(" "))?;
        }
        Ok(())
    }
}

impl std::error::Error for FormErrors {}
