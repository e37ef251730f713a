//! Applying and unapplying migrations (Django's `MigrationExecutor`). Each migration runs in
//! its own transaction, under a lock held until that transaction has ended, so two processes
//! running `migrate` at once never both apply one: PostgreSQL takes a transaction-scoped
//! advisory lock, SQLite's `BEGIN IMMEDIATE` holds the database's write lock, MariaDB holds a
//! named lock on a connection of its own (see `recorder::locked_transaction`). Under the lock
//! the recorder is read again, so the second process finds the migration applied and skips it.
//! MariaDB's DDL is not transactional: there each step's completion is recorded (`progress`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use sea_query::Values;

use super::loader::{Key, MigrationSet};
use super::operations::Step;
use super::progress::{self, Progress};
use super::state::ProjectState;
use super::{recorder, rust_migration, MigrationError};
use crate::backends::{Backend, Database, Vendor};
use crate::db::database;
use crate::error::OrmError;

/// How far to migrate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Every migration of every app.
    Latest,
    /// App `app` up to and including `name` (rolling back later ones), or to nothing (`None`,
    /// Django's `zero`).
    App { app: String, name: Option<String> },
}

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanStep {
    pub key: Key,
    pub forwards: bool,
}

/// Runs migrations on one database.
pub struct Executor {
    pub set: MigrationSet,
    pub alias: String,
}

impl Executor {
    pub fn new(set: MigrationSet, alias: &str) -> Self {
        Executor {
            set,
            alias: alias.to_owned(),
        }
    }

    fn db(&self) -> Result<Arc<Database>, MigrationError> {
        Ok(database(&self.alias)?)
    }

    /// The vendor of the database migrated.
    pub fn vendor(&self) -> Result<Vendor, MigrationError> {
        Ok(self.db()?.vendor)
    }

    pub async fn applied(&self) -> Result<BTreeSet<Key>, MigrationError> {
        Ok(recorder::applied(&self.db()?).await?)
    }

    /// What `migrate` would do, in order.
    pub async fn plan(&self, target: &Target) -> Result<Vec<PlanStep>, MigrationError> {
        let applied = self.applied().await?;
        let all = &self.set.ordered;
        match target {
            Target::Latest => Ok(all
                .iter()
                .filter(|m| !applied.contains(&m.key()))
                .map(|m| PlanStep {
                    key: m.key(),
                    forwards: true,
                })
                .collect()),
            Target::App { app, name } => {
                if !self.set.apps().contains(app) {
                    return Err(MigrationError::Invalid(format!(
                        "app {app:?} has no migrations"
                    )));
                }
                let position = match name {
                    None => None,
                    Some(name) => Some(
                        all.iter()
                            .position(|m| m.app == *app && m.name == *name)
                            .ok_or_else(|| {
                                MigrationError::Invalid(format!(
                                    "app {app} has no migration {name:?}"
                                ))
                            })?,
                    ),
                };
                // Forwards: everything up to the target (with its dependencies, which come
                // earlier in the order) that is not applied.
                let mut steps: Vec<PlanStep> = match position {
                    Some(p) => all[..=p]
                        .iter()
                        .filter(|m| {
                            !applied.contains(&m.key())
                                && is_needed_for(&self.set, &all[p].key(), &m.key())
                        })
                        .map(|m| PlanStep {
                            key: m.key(),
                            forwards: true,
                        })
                        .collect(),
                    None => Vec::new(),
                };
                // Backwards: applied migrations of the app after the target, latest first,
                // refusing when another app's applied migration depends on one of them.
                let start = position.map(|p| p + 1).unwrap_or(0);
                let undo: Vec<Key> = all[start..]
                    .iter()
                    .filter(|m| m.app == *app && applied.contains(&m.key()))
                    .map(|m| m.key())
                    .collect();
                refuse_part_way(&self.in_progress().await?, &all[start..], app)?;
                for key in &undo {
                    if let Some(dependent) = all.iter().find(|m| {
                        m.app != *app && applied.contains(&m.key()) && m.dependencies.contains(key)
                    }) {
                        return Err(MigrationError::Invalid(format!(
                            "cannot unapply {}.{}: {}.{} depends on it; unapply that first",
                            key.0, key.1, dependent.app, dependent.name
                        )));
                    }
                }
                steps.extend(undo.into_iter().rev().map(|key| PlanStep {
                    key,
                    forwards: false,
                }));
                Ok(steps)
            }
        }
    }

