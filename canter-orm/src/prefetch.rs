//! Django's prefetch cache: a relation's rows loaded for many instances at once
//! (`prefetch_related`) and kept on the instance they belong to, so that reading the relation
//! afterwards costs no query.
//!
//! ```no_run
//! # use canter_orm::{ForeignKey, ManyToMany, Model, ModelState};
//! # #[derive(Model, Debug, Clone)]
//! # #[model(crate = canter_orm, app = "docs")]
//! # struct Tag { id: i64, name: String }
//! # #[derive(Model, Debug, Clone)]
//! # #[model(crate = canter_orm, app = "docs")]
//! # struct Author { id: i64, name: String, state: ModelState }
//! #[derive(Model, Debug, Clone)]
//! # #[model(crate = canter_orm, app = "docs")]
//! struct Book {
//!     id: i64,
//!     #[field(on_delete = "cascade", related_name = "books")]
//!     author: ForeignKey<Author>,
//!     tags: ManyToMany<Tag>,
//! }
//! # async fn demo() -> Result<(), canter_orm::OrmError> {
//! // Three queries in all: the books, their links to tags, the tags.
//! for book in Book::objects().prefetch_related(Book::tags).await? {
//!     let _tags: Vec<Tag> = book.tags.all().await?;           // no query
//! }
//! // Two queries: the authors, then their books (the author needs a `ModelState` field).
//! for author in Author::objects().prefetch_related(Book::author.reverse()).await? {
//!     let _books: Vec<Book> = author.books().await?;           // no query
//! }
//! # Ok(()) }
//! ```
//!
//! The reverse set is kept in the instance's [`ModelState`](crate::ModelState); a model
//! without one cannot take it (a compile error, rather than a prefetch that is then lost):
//!
//! ```compile_fail
//! # use canter_orm::{ForeignKey, Model};
//! # #[derive(Model, Clone)]
//! # #[model(crate = canter_orm, app = "docs")]
//! # struct Author { id: i64 }
//! # #[derive(Model, Clone)]
//! # #[model(crate = canter_orm, app = "docs")]
//! # struct Book { id: i64, author: ForeignKey<Author> }
//! let _ = Author::objects().prefetch_related(Book::author.reverse());
//! ```

use std::any::{Any, TypeId};
use std::marker::PhantomData;
use std::sync::Arc;

use futures_util::future::BoxFuture;

use crate::error::OrmError;
use crate::expressions::kind::Field;
use crate::expressions::{Column, Lookup, ManyToManyField, Node, Op, Operand, RelPath, Q};
use crate::keys::PrimaryKey;
use crate::model::{instance_alias, HasState, Model};
use crate::queryset::related::{children_by_parent, sorted_keys, targets_by_owner};
use crate::queryset::QuerySet;
use crate::relations::ForeignKey;

/// Rows loaded ahead for one relation of one instance: shared by the instance's clones, and
/// copied out when a queryset returns them (with `T`'s `Clone`, known where they were loaded).
pub struct Prefetched<T> {
    rows: Arc<[T]>,
    copy: fn(&T) -> T,
}

impl<T: Clone> Prefetched<T> {
    pub(crate) fn new(rows: Vec<T>) -> Self {
        Prefetched {
            rows: rows.into(),
            copy: T::clone,
        }
    }
}

impl<T> Prefetched<T> {
    /// The rows, in the order they were loaded.
    pub fn rows(&self) -> &[T] {
        &self.rows
    }
    /// Owned copies of the rows (what awaiting the relation's queryset returns).
    pub(crate) fn to_vec(&self) -> Vec<T> {
        self.rows.iter().map(self.copy).collect()
    }
}

impl<T> Clone for Prefetched<T> {
    fn clone(&self) -> Self {
        Prefetched {
            rows: self.rows.clone(),
            copy: self.copy,
        }
    }
}

impl<T> std::fmt::Debug for Prefetched<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Prefetched({} rows)", self.rows.len())
    }
}

/// A reverse set cached in a [`ModelState`](crate::ModelState): the rows of one model pointing
/// at the instance through one of its foreign keys (Django's `_prefetched_objects_cache`).
#[derive(Debug, Clone)]
pub(crate) struct PrefetchedSet {
    /// The pointing model and its foreign key's field index.
    key: (TypeId, usize),
    /// A `Prefetched<R>` of that model.
    rows: Arc<dyn Any + Send + Sync>,
}

impl PrefetchedSet {
    pub(crate) fn new<R: Send + Sync + 'static>(field: usize, rows: Prefetched<R>) -> Self {
        PrefetchedSet {
            key: (TypeId::of::<R>(), field),
            rows: Arc::new(rows),
        }
    }
    /// Whether this is the set of `R` pointing through field `field`.
    pub(crate) fn is<R: 'static>(&self, field: usize) -> bool {
        self.key == (TypeId::of::<R>(), field)
    }
    /// Whether both are sets of the same relation (a newer prefetch replaces the older).
    pub(crate) fn same_relation(&self, other: &PrefetchedSet) -> bool {
        self.key == other.key
    }
    pub(crate) fn rows<R: 'static>(&self) -> Option<Prefetched<R>> {
        self.rows.downcast_ref::<Prefetched<R>>().cloned()
    }
}

