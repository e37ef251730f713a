//! The article's model, and the demo's notes.
//!
//! ```python
//! class MyModel(models.Model):
//!     name = models.CharField(max_length=100)
//!     active = models.BooleanField()
//! ```

use canter::orm::Model;
use serde::Serialize;

#[derive(Model, Serialize, Debug, Clone, Default, PartialEq)]
#[model(app = "demo")]
pub struct MyModel {
    pub id: i64,
    #[field(max_length = 100)]
    pub name: String,
    pub active: bool,
}

/// A note posted to `/api/notes/` (the class-based view), kept in the database rather than in
/// the process (which grew with every POST). At most [`Note::MAX_LENGTH`] characters: a longer
/// one is refused with 400 by the ORM's validation.
#[derive(Model, Serialize, Debug, Clone, PartialEq)]
#[model(app = "demo")]
pub struct Note {
    pub id: i64,
    /// Given by the notes page's form; notes posted to the API have none.
    #[field(max_length = 100, default = "")]
    pub title: String,
    #[field(max_length = 1000)]
    pub text: String,
}

impl Note {
    /// The `max_length` of `text`.
    pub const MAX_LENGTH: usize = 1000;
}
