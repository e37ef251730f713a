//! How far a migration got on a database whose DDL is not transactional (MariaDB): each step
//! commits on its own, so the steps done are recorded one by one in
//! `canter_migration_progress`; a failed migration says which step failed and what stays
//! applied, `showmigrations` reports it, and the next `migrate` goes on from there.

use std::collections::BTreeMap;
use std::sync::Arc;

use sea_query::{Alias, Expr, ExprTrait, Query, Values};

use super::loader::Key;
use crate::backends::Database;
use crate::error::OrmError;
use crate::fields::SqlType;
use crate::schema::{FieldState, ModelState};

pub(crate) const TABLE: &str = "canter_migration_progress";

/// A migration part-way through: which way it was going, and how many steps are done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub forwards: bool,
    pub steps_done: usize,
}

fn model() -> ModelState {
    let field = |name: &str, sql_type: SqlType| FieldState {
        name: name.into(),
        column: name.into(),
        sql_type,
        null: false,
        primary_key: false,
        auto_increment: false,
        unique: false,
        db_index: false,
        max_length: (sql_type == SqlType::Text).then_some(255),
        default: None,
        references: None,
    };
    ModelState {
        app: "canter".into(),
        name: "MigrationProgress".into(),
        table: TABLE.into(),
        fields: vec![
            FieldState {
                primary_key: true,
                auto_increment: true,
                ..field("id", SqlType::BigInteger)
            },
            field("app", SqlType::Text),
            field("name", SqlType::Text),
            field("forwards", SqlType::Boolean),
            field("steps", SqlType::BigInteger),
        ],
        unique_together: Vec::new(),
        indexes: Vec::new(),
        checks: Vec::new(),
    }
}

/// Creates the table if missing (only databases without transactional DDL have one).
pub(crate) async fn ensure_table(db: &Arc<Database>) -> Result<(), OrmError> {
    for statement in db.backend().create_table_sql(&model(), true) {
        db.execute(&statement, Values(Vec::new())).await?;
    }
    Ok(())
}

/// The migrations part-way through, by key (none where DDL is transactional).
pub(crate) async fn all(db: &Arc<Database>) -> Result<BTreeMap<Key, Progress>, OrmError> {
    // No DDL here: this runs inside the migration's transaction, which a CREATE TABLE would
    // commit on MariaDB. The table is made by `ensure_table`, before the transaction.
    if db.features().transactional_ddl || !table_exists(db).await? {
        return Ok(BTreeMap::new());
    }
    let rows = db
        .fetch_all(
            &format!("SELECT app, name, forwards, steps FROM {TABLE}"),
            Values(Vec::new()),
        )
        .await?;
    rows.iter()
        .map(|r| {
            let key = (r.get::<String>(0)?, r.get::<String>(1)?);
            let progress = Progress {
                forwards: r.get::<bool>(2)?,
                steps_done: usize::try_from(r.get::<i64>(3)?).unwrap_or(0),
            };
            Ok((key, progress))
        })
        .collect()
}

async fn table_exists(db: &Arc<Database>) -> Result<bool, OrmError> {
    let rows = db
        .fetch_all(db.backend().table_exists_sql(), Values(vec![TABLE.into()]))
        .await?;
    Ok(rows
        .first()
        .map(|row| row.get::<i64>(0))
        .transpose()?
        .unwrap_or(0)
        > 0)
}

/// Records that `steps_done` steps of `key` are done, going `forwards` (or back).
pub(crate) async fn set(db: &Arc<Database>, key: &Key, progress: Progress) -> Result<(), OrmError> {
    clear(db, key).await?;
    let mut insert = Query::insert();
    insert
        .into_table(Alias::new(TABLE))
        .columns([
            Alias::new("app"),
            Alias::new("name"),
            Alias::new("forwards"),
            Alias::new("steps"),
        ])
        .values([
            Expr::val(key.0.clone()),
            Expr::val(key.1.clone()),
            Expr::val(progress.forwards),
            Expr::val(progress.steps_done as i64),
        ])
        .map_err(|e| OrmError::InvalidLookup(e.to_string()))?;
    let (sql, values) = db.backend().build_insert(&insert);
    db.execute(&sql, values).await.map(drop)
}

/// Forgets `key`'s progress (it finished).
pub(crate) async fn clear(db: &Arc<Database>, key: &Key) -> Result<(), OrmError> {
    let mut delete = Query::delete();
    delete
        .from_table(Alias::new(TABLE))
        .and_where(Expr::col(Alias::new("app")).eq(key.0.clone()))
        .and_where(Expr::col(Alias::new("name")).eq(key.1.clone()));
    let (sql, values) = db.backend().build_delete(&delete);
    db.execute(&sql, values).await.map(drop)
}
