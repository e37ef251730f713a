//! Forms over a model (Django's `ModelForm`): `#[derive(Form)]` with `#[form(model = Note)]`
//! on a struct whose fields are some of the model's (same names, same types) copies them onto
//! a row, and the row's own validation (`max_length`, `choices`, validators) and unique
//! constraints come back as the form's errors.

use canter_orm::{Model, ModelExt, OrmError};

use super::{BoundForm, Form};

/// What `#[form(model = M)]` adds to a form: moving its fields between the form and a row.
pub trait ModelForm: Form {
    /// The model whose rows the form edits (`#[form(model = …)]`).
    type Model: Model;
    /// Copies the form's fields onto `row` (the others keep their values).
    fn apply(self, row: &mut Self::Model);
    /// The form's fields from `row` (an edit form's initial values: `BoundForm::initial`).
    fn from_model(row: &Self::Model) -> Self;
}

/// Why a model form was not saved: the form with its errors (show it again), or the database.
#[derive(Debug)]
pub enum SaveError<F: Form> {
    /// The submission (or the row it made) is not valid: the form, with its errors.
    Invalid(BoundForm<F>),
    /// The database failed (other than on a unique constraint, which is a form error).
    Database(OrmError),
}

impl<F: ModelForm> BoundForm<F> {
    /// Django's `form.save()` for a new row: the model's defaults, then the form's fields,
    /// inserted. Errors of the model's validation and of its unique constraints become the
    /// form's.
    pub async fn create(self) -> Result<F::Model, SaveError<F>>
    where
        F::Model: Default,
    {
        self.save_onto(F::Model::default()).await
    }

    /// Django's `ModelForm(instance=row).save()`: the form's fields onto `row`, saved.
    pub async fn save_onto(self, mut row: F::Model) -> Result<F::Model, SaveError<F>> {
        let (form, value) = match self.into_valid() {
            Ok(value) => (BoundForm::<F>::unbound(), value),
            Err(form) => return Err(SaveError::Invalid(form)),
        };
        // The submission is kept for showing the form again, should the row be refused.
        let mut shown = form;
        shown.shown = value.to_data();
        shown.bound = true;
        value.apply(&mut row);
        match row.save().await {
            Ok(()) => Ok(row),
            Err(OrmError::Validation(errors)) => {
                for (field, messages) in errors.fields {
                    let field = F::fields()
                        .iter()
                        .any(|f| f.name == field)
                        .then_some(field.as_str());
                    for message in messages {
                        shown.add_error(field, capitalized(&message));
                    }
                }
                Err(SaveError::Invalid(shown))
            }
            // SQLite's and PostgreSQL's say "unique", MariaDB's "Duplicate entry".
            Err(OrmError::Integrity { message, .. })
                if ["unique", "duplicate"]
                    .iter()
                    .any(|word| message.to_lowercase().contains(word)) =>
            {
                shown.add_error(None, "A row with these values already exists.");
                Err(SaveError::Invalid(shown))
            }
            Err(e) => Err(SaveError::Database(e)),
        }
    }
}

/// The ORM's messages start in lower case; a form's read as sentences.
fn capitalized(message: &str) -> String {
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => {
            let mut text: String = first.to_uppercase().chain(chars).collect();
            if !text.ends_with('.') {
                text.push('.');
            }
            text
        }
        None => String::new(),
    }
}
