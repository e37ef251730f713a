//! Periodic tasks (Celery beat): entries that enqueue a task on a [`Schedule`] — a fixed
//! interval, or a crontab expression in a timezone.
//!
//! Due times are ones every scheduler computes alike (multiples of the interval since the Unix
//! epoch; the crontab's occurrences), and a fire is *claimed* in the broker before it is
//! enqueued ([`Coordination::claim_fire`](crate::Coordination::claim_fire)): however many schedulers run — a `beat` process, workers
//! started with `-B`, a restarted one — each due time fires exactly once.
//!
//! Catch-up policy: a scheduler that starts (or restarts) after due times passed unfired fires
//! the latest of them once, at once, and logs how many earlier ones it skipped (Celery beat
//! likewise runs a missed task once, not once per missed interval). A crontab entry that never
//! fired anywhere waits for its next occurrence (an interval entry fires at once).
//!
//! ```no_run
//! # use std::time::Duration;
//! # use canter_tasks::{task, TaskError, beat::Beat};
//! #[task(name = "demo.heartbeat", crate = canter_tasks)]
//! async fn heartbeat() -> Result<(), TaskError> { Ok(()) }
//!
//! let beat = Beat::new().every::<heartbeat>("heartbeat", Duration::from_secs(10), serde_json::json!([]));
//! ```

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::broker::{now, Broker};
use crate::error::TaskError;
use crate::task::{Task, TaskOptions};
use crate::ApplyOptions;

/// When an entry is due.
#[derive(Debug, Clone)]
pub enum Schedule {
    /// Every so long (at least 10 ms), on a grid from the Unix epoch.
    Every(Duration),
    /// A crontab expression (five fields, or six with seconds first) in an IANA timezone, as
    /// Celery's `crontab(…)` with `beat_cron_timezone`.
    #[cfg(feature = "cron")]
    Crontab {
        expression: String,
        timezone: chrono_tz::Tz,
        cron: Box<croner::Cron>,
    },
}

impl Schedule {
    pub fn every(period: Duration) -> Self {
        Schedule::Every(period.max(Duration::from_millis(10)))
    }

    /// `Schedule::crontab("0 9 * * 1-5", "Europe/Paris")`: weekdays at 9:00, Paris time
    /// (daylight saving included). A bad expression or timezone is an error naming it.
    #[cfg(feature = "cron")]
    pub fn crontab(expression: &str, timezone: &str) -> Result<Self, TaskError> {
        let cron: croner::Cron = expression
            .parse()
            .map_err(|e| TaskError::Serialization(format!("crontab {expression:?}: {e}")))?;
        let timezone: chrono_tz::Tz = timezone.parse().map_err(|_| {
            TaskError::Serialization(format!(
                "timezone {timezone:?} is not an IANA name (Europe/Paris, UTC, …)"
            ))
        })?;
        Ok(Schedule::Crontab {
            expression: expression.to_owned(),
            timezone,
            cron: Box::new(cron),
        })
    }

    /// The latest due time at or before `at` (seconds since the epoch).
    pub fn latest_due(&self, at: f64) -> Option<f64> {
        match self {
            Schedule::Every(period) => {
                let period = period.as_secs_f64();
                Some((at / period).floor() * period)
            }
            #[cfg(feature = "cron")]
            Schedule::Crontab { timezone, cron, .. } => cron
                .find_previous_occurrence(&local(at, timezone)?, true)
                .ok()
                .map(|d| seconds(&d)),
        }
    }

    /// The first due time after `at`.
    pub fn next_due(&self, at: f64) -> Option<f64> {
        match self {
            Schedule::Every(period) => {
                let period = period.as_secs_f64();
                Some((at / period).floor() * period + period)
            }
            #[cfg(feature = "cron")]
            Schedule::Crontab { timezone, cron, .. } => cron
                .find_next_occurrence(&local(at, timezone)?, false)
                .ok()
                .map(|d| seconds(&d)),
        }
    }
}

impl std::fmt::Display for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Schedule::Every(period) => write!(f, "every {period:?}"),
            #[cfg(feature = "cron")]
            Schedule::Crontab {
                expression,
                timezone,
                ..
            } => {
                write!(f, "crontab {expression:?} ({timezone})")
            }
        }
    }
}

/// `at` in `timezone`, to the whole second: a crontab's resolution (croner keeps the fraction
/// of the time it starts from, which would make every look a new due time).
#[cfg(feature = "cron")]
fn local(at: f64, timezone: &chrono_tz::Tz) -> Option<chrono::DateTime<chrono_tz::Tz>> {
    chrono::DateTime::from_timestamp(at.floor() as i64, 0).map(|d| d.with_timezone(timezone))
}

#[cfg(feature = "cron")]
fn seconds<Tz: chrono::TimeZone>(at: &chrono::DateTime<Tz>) -> f64 {
    at.timestamp() as f64
}

/// One periodic entry: task `task` with `args`, on `schedule`.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The entry's name: what fires are recorded under (unique per schedule).
    pub name: String,
    pub task: &'static str,
    pub options: TaskOptions,
    pub args: Value,
    pub schedule: Schedule,
}

/// The scheduler: a set of entries, run against a broker.
#[derive(Debug, Clone, Default)]
pub struct Beat {
    entries: Vec<Entry>,
}

impl Beat {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an entry: task `T` with `args` (a JSON array), every `every` (at least 10 ms).
    pub fn every<T: Task>(self, name: &str, every: Duration, args: Value) -> Self {
        self.schedule::<T>(name, Schedule::every(every), args)
    }

