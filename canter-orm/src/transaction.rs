//! Transactions: `atomic(async { … })`, nested as savepoints, and `on_commit`.
//!
//! Inside `atomic`, every ORM call on that database joins the transaction without a handle
//! being passed: the transaction lives in a tokio task-local. Commits when the block returns
//! `Ok`, rolls back on `Err`, on panic (then the panic continues), and when the block's future
//! is dropped (a client that went away): that connection is closed, never returned to the pool
//! mid-transaction. A task spawned inside `atomic` does not join the transaction (it runs on its
//! own, like a thread in Django).
//!
//! `on_commit(f)` runs `f` after the outermost block commits, and never if it rolls back
//! (callbacks registered in a savepoint that rolls back are dropped too). Outside `atomic` it
//! runs at once, as in Django. The tasks and channels parts send their messages through it.

use std::collections::HashMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex as StdMutex};

use futures_util::future::BoxFuture;
use futures_util::FutureExt;
use tokio::sync::Mutex;

use crate::backends::{Connection, Database};
use crate::db::{database, DEFAULT_DB_ALIAS};
use crate::error::OrmError;

type Callback = BoxFuture<'static, ()>;

struct TxContext {
    conn: Arc<Mutex<Connection>>,
    savepoints: AtomicUsize,
    on_commit: StdMutex<Vec<Callback>>,
}

tokio::task_local! {
    static TRANSACTIONS: Arc<HashMap<String, Arc<TxContext>>>;
}

pub(crate) fn current_connection(alias: &str) -> Option<Arc<Mutex<Connection>>> {
    TRANSACTIONS
        .try_with(|map| map.get(alias).map(|ctx| ctx.conn.clone()))
        .ok()
        .flatten()
}

fn current(alias: &str) -> Option<Arc<TxContext>> {
    TRANSACTIONS
        .try_with(|map| map.get(alias).cloned())
        .ok()
        .flatten()
}

/// Whether the current task is inside `atomic` for `alias`.
pub fn in_atomic(alias: &str) -> bool {
    current(alias).is_some()
}

async fn raw(conn: &Mutex<Connection>, db: &Database, sql: &str) -> Result<(), OrmError> {
    let mut guard = conn.lock().await;
    guard.execute_raw(sql).await.map_err(|e| db.err(e))
}

/// After a schema change with foreign keys off: how many rows point at rows that do not
/// exist (none where the backend enforces references throughout).
async fn dangling_references(conn: &Mutex<Connection>, db: &Database) -> Result<usize, OrmError> {
    let Some(sql) = db.backend().dangling_references_sql() else {
        return Ok(0);
    };
    let mut guard = conn.lock().await;
    guard.count_rows(sql).await.map_err(|e| db.err(e))
}

/// Closes the connection instead of pooling it if the transaction did not finish (the block's
/// future was dropped halfway).
struct Unfinished(Option<Arc<Mutex<Connection>>>);

impl Drop for Unfinished {
    fn drop(&mut self) {
        if let Some(conn) = self.0.take() {
            close_instead_of_pooling(&conn);
        }
    }
}

/// Marks `conn` to be closed when dropped instead of going back to the pool. Nobody else holds
/// its lock by now: the transaction is over, or was abandoned.
fn close_instead_of_pooling(conn: &Mutex<Connection>) {
    if let Ok(mut guard) = conn.try_lock() {
        guard.close_on_drop();
    }
}

/// During a schema change (SQLite): foreign-key enforcement is off on this connection until
/// [`ForeignKeysOff::restore`] turns it back on. If that never happens (an early return, a
/// failed `PRAGMA`, the future dropped), the connection is closed instead of going back to the
/// pool, so no later query can run on a connection that lets dangling references through.
struct ForeignKeysOff(Option<Arc<Mutex<Connection>>>);

impl ForeignKeysOff {
    async fn restore(&mut self, db: &Database) {
        if let Some(conn) = &self.0 {
            if raw(conn, db, db.backend().foreign_keys_sql(true))
                .await
                .is_ok()
            {
                self.0 = None;
            }
        }
    }
}

impl Drop for ForeignKeysOff {
    fn drop(&mut self) {
        if let Some(conn) = self.0.take() {
            close_instead_of_pooling(&conn);
        }
    }
}

/// Django's `transaction.atomic()` on the default database.
///
/// ```no_run
/// # async fn demo() -> Result<(), canter_orm::OrmError> {
/// use canter_orm::transaction::{atomic, on_commit};
/// atomic(async {
///     // ORM calls here share one transaction.
///     on_commit(|| println!("committed"));
///     Ok::<_, canter_orm::OrmError>(())
/// })
/// .await
/// # }
/// ```
pub async fn atomic<T, E, F>(block: F) -> Result<T, E>
where
    F: Future<Output = Result<T, E>>,
    E: From<OrmError>,
{
    atomic_using(DEFAULT_DB_ALIAS, block).await
}

