//! Relations: `ForeignKey<T>` (and one-to-one), with Django's `on_delete` behaviours,
//! `select_related` caching, and reverse querysets.
//!
//! ```
//! use canter_orm::{ForeignKey, Model};
//! # #[derive(Model, Debug, Clone)]
//! # #[model(crate = canter_orm, app = "docs")]
//! # struct Author { id: i64, name: String }
//! #[derive(Model, Debug, Clone)]
//! #[model(crate = canter_orm, app = "docs")]
//! struct Book {
//!     id: i64,
//!     title: String,
//!     #[field(on_delete = "cascade", related_name = "books")]
//!     author: ForeignKey<Author>,            // column author_id
//! }
//! // Book::objects().filter(Book::author.rel(Author::name).icontains("tolk"))   — author__name__icontains
//! // Book::objects().select_related(Book::author)                                — one JOINed query
//! // author.books()                                                             — the reverse accessor
//! ```

use std::sync::{Arc, Mutex, PoisonError};

use sea_query::Value;

use crate::backends::Row;
use crate::error::OrmError;
use crate::expressions::Operand as OperandNode;
use crate::fields::{FieldType, Operand, SqlType};
use crate::model::{Model, ModelMeta};
use crate::prefetch::Prefetched;
use crate::select_related::Joined;

/// Django's `on_delete`, enforced by the database's foreign key on both backends (the ORM
/// itself collects nothing before a delete, unlike Django's `Collector`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnDelete {
    /// Deleting the target deletes the rows pointing at it.
    Cascade,
    /// Deleting a target that rows point at fails with `OrmError::Integrity` and deletes
    /// nothing: the database's `ON DELETE RESTRICT`. (Django raises `ProtectedError` listing the
    /// protected objects; here the error is the database's message.)
    Protect,
    /// The same constraint as `Protect` (`ON DELETE RESTRICT`, checked at once). Django's
    /// exception for rows that the same delete reaches through another cascade is not made.
    Restrict,
    /// The pointing rows get NULL (the field must be an `Option`).
    SetNull,
    /// The pointing rows get the column's default (`#[field(default = ...)]`), which must
    /// point at a row that exists, else the delete fails with `OrmError::Integrity`.
    SetDefault,
    /// The ORM does nothing (`ON DELETE NO ACTION`). The constraint is not deferred: while rows
    /// still point at the target, the database refuses the delete at the end of the statement,
    /// even inside a transaction that would repoint them before committing.
    DoNothing,
}

impl OnDelete {
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text.to_ascii_lowercase().as_str() {
            "cascade" => OnDelete::Cascade,
            "protect" => OnDelete::Protect,
            "restrict" => OnDelete::Restrict,
            "set_null" => OnDelete::SetNull,
            "set_default" => OnDelete::SetDefault,
            "do_nothing" => OnDelete::DoNothing,
            _ => return None,
        })
    }

    /// The `ON DELETE` clause.
    pub fn sql(self) -> &'static str {
        match self {
            OnDelete::Cascade => "ON DELETE CASCADE",
            OnDelete::Protect | OnDelete::Restrict => "ON DELETE RESTRICT",
            OnDelete::SetNull => "ON DELETE SET NULL",
            OnDelete::SetDefault => "ON DELETE SET DEFAULT",
            OnDelete::DoNothing => "ON DELETE NO ACTION",
        }
    }
}

/// A reference to a row of `T` by its primary key (a `T::Pk`: an integer, a string or a UUID);
/// `select_related` fills in the row itself.
pub struct ForeignKey<T: Model> {
    id: T::Pk,
    cached: Option<Arc<T>>,
}

/// Django's `OneToOneField`: a foreign key whose column is unique.
pub type OneToOne<T> = ForeignKey<T>;

impl<T: Model> ForeignKey<T> {
    /// A reference to the row with this primary key.
    pub fn new(id: T::Pk) -> Self {
        ForeignKey { id, cached: None }
    }
    /// The primary key it points at (Django's `book.author_id`).
    pub fn id(&self) -> T::Pk {
        self.id.clone()
    }
    /// The row, when `select_related` (or `prefetch`) loaded it.
    pub fn cached(&self) -> Option<&T> {
        self.cached.as_deref()
    }
    pub(crate) fn set_cached(&mut self, value: T) {
        self.cached = Some(Arc::new(value));
    }

