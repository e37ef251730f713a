//! What follows a finished task: its unique claim released, its chord counted (the last member
//! sends the callback), its chain's next step and its callbacks sent.

use serde_json::Value;

use super::Worker;
use crate::broker::TaskMessage;
use crate::error::TaskError;
use crate::result::{TaskResult, TaskStatus};

impl Worker {
    /// A unique task has ended: another with the same arguments may be enqueued.
    pub(super) async fn release_unique(&self, m: &TaskMessage) {
        let unique = self
            .registry
            .tasks
            .get(m.name.as_str())
            .is_some_and(|(_, options)| options.unique.is_some());
        if unique {
            let key = crate::task::unique_key(m);
            if let Err(e) = self.broker.release_unique(&key, &m.id).await {
                tracing::warn!(target: "canter::tasks", id = %m.id, "releasing the unique claim failed (it lapses after an hour): {e}");
            }
        }
    }

    /// Sends what follows a finished task: its chord's callback (if it is the last member),
    /// its chain's next step and its callbacks. False (logged) if the broker could not take
    /// them.
    pub(super) async fn hand_over(
        &self,
        m: &TaskMessage,
        chord: Option<(String, u64, crate::canvas::Signature)>,
        next: Vec<TaskMessage>,
    ) -> bool {
        if let Some((group_id, size, callback)) = chord {
            if let Err(e) = self.finish_chord_part(&group_id, m, size, &callback).await {
                tracing::error!(target: "canter::tasks", id = %m.id, group_id, "the chord's callback could not be sent: {e}");
                return false;
            }
        }
        for next in next {
            let next_id = next.id.clone();
            if let Err(e) = self.broker.publish(next).await {
                tracing::error!(target: "canter::tasks", id = %m.id, next = %next_id, "what follows the task (chain step or callback) could not be sent: {e}");
                return false;
            }
        }
        true
    }

    /// Counts a finished member of a chord by Celery's protocol (see `crate::canvas`), if `m`
    /// is one; the member that completes the chord sends its callback with every member's value
    /// (in the group's order), or fails it if a member failed. False (logged) if the broker
    /// could not take it.
    pub(super) async fn count_chord_part(
        &self,
        m: &TaskMessage,
        state: TaskStatus,
        value: &Value,
    ) -> bool {
        let Some((group_id, index, callback)) = crate::canvas::celery_chord_of(m) else {
            return true;
        };
        let counted = self
            .broker
            .celery_chord_part(&group_id, &m.id, index, state, value.clone())
            .await;
        let parts = match counted {
            Ok(Some(parts)) => parts,
            Ok(None) => return true,
            Err(e) => {
                tracing::error!(target: "canter::tasks", id = %m.id, group_id, "the chord member could not be counted: {e}");
                return false;
            }
        };
        let failed = parts
            .iter()
            .find(|(_, state, _)| matches!(state, TaskStatus::Failure | TaskStatus::Revoked));
        if let Some((id, _, exception)) = failed {
            // Celery's ChordError: the callback fails, it never runs.
            let chord_error = TaskResult {
                status: TaskStatus::Failure,
                result: None,
                error: Some((
                    "ChordError".into(),
                    format!("Dependency {id} raised {exception}"),
                )),
            };
            if let Some(callback_id) = &callback.task_id {
                self.store(callback_id, chord_error, false).await;
            }
            return true;
        }
        let values = parts.into_iter().map(|(_, _, value)| value).collect();
        let message = crate::canvas::chord_callback(&callback, values, m);
        if let Err(e) = self.broker.publish(message).await {
            tracing::error!(target: "canter::tasks", id = %m.id, group_id, "the chord's callback could not be sent: {e}");
            return false;
        }
        true
    }

    /// Counts a finished chord member; the last one sends the callback with every member's
    /// result, in the group's order.
    async fn finish_chord_part(
        &self,
        group_id: &str,
        m: &TaskMessage,
        size: u64,
        callback: &crate::canvas::Signature,
    ) -> Result<(), TaskError> {
        let done = self.broker.chord_part_done(group_id, &m.id).await?;
        if done != Some(size) {
            return Ok(());
        }
        let members: Vec<String> = self
            .broker
            .get_result(&crate::canvas::members_key(group_id))
            .await?
            .and_then(|r| r.result)
            .and_then(|ids| serde_json::from_value(ids).ok())
            .ok_or_else(|| {
                TaskError::Broker(format!(
                    "chord {group_id}: its members' record is gone (older than the results' expiry?)"
                ))
            })?;
        let mut results = Vec::with_capacity(members.len());
        for member in &members {
            let stored = self.broker.get_result(member).await?;
            results.push(stored.and_then(|r| r.result).unwrap_or(Value::Null));
        }
        self.broker
            .publish(crate::canvas::chord_callback(callback, results, m))
            .await?;
        // Sent: a redelivered member is not counted again, so the record is done with.
        let _ = self
            .broker
            .forget(&crate::canvas::members_key(group_id))
            .await;
        Ok(())
    }
}
