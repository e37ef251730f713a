//! Forms: a struct with `#[derive(Form)]` is a form — its fields' types and `#[form(...)]`
//! attributes say what is required and valid; [`BoundForm`] holds a submission, its per-field
//! errors and, when valid, the typed value; templates render it (`{{ form }}`, or field by
//! field: `{{ form.title.label_tag }} {{ form.title }} {{ form.title.errors }}`).
//!
//! ```
//! use canter_pages::forms::{BoundForm, Form, FormData};
//!
//! #[derive(Form)]
//! #[form(crate = canter_pages)] // not needed through the `canter` crate
//! struct NoteForm {
//!     #[form(max_length = 100)]
//!     title: String,
//!     #[form(widget = "textarea")]
//!     body: Option<String>,
//! }
//!
//! let form = BoundForm::<NoteForm>::bind(FormData::from_pairs([("title", "")]));
//! assert_eq!(form.errors().field("title"), ["This field is required."]);
//! let form = BoundForm::<NoteForm>::bind(FormData::from_pairs([("title", " Hello ")]));
//! let note = form.into_valid().ok().unwrap();
//! assert_eq!((note.title.as_str(), note.body), ("Hello", None));
//! ```

pub(crate) mod data;
mod errors;
mod fields;
#[cfg(feature = "orm")]
mod model_form;
mod render;

pub use canter_macros::Form;
pub use data::FormData;
pub use errors::FormErrors;
pub use fields::{FieldSpec, FormValue, Widget, REQUIRED};
#[cfg(feature = "orm")]
pub use model_form::{ModelForm, SaveError};
pub(crate) use render::{escape, is_rendered_html, FormView};

use canter_core::{Error, Request};

/// A form: what `#[derive(Form)]` writes for a struct.
pub trait Form: Sized + Send + 'static {
    /// The fields, in the struct's order.
    fn fields() -> &'static [FieldSpec];
    /// The typed value from a submission, or every field's errors at once. Files are taken
    /// out of `data`.
    fn from_data(data: &mut FormData) -> Result<Self, FormErrors>;
    /// The values to show in the form (an edit form's initial values).
    fn to_data(&self) -> FormData;
}

/// A form with what was submitted (or its initial values), its errors, and its typed value
/// once valid (Django's bound form).
pub struct BoundForm<F: Form> {
    pub(crate) shown: FormData,
    errors: FormErrors,
    value: Option<F>,
    pub(crate) bound: bool,
}

impl<F: Form> BoundForm<F> {
    /// An empty form, as first shown.
    pub fn unbound() -> Self {
        BoundForm {
            shown: FormData::new(),
            errors: FormErrors::default(),
            value: None,
            bound: false,
        }
    }

    /// A form showing `initial`'s values (an edit form before it is submitted).
    pub fn initial(initial: &F) -> Self {
        BoundForm {
            shown: initial.to_data(),
            ..Self::unbound()
        }
    }

    /// Validates a submission.
    pub fn bind(mut data: FormData) -> Self {
        let shown = FormData::from_pairs(data.values().map(|(k, v)| (k.to_owned(), v.to_owned())));
        let (value, errors) = match F::from_data(&mut data) {
            Ok(value) => (Some(value), FormErrors::default()),
            Err(errors) => (None, errors),
        };
        BoundForm {
            shown,
            errors,
            value,
            bound: true,
        }
    }

    /// Validates the request's form ([`FormData::from_request`]: 400/413/415 for a body that
    /// cannot be read as one).
    pub async fn from_request(req: &mut Request) -> Result<Self, Error> {
        Ok(Self::bind(FormData::from_request(req).await?))
    }

    /// Whether the form holds a submission (Django's `is_bound`), valid or not.
    pub fn is_bound(&self) -> bool {
        self.bound
    }

    /// Submitted, and without errors.
    pub fn is_valid(&self) -> bool {
        self.bound && self.value.is_some() && self.errors.is_empty()
    }

    /// The submission's errors, by field (empty for an unbound or valid form).
    pub fn errors(&self) -> &FormErrors {
        &self.errors
    }

    /// An error found after the fields' own checks (a unique title, a wrong password); `None`
    /// is an error of the whole form. The form is no longer valid.
    pub fn add_error(&mut self, field: Option<&str>, message: impl Into<String>) {
        self.errors.add(field, message);
    }

    /// The valid value, or the form again to show with its errors.
    pub fn into_valid(self) -> Result<F, Self> {
        if self.is_valid() {
            Ok(self.value.expect("a valid form has its value"))
        } else {
            Err(self)
        }
    }

    /// The valid value, without taking it.
    pub fn value(&self) -> Option<&F> {
        self.value.as_ref().filter(|_| self.errors.is_empty())
    }

    /// The form as a template value (also what serializing it into a context gives).
    pub fn to_value(&self) -> minijinja::Value {
        minijinja::Value::from_object(FormView::new(
            F::fields(),
            &self.shown,
            self.errors.clone(),
            self.bound,
        ))
    }
}

impl<F: Form> Default for BoundForm<F> {
    fn default() -> Self {
        Self::unbound()
    }
}

impl<F: Form> std::fmt::Debug for BoundForm<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoundForm")
            .field("bound", &self.bound)
            .field("errors", &self.errors)
            .finish_non_exhaustive()
    }
}

/// Put into a template's context, a form keeps its behaviour (`{{ form }}`, `form.title`).
impl<F: Form> serde::Serialize for BoundForm<F> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(serializer)
    }
}