    /// A reference to `target` (which must be saved).
    pub fn to(target: &T) -> Self {
        ForeignKey::new(target.pk())
    }

    /// The row: the cached one, else one query (Django's `book.author`).
    pub async fn get(&self) -> Result<T, OrmError>
    where
        T: Clone,
    {
        if let Some(cached) = &self.cached {
            return Ok((**cached).clone());
        }
        T::objects_queryset()
            .filter(crate::expressions::pk_exact::<T>(self.id.to_value()))
            .get()
            .await
    }
}

impl<T: Model> Clone for ForeignKey<T> {
    fn clone(&self) -> Self {
        ForeignKey {
            id: self.id.clone(),
            cached: self.cached.clone(),
        }
    }
}

impl<T: Model> std::fmt::Debug for ForeignKey<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ForeignKey({:?})", self.id)
    }
}

/// Equal when they point at the same row.
impl<T: Model> PartialEq for ForeignKey<T> {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

/// Points at the key's default (`0`, `""`, the nil UUID): a row that usually does not exist.
impl<T: Model> Default for ForeignKey<T> {
    fn default() -> Self {
        ForeignKey::new(T::Pk::default())
    }
}

impl<T: Model> serde::Serialize for ForeignKey<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serde::Serialize::serialize(&self.id, serializer)
    }
}

/// The column has the type of the target's primary key.
impl<T: Model> FieldType for ForeignKey<T> {
    type Lookup = ForeignKey<T>;
    const SQL_TYPE: SqlType = <T::Pk as FieldType>::SQL_TYPE;
    const RELATED: Option<fn() -> &'static ModelMeta> = Some(T::meta);
    fn to_value(&self) -> Value {
        self.id.to_value()
    }
    fn decode(row: &Row, index: usize) -> Result<Self, String> {
        T::Pk::decode(row, index).map(ForeignKey::new)
    }
    fn try_from_value(value: Value) -> Result<Self, String> {
        <T::Pk as FieldType>::try_from_value(value).map(ForeignKey::new)
    }
}

impl<T: Model> Operand<ForeignKey<T>> for ForeignKey<T> {
    fn into_operand(self) -> OperandNode {
        OperandNode::Value(self.id.to_value())
    }
}

impl<T: Model> Operand<ForeignKey<T>> for &T {
    fn into_operand(self) -> OperandNode {
        OperandNode::Value(self.pk_value())
    }
}

/// A bare key compares with a foreign key to a model keyed by that type:
/// `Book::author.eq(5)`, `Copy::book.eq("978-0")`, `Order::customer.eq(uuid)`.
macro_rules! key_operand {
    ($($key:ty => $($source:ty),*;)*) => {
        $($(impl<T: Model<Pk = $key>> Operand<ForeignKey<T>> for $source {
            fn into_operand(self) -> OperandNode {
                let key: $key = self.into();
                OperandNode::Value(key.to_value())
            }
        })*)*
    };
}

key_operand! {
    i64 => i64;
    i32 => i32;
    String => String, &str;
    uuid::Uuid => uuid::Uuid;
}

/// A field `select_related` can fill: `ForeignKey<T>` and `Option<ForeignKey<T>>`.
#[doc(hidden)]
pub trait RelatedField {
    fn related_meta() -> &'static ModelMeta;
    /// Fills the cache from the columns of the related row starting at `node.offset`, with
    /// the relations `node.children` names filled on it first.
    fn fill(&mut self, row: &Row, node: &Joined) -> Result<(), OrmError>;
    /// Caches a related row given as `Any`; false if it is not a row of the target model.
    fn set_any(&mut self, value: Box<dyn std::any::Any + Send>) -> bool;
}

