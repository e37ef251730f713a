//! Chords on the database result backend, as django-celery-results counts them: the producer
//! writes a `ChordCounter` row (the members' result tuples, the count at the chord's size);
//! each finished member takes one off in a transaction holding the row (`SELECT … FOR UPDATE`;
//! SQLite's write transaction); the one that reaches 0 deletes the row and gathers every
//! member's result from the task result table. A member delivered again after a worker died
//! counts again, as with Python's workers on this backend.

use canter_orm::transaction::atomic_using;
use canter_orm::OrmError;
use serde_json::{json, Value};

use super::models::ChordCounterRow;
use super::DatabaseResultBackend;
use crate::broker::ChordPart;
use crate::brokers::celery;
use crate::error::TaskError;
use crate::result::TaskStatus;

/// What a finished member found: the chord not complete yet, or its members' ids (complete:
/// the row is gone).
enum Counted {
    Pending,
    Complete(Vec<String>),
}

impl DatabaseResultBackend {
    /// Celery's `apply_chord`: the counter row for chord `group_id` and its `members`.
    pub(super) async fn start_chord(
        &self,
        group_id: &str,
        members: &[String],
    ) -> Result<(), TaskError> {
        let tuples: Vec<Value> = members.iter().map(|id| json!([[id, null], null])).collect();
        let count = i32::try_from(members.len())
            .map_err(|_| TaskError::Broker(format!("a chord of {} members", members.len())))?;
        let row = ChordCounterRow {
            group_id: group_id.to_owned(),
            sub_tasks: Value::Array(tuples).to_string(),
            count,
            ..Default::default()
        };
        let alias = self.alias.as_str();
        self.run(ChordCounterRow::objects().using(alias).create(row))
            .await
            .map(drop)
    }

    /// Celery's `on_chord_part_return`: `member` of chord `group_id` finished with `state` and
    /// `value`; every member's outcome, in the group's order, for the one that completes it.
    pub(super) async fn chord_part(
        &self,
        group_id: &str,
        member: &str,
        state: TaskStatus,
        value: Value,
    ) -> Result<Option<Vec<ChordPart>>, TaskError> {
        let alias = self.alias.as_str();
        let counted = self
            .run(atomic_using(alias, async move {
                let rows = || ChordCounterRow::objects().using(alias);
                let by_group = || rows().filter(ChordCounterRow::group_id.eq(group_id.to_owned()));
                // `count` is never read back (Django makes it INT UNSIGNED on MariaDB, which the
                // ORM's integers do not decode): the row is locked without it, and the count
                // taken down only while above 1 — no row changed means this member completes it.
                let Some(sub_tasks) = locked_sub_tasks(by_group()).await? else {
                    tracing::warn!(target: "canter::tasks", group_id, "no chord counter for this group (its chord was started elsewhere, or completed)");
                    return Ok::<_, OrmError>(Counted::Pending);
                };
                let one_less = ChordCounterRow::count.set(ChordCounterRow::count.f() - 1);
                let above_one = by_group().filter(ChordCounterRow::count.gt(1));
                if above_one.update([one_less]).await? > 0 {
                    return Ok(Counted::Pending);
                }
                by_group().delete().await?;
                Ok(Counted::Complete(member_ids(&sub_tasks)))
            }))
            .await?;
        let Counted::Complete(ids) = counted else {
            return Ok(None);
        };
        let mut parts = Vec::with_capacity(ids.len());
        for id in ids {
            if id == member {
                parts.push((id, state, value.clone()));
                continue;
            }
            let stored = self.load(&id).await?;
            let part = match stored {
                Some(found) => {
                    let value = match (&found.error, found.result) {
                        (Some((kind, message)), _) => {
                            celery::exception(kind, message, celery::ERROR_MODULE)
                        }
                        (None, result) => result.unwrap_or(Value::Null),
                    };
                    (id, found.status, value)
                }
                None => (id, TaskStatus::Pending, Value::Null),
            };
            parts.push(part);
        }
        Ok(Some(parts))
    }

    /// canter's own chord count (a chord sent by a producer whose results are elsewhere):
    /// `member` recorded among the finished ones of `group_id`; how many have finished, or
    /// `None` if it was already recorded.
    pub(super) async fn count_member(
        &self,
        group_id: &str,
        member: &str,
    ) -> Result<Option<u64>, TaskError> {
        // Two first members at once both create the row: the loser counts again, updating.
        let mut attempts = 0;
        loop {
            attempts += 1;
            let counted = self
                .databases
                .clone()
                .scope(self.record_member(group_id, member))
                .await;
            match counted {
                Err(OrmError::Integrity { .. }) if attempts < 3 => continue,
                other => return other.map_err(super::orm_error),
            }
        }
    }

    async fn record_member(&self, group_id: &str, member: &str) -> Result<Option<u64>, OrmError> {
        let alias = self.alias.as_str();
        atomic_using(alias, async move {
            let rows = || ChordCounterRow::objects().using(alias);
            let by_group = || rows().filter(ChordCounterRow::group_id.eq(group_id.to_owned()));
            let found = locked_sub_tasks(by_group()).await?;
            let mut finished: Vec<String> = found
                .as_deref()
                .and_then(|text| serde_json::from_str(text).ok())
                .unwrap_or_default();
            if finished.iter().any(|id| id == member) {
                return Ok(None);
            }
            finished.push(member.to_owned());
            let sub_tasks = json!(finished).to_string();
            let count = finished.len() as i32;
            if found.is_some() {
                let changes = [
                    ChordCounterRow::sub_tasks.set(sub_tasks),
                    ChordCounterRow::count.set(count),
                ];
                by_group().update(changes).await?;
            } else {
                let row = ChordCounterRow {
                    group_id: group_id.to_owned(),
                    sub_tasks,
                    count,
                    ..Default::default()
                };
                rows().create(row).await?;
            }
            Ok(Some(finished.len() as u64))
        })
        .await
    }
}

/// The counter's `sub_tasks`, its row locked until the transaction ends (`None`: no such row).
async fn locked_sub_tasks(
    counter: canter_orm::QuerySet<ChordCounterRow>,
) -> Result<Option<String>, OrmError> {
    let rows = counter
        .select_for_update()
        .values_list(&["sub_tasks"])
        .await?;
    Ok(rows
        .into_iter()
        .next()
        .and_then(|row| row.into_iter().next())
        .map(|text| text.as_str().map(str::to_owned).unwrap_or_default()))
}

/// The members' ids in a counter's `sub_tasks` (result tuples `[[id, parent], children]`).
fn member_ids(sub_tasks: &str) -> Vec<String> {
    let tuples: Vec<Value> = serde_json::from_str(sub_tasks).unwrap_or_default();
    tuples
        .iter()
        .filter_map(|tuple| {
            let head = tuple.get(0)?;
            head.get(0).unwrap_or(head).as_str().map(str::to_owned)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn member_ids_read_celerys_result_tuples() {
        let python = r#"[[["a", null], null], [["b", [["p", null], null]], null], ["c", null]]"#;
        assert_eq!(super::member_ids(python), ["a", "b", "c"]);
        assert!(super::member_ids("not json").is_empty());
    }
}
