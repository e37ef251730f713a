//! Background tasks (Celery's tasks.py): under `runserver` an in-process worker runs them;
//! `cargo run -p polls -- worker` runs a worker of its own.

use canter::channels::{channel_layer, Message};
use canter::tasks::{task, TaskError, Tasks};
use serde_json::json;

use crate::models::{Choice, ChoiceQuestionReverse, Question};

/// Sends a question's vote counts to everyone watching its results page.
#[task(name = "polls.publish_results")]
pub async fn publish_results(question_id: i64) -> Result<(), TaskError> {
    let failed = |e: &dyn std::fmt::Display| TaskError::Failed {
        kind: "PublishError".into(),
        message: e.to_string(),
    };
    let question = Question::objects()
        .filter(Question::id.eq(question_id))
        .get()
        .await;
    let question = question.map_err(|e| failed(&e))?;
    let choices = question.choices().order_by([Choice::id.asc()]).await;
    let counts: Vec<_> = choices
        .map_err(|e| failed(&e))?
        .into_iter()
        .map(|c| json!({"id": c.id, "votes": c.votes}))
        .collect();
    let message = Message::new("poll.results").with("choices", counts);
    let layer = channel_layer().map_err(|e| failed(&e))?;
    layer
        .group_send(&results_group(question_id), message)
        .await
        .map_err(|e| failed(&e))
}

/// The group of a question's results page.
pub fn results_group(question_id: i64) -> String {
    format!("poll_{question_id}")
}

/// The tasks the app's workers know by name.
pub fn tasks() -> Tasks {
    Tasks::new().task::<publish_results>()
}