impl<T: Model> RelatedField for ForeignKey<T> {
    fn related_meta() -> &'static ModelMeta {
        T::meta()
    }
    fn fill(&mut self, row: &Row, node: &Joined) -> Result<(), OrmError> {
        // A NULL key: no row there (a LEFT JOIN), nor any further along.
        if !row.is_null(node.offset + T::meta().pk) {
            let mut related = T::from_row_at(row, node.offset)?;
            for child in &node.children {
                related.fill_related(child, row)?;
            }
            self.set_cached(related);
        }
        Ok(())
    }
    fn set_any(&mut self, value: Box<dyn std::any::Any + Send>) -> bool {
        match value.downcast::<T>() {
            Ok(row) => {
                self.set_cached(*row);
                true
            }
            Err(_) => false,
        }
    }
}

impl<T: Model> RelatedField for Option<ForeignKey<T>> {
    fn related_meta() -> &'static ModelMeta {
        T::meta()
    }
    fn fill(&mut self, row: &Row, node: &Joined) -> Result<(), OrmError> {
        match self {
            Some(fk) => fk.fill(row, node),
            None => Ok(()),
        }
    }
    fn set_any(&mut self, value: Box<dyn std::any::Any + Send>) -> bool {
        match self {
            Some(fk) => fk.set_any(value),
            None => false,
        }
    }
}

/// `T::objects()` from generic code (the derive's inherent `objects()` is not reachable there).
trait ObjectsQuerySet: Model {
    fn objects_queryset() -> crate::QuerySet<Self> {
        crate::QuerySet::new()
    }
}

impl<M: Model> ObjectsQuerySet for M {}

/// Metadata of a many-to-many field: its join table (`<table>_<field>`, with a foreign key to
/// each side and one row per pair).
#[derive(Debug)]
pub struct ManyToManyMeta {
    pub name: &'static str,
    pub owner: fn() -> &'static ModelMeta,
    pub target: fn() -> &'static ModelMeta,
    /// A model of the user's standing in for the join table (Django's `through=`), with a
    /// foreign key to each side.
    pub through: Option<fn() -> &'static ModelMeta>,
    /// The auto-created join table (unused with `through`).
    pub table: &'static str,
    pub from_column: &'static str,
    pub to_column: &'static str,
}

impl ManyToManyMeta {
    /// The join table: the `through` model's, or the auto-created one.
    pub fn join_table(&self) -> &'static str {
        match self.through {
            Some(through) => through().table,
            None => self.table,
        }
    }

    /// The column pointing at the owning model (the `through` model's foreign key to it).
    pub fn owner_column(&self) -> &'static str {
        self.through_column(self.owner, true)
            .unwrap_or(self.from_column)
    }

    /// The column pointing at the target model.
    pub fn target_column(&self) -> &'static str {
        self.through_column(self.target, false)
            .unwrap_or(self.to_column)
    }

    fn through_column(
        &self,
        side: fn() -> &'static ModelMeta,
        first: bool,
    ) -> Option<&'static str> {
        let through = self.through?();
        let side = side();
        let keys: Vec<&'static crate::fields::FieldMeta> = through
            .fields
            .iter()
            .filter(|f| f.related.is_some_and(|r| std::ptr::eq(r(), side)))
            .collect();
        // A self-referential many-to-many has two keys to the same model: first is "from".
        match keys.as_slice() {
            [one] => Some(one.column),
            [a, b, ..] => Some(if first { a.column } else { b.column }),
            [] => None,
        }
    }
}

/// Django's `ManyToManyField`: not a column but a join table, and on a loaded (or saved)
/// instance the related manager: `article.tags.add(&[&rust]).await?`, `.all()`, `.remove`,
/// `.set`, `.clear`, `.create`.
pub struct ManyToMany<T> {
    /// The owning row's primary key, once it has one.
    owner: Option<Value>,
    meta: Option<&'static ManyToManyMeta>,
    /// The rows `prefetch_related` loaded. `add`, `remove`, `set`, `clear` and `create` drop
    /// them (Django's `_remove_prefetched_objects`); they take `&self`, hence the lock.
    prefetched: Mutex<Option<Prefetched<T>>>,
    _target: std::marker::PhantomData<fn() -> T>,
}

