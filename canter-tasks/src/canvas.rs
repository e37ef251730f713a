//! Canvas (Celery's): signatures, and chains of them — `chain(a, b, c)` runs `a`, passes its
//! result to `b` (prepended to `b`'s arguments, unless `b` is immutable), and so on; groups —
//! `group([a, b])` runs them in parallel and collects their results in order; and chords —
//! `chord(group, callback)` runs the callback with the group's results once all have finished.
//!
//! On Redis (as the broker or the result backend) chords go by Celery's protocol: the members
//! carry the chord's group id and their index (`group`, `group_index` headers) and the callback
//! (`embed.chord`), and whichever worker finishes a member, canter's or Python's, counts it in
//! Celery's record (`celery-taskset-meta-<group>.j/.s`); the one that completes the chord sends
//! the callback. So a chord may mix canter and Python members and callbacks either way. On the
//! other brokers the broker counts them (a record of the members' ids, and a counter).
//!
//! A chain travels in the message as Celery protocol v2's `embed.chain` (signatures, the next
//! one last), so on Redis a chain can mix canter and Python Celery tasks: whichever worker runs a
//! step sends the next one.
//!
//! Callbacks (Celery's `link`) run after a task succeeds, with its result first in their
//! arguments (unless immutable); error callbacks (`link_error`) run after it fails for good,
//! with the failed task's id first (Celery's errback called as a task). Both travel as the
//! message's `embed.callbacks` / `embed.errbacks`, so Python workers run canter's and the
//! other way round.
//!
//! ```no_run
//! # async fn demo() -> Result<(), canter_tasks::TaskError> {
//! use canter_tasks::canvas::{chain, Signature};
//! use serde_json::json;
//! // (2 + 3) + 4, then the total times 10 (Python's `chain(add.s(2, 3), add.s(4), mul.s(10))`)
//! let total = chain(vec![
//!     Signature::new("demo.add", json!([2, 3])),
//!     Signature::new("demo.add", json!([4])),
//!     Signature::new("py.mul", json!([10])).queue("python"),
//! ])
//! .apply_async()
//! .await?;
//! assert_eq!(total.get(std::time::Duration::from_secs(10)).await?, json!(90));
//! # Ok(()) }
//! ```

use serde_json::{json, Value};

use crate::broker::{broker, TaskMessage};
use crate::error::TaskError;
use crate::result::AsyncResult;
use crate::task::TaskOptions;
use crate::ApplyOptions;

/// A task with its arguments (Celery's `signature`, `add.s(…)`).
#[derive(Debug, Clone, PartialEq)]
pub struct Signature {
    pub task: String,
    /// Positional arguments, a JSON array (in a chain, the previous result comes first).
    pub args: Value,
    /// Keyword arguments, a JSON object (`{}`: none).
    pub kwargs: Value,
    /// The queue to send it to (default `celery`).
    pub queue: Option<String>,
    /// Immutable (`add.si(…)`): the previous result is not passed in.
    pub immutable: bool,
    pub task_id: Option<String>,
    /// Run after it succeeds, with its result (Celery's `link`).
    pub link: Vec<Signature>,
    /// Run after it fails for good, with its id (Celery's `link_error`).
    pub link_error: Vec<Signature>,
}

impl Signature {
    pub fn new(task: &str, args: Value) -> Self {
        Signature {
            task: task.to_owned(),
            args,
            kwargs: json!({}),
            queue: None,
            immutable: false,
            task_id: None,
            link: Vec::new(),
            link_error: Vec::new(),
        }
    }

    /// Passes these keyword arguments (a JSON object; Celery's `add.s(2, b=3)`), besides the
    /// positional ones.
    pub fn kwargs(mut self, kwargs: Value) -> Self {
        self.kwargs = kwargs;
        self
    }

    /// Adds a callback: `callback` runs with this task's result first in its arguments once
    /// it succeeds (Celery's `sig.link(callback)`).
    pub fn link(mut self, callback: Signature) -> Self {
        self.link.push(callback);
        self
    }