    /// Runs the plan; returns one line per migration applied or unapplied.
    pub async fn migrate(&self, target: &Target) -> Result<Vec<String>, MigrationError> {
        let mut log = Vec::new();
        Box::pin(self.migrate_reporting(target, |line| log.push(line.to_owned()))).await?;
        Ok(log)
    }

    /// Runs the plan, passing `report` a line as each migration is applied or unapplied (so a
    /// failure later in the plan still shows what was done before it).
    pub async fn migrate_reporting(
        &self,
        target: &Target,
        mut report: impl FnMut(&str),
    ) -> Result<(), MigrationError> {
        let backend = self.db()?.backend();
        let plan = retry_when_locked(backend, || Box::pin(self.plan(target))).await?;
        for step in plan {
            // Boxed: keeps the caller's future small (debug builds nest futures inline).
            let done = Box::pin(self.run_one(&step)).await?;
            let verb = if step.forwards {
                "Applying"
            } else {
                "Unapplying"
            };
            let outcome = if done {
                "OK"
            } else {
                "already done by another process"
            };
            report(&format!(
                "{verb} {}.{}... {outcome}",
                step.key.0, step.key.1
            ));
        }
        Ok(())
    }

    /// States before each operation of `key` and after the last.
    fn states(&self, key: &Key) -> Result<Vec<ProjectState>, MigrationError> {
        let migration = self
            .set
            .get(&key.0, &key.1)
            .ok_or_else(|| MigrationError::Invalid(format!("no migration {}.{}", key.0, key.1)))?;
        let mut states = vec![self.set.state_before(Some(key))?];
        for op in &migration.operations {
            let mut next = states.last().expect("one state").clone();
            op.state_forwards(&migration.app, &mut next)?;
            states.push(next);
        }
        Ok(states)
    }

    /// The statements migrating `key` runs on `vendor` (`sqlmigrate`).
    pub fn steps(
        &self,
        key: &Key,
        vendor: Vendor,
        forwards: bool,
    ) -> Result<Vec<Step>, MigrationError> {
        let migration = self
            .set
            .get(&key.0, &key.1)
            .ok_or_else(|| MigrationError::Invalid(format!("no migration {}.{}", key.0, key.1)))?;
        let states = self.states(key)?;
        let mut steps = Vec::new();
        let indexes: Vec<usize> = if forwards {
            (0..migration.operations.len()).collect()
        } else {
            (0..migration.operations.len()).rev().collect()
        };
        for i in indexes {
            steps.extend(migration.operations[i].database_steps(
                vendor.backend(),
                &migration.app,
                &states[i],
                &states[i + 1],
                forwards,
            )?);
        }
        Ok(steps)
    }

    async fn run_one(&self, step: &PlanStep) -> Result<bool, MigrationError> {
        retry_when_locked(self.db()?.backend(), || self.try_one(step)).await
    }

    async fn try_one(&self, step: &PlanStep) -> Result<bool, MigrationError> {
        let db = self.db()?;
        let steps = self.steps(&step.key, db.vendor, step.forwards)?;
        recorder::ensure_table(&db).await?;
        // Where DDL commits on its own, each step's completion is recorded as it happens.
        let stepwise = !db.features().transactional_ddl;
        if stepwise {
            progress::ensure_table(&db).await?;
        }
        // Boxed: these futures nest inside the caller's, and debug builds lay them out inline.
        let work = Box::pin(apply(&db, step, &steps, stepwise));
        Box::pin(recorder::locked_transaction(&db, true, work)).await
    }

    /// The migrations part-way through (on databases whose DDL is not transactional).
    pub async fn in_progress(&self) -> Result<BTreeMap<Key, Progress>, MigrationError> {
        Ok(progress::all(&self.db()?).await?)
    }
}