/// What [`QuerySet::prefetch_related`] takes: one of the model's foreign keys (`Book::author`),
/// a foreign key of another model pointing at it (`Book::author.reverse()`, Django's
/// `"books"`), or one of its many-to-many fields (`Book::tags`).
pub trait Prefetch<M>: Send + Sync + 'static {
    /// Loads the related rows of `rows` from database `alias` and caches them on each row.
    #[doc(hidden)]
    fn load<'a>(&'a self, rows: &'a mut [M], alias: &'a str)
        -> BoxFuture<'a, Result<(), OrmError>>;
}

/// A foreign key (nullable or not): every row's target, cached on the key
/// (`book.author.cached()`), in one more query (or one per `IN_BATCH` distinct targets).
impl<M: Model, T: Model + Clone> Prefetch<M> for Column<M, ForeignKey<T>, Field> {
    fn load<'a>(
        &'a self,
        rows: &'a mut [M],
        alias: &'a str,
    ) -> BoxFuture<'a, Result<(), OrmError>> {
        let field = self.index();
        Box::pin(async move {
            let keys: Vec<Option<T::Pk>> = rows
                .iter()
                .map(|row| T::Pk::from_value(&row.to_values()[field]))
                .collect();
            let mut ids: Vec<_> = keys.iter().flatten().cloned().collect();
            ids.sort_unstable();
            ids.dedup();
            if ids.is_empty() {
                return Ok(());
            }
            let targets = QuerySet::<T>::new().using(alias).in_bulk(ids).await?;
            for (row, key) in rows.iter_mut().zip(keys) {
                if let Some(target) = key.and_then(|key| targets.get(&key)) {
                    row.set_related_cache(field, target.clone());
                }
            }
            Ok(())
        })
    }
}

/// The rows of `R` pointing at a row of `M` through one of `R`'s foreign keys: made by
/// [`Column::reverse`] (`Book::author.reverse()`), for `prefetch_related` on `M`.
pub struct Reverse<R, M> {
    field: usize,
    _types: PhantomData<fn() -> (R, M)>,
}

impl<R, M> Clone for Reverse<R, M> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<R, M> Copy for Reverse<R, M> {}

impl<R: Model, M: Model> Column<R, ForeignKey<M>, Field> {
    /// The reverse side of this foreign key, for `prefetch_related` on the model it points
    /// at: `Author::objects().prefetch_related(Book::author.reverse())` is Django's
    /// `prefetch_related("books")`. Each author then keeps its books in its
    /// [`ModelState`](crate::ModelState) (which the model needs), and `author.books()` (the
    /// `related_name` accessor) returns them without a query.
    pub fn reverse(self) -> Reverse<R, M> {
        Reverse {
            field: self.index(),
            _types: PhantomData,
        }
    }
}

/// Two queries (or one more per `IN_BATCH` rows): the rows, then every row pointing at them,
/// each row's set kept in its state in primary-key order.
impl<R: Model + Clone, M: Model + HasState> Prefetch<M> for Reverse<R, M> {
    fn load<'a>(
        &'a self,
        rows: &'a mut [M],
        alias: &'a str,
    ) -> BoxFuture<'a, Result<(), OrmError>> {
        Box::pin(async move {
            let ids = sorted_keys(rows.iter());
            let mut grouped = children_by_parent::<M, R>(alias, self.field, &ids).await?;
            for row in rows.iter_mut() {
                let mine = grouped.remove(&row.pk()).unwrap_or_default();
                if let Some(state) = row.state_mut() {
                    state.set_prefetched(PrefetchedSet::new(self.field, Prefetched::new(mine)));
                }
            }
            Ok(())
        })
    }
}

/// Three queries (the rows, their links, the targets; more past `IN_BATCH` keys), each row's
/// targets kept on its many-to-many manager (`book.tags.all()` then needs no query).
impl<M: Model, T: Model + Clone> Prefetch<M> for ManyToManyField<M, T> {
    fn load<'a>(
        &'a self,
        rows: &'a mut [M],
        alias: &'a str,
    ) -> BoxFuture<'a, Result<(), OrmError>> {
        let index = self.index();
        Box::pin(async move {
            let m2m = &M::meta().many_to_many[index];
            let ids = sorted_keys(rows.iter());
            let mut linked = targets_by_owner::<M, T>(alias, m2m, &ids).await?;
            for row in rows.iter_mut() {
                let mine = linked.remove(&row.pk()).unwrap_or_default();
                row.set_prefetched_many(index, Box::new(Prefetched::new(mine)));
            }
            Ok(())
        })
    }
}

/// `author.books()`: the rows of `R` whose foreign key `fk` points at `target`, on the
/// database `target` came from; the rows `prefetch_related` cached on it, if it did.
#[doc(hidden)]
pub fn reverse_queryset<T: Model, R: Model>(
    target: &T,
    fk: Column<R, ForeignKey<T>>,
) -> QuerySet<R> {
    let pointing = Q::from_node(Node::Lookup(Lookup {
        path: RelPath::EMPTY,
        field: fk.index(),
        transform: None,
        op: Op::Exact,
        rhs: Operand::Value(target.pk_value()),
    }));
    let queryset = QuerySet::<R>::new()
        .using(instance_alias(target))
        .filter(pointing);
    match target
        .state()
        .and_then(|state| state.prefetched::<R>(fk.index()))
    {
        Some(rows) => queryset.with_cached(rows),
        None => queryset,
    }
}
