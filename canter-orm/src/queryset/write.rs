//! Writing rows through a queryset: `create`, `bulk_create`, `get_or_create`, `update_or_create`,
//! `update`, `delete`, `bulk_update`.

use super::{field_indexes, QuerySet};
use crate::error::OrmError;
use crate::expressions::{pk_exact, Assignment};
use crate::model::Model;
use crate::model::{insert_instance, save_instance};

impl<M: Model> QuerySet<M> {
    /// Inserts `obj` (after validation) and returns it with its primary key (`acreate()`).
    pub async fn create(self, mut obj: M) -> Result<M, OrmError> {
        insert_instance(&mut obj, self.alias()).await?;
        Ok(obj)
    }

    /// Inserts many rows in batches (`abulk_create()`), returning them with their keys.
    pub async fn bulk_create(self, mut objs: Vec<M>) -> Result<Vec<M>, OrmError> {
        for obj in &objs {
            obj.validate()?;
        }
        let (db, compiler) = self.db()?;
        let fields = M::meta().fields.len().max(1);
        // Stay under the database's bound-parameter limit.
        let limit = db.features().max_query_params;
        let batch = (limit / fields).clamp(1, 1000);
        let auto = M::meta().has_auto_pk();
        for chunk in objs.chunks_mut(batch) {
            let rows: Vec<Vec<sea_query::Value>> = chunk.iter().map(|o| o.to_values()).collect();
            let compiled = compiler.insert(rows, false)?;
            if auto {
                let returned = db.fetch_all(&compiled.sql, compiled.values).await?;
                // RETURNING gives the keys in insertion order on both backends for a single
                // multi-row INSERT.
                for (obj, row) in chunk.iter_mut().zip(returned.iter()) {
                    obj.set_auto_pk(crate::model::returned_auto_key(row)?);
                }
            } else {
                db.execute(&compiled.sql, compiled.values).await?;
                chunk.iter_mut().for_each(Model::bind_managers);
            }
        }
        for obj in &mut objs {
            if let Some(state) = obj.state_mut() {
                state.set(self.alias(), None);
            }
        }
        Ok(objs)
    }

    /// `get()`, else `create(defaults)` (`aget_or_create()`): `(object, created)`. A concurrent
    /// creator winning the race (a unique violation) is answered with the row it created.
    pub async fn get_or_create(self, defaults: M) -> Result<(M, bool), OrmError> {
        match self.clone().get().await {
            Ok(found) => return Ok((found, false)),
            Err(OrmError::DoesNotExist { .. }) => {}
            Err(e) => return Err(e),
        }
        let alias = self.alias().to_owned();
        let created = crate::transaction::atomic_using(&alias, async {
            QuerySet::<M>::new().using(&alias).create(defaults).await
        })
        .await;
        match created {
            Ok(obj) => Ok((obj, true)),
            // A concurrent creator won: its row is the answer. If there is still no such row
            // the violation was something else, and is the caller's (Django re-raises it).
            Err(integrity @ OrmError::Integrity { .. }) => match self.get().await {
                Ok(found) => Ok((found, false)),
                Err(OrmError::DoesNotExist { .. }) => Err(integrity),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        }
    }

    /// Updates the matching row with `obj`'s values, or creates `obj` (`aupdate_or_create()`).
    pub async fn update_or_create(self, mut obj: M) -> Result<(M, bool), OrmError> {
        let alias = self.alias().to_owned();
        crate::transaction::atomic_using(&alias, async {
            match self.clone().get().await {
                Ok(existing) => {
                    let mut updated = obj;
                    updated.set_pk_from(&existing);
                    save_instance(&mut updated, Some(&alias)).await?;
                    Ok((updated, false))
                }
                Err(OrmError::DoesNotExist { .. }) => {
                    insert_instance(&mut obj, &alias).await?;
                    Ok((obj, true))
                }
                Err(e) => Err(e),
            }
        })
        .await
    }

    /// `UPDATE` every matching row (`aupdate()`); returns how many.
    /// `MyModel::objects().filter(..).update([MyModel::views.set(MyModel::views.f() + 1)])`.
    pub async fn update(
        self,
        assignments: impl IntoIterator<Item = Assignment<M>>,
    ) -> Result<u64, OrmError> {
        let assignments: Vec<_> = assignments
            .into_iter()
            .map(|a| (a.field, a.value))
            .collect();
        if assignments.is_empty() {
            return Ok(0);
        }
        let (db, compiler) = self.db()?;
        let compiled = compiler.update(&self.query, &assignments)?;
        db.execute(&compiled.sql, compiled.values).await
    }

    /// `DELETE` every matching row (`adelete()`); returns how many.
    pub async fn delete(self) -> Result<u64, OrmError> {
        let (db, compiler) = self.db()?;
        let compiled = compiler.delete(&self.query)?;
        db.execute(&compiled.sql, compiled.values).await
    }

    /// Django's `bulk_update(objs, fields)`: saves the named fields of each object by primary
    /// key, in one transaction. Returns how many rows changed.
    pub async fn bulk_update(self, objs: &[M], fields: &[&str]) -> Result<u64, OrmError> {
        let indexes = field_indexes::<M>(fields)?;
        for obj in objs {
            obj.validate()?;
        }
        let alias = self.alias().to_owned();
        crate::transaction::atomic_using(&alias, async {
            let (db, compiler) = self.db()?;
            let mut changed = 0;
            for obj in objs {
                let values = obj.to_values();
                let assignments: Vec<_> = indexes
                    .iter()
                    .map(|&i| (i, crate::expressions::Operand::Value(values[i].clone())))
                    .collect();
                let query = QuerySet::<M>::new()
                    .filter(pk_exact::<M>(obj.pk_value()))
                    .query;
                let compiled = compiler.update(&query, &assignments)?;
                changed += db.execute(&compiled.sql, compiled.values).await?;
            }
            Ok(changed)
        })
        .await
    }
}

/// Copies the primary key of `other` into `self` (for update_or_create).
trait SetPkFrom {
    fn set_pk_from(&mut self, other: &Self);
}

impl<M: Model> SetPkFrom for M {
    fn set_pk_from(&mut self, other: &Self) {
        if let sea_query::Value::BigInt(Some(id)) = other.pk_value() {
            self.set_auto_pk(id);
        } else if let sea_query::Value::Int(Some(id)) = other.pk_value() {
            self.set_auto_pk(i64::from(id));
        }
    }
}
