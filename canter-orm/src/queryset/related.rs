//! Loading related rows in batches (Django's `prefetch_related`): `with_related`,
//! `with_many_to_many`, `prefetch_related`, `in_bulk`.

use super::QuerySet;
use crate::db::database;
use crate::error::OrmError;
use crate::expressions::Column;
use crate::model::Model;

impl<M: Model> QuerySet<M> {
    /// Django's `prefetch_related` for a reverse relation: each row with the rows of `R` whose
    /// foreign key `fk` points at it, in two queries (no N+1); past [`IN_BATCH`] parents the
    /// children come in one query per batch of parents.
    /// `Author::objects().with_related(Book::author)` → `Vec<(Author, Vec<Book>)>`.
    pub async fn with_related<R: Model>(
        self,
        fk: Column<R, crate::relations::ForeignKey<M>>,
    ) -> Result<Vec<(M, Vec<R>)>, OrmError> {
        let alias = self.alias().to_owned();
        let parents = self.all().await?;
        let mut ids: Vec<i64> = parents
            .iter()
            .filter_map(|p| pk_i64(&p.pk_value()))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        // A batch of parents at a time: all of a parent's children come in its batch, in
        // primary-key order.
        let mut children: Vec<R> = Vec::new();
        for batch in ids.chunks(IN_BATCH) {
            children.extend(
                QuerySet::<R>::new()
                    .using(&alias)
                    .filter(fk.in_(batch.to_vec()))
                    .order_by([pk_column::<R>().asc()])
                    .all()
                    .await?,
            );
        }
        let field = fk.index();
        let mut grouped: std::collections::HashMap<i64, Vec<R>> = std::collections::HashMap::new();
        for child in children.drain(..) {
            if let Some(id) = pk_i64(&child.to_values()[field]) {
                grouped.entry(id).or_default().push(child);
            }
        }
        Ok(parents
            .into_iter()
            .map(|p| {
                let mine = pk_i64(&p.pk_value())
                    .and_then(|id| grouped.remove(&id))
                    .unwrap_or_default();
                (p, mine)
            })
            .collect())
    }

    /// Django's `prefetch_related("tags")` for a many-to-many field: each row with its related
    /// rows, in three queries (the rows, the links, the targets); past [`IN_BATCH`] rows (or
    /// targets) the links (or targets) come in one query per batch.
    pub async fn with_many_to_many<T: Model + Clone>(
        self,
        field: &str,
    ) -> Result<Vec<(M, Vec<T>)>, OrmError> {
        use sea_query::ExprTrait;
        let meta = M::meta();
        let m2m = meta
            .many_to_many
            .iter()
            .find(|m| m.name == field)
            .ok_or_else(|| {
                OrmError::InvalidLookup(format!(
                    "{} has no many-to-many field {field:?}",
                    meta.name
                ))
            })?;
        if !std::ptr::eq((m2m.target)(), T::meta()) {
            return Err(OrmError::InvalidLookup(format!(
                "{}.{field} does not point at {}",
                meta.name,
                T::meta().name
            )));
        }
        let alias = self.alias().to_owned();
        let rows = self.all().await?;
        let mut ids: Vec<i64> = rows.iter().filter_map(|r| pk_i64(&r.pk_value())).collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.is_empty() {
            return Ok(rows.into_iter().map(|r| (r, Vec::new())).collect());
        }
        let db = database(&alias)?;
        // The links, a batch of owners at a time (each owner's links in its batch, in the
        // order the database gives them), grouped by owner.
        let mut links_of: std::collections::HashMap<i64, Vec<i64>> =
            std::collections::HashMap::new();
        let mut target_ids: Vec<i64> = Vec::new();
        for batch in ids.chunks(IN_BATCH) {
            let mut links = sea_query::Query::select();
            links
                .column(sea_query::Alias::new(m2m.owner_column()))
                .column(sea_query::Alias::new(m2m.target_column()))
                .from(sea_query::Alias::new(m2m.join_table()))
                .and_where(
                    sea_query::Expr::col(sea_query::Alias::new(m2m.owner_column()))
                        .is_in(batch.iter().copied()),
                );
            let (sql, values) = db.backend().build_select(&links);
            for row in db.fetch_all(&sql, values).await? {
                let (owner, target) = (row.get::<i64>(0)?, row.get::<i64>(1)?);
                links_of.entry(owner).or_default().push(target);
                target_ids.push(target);
            }
        }
        let targets = QuerySet::<T>::new()
            .using(&alias)
            .in_bulk(target_ids)
            .await?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let mine = pk_i64(&row.pk_value())
                    .and_then(|id| links_of.get(&id))
                    .map(|linked| {
                        linked
                            .iter()
                            .filter_map(|t| targets.get(t).cloned())
                            .collect()
                    })
                    .unwrap_or_default();
                (row, mine)
            })
            .collect())
    }

    /// Django's `prefetch_related` for a foreign key: fills every row's cache for `fk` with one
    /// more query for all the related rows (instead of a JOIN; useful when many rows share few
    /// targets), or one per [`IN_BATCH`] distinct targets.
    pub async fn prefetch_related<T: Model + Clone>(
        self,
        fk: Column<M, crate::relations::ForeignKey<T>>,
    ) -> Result<Vec<M>, OrmError> {
        let alias = self.alias().to_owned();
        let mut rows = self.all().await?;
        let field = fk.index();
        let mut ids: Vec<i64> = rows
            .iter()
            .filter_map(|r| pk_i64(&r.to_values()[field]))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.is_empty() {
            return Ok(rows);
        }
        let by_id = QuerySet::<T>::new().using(&alias).in_bulk(ids).await?;
        for row in &mut rows {
            let Some(id) = pk_i64(&row.to_values()[field]) else {
                continue;
            };
            if let Some(target) = by_id.get(&id) {
                row.set_related_cache(field, target.clone());
            }
        }
        Ok(rows)
    }

    /// Django's `in_bulk(id_list)`: the rows with these primary keys, by key (one query per
    /// [`IN_BATCH`] keys).
    pub async fn in_bulk(
        self,
        ids: impl IntoIterator<Item = i64>,
    ) -> Result<std::collections::HashMap<i64, M>, OrmError> {
        let mut ids: Vec<i64> = ids.into_iter().collect();
        ids.sort_unstable();
        ids.dedup();
        let mut found = std::collections::HashMap::new();
        // A batch of keys per query (the databases bind only so many parameters).
        for batch in ids.chunks(IN_BATCH) {
            let rows = self
                .clone()
                .filter(pk_column::<M>().in_(batch.to_vec()))
                .all()
                .await?;
            found.extend(
                rows.into_iter()
                    .filter_map(|m| Some((pk_i64(&m.pk_value())?, m))),
            );
        }
        Ok(found)
    }
}

/// How many keys one `IN (...)` of the relation loaders and `in_bulk` binds: well under
/// PostgreSQL's 65,535 bound parameters and SQLite's 32,766; more keys go in several queries.
pub const IN_BATCH: usize = 10_000;

pub(crate) fn pk_i64(value: &sea_query::Value) -> Option<i64> {
    match value {
        sea_query::Value::BigInt(Some(id)) => Some(*id),
        sea_query::Value::Int(Some(id)) => Some(i64::from(*id)),
        _ => None,
    }
}

/// The primary key as a typed column (for lookups from generic code).
pub(crate) fn pk_column<M: Model>() -> Column<M, i64> {
    Column::new(M::meta().pk)
}
