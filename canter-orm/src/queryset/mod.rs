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

use crate::backends::Database;
use crate::compiler::Compiler;
use crate::db::{database, DEFAULT_DB_ALIAS};
use crate::error::OrmError;
use crate::expressions::kind::Plain;
use crate::expressions::{Column, Node, OrderBy, OrderKind, Q};
use crate::model::Model;
use crate::prefetch::{Prefetch, Prefetched};
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
    partial: Option<Partial<M>>,
    /// `prefetch_related`: the relations loaded for the rows after they are read, in order.
    prefetch: Vec<Arc<dyn Prefetch<M>>>,
    /// The rows a relation accessor already holds (`author.books()` after a prefetch):
    /// returned without a query until a chained method changes what the queryset selects
    /// (each of them drops it).
    cached: Option<Prefetched<M>>,
    _model: PhantomData<fn() -> M>,
}

/// The fields a partial row loads, and the instance its other fields come from.
type Partial<M> = (Vec<usize>, fn() -> M);

impl<M> Clone for QuerySet<M> {
    fn clone(&self) -> Self {
        QuerySet {
            query: self.query.clone(),
            alias: self.alias.clone(),
            partial: self.partial.clone(),
            prefetch: self.prefetch.clone(),
            cached: self.cached.clone(),
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

mod read;
pub(crate) mod related;
mod values;
mod write;

pub use related::IN_BATCH;

impl<M: Model> QuerySet<M> {
    pub fn new() -> Self {
        QuerySet {
            query: Query::default(),
            alias: None,
            partial: None,
            prefetch: Vec::new(),
            cached: None,
            _model: PhantomData,
        }
    }

    /// Runs on database `alias` (Django's `.using("replica")`).
    pub fn using(mut self, alias: &str) -> Self {
        self.cached = None;
        self.alias = Some(alias.to_owned());
        self
    }

    fn alias(&self) -> &str {
        self.alias.as_deref().unwrap_or(DEFAULT_DB_ALIAS)
    }

    fn db(&self) -> Result<(Arc<Database>, Compiler), OrmError> {
        let db = database(self.alias())?;
        let compiler = Compiler {
            backend: db.backend(),
            meta: M::meta(),
        };
        Ok((db, compiler))
    }

    /// Keeps rows matching `q` (Django's `filter(...)`); chained filters are ANDed.
    pub fn filter(mut self, q: Q<M>) -> Self {
        self.cached = None;
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
        self.cached = None;
        self.query.order = orders.into_iter().map(|o| o.kind).collect();
        self
    }

    /// Ordering by names: `"name"`, `"-created"`, `"?"` (random). Unknown names are errors.
    pub fn order_by_names(mut self, names: &[&str]) -> Result<Self, OrmError> {
        self.cached = None;
        self.query.order = names
            .iter()
            .map(|n| parse_order::<M>(n))
            .collect::<Result<_, _>>()?;
        Ok(self)
    }

    /// `SELECT DISTINCT`.
    pub fn distinct(mut self) -> Self {
        self.cached = None;
        self.query.distinct = true;
        self
    }

    /// `SELECT ... FOR UPDATE`: the rows stay locked until the surrounding `atomic` ends.
    /// Outside `atomic` the query fails, as in Django. (On SQLite, whose transactions hold the
    /// write lock from their start, this adds nothing.)
    pub fn select_for_update(mut self) -> Self {
        self.cached = None;
        self.query.lock = Some(RowLock::Wait);
        self
    }

    /// `FOR UPDATE SKIP LOCKED` (PostgreSQL): rows another transaction holds are skipped.
    pub fn select_for_update_skip_locked(mut self) -> Self {
        self.cached = None;
        self.query.lock = Some(RowLock::SkipLocked);
        self
    }

    /// `FOR UPDATE NOWAIT` (PostgreSQL): fail at once instead of waiting for a held row.
    pub fn select_for_update_nowait(mut self) -> Self {
        self.cached = None;
        self.query.lock = Some(RowLock::NoWait);
        self
    }

    /// Django's `select_related("author")`: the related rows come in the same query (a JOIN)
    /// and are cached on the foreign keys (`book.author.cached()`), so reading them costs no
    /// further query. Chain it for several foreign keys; follow several hops with `rel`
    /// (`select_related(Book::author.rel(Author::country))`, Django's `"author__country"`),
    /// which caches every row along the way (`book.author.cached()?.country.cached()`).
    pub fn select_related<T: Model, K: Plain>(
        mut self,
        column: Column<M, crate::relations::ForeignKey<T>, K>,
    ) -> Self {
        self.cached = None;
        let (path, field) = column.target();
        // A column reaches at most four relations (`rel` refuses more), so a fifth hop
        // here is the one case left: four hops and then the foreign key itself.
        let path = path
            .then(field)
            .expect("select_related follows at most four relations");
        if !self.query.select_related.contains(&path) {
            self.query.select_related.push(path);
        }
        self
    }

    /// Django's `prefetch_related`: when the rows are read (awaiting the queryset, `all`,
    /// `first`, `get` …; not `stream`), one more query per relation loads the related rows of
    /// all of them, cached on the rows they belong to (no N+1):
    ///
    /// - a foreign key, `prefetch_related(Book::author)`: `book.author.cached()`;
    /// - a foreign key pointing here, `prefetch_related(Book::author.reverse())` (Django's
    ///   `"books"`; the model needs a [`ModelState`](crate::ModelState) field):
    ///   `author.books().await` returns them without a query;
    /// - a many-to-many field, `prefetch_related(Book::tags)` (two more queries: the links,
    ///   the targets): `book.tags.all().await` returns them without a query.
    ///
    /// A queryset chained from a cached one (`author.books().filter(…)`) queries again, as in
    /// Django. Past [`IN_BATCH`] keys each relation takes one more query per batch.
    pub fn prefetch_related(mut self, relation: impl Prefetch<M>) -> Self {
        self.cached = None;
        self.prefetch.push(Arc::new(relation));
        self
    }

    /// A queryset whose rows are already known (a relation's prefetched rows).
    pub(crate) fn with_cached(mut self, rows: Prefetched<M>) -> Self {
        self.cached = Some(rows);
        self
    }

    /// At most `n` rows (`qs[:n]`).
    pub fn limit(mut self, n: u64) -> Self {
        self.cached = None;
        self.query.limit = Some(n);
        self
    }

    /// Skips `n` rows.
    pub fn offset(mut self, n: u64) -> Self {
        self.cached = None;
        self.query.offset = Some(n);
        self
    }

    /// Django's slicing: `qs.slice(10..20)` is `qs[10:20]`.
    pub fn slice(self, range: Range<u64>) -> Self {
        let len = range.end.saturating_sub(range.start);
        self.offset(range.start).limit(len)
    }

    /// Django's `only("name")`: loads just these fields (and the primary key); the others
    /// keep their `Default` values. For wide rows whose big columns a view does not need.
    /// The model needs a [`ModelState`](crate::ModelState) field: it records what was loaded,
    /// so `save()` writes just those fields and never the placeholders.
    pub fn only(mut self, fields: &[&str]) -> Result<Self, OrmError>
    where
        M: Default + crate::model::HasState,
    {
        self.cached = None;
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
        self.cached = None;
        let deferred = field_indexes::<M>(fields)?;
        let pk = M::meta().pk;
        let indexes = (0..M::meta().fields.len())
            .filter(|i| *i == pk || !deferred.contains(i))
            .collect();
        self.partial = Some((indexes, M::default));
        Ok(self)
    }

    fn ordered_by_pk(mut self) -> Self {
        self.cached = None;
        if self.query.order.is_empty() {
            self.query.order = vec![OrderKind::Column {
                path: crate::expressions::RelPath::EMPTY,
                field: M::meta().pk,
                desc: false,
            }];
        }
        self
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
        let prefix = db.backend().explain_prefix();
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
