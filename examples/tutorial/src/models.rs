//! The models (Django's polls/models.py). After changing one: `cargo run -p polls -- makemigrations`.

use canter::orm::chrono::{DateTime, Utc};
use canter::orm::{ForeignKey, Model};
use serde::Serialize;

#[derive(Model, Serialize, Debug, Clone)]
#[model(app = "polls")]
pub struct Question {
    pub id: i64,
    #[field(max_length = 200)]
    pub question_text: String,
    pub pub_date: DateTime<Utc>,
}

#[derive(Model, Serialize, Debug, Clone)]
#[model(app = "polls")]
pub struct Choice {
    pub id: i64,
    #[field(on_delete = "cascade", related_name = "choices")]
    #[serde(skip)]
    pub question: ForeignKey<Question>,
    #[field(max_length = 200)]
    pub choice_text: String,
    #[field(default = 0)]
    pub votes: i64,
}
