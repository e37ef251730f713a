//! Reading rows: the terminal methods that fetch (`all`, `first`, `get`, `count`, `stream`, `raw`
//! …) and the decoding of rows into models.

use super::{QuerySet, MAX_GET_RESULTS};
use crate::backends::Row;
use crate::compiler::{Compiled, Compiler};
use crate::error::OrmError;
use crate::expressions::kind::Plain;
use crate::expressions::{pk_exact, Column, OrderKind, RelPath};
use crate::model::Model;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;

impl<M: Model> QuerySet<M> {
    pub(super) async fn fetch(&self, compiled: Compiled) -> Result<Vec<M>, OrmError> {
        let (db, _) = self.db()?;
        if self.query.lock.is_some() && !crate::transaction::in_atomic(self.alias()) {
            return Err(OrmError::InvalidLookup(
                "select_for_update cannot be used outside of a transaction (atomic)".into(),
            ));
        }
        let rows = db.fetch_all(&compiled.sql, compiled.values).await?;
        rows.iter().map(|row| self.decode_row(row)).collect()
    }

    pub(super) fn decode_row(&self, row: &Row) -> Result<M, OrmError> {
        let mut obj = match &self.partial {
            None => decode_with_related::<M>(row, &self.query.select_related)?,
            Some((fields, base)) => M::fill_from_row(base(), row, fields)?,
        };
        self.mark_loaded(&mut obj);
        Ok(obj)
    }

    /// Records on the instance's state (if it has one) where it came from and what it holds
    /// (the `only()`/`defer()` fields of a row read by `compile_select`).
    pub(super) fn mark_loaded(&self, obj: &mut M) {
        let loaded = self.partial.as_ref().map(|(fields, _)| fields.as_slice());
        if let Some(state) = obj.state_mut() {
            state.set(self.alias(), loaded);
        }
    }

    /// As `mark_loaded`, for a row read with every field whatever `only()`/`defer()` said.
    pub(super) fn mark_full(&self, obj: &mut M) {
        if let Some(state) = obj.state_mut() {
            state.set(self.alias(), None);
        }
    }

    pub(super) fn compile_select(&self, compiler: &Compiler) -> Result<Compiled, OrmError> {
        match &self.partial {
            None => compiler.select(&self.query),
            Some((fields, _)) => compiler.select_fields(&self.query, fields),
        }
    }

    /// Every row (also what awaiting the queryset does), with the relations
    /// `prefetch_related` names loaded; a relation's prefetched rows without a query.
    pub async fn all(self) -> Result<Vec<M>, OrmError> {
        if let Some(cached) = &self.cached {
            return Ok(cached.to_vec());
        }
        let (_, compiler) = self.db()?;
        let compiled = self.compile_select(&compiler)?;
        let mut rows = self.fetch(compiled).await?;
        for relation in &self.prefetch {
            relation.load(&mut rows, self.alias()).await?;
        }
        Ok(rows)
    }

    /// The first row by the ordering (by primary key if unordered), or `None` (`afirst()`).
    pub async fn first(self) -> Result<Option<M>, OrmError> {
        let mut rows = self.ordered_by_pk().limit(1).all().await?;
        Ok(rows.pop())
    }

    /// The last row by the ordering (by primary key if unordered), or `None` (`alast()`).
    pub async fn last(self) -> Result<Option<M>, OrmError> {
        let mut qs = self.ordered_by_pk();
        for order in &mut qs.query.order {
            if let OrderKind::Column { desc, .. } = order {
                *desc = !*desc;
            }
        }
        let mut rows = qs.limit(1).all().await?;
        Ok(rows.pop())
    }

    /// The one matching row; `DoesNotExist` or `MultipleObjectsReturned` otherwise (`aget()`).
    pub async fn get(self) -> Result<M, OrmError> {
        let name = M::meta().name;
        let limited = if self.query.limit.is_none() {
            self.limit(MAX_GET_RESULTS)
        } else {
            self
        };
        let mut rows = limited.all().await?;
        match rows.len() {
            0 => Err(OrmError::DoesNotExist { model: name }),
            1 => Ok(rows.pop().expect("one row")),
            count => Err(OrmError::MultipleObjectsReturned { model: name, count }),
        }
    }