    /// Adds an entry: task `T` with `args` (a JSON array), on `schedule`.
    pub fn schedule<T: Task>(mut self, name: &str, schedule: Schedule, args: Value) -> Self {
        self.entries.push(Entry {
            name: name.to_owned(),
            task: T::NAME,
            options: T::options(),
            args,
            schedule,
        });
        self
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Schedules until `shutdown` completes.
    pub async fn run(
        self,
        broker: Arc<dyn Broker>,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), TaskError> {
        if self.entries.is_empty() {
            return Ok(());
        }
        tokio::pin!(shutdown);
        // The last due time each entry was handled for here (fired by us or by another).
        let mut handled: Vec<Option<f64>> = vec![None; self.entries.len()];
        for (entry, handled) in self.entries.iter().zip(handled.iter_mut()) {
            let Some(due) = entry.schedule.latest_due(now()) else {
                continue;
            };
            match broker.last_fire(&entry.name).await? {
                Some(last) => {
                    // Due times strictly between the last fire and the one about to fire.
                    let mut missed = 0u32;
                    let mut at = last;
                    while let Some(next) = entry.schedule.next_due(at).filter(|n| *n < due) {
                        missed += 1;
                        at = next;
                        if missed == 100_000 {
                            break;
                        }
                    }
                    if missed > 0 {
                        tracing::warn!(target: "canter::tasks", entry = %entry.name, missed, "beat was down: the latest missed run fires now, {missed} earlier one(s) are skipped");
                    }
                }
                // A crontab entry never fired: its next occurrence is the first.
                #[cfg(feature = "cron")]
                None if matches!(entry.schedule, Schedule::Crontab { .. }) => *handled = Some(due),
                None => {}
            }
            // Without crontabs, nothing above marks an entry handled.
            #[cfg(not(feature = "cron"))]
            let _ = handled;
        }
        tracing::info!(target: "canter::tasks", entries = self.entries.len(), "beat: scheduling");
        loop {
            let at = now();
            let mut next = f64::INFINITY;
            for (entry, handled) in self.entries.iter().zip(handled.iter_mut()) {
                if let Some(due) = entry.schedule.latest_due(at) {
                    if *handled != Some(due) {
                        if broker.claim_fire(&entry.name, due).await? {
                            self.fire(&*broker, entry, due).await?;
                        }
                        *handled = Some(due);
                    }
                }
                if let Some(due) = entry.schedule.next_due(at) {
                    next = next.min(due);
                }
            }
            // Nothing ever due again (a crontab for a date that has passed): idle until shut down.
            let next = if next.is_finite() {
                next
            } else {
                now() + 3600.0
            };
            let wait = Duration::from_secs_f64((next - now()).max(0.0));
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = &mut shutdown => return Ok(()),
            }
        }
    }

    async fn fire(&self, broker: &dyn Broker, entry: &Entry, due: f64) -> Result<(), TaskError> {
        // Not worth running once the next one is due (Celery beat sets no expiry by default;
        // a backlog of heartbeats helps nobody).
        let options = ApplyOptions {
            expires: entry
                .schedule
                .next_due(due)
                .map(|next| (next - now()).max(1.0)),
            ..Default::default()
        };
        let message =
            crate::broker::message(entry.task, &entry.options, entry.args.clone(), options);
        let id = message.id.clone();
        broker.publish(message).await?;
        tracing::info!(target: "canter::tasks", entry = %entry.name, task = entry.task, id, due, "beat: sent");
        Ok(())
    }
}

#[cfg(all(test, feature = "cron"))]
mod tests {
    use super::Schedule;

    fn at(text: &str) -> f64 {
        chrono::DateTime::parse_from_rfc3339(text)
            .unwrap()
            .timestamp() as f64
    }

    #[test]
    fn crontab_occurrences_follow_the_timezone() {
        let weekdays_nine = Schedule::crontab("0 9 * * 1-5", "Europe/Paris").unwrap();
        // Wednesday 2026-11-25 12:00 UTC: 09:00 Paris (UTC+1) was 08:00 UTC that day.
        let noon = at("2026-11-25T12:00:00Z");
        assert_eq!(
            weekdays_nine.latest_due(noon),
            Some(at("2026-11-25T08:00:00Z"))
        );
        assert_eq!(
            weekdays_nine.next_due(noon),
            Some(at("2026-11-26T08:00:00Z"))
        );
        // Friday evening: next is Monday.
        assert_eq!(
            weekdays_nine.next_due(at("2026-11-27T18:00:00Z")),
            Some(at("2026-11-30T08:00:00Z"))
        );
        // Across the switch to summer time (2026-03-29): 09:00 Paris is 07:00 UTC.
        let daily = Schedule::crontab("0 9 * * *", "Europe/Paris").unwrap();
        assert_eq!(
            daily.next_due(at("2026-03-28T12:00:00Z")),
            Some(at("2026-03-29T07:00:00Z"))
        );
        // Six fields: seconds first.
        let every_second = Schedule::crontab("* * * * * *", "UTC").unwrap();
        assert_eq!(every_second.next_due(noon), Some(noon + 1.0));
    }

    #[test]
    fn bad_crontabs_say_what_is_wrong() {
        let e = Schedule::crontab("61 * * * *", "UTC")
            .unwrap_err()
            .to_string();
        assert!(e.contains("61 * * * *"), "{e}");
        let e = Schedule::crontab("0 9 * * *", "Mars/Olympus")
            .unwrap_err()
            .to_string();
        assert!(e.contains("Mars/Olympus"), "{e}");
    }

    #[test]
    fn intervals_sit_on_the_epoch_grid() {
        let ten = Schedule::every(std::time::Duration::from_secs(10));
        assert_eq!(ten.latest_due(1_000_005.0), Some(1_000_000.0));
        assert_eq!(ten.next_due(1_000_005.0), Some(1_000_010.0));
    }
}
