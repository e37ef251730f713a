//! `QuerySet`: lazy, cloneable, chainable; nothing touches the database until a terminal method
//! is awaited (or the queryset itself, which fetches every row, like `list(qs)`).
//!
//! ```no_run
//! # use canter_orm::{Model, ModelExt};
//! # #[derive(canter_orm::Model, Debug)]
//! # #[model(crate = canter_orm, app = "docs")]
//! # struct MyModel { id: i64, name: String, active: bool }
//! # async fn demo() -> Result<(), canter_orm::OrmError> {
//! // The article's `await MyModel.objects.filter(active=True).afirst()`:
//! let data: Option<MyModel> = MyModel::objects().filter(MyModel::active.eq(true)).first().await?;
//! let all: Vec<MyModel> = MyModel::objects().order_by([MyModel::name.desc()]).limit(10).await?;
//! # Ok(()) }
//! ```

use std::future::{Future, IntoFuture};
use std::marker::PhantomData;
use std::ops::Range;
use std::pin::Pin;
use std::sync::Arc;

use futures_util::stream::BoxStream;
use futures_util::StreamExt;

use crate::aggregates::Aggregate;
use crate::backends::{Database, Row};
use crate::compiler::{Compiled, Compiler};
use crate::db::{database, DEFAULT_DB_ALIAS};
use crate::error::OrmError;
use crate::expressions::kind::Plain;
use crate::expressions::{pk_exact, Assignment, Column, Node, OrderBy, OrderKind, Q};
use crate::model::Model;
use crate::query::{parse_lookup, parse_order, Query, RowLock};

/// The most values [`QuerySet::filter_params`] takes from text pairs (a query string), in all:
/// Django's `DATA_UPLOAD_MAX_NUMBER_FIELDS` default. More is an `InvalidLookup` (a 400).
pub const MAX_FILTER_VALUES: usize = 1000;

/// The deepest a filter tree may nest (`a | (b & (c | …))`); deeper is an `InvalidLookup`
/// when the query is compiled, before any SQL is sent. Lists of any length are fine (they
/// render as balanced groups); only nesting costs stack when rendered.
pub const MAX_FILTER_DEPTH: usize = 64;

/// Django's `MAX_GET_RESULTS`: how many rows `get()` reads to report "more than one".
const MAX_GET_RESULTS: u64 = 21;

/// A lazy query over model `M`.
pub struct QuerySet<M> {
    pub(crate) query: Query,
    alias: Option<String>,
    /// `only()` / `defer()`: the fields loaded, and where the others' values come from.
    partial: Option<(Vec<usize>, fn() -> M)>,
    _model: PhantomData<fn() -> M>,
}

impl<M> Clone for QuerySet<M> {
    fn clone(&self) -> Self {
        QuerySet {
            query: self.query.clone(),
            alias: self.alias.clone(),
            partial: self.partial.clone(),
            _model: PhantomData,
        }
    }
}

impl<M> std::fmt::Debug for QuerySet<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuerySet")
            .field("query", &self.query)
            .field("using", &self.alias)
            .finish()
    }
}

impl<M: Model> Default for QuerySet<M> {
    fn default() -> Self {
        Self::new()
    }
}

/// A row, then the `select_related` rows JOINed after its columns.
fn decode_with_related<M: Model>(row: &Row, related: &[usize]) -> Result<M, OrmError> {
    let mut obj = decode::<M>(row)?;
    let mut offset = M::meta().fields.len();
    for &field in related {
        obj.fill_related(field, row, offset)?;
        let target = M::meta().fields[field]
            .related
            .expect("select_related takes relation fields");
        offset += target().fields.len();
    }
    Ok(obj)
}

