//! The article's model.
//!
//! ```python
//! class MyModel(models.Model):
//!     name = models.CharField(max_length=100)
//!     active = models.BooleanField()
//! ```

use canter::orm::Model;
use serde::Serialize;

#[derive(Model, Serialize, Debug, Clone, PartialEq)]
#[model(app = "demo")]
pub struct MyModel {
    pub id: i64,
    #[field(max_length = 100)]
    pub name: String,
    pub active: bool,
}
