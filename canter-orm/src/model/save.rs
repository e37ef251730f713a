//! `obj.save()`: the instance's own INSERT or UPDATE (Django's `Model.save`), beside the model
//! it belongs to rather than in the queryset.

use crate::compiler::Compiler;
use crate::db::database;
use crate::error::OrmError;
use crate::expressions::pk_exact;
use crate::model::Model;
use crate::queryset::QuerySet;

pub(crate) async fn insert_instance<M: Model>(obj: &mut M, alias: &str) -> Result<(), OrmError> {
    obj.validate()?;
    let db = database(alias)?;
    let compiler = Compiler {
        backend: db.backend(),
        meta: M::meta(),
    };
    let compiled = compiler.insert(vec![obj.to_values()], false)?;
    if M::meta().has_auto_pk() {
        let rows = db.fetch_all(&compiled.sql, compiled.values).await?;
        let row = rows.first().ok_or_else(|| OrmError::Database {
            alias: alias.to_owned(),
            message: "INSERT returned no key".into(),
        })?;
        obj.set_auto_pk(returned_auto_key(row)?);
    } else {
        db.execute(&compiled.sql, compiled.values).await?;
        obj.bind_managers();
    }
    if let Some(state) = obj.state_mut() {
        state.set(alias, None);
    }
    Ok(())
}

/// The auto key an INSERT returned in its first column: a `bigint`, or an `integer` for an
/// `i32` key (which PostgreSQL will not decode as an `i64`).
pub(crate) fn returned_auto_key(row: &crate::backends::Row) -> Result<i64, OrmError> {
    row.get::<i64>(0)
        .or_else(|_| row.get::<i32>(0).map(i64::from))
}

/// `obj.save()`: INSERT when unsaved, else UPDATE by primary key (INSERT if no row had it).
/// The database is `alias`, else the one the instance came from, else `default`. A row loaded
/// with `only()` / `defer()` updates just its loaded fields (Django's deferred fields are not
/// saved), and is never inserted from its placeholders.
pub(crate) async fn save_instance<M: Model>(
    obj: &mut M,
    alias: Option<&str>,
) -> Result<(), OrmError> {
    let alias = alias
        .unwrap_or_else(|| crate::model::instance_alias(obj))
        .to_owned();
    let alias = alias.as_str();
    if obj.is_unsaved() {
        return insert_instance(obj, alias).await;
    }
    obj.validate()?;
    let meta = M::meta();
    let db = database(alias)?;
    let compiler = Compiler {
        backend: db.backend(),
        meta,
    };
    let loaded: Option<Vec<usize>> = obj
        .state()
        .and_then(|s| s.loaded_fields())
        .map(<[usize]>::to_vec);
    let values = obj.to_values();
    let assignments: Vec<_> = values
        .into_iter()
        .enumerate()
        .filter(|(i, _)| *i != meta.pk)
        .filter(|(i, _)| loaded.as_ref().is_none_or(|fields| fields.contains(i)))
        .map(|(i, v)| (i, crate::expressions::Operand::Value(v)))
        .collect();
    let query = QuerySet::<M>::new()
        .filter(pk_exact::<M>(obj.pk_value()))
        .query;
    let updated = if assignments.is_empty() {
        if loaded.is_some() {
            // Only the key was loaded: nothing to write, but the row must exist.
            let exists = QuerySet::<M>::new()
                .using(alias)
                .filter(pk_exact::<M>(obj.pk_value()))
                .exists()
                .await?;
            u64::from(exists)
        } else {
            0
        }
    } else {
        let compiled = compiler.update(&query, &assignments)?;
        db.execute(&compiled.sql, compiled.values).await?
    };
    if updated == 0 {
        if loaded.is_some() {
            return Err(OrmError::Database {
                alias: alias.to_owned(),
                message: format!(
                    "save() of a {} loaded with only()/defer() matched no row; it is not \
                     inserted, since its unloaded fields hold placeholders",
                    meta.name
                ),
            });
        }
        let compiled = compiler.insert(vec![obj.to_values()], true)?;
        db.execute(&compiled.sql, compiled.values).await?;
    }
    if let Some(state) = obj.state_mut() {
        state.set(alias, loaded.as_deref());
    }
    Ok(())
}