fn decode<M: Model>(row: &Row) -> Result<M, OrmError> {
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

impl<M: Model> QuerySet<M> {
    pub fn new() -> Self {
        QuerySet {
            query: Query::default(),
            alias: None,
            partial: None,
            _model: PhantomData,
        }
    }

    /// Runs on database `alias` (Django's `.using("replica")`).
    pub fn using(mut self, alias: &str) -> Self {
        self.alias = Some(alias.to_owned());
        self
    }

    fn alias(&self) -> &str {
        self.alias.as_deref().unwrap_or(DEFAULT_DB_ALIAS)
    }

    fn db(&self) -> Result<(Arc<Database>, Compiler), OrmError> {
        let db = database(self.alias())?;
        let compiler = Compiler {
            vendor: db.vendor,
            meta: M::meta(),
        };
        Ok((db, compiler))
    }

    /// Keeps rows matching `q` (Django's `filter(...)`); chained filters are ANDed.
    pub fn filter(mut self, q: Q<M>) -> Self {
        let current = Q::<M>::from_node(std::mem::replace(&mut self.query.filter, Node::All));
        self.query.filter = (current & q).node;
        self
    }

    /// Drops rows matching `q` (Django's `exclude(...)`).
    pub fn exclude(self, q: Q<M>) -> Self {
        self.filter(!q)
    }

    /// Filters from text pairs, as a query string gives them: `[("name__icontains", "x")]`.
    /// Unknown fields, unknown lookups and values that do not fit are errors naming them, and
    /// so is more than [`MAX_FILTER_VALUES`] values in all (each lookup counts one, `__range`
    /// two, `__in` one per item): the pairs come from a request, and the work a query does
    /// must not be the client's to choose.
    pub fn filter_params<'a>(
        mut self,
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, OrmError> {
        let mut values = 0usize;
        for (key, value) in pairs {
            let node = parse_lookup::<M>(key, value)?;
            values += match &node {
                Node::Lookup(lookup) => lookup.rhs.value_count(),
                _ => 1,
            };
            if values > MAX_FILTER_VALUES {
                return Err(OrmError::InvalidLookup(format!(
                    "too many filter values: at most {MAX_FILTER_VALUES}"
                )));
            }
            self = self.filter(Q::from_node(node));
        }
        Ok(self)
    }

    /// Replaces the ordering: `order_by([MyModel::created.desc(), MyModel::name.asc()])`.
    pub fn order_by(mut self, orders: impl IntoIterator<Item = OrderBy<M>>) -> Self {
        self.query.order = orders.into_iter().map(|o| o.kind).collect();
        self
    }

    /// Ordering by names: `"name"`, `"-created"`, `"?"` (random). Unknown names are errors.
    pub fn order_by_names(mut self, names: &[&str]) -> Result<Self, OrmError> {
        self.query.order = names
            .iter()
            .map(|n| parse_order::<M>(n))
            .collect::<Result<_, _>>()?;
        Ok(self)
    }

    /// `SELECT DISTINCT`.
    pub fn distinct(mut self) -> Self {
        self.query.distinct = true;
        self
    }

    /// `SELECT ... FOR UPDATE`: the rows stay locked until the surrounding `atomic` ends.
    /// Outside `atomic` the query fails, as in Django. (On SQLite, whose transactions hold the
    /// write lock from their start, this adds nothing.)
    pub fn select_for_update(mut self) -> Self {
        self.query.lock = Some(RowLock::Wait);
        self
    }

    /// `FOR UPDATE SKIP LOCKED` (PostgreSQL): rows another transaction holds are skipped.
    pub fn select_for_update_skip_locked(mut self) -> Self {
        self.query.lock = Some(RowLock::SkipLocked);
        self
    }

    /// `FOR UPDATE NOWAIT` (PostgreSQL): fail at once instead of waiting for a held row.
    pub fn select_for_update_nowait(mut self) -> Self {
        self.query.lock = Some(RowLock::NoWait);
        self
    }

    /// Django's `select_related("author")`: the related rows come in the same query (a JOIN)
    /// and are cached on the foreign keys (`book.author.cached()`), so reading them costs no
    /// further query. Chain it for several foreign keys.
    pub fn select_related<T>(mut self, column: Column<M, crate::relations::ForeignKey<T>>) -> Self {
        if !self.query.select_related.contains(&column.index()) {
            self.query.select_related.push(column.index());
        }
        self
    }

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
            let (sql, values) = match db.vendor {
                crate::Vendor::Sqlite => links.build(sea_query::SqliteQueryBuilder),
                crate::Vendor::Postgres => links.build(sea_query::PostgresQueryBuilder),
            };
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

    /// At most `n` rows (`qs[:n]`).
    pub fn limit(mut self, n: u64) -> Self {
        self.query.limit = Some(n);
        self
    }

    /// Skips `n` rows.
    pub fn offset(mut self, n: u64) -> Self {
        self.query.offset = Some(n);
        self
    }

    /// Django's slicing: `qs.slice(10..20)` is `qs[10:20]`.
    pub fn slice(self, range: Range<u64>) -> Self {
        let len = range.end.saturating_sub(range.start);
        self.offset(range.start).limit(len)
    }

    async fn fetch(&self, compiled: Compiled) -> Result<Vec<M>, OrmError> {
        let (db, _) = self.db()?;
        if self.query.lock.is_some() && !crate::transaction::in_atomic(self.alias()) {
            return Err(OrmError::InvalidLookup(
                "select_for_update cannot be used outside of a transaction (atomic)".into(),
            ));
        }
        let rows = db.fetch_all(&compiled.sql, compiled.values).await?;
        rows.iter().map(|row| self.decode_row(row)).collect()
    }

    fn decode_row(&self, row: &Row) -> Result<M, OrmError> {
        let mut obj = match &self.partial {
            None => decode_with_related::<M>(row, &self.query.select_related)?,
            Some((fields, base)) => M::fill_from_row(base(), row, fields)?,
        };
        self.mark_loaded(&mut obj);
        Ok(obj)
    }

    /// Records on the instance's state (if it has one) where it came from and what it holds
    /// (the `only()`/`defer()` fields of a row read by `compile_select`).
    fn mark_loaded(&self, obj: &mut M) {
        let loaded = self.partial.as_ref().map(|(fields, _)| fields.as_slice());
        if let Some(state) = obj.state_mut() {
            state.set(self.alias(), loaded);
        }
    }

    /// As `mark_loaded`, for a row read with every field whatever `only()`/`defer()` said.
    fn mark_full(&self, obj: &mut M) {
        if let Some(state) = obj.state_mut() {
            state.set(self.alias(), None);
        }
    }

    fn compile_select(&self, compiler: &Compiler) -> Result<Compiled, OrmError> {
        match &self.partial {
            None => compiler.select(&self.query),
            Some((fields, _)) => compiler.select_fields(&self.query, fields),
        }
    }

    /// Every row (also what awaiting the queryset does).
    pub async fn all(self) -> Result<Vec<M>, OrmError> {
        let (_, compiler) = self.db()?;
        let compiled = self.compile_select(&compiler)?;
        self.fetch(compiled).await
    }

    /// Django's `only("name")`: loads just these fields (and the primary key); the others
    /// keep their `Default` values. For wide rows whose big columns a view does not need.
    /// The model needs a [`ModelState`](crate::ModelState) field: it records what was loaded,
    /// so `save()` writes just those fields and never the placeholders.
    pub fn only(mut self, fields: &[&str]) -> Result<Self, OrmError>
    where
        M: Default + crate::model::HasState,
    {
        let mut indexes = field_indexes::<M>(fields)?;
        if !indexes.contains(&M::meta().pk) {
            indexes.insert(0, M::meta().pk);
        }
        self.partial = Some((indexes, M::default));
        Ok(self)
    }

    /// Django's `defer("body")`: loads every field but these, which keep their `Default`
    /// (and which `save()` leaves alone). Needs a [`ModelState`](crate::ModelState) field.
    pub fn defer(mut self, fields: &[&str]) -> Result<Self, OrmError>
    where
        M: Default + crate::model::HasState,
    {
        let deferred = field_indexes::<M>(fields)?;
        let pk = M::meta().pk;
        let indexes = (0..M::meta().fields.len())
            .filter(|i| *i == pk || !deferred.contains(i))
            .collect();
        self.partial = Some((indexes, M::default));
        Ok(self)
    }

    fn ordered_by_pk(mut self) -> Self {
        if self.query.order.is_empty() {
            self.query.order = vec![OrderKind::Column {
                path: crate::expressions::RelPath::EMPTY,
                field: M::meta().pk,
                desc: false,
            }];
        }
        self
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

    /// `get()`, with `DoesNotExist` as a 404 (Django's `get_object_or_404`).
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

    /// `SELECT COUNT(*)` (`acount()`).
    pub async fn count(self) -> Result<u64, OrmError> {
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

    /// Whether any row matches (`aexists()`).
    pub async fn exists(self) -> Result<bool, OrmError> {
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
        // Stay under SQLite's and PostgreSQL's bound-parameter limits.
        let limit = match db.vendor {
            crate::backends::Vendor::Sqlite => 32_766,
            crate::backends::Vendor::Postgres => 65_535,
        };
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
                    obj.set_auto_pk(row.get::<i64>(0)?);
                }
            } else {
                db.execute(&compiled.sql, compiled.values).await?;
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

    /// The SQL this queryset runs, with its parameters (for debugging; never executed).
    pub fn sql(&self) -> Result<(String, Vec<String>), OrmError> {
        let (_, compiler) = self.db()?;
        let compiled = compiler.select(&self.query)?;
        Ok((
            compiled.sql,
            compiled.values.0.iter().map(|v| format!("{v:?}")).collect(),
        ))
    }

    /// The database's plan for this query (Django's `explain()`).
    pub async fn explain(self) -> Result<String, OrmError> {
        let (db, compiler) = self.db()?;
        let compiled = compiler.select(&self.query)?;
        let prefix = match db.vendor {
            crate::backends::Vendor::Sqlite => "EXPLAIN QUERY PLAN ",
            crate::backends::Vendor::Postgres => "EXPLAIN ",
        };
        let rows = db
            .fetch_all(&format!("{prefix}{}", compiled.sql), compiled.values)
            .await?;
        Ok(rows
            .iter()
            .map(|row| {
                (0..row.len())
                    .map(|i| row.get_json(i))
                    .map(|v| {
                        v.as_str()
                            .map(str::to_owned)
                            .unwrap_or_else(|| v.to_string())
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect::<Vec<_>>()
            .join("\n"))
    }
}

/// How many keys one `IN (...)` of the relation loaders and `in_bulk` binds: well under
/// PostgreSQL's 65,535 bound parameters and SQLite's 32,766; more keys go in several queries.
pub const IN_BATCH: usize = 10_000;

fn pk_i64(value: &sea_query::Value) -> Option<i64> {
    match value {
        sea_query::Value::BigInt(Some(id)) => Some(*id),
        sea_query::Value::Int(Some(id)) => Some(i64::from(*id)),
        _ => None,
    }
}

/// The primary key as a typed column (for lookups from generic code).
fn pk_column<M: Model>() -> Column<M, i64> {
    Column::new(M::meta().pk)
}

/// Field names → indexes, every name checked against the model.
fn field_indexes<M: Model>(names: &[&str]) -> Result<Vec<usize>, OrmError> {
    let meta = M::meta();
    names
        .iter()
        .map(|name| {
            meta.field(name).map(|(i, _)| i).ok_or_else(|| {
                OrmError::InvalidLookup(format!("{} has no field {name:?}", meta.name))
            })
        })
        .collect()
}

impl<M: Model> IntoFuture for QuerySet<M> {
    type Output = Result<Vec<M>, OrmError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send>>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.all())
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

async fn insert_instance<M: Model>(obj: &mut M, alias: &str) -> Result<(), OrmError> {
    obj.validate()?;
    let db = database(alias)?;
    let compiler = Compiler {
        vendor: db.vendor,
        meta: M::meta(),
    };
    let compiled = compiler.insert(vec![obj.to_values()], false)?;
    if M::meta().has_auto_pk() {
        let rows = db.fetch_all(&compiled.sql, compiled.values).await?;
        let id: i64 = rows
            .first()
            .ok_or_else(|| OrmError::Database {
                alias: alias.to_owned(),
                message: "INSERT returned no key".into(),
            })?
            .get(0)?;
        obj.set_auto_pk(id);
    } else {
        db.execute(&compiled.sql, compiled.values).await?;
    }
    if let Some(state) = obj.state_mut() {
        state.set(alias, None);
    }
    Ok(())
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
        vendor: db.vendor,
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
