//! Forms in templates: `{{ form }}` (every field, Django's `as_div`), `{{ form.title }}` (the
//! field's widget), `form.title.label_tag`, `.errors`, `.value`, `.help_text`,
//! `form.non_field_errors`, `form.fields` (to loop over) and `form.is_multipart`. What these
//! write is HTML built here with every value escaped, so the template prints it unescaped.

use std::fmt::{self, Write};
use std::sync::Arc;

use minijinja::value::{Enumerator, Object, Value};

use super::{FieldSpec, FormData, FormErrors, Widget};

/// A form as a template sees it.
#[derive(Debug)]
pub(crate) struct FormView {
    fields: Vec<Arc<FieldView>>,
    non_field_errors: Vec<String>,
    bound: bool,
}

/// One field with its shown value and errors.
#[derive(Debug)]
struct FieldView {
    spec: FieldSpec,
    value: String,
    checked: bool,
    errors: Vec<String>,
}

impl FormView {
    pub(crate) fn new(
        specs: &'static [FieldSpec],
        shown: &FormData,
        errors: FormErrors,
        bound: bool,
    ) -> Self {
        let fields = specs
            .iter()
            .map(|spec| {
                let raw = shown.get(spec.name);
                Arc::new(FieldView {
                    spec: *spec,
                    value: raw.unwrap_or("").to_owned(),
                    checked: raw.is_some_and(super::fields::checked),
                    errors: errors.field(spec.name).to_vec(),
                })
            })
            .collect();
        FormView {
            fields,
            non_field_errors: errors.non_field().to_vec(),
            bound,
        }
    }
}

/// Whether `value` is a form or a field, whose text is HTML already escaped here.
pub(crate) fn is_rendered_html(value: &Value) -> bool {
    value.downcast_object_ref::<FormView>().is_some()
        || value.downcast_object_ref::<FieldView>().is_some()
}

fn html(text: &str) -> Value {
    Value::from_safe_string(text.to_owned())
}

impl Object for FormView {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let key = key.as_str()?;
        match key {
            "non_field_errors" => Some(Value::from(self.non_field_errors.clone())),
            "is_bound" => Some(Value::from(self.bound)),
            "is_multipart" => Some(Value::from(
                self.fields.iter().any(|f| f.spec.widget == Widget::File),
            )),
            "fields" => Some(Value::from(
                self.fields
                    .iter()
                    .map(|f| Value::from_dyn_object(f.clone()))
                    .collect::<Vec<_>>(),
            )),
            "errors" => Some(Value::from_serialize(
                self.fields
                    .iter()
                    .filter(|f| !f.errors.is_empty())
                    .map(|f| (f.spec.name, f.errors.clone()))
                    .collect::<std::collections::BTreeMap<_, _>>(),
            )),
            name => self
                .fields
                .iter()
                .find(|f| f.spec.name == name)
                .map(|f| Value::from_dyn_object(f.clone())),
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(
            self.fields
                .iter()
                .map(|f| Value::from_dyn_object(f.clone()))
                .collect(),
        )
    }

    /// `{{ form }}`: the form's own errors, then each field as a `<div>`.
    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.non_field_errors.is_empty() {
            f.write_str(&error_list(&self.non_field_errors, "nonfield"))?;
        }
        for field in &self.fields {
            if field.spec.widget == Widget::Hidden {
                f.write_str(&field.widget())?;
                continue;
            }
            let class = if field.errors.is_empty() {
                "field"
            } else {
                "field error"
            };
            write!(f, "<div class=\"{class}\">{}", field.label_tag())?;
            if !field.spec.help_text.is_empty() {
                write!(
                    f,
                    "<div class=\"helptext\" id=\"id_{}_helptext\">{}</div>",
                    field.spec.name,
                    escape(field.spec.help_text)
                )?;
            }
            f.write_str(&error_list(&field.errors, "errorlist"))?;
            f.write_str(&field.widget())?;
            f.write_str("</div>")?;
        }
        Ok(())
    }
}