/// Runs `steps` of migration `plan` under the lock (unless another process did it already),
/// then records it applied or not. `stepwise`: records each step done, and starts after the
/// steps an earlier, failed run finished.
async fn apply(
    db: &Arc<Database>,
    plan: &PlanStep,
    steps: &[Step],
    stepwise: bool,
) -> Result<bool, MigrationError> {
    let (key, forwards) = (&plan.key, plan.forwards);
    let applied = recorder::applied(db).await?;
    if applied.contains(key) == forwards {
        return Ok(false);
    }
    let start = if stepwise {
        resume_point(db, key, forwards, steps.len()).await?
    } else {
        0
    };
    let migration = format!("{}.{}", key.0, key.1);
    for (i, step) in steps.iter().enumerate().skip(start) {
        let failed = |sql: &str, message: String| {
            if stepwise {
                MigrationError::PartlyApplied {
                    migration: migration.clone(),
                    step: i + 1,
                    steps: steps.len(),
                    sql: sql.to_owned(),
                    message,
                }
            } else {
                MigrationError::Failed {
                    migration: migration.clone(),
                    sql: sql.to_owned(),
                    message,
                }
            }
        };
        match step {
            Step::Sql(sql) => {
                db.execute(sql, Values(Vec::new()))
                    .await
                    .map_err(|e| failed(sql, e.to_string()))?;
            }
            Step::Rust(name) => rust_migration(name)?()
                .await
                .map_err(|e| failed(&format!("Rust function {name}"), e.to_string()))?,
        }
        if stepwise {
            let done = Progress {
                forwards,
                steps_done: i + 1,
            };
            progress::set(db, key, done).await?;
        }
    }
    if forwards {
        recorder::record(db, key).await?;
    } else {
        recorder::unrecord(db, key).await?;
    }
    if stepwise {
        progress::clear(db, key).await?;
    }
    Ok(true)
}

/// The step a stepwise migration starts from: after those a failed run finished the same way.
async fn resume_point(
    db: &Arc<Database>,
    key: &Key,
    forwards: bool,
    steps: usize,
) -> Result<usize, MigrationError> {
    match progress::all(db).await?.get(key) {
        None => Ok(0),
        Some(p) if p.forwards == forwards => Ok(p.steps_done.min(steps)),
        Some(p) => Err(MigrationError::Invalid(format!(
            "migration {}.{} is part-way {} ({} of {steps} steps done): run migrate {} first",
            key.0,
            key.1,
            if p.forwards { "applied" } else { "unapplied" },
            p.steps_done,
            if p.forwards {
                "to finish applying it"
            } else {
                "to finish unapplying it"
            }
        ))),
    }
}

/// Refuses to roll back past a migration that stopped part-way applied (DDL not
/// transactional): it is not recorded applied, so it would be skipped and its applied steps
/// left behind. It has to be finished first (or its steps undone by hand).
fn refuse_part_way(
    in_progress: &BTreeMap<Key, Progress>,
    later: &[super::Migration],
    app: &str,
) -> Result<(), MigrationError> {
    let part_way = later
        .iter()
        .filter(|m| m.app == app)
        .find_map(|m| Some((m, in_progress.get(&m.key()).filter(|p| p.forwards)?)));
    match part_way {
        None => Ok(()),
        Some((m, p)) => Err(MigrationError::Invalid(format!(
            "cannot unapply {}.{}: it stopped part-way applied ({} steps done); fix the cause \
             and run migrate to finish it, then unapply it",
            m.app, m.name, p.steps_done
        ))),
    }
}

/// Runs `attempt` again when the database answers it is locked at once (SQLite's "database is locked"), without waiting out
/// busy_timeout (a connection being opened while another process migrates, or a lock it cannot
/// wait for without risking a deadlock). Safe for migration steps: each is one transaction that
/// reads the recorder again under the lock, so another process's work is found done and ours is
/// never applied twice.
async fn retry_when_locked<T, F, Fut>(
    backend: &dyn Backend,
    mut attempt: F,
) -> Result<T, MigrationError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, MigrationError>>,
{
    let mut tries = 0;
    loop {
        match attempt().await {
            Err(e) if tries < 10 && backend.is_retryable_lock_error(&e.to_string()) => {
                tries += 1;
                tokio::time::sleep(std::time::Duration::from_millis(20 * tries)).await;
            }
            other => return other,
        }
    }
}

/// Whether `candidate` must be applied before `target` (it is `target` or a dependency).
fn is_needed_for(set: &MigrationSet, target: &Key, candidate: &Key) -> bool {
    if target == candidate {
        return true;
    }
    let mut stack = vec![target.clone()];
    let mut seen = BTreeSet::new();
    while let Some(key) = stack.pop() {
        if !seen.insert(key.clone()) {
            continue;
        }
        if let Some(m) = set.get(&key.0, &key.1) {
            for dep in &m.dependencies {
                if dep == candidate {
                    return true;
                }
                stack.push(dep.clone());
            }
        }
    }
    false
}

impl From<OrmError> for MigrationError {
    fn from(e: OrmError) -> Self {
        MigrationError::Database(e)
    }
}
