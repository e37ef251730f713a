//! Reading the task side from the broker: workers, queues, scheduled tasks, dead letters and
//! the periodic entries' next runs.

use canter_tasks::control::{self, DeadLetter, QueueInfo, TaskInfo, WorkerInfo};

use crate::process::now;

/// What one sample reads from the broker.
pub struct Tasks {
    pub workers: Vec<WorkerInfo>,
    pub queues: Vec<QueueInfo>,
    pub scheduled: Vec<TaskInfo>,
    pub dead_letters: Vec<DeadLetter>,
    /// `(entry, task, next run)`.
    pub periodic: Vec<(String, String, Option<f64>)>,
}

/// Reads the broker once; an error (no broker, unreachable) says why.
pub async fn tasks(beat: Option<&canter_tasks::beat::Beat>) -> Result<Tasks, String> {
    let text = |e: canter_tasks::TaskError| e.to_string();
    let broker = canter_tasks::broker().map_err(text)?;
    let workers = control::workers().await.map_err(text)?;
    let queues = control::queues(&[]).await.map_err(text)?;
    let scheduled = control::scheduled().await.map_err(text)?;
    let dead_letters = control::dead_letters().await.map_err(text)?;
    let mut periodic = Vec::new();
    for entry in beat.map(|b| b.entries()).unwrap_or_default() {
        let last = broker.last_fire(&entry.name).await.map_err(text)?;
        let next = entry.schedule.next_due(last.unwrap_or_else(now));
        periodic.push((entry.name.clone(), entry.task.to_owned(), next));
    }
    Ok(Tasks {
        workers,
        queues,
        scheduled,
        dead_letters,
        periodic,
    })
}
