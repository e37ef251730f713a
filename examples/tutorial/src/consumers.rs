//! WebSocket consumers (Channels' consumers.py).

use canter::channels::{ConsumerError, Context, JsonConsumer, Scope};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::tasks::results_group;

/// What a results group carries: the counts the `publish_results` task sends.
#[derive(Deserialize)]
#[serde(tag = "type")]
pub enum PollEvent {
    #[serde(rename = "poll.results")]
    Results { choices: Value },
}

/// `ws/<question_id>/results/`: joins the question's group and passes the counts on.
pub struct ResultsConsumer {
    group: String,
}

impl ResultsConsumer {
    pub fn new(scope: &Scope) -> Self {
        let question_id: i64 = scope.param("question_id").unwrap_or_default();
        ResultsConsumer {
            group: results_group(question_id),
        }
    }
}

impl JsonConsumer for ResultsConsumer {
    type Event = PollEvent;

    async fn connect(&mut self, ctx: &mut Context) -> Result<(), ConsumerError> {
        ctx.group_add(&self.group).await?;
        ctx.accept().await
    }

    async fn receive_json(
        &mut self,
        _ctx: &mut Context,
        _value: Value,
    ) -> Result<(), ConsumerError> {
        Ok(()) // the page only listens
    }

    async fn event(&mut self, ctx: &mut Context, event: PollEvent) -> Result<(), ConsumerError> {
        let PollEvent::Results { choices } = event;
        ctx.send_json(&json!({ "choices": choices })).await
    }
}