impl<T> Default for ManyToMany<T> {
    fn default() -> Self {
        ManyToMany {
            owner: None,
            meta: None,
            prefetched: Mutex::new(None),
            _target: std::marker::PhantomData,
        }
    }
}

impl<T> Clone for ManyToMany<T> {
    fn clone(&self) -> Self {
        ManyToMany {
            owner: self.owner.clone(),
            meta: self.meta,
            prefetched: Mutex::new(self.prefetched()),
            _target: std::marker::PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for ManyToMany<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ManyToMany(owner: {:?})", self.owner)
    }
}

/// Two managers are equal when they belong to the same row.
impl<T> PartialEq for ManyToMany<T> {
    fn eq(&self, other: &Self) -> bool {
        self.owner == other.owner
    }
}

impl<T> serde::Serialize for ManyToMany<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_none()
    }
}

impl<T> ManyToMany<T> {
    #[doc(hidden)]
    pub fn bind(&mut self, owner: &Value, meta: &'static ManyToManyMeta) {
        // An auto key of 0 is a row not saved yet; NULL is no key.
        self.owner = match owner {
            Value::BigInt(Some(0)) | Value::Int(Some(0)) => None,
            Value::BigInt(None) | Value::Int(None) | Value::String(None) | Value::Uuid(None) => {
                None
            }
            key => Some(key.clone()),
        };
        self.meta = Some(meta);
        *self
            .prefetched
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// The rows `prefetch_related` loaded for this row, if it did (and nothing changed the
    /// links through this manager since).
    pub fn prefetched(&self) -> Option<Prefetched<T>> {
        self.prefetched_slot().clone()
    }

    fn prefetched_slot(&self) -> std::sync::MutexGuard<'_, Option<Prefetched<T>>> {
        self.prefetched
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The links are about to change: what was prefetched no longer holds.
    fn forget_prefetched(&self) {
        *self.prefetched_slot() = None;
    }

    fn bound(&self) -> Result<(Value, &'static ManyToManyMeta), OrmError> {
        match (&self.owner, self.meta) {
            (Some(owner), Some(meta)) => Ok((owner.clone(), meta)),
            _ => Err(OrmError::InvalidLookup(
                "save the object before using its many-to-many relations".into(),
            )),
        }
    }
}

fn pk_of<T: Model>(obj: &T) -> Value {
    obj.pk_value()
}

impl<T: Model> ManyToMany<T> {
    /// Caches the rows `prefetch_related` loaded (a `Prefetched<T>`); false for another type.
    #[doc(hidden)]
    pub fn set_prefetched_any(&mut self, rows: Box<dyn std::any::Any + Send>) -> bool {
        match rows.downcast::<Prefetched<T>>() {
            Ok(rows) => {
                *self
                    .prefetched
                    .get_mut()
                    .unwrap_or_else(PoisonError::into_inner) = Some(*rows);
                true
            }
            Err(_) => false,
        }
    }

    /// The related rows, as a queryset (`article.tags.all()`); after `prefetch_related`,
    /// awaiting it returns the prefetched rows without a query.
    pub fn all(&self) -> crate::QuerySet<T> {
        let queryset = self.linked();
        match self.prefetched() {
            Some(rows) => queryset.with_cached(rows),
            None => queryset,
        }
    }

    /// The rows linked in the database, as a queryset.
    fn linked(&self) -> crate::QuerySet<T> {
        match self.bound() {
            Ok((owner, meta)) => {
                crate::QuerySet::<T>::new().filter(crate::expressions::Q::from_node(
                    crate::expressions::Node::Lookup(crate::expressions::Lookup {
                        path: crate::expressions::RelPath::EMPTY,
                        field: T::meta().pk,
                        transform: None,
                        op: crate::expressions::Op::InSubquery,
                        rhs: OperandNode::Subquery {
                            table: meta.join_table(),
                            select: meta.target_column(),
                            filter_column: meta.owner_column(),
                            value: owner,
                        },
                    }),
                ))
            }
            // Unsaved: nothing is related yet.
            Err(_) => crate::QuerySet::<T>::new().filter(!crate::expressions::Q::all()),
        }
    }

