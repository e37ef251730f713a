//! Which migrations are applied (Django's `MigrationRecorder`): the `canter_migrations` table.

use std::collections::BTreeSet;
use std::sync::Arc;

use sea_query::{Alias, Expr, ExprTrait, Query, Values};

use super::loader::Key;
use super::state::{FieldState, ModelState};
use crate::backends::Database;
use crate::error::OrmError;
use crate::fields::SqlType;
use crate::transaction::atomic_for_schema_change;

pub(crate) const TABLE: &str = "canter_migrations";

fn model() -> ModelState {
    let text = |name: &str| FieldState {
        name: name.into(),
        column: name.into(),
        sql_type: SqlType::Text,
        null: false,
        primary_key: false,
        auto_increment: false,
        unique: false,
        db_index: false,
        max_length: Some(255),
        default: None,
        references: None,
    };
    ModelState {
        app: "canter".into(),
        name: "Migration".into(),
        table: TABLE.into(),
        fields: vec![
            FieldState {
                primary_key: true,
                auto_increment: true,
                max_length: None,
                sql_type: SqlType::BigInteger,
                ..text("id")
            },
            text("app"),
            text("name"),
            FieldState {
                sql_type: SqlType::DateTime,
                max_length: None,
                ..text("applied")
            },
        ],
        unique_together: Vec::new(),
        indexes: Vec::new(),
        checks: Vec::new(),
    }
}

/// Creates the table if missing, under the migration lock: two processes starting at once
/// would otherwise race on PostgreSQL's catalog even with IF NOT EXISTS. It looks first, as
/// Django's recorder does: `CREATE … IF NOT EXISTS` on an existing table makes PostgreSQL
/// send a notice, which sqlx logs at INFO into every command's output.
pub(crate) async fn ensure_table(db: &Arc<Database>) -> Result<(), OrmError> {
    if table_exists(db).await? {
        return Ok(());
    }
    locked_transaction(db, false, async {
        if table_exists(db).await? {
            return Ok(());
        }
        for statement in db.backend().create_table_sql(&model(), true) {
            db.execute(&statement, Values(Vec::new())).await?;
        }
        Ok::<_, OrmError>(())
    })
    .await
}

async fn table_exists(db: &Arc<Database>) -> Result<bool, OrmError> {
    let sql = db.backend().table_exists_sql();
    let rows = db.fetch_all(sql, Values(vec![TABLE.into()])).await?;
    Ok(rows
        .first()
        .map(|row| row.get::<i64>(0))
        .transpose()?
        .unwrap_or(0)
        > 0)
}

/// Runs `work` in a transaction (a schema change's, with `schema_change`) under the migration
/// lock, held until the transaction has ended: a second process waiting for it then reads what
/// the first committed. PostgreSQL: an advisory lock taken in the transaction, which ends with
/// it; SQLite: the transaction's `BEGIN IMMEDIATE` already holds the write lock; MariaDB: a
/// named lock of a connection of its own (DDL commits there, so no lock can end with the
/// transaction), taken before the transaction begins and released after it ends.
pub(crate) async fn locked_transaction<T, E: From<OrmError>>(
    db: &Arc<Database>,
    schema_change: bool,
    work: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, E> {
    let (lock, unlock) = (
        db.backend().migration_lock_sql(),
        db.backend().migration_unlock_sql(),
    );
    let session_lock = lock.clone().zip(unlock);
    let in_transaction = async {
        if let (Some(sql), None) = (&lock, &session_lock) {
            db.fetch_all(sql, Values(Vec::new())).await?;
        }
        work.await
    };
    // Boxed: these futures nest inside the executor's, and debug builds lay them out inline.
    let in_transaction = Box::pin(in_transaction);
    let transaction = Box::pin(async {
        if schema_change {
            atomic_for_schema_change(&db.alias, in_transaction).await
        } else {
            crate::transaction::atomic_using(&db.alias, in_transaction).await
        }
    });
    match &session_lock {
        Some((lock, unlock)) => held_by_own_connection(db, lock, unlock, transaction).await,
        None => transaction.await,
    }
}

/// Runs `work` while a connection of its own holds the lock `lock` takes (its `SELECT`
/// answering 1 when it got it, 0 when it timed out) and `unlock` releases.
async fn held_by_own_connection<T, E: From<OrmError>>(
    db: &Arc<Database>,
    lock: &str,
    unlock: &str,
    work: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, E> {
    let mut conn = db.acquire().await?;
    // Never back to the pool: should `work` panic or be dropped, closing the connection
    // releases the lock.
    conn.close_on_drop();
    let got = conn.first_integer(lock).await.map_err(|e| db.err(e))?;
    if got != Some(1) {
        return Err(E::from(OrmError::Database {
            alias: db.alias.clone(),
            message: "timed out waiting for the migration lock (another migrate is running)".into(),
        }));
    }
    let outcome = work.await;
    let released = conn.execute_raw(unlock).await.map_err(|e| db.err(e));
    match (outcome, released) {
        (Ok(_), Err(e)) => Err(E::from(e)),
        (outcome, _) => outcome,
    }
}

pub(crate) async fn applied(db: &Arc<Database>) -> Result<BTreeSet<Key>, OrmError> {
    if !crate::transaction::in_atomic(&db.alias) {
        ensure_table(db).await?;
    }
    let rows = db
        .fetch_all(
            &format!("SELECT app, name FROM {TABLE}"),
            Values(Vec::new()),
        )
        .await?;
    rows.iter()
        .map(|r| Ok((r.get::<String>(0)?, r.get::<String>(1)?)))
        .collect()
}

pub(crate) async fn record(db: &Arc<Database>, key: &Key) -> Result<(), OrmError> {
    let mut insert = Query::insert();
    insert
        .into_table(Alias::new(TABLE))
        .columns([Alias::new("app"), Alias::new("name"), Alias::new("applied")])
        .values([
            Expr::val(key.0.clone()),
            Expr::val(key.1.clone()),
            Expr::val(chrono::Utc::now()),
        ])
        .map_err(|e| OrmError::InvalidLookup(e.to_string()))?;
    let (sql, values) = db.backend().build_insert(&insert);
    db.execute(&sql, values).await.map(|_| ())
}

pub(crate) async fn unrecord(db: &Arc<Database>, key: &Key) -> Result<(), OrmError> {
    let mut delete = Query::delete();
    delete
        .from_table(Alias::new(TABLE))
        .and_where(Expr::col(Alias::new("app")).eq(key.0.clone()))
        .and_where(Expr::col(Alias::new("name")).eq(key.1.clone()));
    let (sql, values) = db.backend().build_delete(&delete);
    db.execute(&sql, values).await.map(|_| ())
}
