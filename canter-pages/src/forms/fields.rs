//! A form's fields: what each is ([`FieldSpec`], written by `#[derive(Form)]`) and how a Rust
//! type reads itself from submitted text ([`FormValue`]), with Django's messages.

use crate::forms::FormData;
use crate::uploads::UploadedFile;

/// How a field is shown (Django's widget).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Widget {
    /// `<input type="text">`, for text.
    Text,
    /// `<input type="email">`.
    Email,
    /// `<input type="password">`, never rendered with its value.
    Password,
    /// `<input type="number">`, for integers and floats.
    Number,
    /// `<input type="checkbox">`, for `bool` (unchecked is `false`).
    Checkbox,
    /// `<textarea>`, for long text.
    Textarea,
    /// `<select>` with the field's choices.
    Select,
    /// `<input type="date">`, for dates.
    Date,
    /// `<input type="file">`, for uploads (the form must be multipart).
    File,
    /// `<input type="hidden">`.
    Hidden,
}

impl Widget {
    /// The widget a derive names in `#[form(widget = "textarea")]`.
    pub fn from_name(name: &str) -> Option<Widget> {
        Some(match name {
            "text" => Widget::Text,
            "email" => Widget::Email,
            "password" => Widget::Password,
            "number" => Widget::Number,
            "checkbox" => Widget::Checkbox,
            "textarea" => Widget::Textarea,
            "select" => Widget::Select,
            "date" => Widget::Date,
            "file" => Widget::File,
            "hidden" => Widget::Hidden,
            _ => return None,
        })
    }
}

/// One field of a form, as `#[derive(Form)]` describes it from the struct and its
/// `#[form(...)]` attributes.
#[derive(Debug, Clone, Copy)]
pub struct FieldSpec {
    /// The struct field's name, which is also the form field's (`name="…"` in the HTML).
    pub name: &'static str,
    /// The label shown (`#[form(label = "…")]`, else the name with `_` as spaces, capitalised).
    pub label: &'static str,
    /// How the field is drawn and read.
    pub widget: Widget,
    /// False for `Option<_>` and `bool` fields (an unchecked box is `false`, not missing).
    pub required: bool,
    /// The longest text accepted, in characters.
    pub max_length: Option<usize>,
    /// The shortest text accepted, in characters.
    pub min_length: Option<usize>,
    /// The smallest number accepted.
    pub min: Option<f64>,
    /// The largest number accepted.
    pub max: Option<f64>,
    /// `(value, label)` pairs; a submitted value must be one of them.
    pub choices: &'static [(&'static str, &'static str)],
    /// The value must look like an email address (Django's `EmailField`).
    pub email: bool,
    /// A hint shown under the field (Django's `help_text`).
    pub help_text: &'static str,
}

impl FieldSpec {
    /// A field with no limits, for `#[derive(Form)]` to fill in with struct-update syntax.
    pub const fn new(name: &'static str, label: &'static str, widget: Widget) -> Self {
        FieldSpec {
            name,
            label,
            widget,
            required: true,
            max_length: None,
            min_length: None,
            min: None,
            max: None,
            choices: &[],
            email: false,
            help_text: "",
        }
    }
}

/// Django's message for a missing value.
pub const REQUIRED: &str = "This field is required.";

/// Whether a checkbox's submitted value means checked (Django's `CheckboxInput`): anything but
/// empty, `false`, `0` or `off`.
pub(crate) fn checked(value: &str) -> bool {
    !matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "" | "false" | "0" | "off"
    )
}

/// A type a form field can hold: read from the submitted values of its name, and shown again.
pub trait FormValue: Sized {
    /// The widget this type gets unless the field names another.
    const WIDGET: Widget;
    /// Whether a value must be given (`Option<_>` and `bool` need none).
    const REQUIRED: bool = true;
    /// Reads the field from the submission; `Err` is the field's message.
    fn from_form(spec: &FieldSpec, data: &mut FormData) -> Result<Self, String>;
    /// The text shown in the field when the form is shown again (empty for none).
    fn to_form(&self) -> String;
}

/// The field's text as Django's `CharField` sees it: stripped; `None` when empty.
fn text(spec: &FieldSpec, data: &FormData) -> Option<String> {
    let value = data.get(spec.name)?.trim();
    (!value.is_empty()).then(|| value.to_owned())
}