    /// Adds an error callback: `errback` runs with this task's id first in its arguments once
    /// it fails for good (Celery's `sig.link_error(errback)`).
    pub fn link_error(mut self, errback: Signature) -> Self {
        self.link_error.push(errback);
        self
    }

    /// Sends it; the handle is this task's.
    pub async fn apply_async(mut self) -> Result<AsyncResult<Value>, TaskError> {
        let id = self
            .task_id
            .get_or_insert_with(|| uuid::Uuid::new_v4().to_string())
            .clone();
        broker()?.publish(member_message(&self, None)).await?;
        Ok(AsyncResult::new(id))
    }

    /// The previous result is not passed in (Celery's `si`).
    pub fn immutable(mut self) -> Self {
        self.immutable = true;
        self
    }

    /// Runs under this id (Celery's `sig.set(task_id=…)`), to hold its handle beforehand.
    pub fn task_id(mut self, id: impl Into<String>) -> Self {
        self.task_id = Some(id.into());
        self
    }

    pub fn queue(mut self, queue: &str) -> Self {
        self.queue = Some(queue.to_owned());
        self
    }

    /// Celery's signature dict.
    fn to_celery(&self) -> Value {
        let mut options = json!({});
        if let Some(id) = &self.task_id {
            options["task_id"] = json!(id);
        }
        if let Some(queue) = &self.queue {
            options["queue"] = json!(queue);
        }
        if !self.link.is_empty() {
            options["link"] = self.link.iter().map(Signature::to_celery).collect();
        }
        if !self.link_error.is_empty() {
            options["link_error"] = self.link_error.iter().map(Signature::to_celery).collect();
        }
        json!({
            "task": self.task,
            "args": self.args,
            "kwargs": self.kwargs,
            "options": options,
            "subtask_type": null,
            "immutable": self.immutable,
        })
    }

    /// Reads Celery's signature dict (written by canter or by Python).
    fn from_celery(value: &Value) -> Option<Signature> {
        let options = value.get("options");
        let option = |key: &str| {
            options
                .and_then(|o| o.get(key))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        Some(Signature {
            task: value.get("task")?.as_str()?.to_owned(),
            args: value
                .get("args")
                .cloned()
                .filter(Value::is_array)
                .unwrap_or(json!([])),
            kwargs: value
                .get("kwargs")
                .cloned()
                .filter(Value::is_object)
                .unwrap_or(json!({})),
            queue: option("queue"),
            immutable: value
                .get("immutable")
                .and_then(Value::as_bool)
                .unwrap_or(false),
            task_id: option("task_id"),
            link: signatures(options.and_then(|o| o.get("link"))),
            link_error: signatures(options.and_then(|o| o.get("link_error"))),
        })
    }
}

/// Signatures from Celery's `link` / `callbacks` value: a list of signature dicts, or one.
fn signatures(value: Option<&Value>) -> Vec<Signature> {
    match value {
        Some(Value::Array(list)) => list.iter().filter_map(Signature::from_celery).collect(),
        Some(one @ Value::Object(_)) => Signature::from_celery(one).into_iter().collect(),
        _ => Vec::new(),
    }
}

fn embed_of(rest: &[Value]) -> Option<Value> {
    (!rest.is_empty())
        .then(|| json!({"callbacks": null, "errbacks": null, "chain": rest, "chord": null}))
}

/// A chain of signatures; see the module docs.
#[derive(Debug, Clone)]
pub struct Chain(Vec<Signature>);

pub fn chain(signatures: Vec<Signature>) -> Chain {
    Chain(signatures)
}

impl Chain {
    /// Adds a callback run with the last task's result (Celery's `chain.link`).
    pub fn link(mut self, callback: Signature) -> Self {
        if let Some(last) = self.0.last_mut() {
            last.link.push(callback);
        }
        self
    }