    /// Links these rows (already linked ones are left as they are).
    pub async fn add(&self, targets: &[&T]) -> Result<(), OrmError> {
        let (owner, meta) = self.bound()?;
        self.forget_prefetched();
        let mut wanted: Vec<Value> = targets.iter().map(|t| pk_of(*t)).collect();
        if meta.through.is_some() {
            // A through model may have no unique (owner, target) pair: skip the existing links
            // by reading them, instead of ON CONFLICT.
            let existing: Vec<Value> = (self.linked().all().await?.iter())
                .map(|row| row.pk().to_value())
                .collect();
            wanted.retain(|v| !existing.contains(v));
        }
        wanted.dedup();
        if wanted.is_empty() {
            return Ok(());
        }
        let db = crate::db::database(crate::db::DEFAULT_DB_ALIAS)?;
        let mut insert = sea_query::Query::insert();
        let (owner_column, target_column) = (
            sea_query::Alias::new(meta.owner_column()),
            sea_query::Alias::new(meta.target_column()),
        );
        insert
            .into_table(sea_query::Alias::new(meta.join_table()))
            .columns([owner_column.clone(), target_column.clone()]);
        if meta.through.is_none() {
            insert.on_conflict(
                // (`do_nothing_on`: MySQL has no DO NOTHING; it gets a no-op update.)
                sea_query::OnConflict::columns([owner_column.clone(), target_column])
                    .do_nothing_on([owner_column])
                    .to_owned(),
            );
        }
        for target in wanted {
            insert
                .values([
                    sea_query::Expr::val(owner.clone()),
                    sea_query::Expr::val(target),
                ])
                .map_err(|e| OrmError::InvalidLookup(e.to_string()))?;
        }
        let (sql, values) = db.backend().build_insert(&insert);
        db.execute(&sql, values).await.map(|_| ())
    }

    /// Unlinks these rows (the rows themselves stay).
    pub async fn remove(&self, targets: &[&T]) -> Result<u64, OrmError> {
        let (owner, meta) = self.bound()?;
        let ids: Vec<Value> = targets.iter().map(|t| pk_of(*t)).collect();
        self.delete_links(owner, meta, Some(ids)).await
    }

    /// Unlinks every row.
    pub async fn clear(&self) -> Result<u64, OrmError> {
        let (owner, meta) = self.bound()?;
        self.delete_links(owner, meta, None).await
    }

    /// Makes exactly these rows linked, in one transaction.
    pub async fn set(&self, targets: &[&T]) -> Result<(), OrmError> {
        crate::transaction::atomic(async {
            self.clear().await?;
            self.add(targets).await
        })
        .await
    }

    /// Creates a row of `T` and links it.
    pub async fn create(&self, target: T) -> Result<T, OrmError> {
        self.bound()?;
        crate::transaction::atomic(async {
            let created = crate::QuerySet::<T>::new().create(target).await?;
            self.add(&[&created]).await?;
            Ok(created)
        })
        .await
    }

    async fn delete_links(
        &self,
        owner: Value,
        meta: &ManyToManyMeta,
        targets: Option<Vec<Value>>,
    ) -> Result<u64, OrmError> {
        use sea_query::ExprTrait;
        self.forget_prefetched();
        let db = crate::db::database(crate::db::DEFAULT_DB_ALIAS)?;
        let mut delete = sea_query::Query::delete();
        delete
            .from_table(sea_query::Alias::new(meta.join_table()))
            .and_where(sea_query::Expr::col(sea_query::Alias::new(meta.owner_column())).eq(owner));
        if let Some(ids) = targets {
            if ids.is_empty() {
                return Ok(0);
            }
            delete.and_where(
                sea_query::Expr::col(sea_query::Alias::new(meta.target_column())).is_in(ids),
            );
        }
        let (sql, values) = db.backend().build_delete(&delete);
        db.execute(&sql, values).await
    }
}
