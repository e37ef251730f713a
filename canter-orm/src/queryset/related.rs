//! Loading related rows in batches (Django's `prefetch_related`): the loaders that return
//! pairs (`with_related`, `with_many_to_many`), `in_bulk`, and the batched queries they share
//! with `prefetch_related` (crate::prefetch).

use super::QuerySet;
use crate::db::database;
use crate::error::OrmError;
use crate::expressions::{Column, Lookup, Node, Op, Operand, RelPath, Q};
use crate::fields::FieldType;
use crate::keys::PrimaryKey;
use crate::model::Model;
use crate::relations::ManyToManyMeta;
use std::collections::HashMap;

impl<M: Model> QuerySet<M> {
    /// Each row with the rows of `R` whose foreign key `fk` points at it, as pairs, in two
    /// queries (no N+1); past [`IN_BATCH`] parents the children come in one query per batch of
    /// parents. `Author::objects().with_related(Book::author)` → `Vec<(Author, Vec<Book>)>`.
    /// (`prefetch_related(Book::author.reverse())` keeps them on the rows instead.)
    pub async fn with_related<R: Model>(
        self,
        fk: Column<R, crate::relations::ForeignKey<M>>,
    ) -> Result<Vec<(M, Vec<R>)>, OrmError> {
        let alias = self.alias().to_owned();
        let parents = self.all().await?;
        let ids = sorted_keys(parents.iter());
        let mut grouped = children_by_parent::<M, R>(&alias, fk.index(), &ids).await?;
        Ok(parents
            .into_iter()
            .map(|p| {
                let mine = grouped.remove(&p.pk()).unwrap_or_default();
                (p, mine)
            })
            .collect())
    }

    /// Each row with the rows its many-to-many field `field` links, as pairs, in three queries
    /// (the rows, the links, the targets); past [`IN_BATCH`] rows (or targets) the links (or
    /// targets) come in one query per batch. (`prefetch_related(Post::tags)` keeps them on
    /// the rows instead.)
    pub async fn with_many_to_many<T: Model + Clone>(
        self,
        field: &str,
    ) -> Result<Vec<(M, Vec<T>)>, OrmError> {
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
        let ids = sorted_keys(rows.iter());
        let mut linked = targets_by_owner::<M, T>(&alias, m2m, &ids).await?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let mine = linked.remove(&row.pk()).unwrap_or_default();
                (row, mine)
            })
            .collect())
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

/// The rows' primary keys, sorted, each once.
pub(crate) fn sorted_keys<'a, M: Model>(rows: impl Iterator<Item = &'a M>) -> Vec<M::Pk> {
    let mut ids: Vec<M::Pk> = rows.map(Model::pk).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// The rows of `R` whose foreign key (field `field`) points at one of `ids`, by that key, each
/// group in primary-key order: one query per [`IN_BATCH`] keys (all of a parent's children
/// come in its batch).
pub(crate) async fn children_by_parent<M: Model, R: Model>(
    alias: &str,
    field: usize,
    ids: &[M::Pk],
) -> Result<HashMap<M::Pk, Vec<R>>, OrmError> {
    let mut grouped: HashMap<M::Pk, Vec<R>> = HashMap::new();
    for batch in ids.chunks(IN_BATCH) {
        let pointing = Q::from_node(Node::Lookup(Lookup {
            path: RelPath::EMPTY,
            field,
            transform: None,
            op: Op::In,
            rhs: Operand::Values(batch.iter().map(FieldType::to_value).collect()),
        }));
        let children = QuerySet::<R>::new()
            .using(alias)
            .filter(pointing)
            .order_by([pk_column::<R>().asc()])
            .all()
            .await?;
        for child in children {
            if let Some(id) = M::Pk::from_value(&child.to_values()[field]) {
                grouped.entry(id).or_default().push(child);
            }
        }
    }
    Ok(grouped)
}

/// The rows of `T` that many-to-many `m2m` of `M` links to each of `ids`, by owner, in the
/// order the database gives the links: the links a batch of [`IN_BATCH`] owners at a time,
/// then the targets with `in_bulk`.
pub(crate) async fn targets_by_owner<M: Model, T: Model + Clone>(
    alias: &str,
    m2m: &ManyToManyMeta,
    ids: &[M::Pk],
) -> Result<HashMap<M::Pk, Vec<T>>, OrmError> {
    use sea_query::ExprTrait;
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let db = database(alias)?;
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
        .using(alias)
        .in_bulk(target_ids)
        .await?;
    Ok(links_of
        .into_iter()
        .map(|(owner, linked)| {
            let rows = linked
                .iter()
                .filter_map(|t| targets.get(t).cloned())
                .collect();
            (owner, rows)
        })
        .collect())
}

/// The primary key as a typed column (for lookups from generic code).
pub(crate) fn pk_column<M: Model>() -> Column<M, M::Pk> {
    Column::new(M::meta().pk)
}