    /// Adds an error callback to every step: whichever fails, it runs with that step's id
    /// (Celery's `chain.link_error`).
    pub fn link_error(mut self, errback: Signature) -> Self {
        for step in &mut self.0 {
            step.link_error.push(errback.clone());
        }
        self
    }

    /// Sends the first task (carrying the rest); the handle is the *last* task's, whose id is
    /// chosen now (Celery's chain result).
    pub async fn apply_async(self) -> Result<AsyncResult<Value>, TaskError> {
        let mut steps = self.0;
        if steps.is_empty() {
            return Err(TaskError::Serialization("an empty chain".into()));
        }
        for step in &mut steps {
            step.task_id
                .get_or_insert_with(|| uuid::Uuid::new_v4().to_string());
        }
        let last = steps
            .last()
            .and_then(|s| s.task_id.clone())
            .unwrap_or_default();
        let first = steps.remove(0);
        let rest: Vec<Value> = steps.iter().rev().map(Signature::to_celery).collect();
        broker()?
            .publish(member_message(&first, embed_of(&rest)))
            .await?;
        Ok(AsyncResult::new(last))
    }
}

/// Signatures run in parallel; see the module docs.
#[derive(Debug, Clone)]
pub struct Group(Vec<Signature>);

pub fn group(signatures: Vec<Signature>) -> Group {
    Group(signatures)
}

/// A group's results (Celery's `GroupResult`).
#[derive(Debug, Clone)]
pub struct GroupResult {
    pub id: String,
    pub children: Vec<AsyncResult<Value>>,
}

impl GroupResult {
    /// Every member's value, in the group's order; the first failure if one failed.
    pub async fn get(&self, timeout: std::time::Duration) -> Result<Vec<Value>, TaskError> {
        let deadline = std::time::Instant::now() + timeout;
        let mut values = Vec::with_capacity(self.children.len());
        for child in &self.children {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            values.push(child.get(left).await?);
        }
        Ok(values)
    }
}

impl Group {
    pub async fn apply_async(self) -> Result<GroupResult, TaskError> {
        let id = uuid::Uuid::new_v4().to_string();
        let mut children = Vec::new();
        for member in self.0 {
            let message = member_message(&member, None);
            children.push(AsyncResult::new(message.id.clone()));
            broker()?.publish(message).await?;
        }
        Ok(GroupResult { id, children })
    }
}

/// The message that runs `member`, carrying `embed` and the member's callbacks.
fn member_message(member: &Signature, embed: Option<Value>) -> TaskMessage {
    let mut message = crate::broker::message(
        &member.task,
        &TaskOptions::default(),
        member.args.clone(),
        ApplyOptions {
            queue: member.queue.clone(),
            task_id: member.task_id.clone(),
            ..Default::default()
        },
    );
    message.kwargs = member.kwargs.clone();
    message.embed = with_callbacks(embed, &member.link, &member.link_error);
    message
}

/// `embed` with `link` and `link_error` as its `callbacks` and `errbacks`.
pub(crate) fn with_callbacks(
    embed: Option<Value>,
    link: &[Signature],
    link_error: &[Signature],
) -> Option<Value> {
    if link.is_empty() && link_error.is_empty() {
        return embed;
    }
    let mut embed = embed.unwrap_or_else(
        || json!({"callbacks": null, "errbacks": null, "chain": null, "chord": null}),
    );
    let list = |sigs: &[Signature]| -> Value {
        if sigs.is_empty() {
            Value::Null
        } else {
            sigs.iter().map(Signature::to_celery).collect()
        }
    };
    embed["callbacks"] = list(link);
    embed["errbacks"] = list(link_error);
    Some(embed)
}

/// What `finished` links to once it returned `result`: its callbacks, each with the result
/// first in its arguments (unless immutable).
pub(crate) fn callbacks(finished: &TaskMessage, result: &Value) -> Vec<TaskMessage> {
    let embed = finished.embed.as_ref();
    signatures(embed.and_then(|e| e.get("callbacks")))
        .into_iter()
        .map(|callback| member_message(&prepend(callback, result.clone()), None))
        .map(|message| child_of(message, finished))
        .collect()
}

/// What `failed` links to once it failed for good: its error callbacks, each with the failed
/// task's id first in its arguments (unless immutable).
pub(crate) fn errbacks(failed: &TaskMessage) -> Vec<TaskMessage> {
    let embed = failed.embed.as_ref();
    signatures(embed.and_then(|e| e.get("errbacks")))
        .into_iter()
        .map(|errback| member_message(&prepend(errback, json!(failed.id)), None))
        .map(|message| child_of(message, failed))
        .collect()
}

/// `message` sent by the worker after `parent`: `parent` is its parent, their root the same.
fn child_of(mut message: TaskMessage, parent: &TaskMessage) -> TaskMessage {
    crate::request::descend_from(&mut message, parent);
    message
}

/// `sig` with `value` first in its arguments, unless it is immutable.
fn prepend(sig: Signature, value: Value) -> Signature {
    if sig.immutable {
        return sig;
    }
    let mut args = vec![value];
    args.extend(sig.args.as_array().cloned().unwrap_or_default());
    Signature {
        args: Value::Array(args),
        ..sig
    }
}

/// A group and a callback run with its results; see the module docs.
pub fn chord(header: Group, callback: Signature) -> Chord {
    Chord { header, callback }
}

#[derive(Debug, Clone)]
pub struct Chord {
    header: Group,
    callback: Signature,
}

impl Chord {
    /// Sends the members; the handle is the callback's (its id is chosen now).
    pub async fn apply_async(self) -> Result<AsyncResult<Value>, TaskError> {
        let Chord {
            header,
            mut callback,
        } = self;
        if header.0.is_empty() {
            return Err(TaskError::Serialization("a chord of an empty group".into()));
        }
        let callback_id = callback
            .task_id
            .get_or_insert_with(|| uuid::Uuid::new_v4().to_string())
            .clone();
        let mut members = header.0;
        for member in &mut members {
            member
                .task_id
                .get_or_insert_with(|| uuid::Uuid::new_v4().to_string());
        }
        if broker()?.celery_chords() {
            return celery_chord(members, callback).await;
        }
        let ids: Vec<&str> = members
            .iter()
            .filter_map(|m| m.task_id.as_deref())
            .collect();
        // The members' ids (in order) are stored once, under the group's id, for the last
        // member to gather their results: each member carries only the group's id and size
        // (a message per member carrying every id would make a chord's cost grow with the
        // square of its size).
        let group_id = uuid::Uuid::new_v4().to_string();
        let record = crate::result::TaskResult {
            status: crate::result::TaskStatus::Success,
            result: Some(json!(ids)),
            error: None,
        };
        broker()?
            .store_result(&members_key(&group_id), record)
            .await?;
        // Celery's embed.chord is the callback signature; canter adds the group's id and size
        // to the callback's options.
        let mut chord = callback.to_celery();
        chord["options"]["group_id"] = json!(group_id);
        chord["options"]["chord_size"] = json!(ids.len());
        let embed = json!({"callbacks": null, "errbacks": null, "chain": null, "chord": chord});
        for member in &members {
            broker()?
                .publish(member_message(member, Some(embed.clone())))
                .await?;
        }
        Ok(AsyncResult::new(callback_id))
    }
}

/// A chord by Celery's protocol (see the module docs): its size recorded, each member sent with
/// the group id, its index and the callback.
async fn celery_chord(
    members: Vec<Signature>,
    callback: Signature,
) -> Result<AsyncResult<Value>, TaskError> {
    let broker = broker()?;
    let group_id = uuid::Uuid::new_v4().to_string();
    let ids: Vec<String> = members.iter().filter_map(|m| m.task_id.clone()).collect();
    broker.start_celery_chord(&group_id, &ids).await?;
    let embed =
        json!({"callbacks": null, "errbacks": null, "chain": null, "chord": callback.to_celery()});
    for (index, member) in members.iter().enumerate() {
        let mut message = member_message(member, Some(embed.clone()));
        message.group = Some(group_id.clone());
        message.group_index = Some(index as u64);
        broker.publish(message).await?;
    }
    Ok(AsyncResult::new(callback.task_id.unwrap_or_default()))
}

/// A finished member of a chord by Celery's protocol: the group id, its index, the callback.
pub(crate) fn celery_chord_of(finished: &TaskMessage) -> Option<(String, Option<u64>, Signature)> {
    let group = finished.group.clone()?;
    let chord = finished.embed.as_ref()?.get("chord")?;
    // canter's own chords name their group in the callback's options instead.
    if chord
        .get("options")
        .and_then(|o| o.get("group_id"))
        .is_some()
    {
        return None;
    }
    Some((group, finished.group_index, Signature::from_celery(chord)?))
}

/// Where a chord's member ids are kept (in the result store, for as long as results are).
pub(crate) fn members_key(group_id: &str) -> String {
    format!("canter-chord-members-{group_id}")
}

/// A finished chord member's chord: the group id, its size, and the callback.
pub(crate) fn chord_of(finished: &TaskMessage) -> Option<(String, u64, Signature)> {
    let chord = finished.embed.as_ref()?.get("chord")?;
    let options = chord.get("options")?;
    let group_id = options.get("group_id")?.as_str()?.to_owned();
    let size = options.get("chord_size")?.as_u64()?;
    Some((group_id, size, Signature::from_celery(chord)?))
}

/// The chord callback's message, with the members' `results` (in order) first in its arguments
/// (unless it is immutable).
/// (`last` is the member that finished last: the callback's parent.)
pub(crate) fn chord_callback(
    callback: &Signature,
    results: Vec<Value>,
    last: &TaskMessage,
) -> TaskMessage {
    let message = member_message(&prepend(callback.clone(), Value::Array(results)), None);
    child_of(message, last)
}

/// The chain's next message once `finished` returned `result`, if its embed carries a chain.
pub(crate) fn next_in_chain(finished: &TaskMessage, result: &Value) -> Option<TaskMessage> {
    let mut rest = finished.embed.as_ref()?.get("chain")?.as_array()?.clone();
    let next = Signature::from_celery(&rest.pop()?)?;
    let message = member_message(&prepend(next, result.clone()), embed_of(&rest));
    Some(child_of(message, finished))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_passes_its_result_on() {
        let first = crate::broker::message(
            "t.a",
            &TaskOptions::default(),
            json!([2, 3]),
            ApplyOptions::default(),
        );
        let c = Signature::new("t.c", json!([10])).queue("python");
        let b = Signature::new("t.b", json!([1])).immutable();
        let chained = TaskMessage {
            embed: embed_of(&[c.to_celery(), b.to_celery()]),
            ..first
        };
        let second = next_in_chain(&chained, &json!(5)).unwrap();
        assert_eq!(
            (second.name.as_str(), &second.args),
            ("t.b", &json!([1])),
            "immutable: no result"
        );
        let third = next_in_chain(&second, &json!(1)).unwrap();
        assert_eq!(
            (third.name.as_str(), third.queue.as_str()),
            ("t.c", "python")
        );
        assert_eq!(third.args, json!([1, 10]), "the result first");
        assert!(third.embed.is_none());
        assert!(next_in_chain(&third, &json!(0)).is_none());
    }

    #[test]
    fn python_signatures_are_read() {
        let python = json!({"task": "proj.add", "args": [4], "kwargs": {},
            "options": {"task_id": "abc", "reply_to": "x"}, "subtask_type": null, "immutable": false});
        let sig = Signature::from_celery(&python).unwrap();
        assert_eq!(sig.task, "proj.add");
        assert_eq!(sig.task_id.as_deref(), Some("abc"));
        assert_eq!(Signature::from_celery(&sig.to_celery()), Some(sig));
    }
}