/// A transaction isolation level (PostgreSQL; SQLite transactions are always serializable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    ReadCommitted,
    RepeatableRead,
    Serializable,
}

/// `atomic` on the database `alias`.
pub async fn atomic_using<T, E, F>(alias: &str, block: F) -> Result<T, E>
where
    F: Future<Output = Result<T, E>>,
    E: From<OrmError>,
{
    atomic_with(alias, None, false, block).await
}

/// `atomic` with an isolation level for the outermost transaction (ignored for a nested
/// block, which is a savepoint of the outer one). PostgreSQL answers a serialization conflict
/// with an error the caller may retry.
pub async fn atomic_isolated<T, E, F>(alias: &str, isolation: Isolation, block: F) -> Result<T, E>
where
    F: Future<Output = Result<T, E>>,
    E: From<OrmError>,
{
    atomic_with(alias, Some(isolation), false, block).await
}

/// `atomic` for schema changes (migrations): on SQLite, foreign-key enforcement is off for
/// the transaction (a table rebuild drops and recreates tables that others reference, which
/// would otherwise fire their ON DELETE actions) and every reference is checked before the
/// commit instead, as Django's SQLite schema editor does.
pub(crate) async fn atomic_for_schema_change<T, E, F>(alias: &str, block: F) -> Result<T, E>
where
    F: Future<Output = Result<T, E>>,
    E: From<OrmError>,
{
    atomic_with(alias, None, true, block).await
}

async fn atomic_with<T, E, F>(
    alias: &str,
    isolation: Option<Isolation>,
    schema_change: bool,
    block: F,
) -> Result<T, E>
where
    F: Future<Output = Result<T, E>>,
    E: From<OrmError>,
{
    let db = database(alias)?;
    if let Some(ctx) = current(alias) {
        return savepoint(&db, ctx, block).await;
    }
    let conn = Arc::new(Mutex::new(db.acquire().await?));
    let relax_fks = schema_change && db.features().schema_changes_unenforce_foreign_keys;
    let mut foreign_keys_off = ForeignKeysOff(None);
    begin(
        &conn,
        &db,
        isolation,
        relax_fks.then_some(&mut foreign_keys_off),
    )
    .await?;
    let mut unfinished = Unfinished(Some(conn.clone()));
    let ctx = Arc::new(TxContext {
        conn: conn.clone(),
        savepoints: AtomicUsize::new(0),
        on_commit: StdMutex::new(Vec::new()),
    });
    let outcome = run_block(alias, ctx.clone(), block).await;
    let outcome = match outcome {
        Ok(Ok(value)) if relax_fks => Ok(check_references(&conn, &db, value).await),
        other => other,
    };
    // No early return from here on: every path goes through the foreign-key restore below.
    let finished = end(&conn, &db, outcome, &mut unfinished).await;
    if relax_fks {
        foreign_keys_off.restore(&db).await;
    }
    drop(foreign_keys_off);
    drop(unfinished);
    let result = match finished {
        Ok(result) => result,
        Err(panic) => std::panic::resume_unwind(panic),
    };
    drop(conn);
    if result.is_ok() {
        let callbacks =
            std::mem::take(&mut *ctx.on_commit.lock().unwrap_or_else(|e| e.into_inner()));
        for callback in callbacks {
            callback.await;
        }
    }
    result
}

/// A block's outcome: its result, or the panic it raised.
type Outcome<T, E> = Result<Result<T, E>, Box<dyn std::any::Any + Send>>;

/// Starts the transaction on `conn` (with its isolation level). With `foreign_keys_off`
/// (SQLite's schema changes), foreign keys go off first, and that guard is armed.
async fn begin(
    conn: &Arc<Mutex<Connection>>,
    db: &Database,
    isolation: Option<Isolation>,
    foreign_keys_off: Option<&mut ForeignKeysOff>,
) -> Result<(), OrmError> {
    let mut unfinished_begin = Unfinished(Some(conn.clone()));
    // (A PRAGMA foreign_keys is a no-op inside a transaction: it goes before BEGIN.)
    if let Some(guard) = foreign_keys_off {
        // Armed before the PRAGMA: whatever happens from here, the connection goes back to
        // the pool with foreign keys on, or not at all.
        guard.0 = Some(conn.clone());
        raw(conn, db, db.backend().foreign_keys_sql(false)).await?;
    }
    for statement in db.backend().begin_statements(isolation) {
        raw(conn, db, &statement).await?;
    }
    unfinished_begin.0 = None;
    Ok(())
}

