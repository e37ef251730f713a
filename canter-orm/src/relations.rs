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

use std::sync::Arc;

use sea_query::Value;

use crate::backends::Row;
use crate::error::OrmError;
use crate::expressions::Operand as OperandNode;
use crate::fields::{FieldType, Operand, SqlType};
use crate::model::{Model, ModelMeta};

/// Django's `on_delete`, enforced by the database's foreign key (both backends enforce them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnDelete {
    /// Deleting the target deletes the rows pointing at it.
    Cascade,
    /// Deleting a target that rows point at fails (`IntegrityError`).
    Protect,
    /// Like `Protect` (the database checks at once).
    Restrict,
    /// The pointing rows get NULL (the field must be an `Option`).
    SetNull,
    /// The pointing rows get the field's default.
    SetDefault,
    /// Nothing is done; the database still refuses a dangling reference at commit.
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

/// A reference to a row of `T` by primary key; `select_related` fills in the row itself.
pub struct ForeignKey<T> {
    id: i64,
    cached: Option<Arc<T>>,
}

/// Django's `OneToOneField`: a foreign key whose column is unique.
pub type OneToOne<T> = ForeignKey<T>;

impl<T> ForeignKey<T> {
    /// A reference to the row with this primary key.
    pub fn new(id: i64) -> Self {
        ForeignKey { id, cached: None }
    }
    /// The primary key it points at (Django's `book.author_id`).
    pub fn id(&self) -> i64 {
        self.id
    }
    /// The row, when `select_related` (or `prefetch`) loaded it.
    pub fn cached(&self) -> Option<&T> {
        self.cached.as_deref()
    }
    pub(crate) fn set_cached(&mut self, value: T) {
        self.cached = Some(Arc::new(value));
    }
}

impl<T: Model> ForeignKey<T> {
    /// A reference to `target` (which must be saved).
    pub fn to(target: &T) -> Self {
        let id = match target.pk_value() {
            Value::BigInt(Some(id)) => id,
            Value::Int(Some(id)) => i64::from(id),
            _ => 0,
        };
        ForeignKey { id, cached: None }
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
            .filter(crate::expressions::pk_exact::<T>(Value::BigInt(Some(
                self.id,
            ))))
            .get()
            .await
    }
}

impl<T> Clone for ForeignKey<T> {
    fn clone(&self) -> Self {
        ForeignKey {
            id: self.id,
            cached: self.cached.clone(),
        }
    }
}

impl<T> std::fmt::Debug for ForeignKey<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ForeignKey({})", self.id)
    }
}

/// Equal when they point at the same row.
impl<T> PartialEq for ForeignKey<T> {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl<T> Default for ForeignKey<T> {
    fn default() -> Self {
        ForeignKey {
            id: 0,
            cached: None,
        }
    }
}

impl<T> serde::Serialize for ForeignKey<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(self.id)
    }
}

impl<T: Model> FieldType for ForeignKey<T> {
    type Lookup = ForeignKey<T>;
    const SQL_TYPE: SqlType = SqlType::BigInteger;
    const RELATED: Option<fn() -> &'static ModelMeta> = Some(T::meta);
    fn to_value(&self) -> Value {
        Value::BigInt(Some(self.id))
    }
    fn decode(row: &Row, index: usize) -> Result<Self, String> {
        row.try_get_raw::<i64>(index).map(ForeignKey::new)
    }
}

impl<T: Model> Operand<ForeignKey<T>> for ForeignKey<T> {
    fn into_operand(self) -> OperandNode {
        OperandNode::Value(Value::BigInt(Some(self.id)))
    }
}

impl<T: Model> Operand<ForeignKey<T>> for i64 {
    fn into_operand(self) -> OperandNode {
        OperandNode::Value(Value::BigInt(Some(self)))
    }
}

impl<T: Model> Operand<ForeignKey<T>> for &T {
    fn into_operand(self) -> OperandNode {
        OperandNode::Value(self.pk_value())
    }
}

/// A field `select_related` can fill: `ForeignKey<T>` and `Option<ForeignKey<T>>`.
#[doc(hidden)]
pub trait RelatedField {
    fn related_meta() -> &'static ModelMeta;
    /// Fills the cache from the columns of the related row starting at `offset`.
    fn fill(&mut self, row: &Row, offset: usize) -> Result<(), OrmError>;
    /// Caches a related row given as `Any`; false if it is not a row of the target model.
    fn set_any(&mut self, value: Box<dyn std::any::Any + Send>) -> bool;
}

impl<T: Model> RelatedField for ForeignKey<T> {
    fn related_meta() -> &'static ModelMeta {
        T::meta()
    }
    fn fill(&mut self, row: &Row, offset: usize) -> Result<(), OrmError> {
        if !row.is_null(offset + T::meta().pk) {
            self.set_cached(T::from_row_at(row, offset)?);
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
    fn fill(&mut self, row: &Row, offset: usize) -> Result<(), OrmError> {
        match self {
            Some(fk) => fk.fill(row, offset),
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