/// Length, choices and e-mail checks on a text value.
fn check_text(spec: &FieldSpec, value: &str) -> Result<(), String> {
    let len = value.chars().count();
    if let Some(max) = spec.max_length.filter(|max| len > *max) {
        return Err(format!(
            "Ensure this value has at most {max} characters (it has {len})."
        ));
    }
    if let Some(min) = spec.min_length.filter(|min| len < *min) {
        return Err(format!(
            "Ensure this value has at least {min} characters (it has {len})."
        ));
    }
    if !spec.choices.is_empty() && !spec.choices.iter().any(|(v, _)| *v == value) {
        return Err(format!(
            "Select a valid choice. {value} is not one of the available choices."
        ));
    }
    if spec.email && !looks_like_email(value) {
        return Err("Enter a valid email address.".to_owned());
    }
    Ok(())
}

/// `local@domain.tld`, without spaces: what a form can check without sending mail.
fn looks_like_email(value: &str) -> bool {
    let Some((local, domain)) = value.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && !value.contains(char::is_whitespace)
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
}

fn check_range(spec: &FieldSpec, value: f64) -> Result<(), String> {
    if let Some(max) = spec.max.filter(|max| value > *max) {
        return Err(format!("Ensure this value is less than or equal to {max}."));
    }
    if let Some(min) = spec.min.filter(|min| value < *min) {
        return Err(format!(
            "Ensure this value is greater than or equal to {min}."
        ));
    }
    Ok(())
}

impl FormValue for String {
    const WIDGET: Widget = Widget::Text;
    fn from_form(spec: &FieldSpec, data: &mut FormData) -> Result<Self, String> {
        let value = text(spec, data).ok_or_else(|| REQUIRED.to_owned())?;
        check_text(spec, &value)?;
        Ok(value)
    }
    fn to_form(&self) -> String {
        self.clone()
    }
}

macro_rules! number_value {
    ($($ty:ty => $message:literal),*) => {$(
        impl FormValue for $ty {
            const WIDGET: Widget = Widget::Number;
            fn from_form(spec: &FieldSpec, data: &mut FormData) -> Result<Self, String> {
                let value = text(spec, data).ok_or_else(|| REQUIRED.to_owned())?;
                let number: $ty = value.parse().map_err(|_| $message.to_owned())?;
                #[allow(clippy::cast_precision_loss)]
                check_range(spec, number as f64)?;
                Ok(number)
            }
            fn to_form(&self) -> String {
                self.to_string()
            }
        }
    )*};
}

number_value!(
    i64 => "Enter a whole number.",
    i32 => "Enter a whole number.",
    u32 => "Enter a whole number.",
    u64 => "Enter a whole number.",
    f64 => "Enter a number."
);

impl FormValue for bool {
    const WIDGET: Widget = Widget::Checkbox;
    const REQUIRED: bool = false;
    /// A checkbox: present and not `false`/`0`/`off` is checked (Django's `CheckboxInput`).
    fn from_form(spec: &FieldSpec, data: &mut FormData) -> Result<Self, String> {
        Ok(data.get(spec.name).is_some_and(checked))
    }
    fn to_form(&self) -> String {
        if *self {
            "on".to_owned()
        } else {
            String::new()
        }
    }
}

impl FormValue for chrono::NaiveDate {
    const WIDGET: Widget = Widget::Date;
    fn from_form(spec: &FieldSpec, data: &mut FormData) -> Result<Self, String> {
        let value = text(spec, data).ok_or_else(|| REQUIRED.to_owned())?;
        chrono::NaiveDate::parse_from_str(&value, "%Y-%m-%d")
            .map_err(|_| "Enter a valid date.".to_owned())
    }
    fn to_form(&self) -> String {
        self.format("%Y-%m-%d").to_string()
    }
}

impl FormValue for UploadedFile {
    const WIDGET: Widget = Widget::File;
    fn from_form(spec: &FieldSpec, data: &mut FormData) -> Result<Self, String> {
        let file = data.take_file(spec.name).ok_or_else(|| {
            if data.get(spec.name).is_some() {
                "No file was submitted. Check the encoding type on the form.".to_owned()
            } else {
                REQUIRED.to_owned()
            }
        })?;
        if file.size() == 0 {
            return Err("The submitted file is empty.".to_owned());
        }
        Ok(file)
    }
    /// A file input is never filled in again (browsers do not allow it).
    fn to_form(&self) -> String {
        String::new()
    }
}

impl<T: FormValue> FormValue for Option<T> {
    const WIDGET: Widget = T::WIDGET;
    const REQUIRED: bool = false;
    fn from_form(spec: &FieldSpec, data: &mut FormData) -> Result<Self, String> {
        let given = if T::WIDGET == Widget::File {
            data.has_file(spec.name)
        } else {
            data.get(spec.name).is_some_and(|v| !v.trim().is_empty())
        };
        if given {
            T::from_form(spec, data).map(Some)
        } else {
            Ok(None)
        }
    }
    fn to_form(&self) -> String {
        self.as_ref().map(T::to_form).unwrap_or_default()
    }
}
