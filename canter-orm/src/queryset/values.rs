//! Rows as values instead of models: `values`, `values_list`, `aggregate`, `annotate_count`,
//! `annotate_values`.

use super::read::decode;
use super::{field_indexes, QuerySet};
use crate::aggregates::Aggregate;
use crate::error::OrmError;
use crate::expressions::Column;
use crate::model::Model;

impl<M: Model> QuerySet<M> {
    /// Rows as JSON objects of the named fields (all fields when empty), Django's `values()`.
    pub async fn values(
        self,
        fields: &[&str],
    ) -> Result<Vec<serde_json::Map<String, serde_json::Value>>, OrmError> {
        let meta = M::meta();
        let names: Vec<String> = if fields.is_empty() {
            meta.fields.iter().map(|f| f.name.to_owned()).collect()
        } else {
            fields.iter().map(|f| (*f).to_owned()).collect()
        };
        // Each name is a field or a path across relations (`author__name`), checked.
        let columns = names
            .iter()
            .map(|name| {
                let parts: Vec<&str> = name.split("__").collect();
                let (path, index, _, used) = crate::query::resolve_field(meta, &parts)?;
                if used != parts.len() {
                    return Err(OrmError::InvalidLookup(format!(
                        "{} has no field {name:?}",
                        meta.name
                    )));
                }
                Ok((path, index))
            })
            .collect::<Result<Vec<_>, OrmError>>()?;
        let (db, compiler) = self.db()?;
        let compiled = compiler.select_paths(&self.query, &columns)?;
        let rows = db.fetch_all(&compiled.sql, compiled.values).await?;
        Ok(rows
            .iter()
            .map(|row| {
                names
                    .iter()
                    .enumerate()
                    .map(|(pos, name)| (name.clone(), row.get_json(pos)))
                    .collect()
            })
            .collect())
    }

    /// Django's `annotate(n=Count("books"))` over a reverse foreign key: each row with how many
    /// rows of `R` point at it, in one query.
    pub async fn annotate_count<R: Model>(
        self,
        fk: Column<R, crate::relations::ForeignKey<M>>,
    ) -> Result<Vec<(M, i64)>, OrmError> {
        let related = R::meta();
        let column = related.fields[fk.index()].column;
        let (db, compiler) = self.db()?;
        let compiled = compiler.select_with_counts(&self.query, &[(related.table, column)])?;
        let rows = db.fetch_all(&compiled.sql, compiled.values).await?;
        let count_at = M::meta().fields.len();
        rows.iter()
            .map(|row| {
                let mut obj = decode::<M>(row)?;
                self.mark_full(&mut obj);
                Ok((obj, row.get::<i64>(count_at)?))
            })
            .collect()
    }

    /// Django's `aggregate(...)`: one JSON object with a key per aggregate
    /// (`{"views__sum": 150, "count": 5}`).
    pub async fn aggregate(
        self,
        aggregates: impl IntoIterator<Item = Aggregate<M>>,
    ) -> Result<serde_json::Map<String, serde_json::Value>, OrmError> {
        let mut rows = self.annotate_values(&[], aggregates).await?;
        Ok(rows.pop().unwrap_or_default())
    }

    /// Django's `values("status").annotate(n=Count("id"))`: one JSON object per distinct
    /// combination of `group_by` fields, with the aggregates beside them, ordered by the fields.
    pub async fn annotate_values(
        self,
        group_by: &[&str],
        aggregates: impl IntoIterator<Item = Aggregate<M>>,
    ) -> Result<Vec<serde_json::Map<String, serde_json::Value>>, OrmError> {
        let meta = M::meta();
        let aggregates: Vec<Aggregate<M>> = aggregates.into_iter().collect();
        let fields = field_indexes::<M>(group_by)?;
        let (db, compiler) = self.db()?;
        let compiled = compiler.aggregate(&self.query, &fields, &aggregates)?;
        let rows = db.fetch_all(&compiled.sql, compiled.values).await?;
        Ok(rows
            .iter()
            .map(|row| {
                let mut map = serde_json::Map::new();
                for (pos, &i) in fields.iter().enumerate() {
                    map.insert(meta.fields[i].name.to_owned(), row.get_json(pos));
                }
                for (k, aggregate) in aggregates.iter().enumerate() {
                    map.insert(aggregate.key(meta), row.get_json(fields.len() + k));
                }
                map
            })
            .collect())
    }

    /// Rows as lists of the named fields' values (Django's `values_list()`).
    pub async fn values_list(
        self,
        fields: &[&str],
    ) -> Result<Vec<Vec<serde_json::Value>>, OrmError> {
        let names: Vec<&str> = if fields.is_empty() {
            M::meta().fields.iter().map(|f| f.name).collect()
        } else {
            fields.to_vec()
        };
        let rows = self.values(&names).await?;
        Ok(rows
            .into_iter()
            .map(|row| {
                names
                    .iter()
                    .map(|n| row.get(*n).cloned().unwrap_or_default())
                    .collect()
            })
            .collect())
    }
}