/// Runs `block` with the transaction `ctx` current for `alias` (the others stay current).
async fn run_block<T, E, F>(alias: &str, ctx: Arc<TxContext>, block: F) -> Outcome<T, E>
where
    F: Future<Output = Result<T, E>>,
{
    let mut map: HashMap<String, Arc<TxContext>> =
        TRANSACTIONS.try_with(|m| (**m).clone()).unwrap_or_default();
    map.insert(alias.to_owned(), ctx);
    TRANSACTIONS
        .scope(
            Arc::new(map),
            AssertUnwindSafe(Box::pin(block)).catch_unwind(),
        )
        .await
}

/// After a schema change with foreign keys off: `value` if every reference still holds, else
/// an integrity error counting those that do not.
async fn check_references<T, E: From<OrmError>>(
    conn: &Mutex<Connection>,
    db: &Database,
    value: T,
) -> Result<T, E> {
    match dangling_references(conn, db).await {
        Ok(0) => Ok(value),
        Ok(n) => Err(E::from(OrmError::Integrity {
            alias: db.alias.clone(),
            message: format!(
                "{n} row(s) would point at rows that do not exist (PRAGMA foreign_key_check)"
            ),
        })),
        Err(e) => Err(E::from(e)),
    }
}

/// COMMIT after `Ok`, else ROLLBACK; `unfinished` is disarmed (the connection may go back to
/// the pool) only when the transaction ended cleanly with one of them.
async fn end<T, E: From<OrmError>>(
    conn: &Mutex<Connection>,
    db: &Database,
    outcome: Outcome<T, E>,
    unfinished: &mut Unfinished,
) -> Outcome<T, E> {
    match outcome {
        Ok(Ok(value)) => match raw(conn, db, "COMMIT").await {
            Ok(()) => {
                unfinished.0 = None;
                Ok(Ok(value))
            }
            Err(err) => {
                if raw(conn, db, "ROLLBACK").await.is_ok() {
                    unfinished.0 = None;
                }
                Ok(Err(err.into()))
            }
        },
        Ok(Err(err)) => match raw(conn, db, "ROLLBACK").await {
            Ok(()) => {
                unfinished.0 = None;
                Ok(Err(err))
            }
            Err(rollback) => Ok(Err(rollback.into())),
        },
        Err(panic) => {
            if raw(conn, db, "ROLLBACK").await.is_ok() {
                unfinished.0 = None;
            }
            Err(panic)
        }
    }
}

async fn savepoint<T, E, F>(db: &Database, ctx: Arc<TxContext>, block: F) -> Result<T, E>
where
    F: Future<Output = Result<T, E>>,
    E: From<OrmError>,
{
    let n = ctx.savepoints.fetch_add(1, Ordering::SeqCst) + 1;
    let name = format!("canter_sp_{n}");
    raw(&ctx.conn, db, &format!("SAVEPOINT {name}")).await?;
    let mark = ctx
        .on_commit
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .len();
    let rollback = |ctx: &TxContext| {
        ctx.on_commit
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .truncate(mark)
    };
    match AssertUnwindSafe(Box::pin(block)).catch_unwind().await {
        Ok(Ok(value)) => {
            raw(&ctx.conn, db, &format!("RELEASE SAVEPOINT {name}")).await?;
            Ok(value)
        }
        Ok(Err(err)) => {
            raw(&ctx.conn, db, &format!("ROLLBACK TO SAVEPOINT {name}")).await?;
            rollback(&ctx);
            Err(err)
        }
        Err(panic) => {
            let _ = raw(&ctx.conn, db, &format!("ROLLBACK TO SAVEPOINT {name}")).await;
            rollback(&ctx);
            std::panic::resume_unwind(panic);
        }
    }
}

/// Django's `transaction.on_commit(func)` on the default database.
pub fn on_commit(callback: impl FnOnce() + Send + 'static) {
    match current(DEFAULT_DB_ALIAS) {
        Some(ctx) => ctx
            .on_commit
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Box::pin(async move { callback() })),
        None => callback(),
    }
}

/// `on_commit` with an async callback (awaited after the commit, before `atomic` returns).
/// Outside a transaction it is spawned at once.
pub fn on_commit_async(callback: impl Future<Output = ()> + Send + 'static) {
    on_commit_using(DEFAULT_DB_ALIAS, callback)
}

/// `on_commit` for the database `alias`.
pub fn on_commit_using(alias: &str, callback: impl Future<Output = ()> + Send + 'static) {
    match current(alias) {
        Some(ctx) => ctx
            .on_commit
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Box::pin(callback)),
        None => {
            tokio::spawn(callback);
        }
    }
}
