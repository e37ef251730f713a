//! Loading related rows in batches (Django's `prefetch_related`): `with_related`,
//! `with_many_to_many`, `prefetch_related`, `in_bulk`.

use super::QuerySet;
use crate::db::database;
use crate::error::OrmError;
use crate::expressions::Column;
use crate::fields::FieldType;
use crate::keys::PrimaryKey;
use crate::model::Model;
use crate::relations::ForeignKey;
use std::collections::HashMap;

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
        let mut ids: Vec<M::Pk> = parents.iter().map(Model::pk).collect();
        ids.sort_unstable();
        ids.dedup();
        // A batch of parents at a time: all of a parent's children come in its batch, in
        // primary-key order.
        let mut children: Vec<R> = Vec::new();
        for batch in ids.chunks(IN_BATCH) {
            children.extend(
                QuerySet::<R>::new()
                    .using(&alias)
                    .filter(fk.in_(batch.iter().cloned().map(ForeignKey::<M>::new)))
                    .order_by([pk_column::<R>().asc()])
                    .all()
                    .await?,
            );
        }
        let field = fk.index();
        let mut grouped: HashMap<M::Pk, Vec<R>> = HashMap::new();
        for child in children.drain(..) {
            if let Some(id) = M::Pk::from_value(&child.to_values()[field]) {
                grouped.entry(id).or_default().push(child);
            }
        }
        Ok(parents
            .into_iter()
            .map(|p| {
                let mine = grouped.remove(&p.pk()).unwrap_or_default();
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
        let mut ids: Vec<M::Pk> = rows.iter().map(Model::pk).collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.is_empty() {
            return Ok(rows.into_iter().map(|r| (r, Vec::new())).collect());
        }
        let db = database(&alias)?;
        // The links, a batch of owners at a time (each owner's links in its batch, in the
        // order the database gives them), grouped by owner.
        let mut links_of: HashMap<M::Pk, Vec<T::Pk>> = HashMap::new();
        let mut target_ids: Vec<T::Pk> = Vec::new();
        for batch in ids.chunks(IN_BATCH) {
            let mut links = sea_query::Query::select();
            links
                .column(sea_query::Alias::new(m2m.owner_column()))
                .column(sea_query::Alias::new(m2m.target_column()))
                .from(sea_query::Alias::new(m2m.join_table()))
                .and_where(
                    sea_query::Expr::col(sea_query::Alias::new(m2m.owner_column()))
                        .is_in(batch.iter().map(FieldType::to_value)),
                );
            let (sql, values) = db.backend().build_select(&links);
            for row in db.fetch_all(&sql, values).await? {
                let (owner, target) = (row.get::<M::Pk>(0)?, row.get::<T::Pk>(1)?);
                links_of.entry(owner).or_default().push(target.clone());
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
                let mine = links_of
                    .get(&row.pk())
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
        let mut ids: Vec<T::Pk> = rows
            .iter()
            .filter_map(|r| T::Pk::from_value(&r.to_values()[field]))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.is_empty() {
            return Ok(rows);
        }
        let by_id = QuerySet::<T>::new().using(&alias).in_bulk(ids).await?;
        for row in &mut rows {
            let Some(id) = T::Pk::from_value(&row.to_values()[field]) else {
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
        ids: impl IntoIterator<Item = M::Pk>,
    ) -> Result<HashMap<M::Pk, M>, OrmError> {
        let mut ids: Vec<M::Pk> = ids.into_iter().collect();
        ids.sort_unstable();
        ids.dedup();
        let mut found = HashMap::new();
        // A batch of keys per query (the databases bind only so many parameters).
        for batch in ids.chunks(IN_BATCH) {
            let rows = self
                .clone()
                .filter(pk_column::<M>().in_(batch.to_vec()))
                .all()
                .await?;
            found.extend(rows.into_iter().map(|m| (m.pk(), m)));
        }
        Ok(found)
    }
}

/// How many keys one `IN (...)` of the relation loaders and `in_bulk` binds: well under
/// PostgreSQL's 65,535 bound parameters and SQLite's 32,766; more keys go in several queries.
pub const IN_BATCH: usize = 10_000;

/// The primary key as a typed column (for lookups from generic code).
pub(crate) fn pk_column<M: Model>() -> Column<M, M::Pk> {
    Column::new(M::meta().pk)
}
