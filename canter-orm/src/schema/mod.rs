//! The database schema as the ORM sees it: model states ([`state`]: what migration files record
//! and the models compile to) and the [`SchemaEditor`] that turns them into SQL, one per
//! backend. Migrations build on this module; it knows nothing of them.

pub mod editor;
pub mod inspect;
pub mod state;

pub use editor::{index_name, quote_name, wants_index, SchemaEditor};
pub use state::{FieldState, IndexState, ModelState, References};

use crate::db::database;
use crate::error::OrmError;
use crate::model::Model;

/// Creates `M`'s table (and its many-to-many join tables) on database `alias` if missing
/// (without migrations; the migrations part does this from migration files).
pub async fn create_table<M: Model>(alias: &str) -> Result<(), OrmError> {
    let db = database(alias)?;
    let mut models = vec![ModelState::from_meta(M::meta())];
    models.extend(ModelState::join_models(M::meta()));
    let editor = db.backend();
    if let Some(reason) = editor.refuse_model(&models[0]) {
        return Err(OrmError::Config {
            alias: alias.to_owned(),
            message: reason,
        });
    }
    // One transaction: another pooled SQLite connection must never load a schema holding the
    // table without its indexes (an upsert prepared against it fails: "ON CONFLICT clause does
    // not match any PRIMARY KEY or UNIQUE constraint", and SQLite does not re-prepare on that).
    crate::transaction::atomic_using(alias, async {
        for model in models {
            for statement in db.backend().create_table_sql(&model, true) {
                db.execute(&statement, sea_query::Values(Vec::new()))
                    .await?;
            }
        }
        Ok::<(), OrmError>(())
    })
    .await
}

/// Drops `M`'s table on database `alias` if it exists.
pub async fn drop_table<M: Model>(alias: &str) -> Result<(), OrmError> {
    let db = database(alias)?;
    db.execute(
        &format!("DROP TABLE IF EXISTS {}", quote_name(M::meta().table)),
        sea_query::Values(Vec::new()),
    )
    .await?;
    Ok(())
}