    /// `get()`, with `DoesNotExist` as a 404 (Django's `get_object_or_404`; the `http`
    /// feature).
    #[cfg(feature = "http")]
    pub async fn get_or_404(self) -> Result<M, canter_core::Error> {
        self.get().await.map_err(OrmError::into_http)
    }

    /// The earliest row by `column` (`earliest("created")`).
    pub async fn earliest<T, K: Plain>(self, column: Column<M, T, K>) -> Result<M, OrmError> {
        self.order_by([column.asc()])
            .first()
            .await?
            .ok_or(OrmError::DoesNotExist {
                model: M::meta().name,
            })
    }

    /// The latest row by `column` (`latest("created")`).
    pub async fn latest<T, K: Plain>(self, column: Column<M, T, K>) -> Result<M, OrmError> {
        self.order_by([column.desc()])
            .first()
            .await?
            .ok_or(OrmError::DoesNotExist {
                model: M::meta().name,
            })
    }

    /// `SELECT COUNT(*)` (`acount()`); the number of prefetched rows without a query.
    pub async fn count(self) -> Result<u64, OrmError> {
        if let Some(cached) = &self.cached {
            return Ok(cached.rows().len() as u64);
        }
        let (db, compiler) = self.db()?;
        let compiled = compiler.count(&self.query)?;
        let rows = db.fetch_all(&compiled.sql, compiled.values).await?;
        let count: i64 = rows
            .first()
            .map(|r| r.get::<i64>(0))
            .transpose()?
            .unwrap_or(0);
        Ok(count as u64)
    }

    /// Whether any row matches (`aexists()`); from the prefetched rows without a query.
    pub async fn exists(self) -> Result<bool, OrmError> {
        if let Some(cached) = &self.cached {
            return Ok(!cached.rows().is_empty());
        }
        let (db, compiler) = self.db()?;
        let compiled = compiler.exists(&self.query)?;
        Ok(!db
            .fetch_all(&compiled.sql, compiled.values)
            .await?
            .is_empty())
    }

    /// Whether `obj` is in the results (`acontains()`).
    pub async fn contains(self, obj: &M) -> Result<bool, OrmError> {
        self.filter(pk_exact::<M>(obj.pk_value())).exists().await
    }

    /// Rows as they arrive, for `while let Some(row) = stream.next().await` (Django's
    /// `async for`). Memory stays flat however many rows match.
    pub fn stream(self) -> BoxStream<'static, Result<M, OrmError>> {
        let prepared = self
            .db()
            .and_then(|(db, compiler)| Ok((db, self.compile_select(&compiler)?)));
        match prepared {
            Ok((db, compiled)) => db
                .fetch_stream(compiled.sql, compiled.values)
                .map(move |row| row.and_then(|r| self.decode_row(&r)))
                .boxed(),
            Err(e) => futures_util::stream::once(async move { Err(e) }).boxed(),
        }
    }

    /// Django's `raw()`: your SQL, mapped into models. Select the model's columns in field
    /// order (`SELECT * FROM <table>` does); parameters are bound, never interpolated, with
    /// the backend's placeholders (`?` on SQLite, `$1` on PostgreSQL).
    pub async fn raw(
        self,
        sql: &str,
        params: impl IntoIterator<Item = sea_query::Value>,
    ) -> Result<Vec<M>, OrmError> {
        let (db, _) = self.db()?;
        let rows = db
            .fetch_all(sql, sea_query::Values(params.into_iter().collect()))
            .await?;
        rows.iter()
            .map(|row| {
                let mut obj = decode::<M>(row)?;
                self.mark_full(&mut obj);
                Ok(obj)
            })
            .collect()
    }
}

/// A row, then the `select_related` rows JOINed after its columns.
fn decode_with_related<M: Model>(row: &Row, related: &[RelPath]) -> Result<M, OrmError> {
    let mut obj = decode::<M>(row)?;
    for node in crate::select_related::tree(M::meta(), related) {
        obj.fill_related(&node, row)?;
    }
    Ok(obj)
}

pub(super) fn decode<M: Model>(row: &Row) -> Result<M, OrmError> {
    M::from_row(row).map_err(|e| match e {
        OrmError::Decode {
            column, message, ..
        } => OrmError::Decode {
            model: M::meta().name,
            column,
            message,
        },
        other => other,
    })
}