impl Object for FieldView {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        Some(match key.as_str()? {
            "name" | "html_name" => Value::from(self.spec.name),
            "label" => Value::from(self.spec.label),
            "id_for_label" | "auto_id" => Value::from(format!("id_{}", self.spec.name)),
            "value" => Value::from(self.value.clone()),
            "errors" => Value::from(self.errors.clone()),
            "help_text" => Value::from(self.spec.help_text),
            "required" => Value::from(self.spec.required),
            "is_hidden" => Value::from(self.spec.widget == Widget::Hidden),
            "label_tag" => html(&self.label_tag()),
            "widget" => html(&self.widget()),
            "errors_html" => html(&error_list(&self.errors, "errorlist")),
            _ => return None,
        })
    }

    /// `{{ form.title }}`: the field's widget.
    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.widget())
    }
}

impl FieldView {
    fn label_tag(&self) -> String {
        format!(
            "<label for=\"id_{}\">{}</label>",
            self.spec.name,
            escape(self.spec.label)
        )
    }

    /// The input, textarea or select, with the constraints a browser checks too.
    fn widget(&self) -> String {
        let spec = &self.spec;
        let mut attrs = format!("name=\"{0}\" id=\"id_{0}\"", spec.name);
        if spec.required && spec.widget != Widget::Checkbox {
            attrs.push_str(" required");
        }
        if let Some(max) = spec.max_length {
            let _ = write!(attrs, " maxlength=\"{max}\"");
        }
        if let Some(min) = spec.min_length {
            let _ = write!(attrs, " minlength=\"{min}\"");
        }
        if let Some(min) = spec.min {
            let _ = write!(attrs, " min=\"{min}\"");
        }
        if let Some(max) = spec.max {
            let _ = write!(attrs, " max=\"{max}\"");
        }
        if !self.errors.is_empty() {
            attrs.push_str(" aria-invalid=\"true\"");
        }
        if !spec.help_text.is_empty() {
            let _ = write!(attrs, " aria-describedby=\"id_{}_helptext\"", spec.name);
        }
        let value = escape(&self.value);
        match spec.widget {
            Widget::Textarea => {
                format!("<textarea {attrs} cols=\"40\" rows=\"10\">\n{value}</textarea>")
            }
            Widget::Checkbox => {
                let checked = if self.checked { " checked" } else { "" };
                format!("<input type=\"checkbox\" {attrs}{checked}>")
            }
            Widget::Select => {
                let mut options = String::new();
                if !spec.required {
                    options.push_str("<option value=\"\">---------</option>");
                }
                for (choice, label) in spec.choices {
                    let selected = if *choice == self.value {
                        " selected"
                    } else {
                        ""
                    };
                    let _ = write!(
                        options,
                        "<option value=\"{}\"{selected}>{}</option>",
                        escape(choice),
                        escape(label)
                    );
                }
                format!("<select {attrs}>{options}</select>")
            }
            // Neither a password nor a file is written back into the page.
            Widget::Password => format!("<input type=\"password\" {attrs}>"),
            Widget::File => format!("<input type=\"file\" {attrs}>"),
            other => {
                let kind = match other {
                    Widget::Email => "email",
                    Widget::Number => "number",
                    Widget::Date => "date",
                    Widget::Hidden => "hidden",
                    _ => "text",
                };
                format!("<input type=\"{kind}\" {attrs} value=\"{value}\">")
            }
        }
    }
}

fn error_list(errors: &[String], class: &str) -> String {
    if errors.is_empty() {
        return String::new();
    }
    let items: String = errors
        .iter()
        .map(|e| format!("<li>{}</li>", escape(e)))
        .collect();
    format!("<ul class=\"{class}\">{items}</ul>")
}

/// Django's `escape`: `& < > " '` (canter-core's, which its error pages use too).
pub(crate) fn escape(text: &str) -> String {
    canter_core::escape_html(text)
}
