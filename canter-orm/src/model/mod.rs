//! The `Model` trait that `#[derive(Model)]` implements, and model metadata.

use std::sync::Arc;

use sea_query::Value;

use crate::backends::Row;
use crate::error::{OrmError, ValidationError};
use crate::fields::FieldMeta;
use crate::prefetch::{Prefetched, PrefetchedSet};
use crate::queryset::QuerySet;

mod save;
pub(crate) use save::{insert_instance, returned_auto_key, save_instance};

/// What the ORM knows of a model: its app, table and fields, in declaration order.
#[derive(Debug)]
pub struct ModelMeta {
    pub app: &'static str,
    pub name: &'static str,
    pub table: &'static str,
    pub fields: &'static [FieldMeta],
    /// Index of the primary key in `fields`.
    pub pk: usize,
    /// Many-to-many fields (join tables, not columns).
    pub many_to_many: &'static [crate::relations::ManyToManyMeta],
    /// Check constraints: (name, SQL condition), Django's `CheckConstraint`.
    pub checks: &'static [(&'static str, &'static str)],
    /// `#[model(index(...))]` and `#[model(unique(...))]`, in order.
    pub indexes: &'static [IndexMeta],
}

/// An index or unique constraint over fields of a model (Django's `Index` and
/// `UniqueConstraint`), made by `#[derive(Model)]`.
#[derive(Debug)]
pub struct IndexMeta {
    /// `name = "..."`; else one is made from the table and the fields.
    pub name: Option<&'static str>,
    /// Field names.
    pub fields: &'static [&'static str],
    pub unique: bool,
    /// `condition = "..."` (a unique constraint's SQL condition: a partial unique index).
    pub condition: Option<&'static str>,
}

impl ModelMeta {
    pub fn pk_field(&self) -> &FieldMeta {
        &self.fields[self.pk]
    }
    /// A field by name (`"name"`) or column.
    pub fn field(&self, name: &str) -> Option<(usize, &FieldMeta)> {
        self.fields
            .iter()
            .enumerate()
            .find(|(_, f)| f.name == name || f.column == name)
    }
    pub fn has_auto_pk(&self) -> bool {
        self.fields[self.pk].auto_increment
    }
}

/// Where an instance came from (Django's `instance._state`): the database alias it was loaded
/// from or saved to, after `only()` / `defer()` which fields were loaded, and the reverse
/// relations `prefetch_related` loaded for it.
///
/// Add one to a model as a field of this type (any name; it is no column, and it starts
/// empty in `Default` and in rows read from the database):
///
/// ```
/// # use canter_orm::{Model, ModelState};
/// #[derive(canter_orm::Model, Default)]
/// # #[model(crate = canter_orm, app = "docs")]
/// struct Article { id: i64, title: String, body: String, state: ModelState }
/// ```
///
/// With it, `save()`, `delete()` and `refresh_from_db()` go to the database the row came from
/// (`.using("replica")`), and `save()` of a row loaded with `only()` / `defer()` writes just the
/// loaded fields. `only()` and `defer()` need it (so a later `save()` cannot overwrite the
/// fields that were never read), and it keeps what `prefetch_related(Book::author.reverse())`
/// loaded, so `author.books()` needs no query. It compares equal to every other state, so a derived
/// `PartialEq` still compares the data alone; on a model that derives serde's traits, mark it
/// `#[serde(skip)]`.
#[derive(Debug, Clone, Default)]
pub struct ModelState {
    db: Option<Arc<str>>,
    loaded: Option<Arc<[usize]>>,
    /// The reverse sets `prefetch_related(Book::author.reverse())` loaded (Django's
    /// `_prefetched_objects_cache`), shared by the instance's clones.
    prefetched: Vec<PrefetchedSet>,
}

impl ModelState {
    /// The alias this instance was loaded from or last saved to (`None`: never touched a
    /// database; `save()` then uses `default`).
    pub fn db(&self) -> Option<&str> {
        self.db.as_deref()
    }
    /// The field indexes loaded by `only()` / `defer()`; `None` when every field was.
    pub fn loaded_fields(&self) -> Option<&[usize]> {
        self.loaded.as_deref()
    }
    /// The rows of `R` pointing here through its field `field`, if a prefetch loaded them.
    pub(crate) fn prefetched<R: 'static>(&self, field: usize) -> Option<Prefetched<R>> {
        let set = self.prefetched.iter().find(|set| set.is::<R>(field))?;
        set.rows::<R>()
    }
    pub(crate) fn set_prefetched(&mut self, set: PrefetchedSet) {
        self.prefetched.retain(|old| !old.same_relation(&set));
        self.prefetched.push(set);
    }
    pub(crate) fn set(&mut self, db: &str, loaded: Option<&[usize]>) {
        if self.db.as_deref() != Some(db) {
            self.db = Some(Arc::from(db));
        }
        self.loaded = loaded.map(Arc::from);
    }
}

impl PartialEq for ModelState {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl Eq for ModelState {}
impl std::hash::Hash for ModelState {
    fn hash<H: std::hash::Hasher>(&self, _: &mut H) {}
}

/// A model with a [`ModelState`] field (implemented by `#[derive(Model)]`).
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no `ModelState` field",
    note = "add a field `state: canter_orm::ModelState` to `{Self}`: `only()`, `defer()` and reverse prefetches (`prefetch_related(X::fk.reverse())`) keep what they loaded there"
)]
pub trait HasState: Model {}

/// A database model (Django's `models.Model`); derive it with `#[derive(Model)]`.
pub trait Model: Sized + Send + Sync + Unpin + 'static {
    /// The primary key's type (`i64`, `i32`, `String` or `uuid::Uuid`).
    type Pk: crate::keys::PrimaryKey;
    fn meta() -> &'static ModelMeta;
    /// Builds an instance from a row whose columns are the fields in order.
    fn from_row(row: &Row) -> Result<Self, OrmError> {
        Self::from_row_at(row, 0)
    }
    /// Builds an instance from the row's columns starting at `offset` (for JOINed rows).
    fn from_row_at(row: &Row, offset: usize) -> Result<Self, OrmError>;
    /// Fills the cache of relation field `node.field` from the related row's columns at
    /// `node.offset`, and that row's own relations from `node.children` (`select_related`).
    /// Returns false for a field that is no relation.
    #[doc(hidden)]
    fn fill_related(
        &mut self,
        _node: &crate::select_related::Joined,
        _row: &Row,
    ) -> Result<bool, OrmError> {
        Ok(false)
    }
    /// Caches `value` (the related row) on relation field `field` (`prefetch_related`).
    /// Returns false when the field is no relation to a row of that type.
    #[doc(hidden)]
    fn set_related_any(&mut self, _field: usize, _value: Box<dyn std::any::Any + Send>) -> bool {
        false
    }
    #[doc(hidden)]
    fn set_related_cache<T: Send + 'static>(&mut self, field: usize, value: T) -> bool
    where
        Self: Sized,
    {
        self.set_related_any(field, Box::new(value))
    }
    /// Caches `rows` (a `Prefetched` of the targets) on many-to-many field `index`
    /// (`prefetch_related`). Returns false when that field does not take them.
    #[doc(hidden)]
    fn set_prefetched_many(&mut self, _index: usize, _rows: Box<dyn std::any::Any + Send>) -> bool {
        false
    }
    /// Overwrites the listed fields of `base` from a row holding just those columns, in that
    /// order (for `only()` / `defer()`).
    fn fill_from_row(base: Self, row: &Row, fields: &[usize]) -> Result<Self, OrmError>;
    /// Every field's value, in order.
    fn to_values(&self) -> Vec<Value>;
    /// Sets field `field` (an index into `meta().fields`) from a bound value of its type
    /// ([`FieldType::try_from_value`](crate::FieldType::try_from_value)): code that knows a
    /// model by its metadata alone (the admin's forms) fills rows with it. An unknown index or
    /// a value of another type is an error saying so.
    fn set_value(&mut self, field: usize, value: Value) -> Result<(), String> {
        let _ = value;
        Err(format!(
            "{} has no settable field {field}",
            Self::meta().name
        ))
    }
    fn pk_value(&self) -> Value;
    /// The primary key (Django's `obj.pk`).
    fn pk(&self) -> Self::Pk;
    /// Binds the many-to-many managers to the row's key (after an insert that set no auto key).
    #[doc(hidden)]
    fn bind_managers(&mut self) {}
    /// Sets the auto primary key after an insert.
    fn set_auto_pk(&mut self, id: i64);
    /// True for an instance with an auto primary key that was never saved.
    fn is_unsaved(&self) -> bool;
    /// The instance's [`ModelState`] field, if the model has one.
    #[doc(hidden)]
    fn state(&self) -> Option<&ModelState> {
        None
    }
    #[doc(hidden)]
    fn state_mut(&mut self) -> Option<&mut ModelState> {
        None
    }
    /// `max_length`, `choices` and the model's own validators (`#[model(validate = f)]`).
    fn validate(&self) -> Result<(), ValidationError>;

    /// The manager: `MyModel::objects().filter(...)` (Django's `MyModel.objects`).
    fn objects() -> QuerySet<Self> {
        QuerySet::new()
    }
}

/// Instance methods (Django's `obj.save()`, `obj.delete()`, `obj.refresh_from_db()`).
///
/// They use the database the instance was loaded from or saved to when the model has a
/// [`ModelState`] field (Django's `_state.db`), else `default`; the `_using` forms name it.
pub trait ModelExt: Model {
    /// Inserts an unsaved instance (setting its id) or updates a saved one, after validation.
    /// A row loaded with `only()` / `defer()` updates just its loaded fields.
    fn save(&mut self) -> impl std::future::Future<Output = Result<(), OrmError>> + Send {
        save::save_instance(self, None)
    }
    /// `save()` on database `alias` (Django's `obj.save(using=alias)`).
    fn save_using(
        &mut self,
        alias: &str,
    ) -> impl std::future::Future<Output = Result<(), OrmError>> + Send {
        let alias = alias.to_owned();
        async move { save::save_instance(self, Some(&alias)).await }
    }
    /// Deletes this row.
    fn delete(&self) -> impl std::future::Future<Output = Result<u64, OrmError>> + Send {
        let alias = instance_alias(self).to_owned();
        async move { self.delete_using(&alias).await }
    }
    /// `delete()` on database `alias`.
    fn delete_using(
        &self,
        alias: &str,
    ) -> impl std::future::Future<Output = Result<u64, OrmError>> + Send {
        let pk = self.pk_value();
        let alias = alias.to_owned();
        async move {
            Self::objects()
                .using(&alias)
                .filter(crate::expressions::pk_exact::<Self>(pk))
                .delete()
                .await
        }
    }
    /// Reloads every field from the database.
    fn refresh_from_db(
        &mut self,
    ) -> impl std::future::Future<Output = Result<(), OrmError>> + Send {
        let alias = instance_alias(self).to_owned();
        async move { self.refresh_from_db_using(&alias).await }
    }
    /// `refresh_from_db()` from database `alias`.
    fn refresh_from_db_using(
        &mut self,
        alias: &str,
    ) -> impl std::future::Future<Output = Result<(), OrmError>> + Send {
        let pk = self.pk_value();
        let alias = alias.to_owned();
        async move {
            *self = Self::objects()
                .using(&alias)
                .filter(crate::expressions::pk_exact::<Self>(pk))
                .get()
                .await?;
            Ok(())
        }
    }
}

/// The alias an instance belongs to: its state's, else `default`.
pub(crate) fn instance_alias<M: Model>(obj: &M) -> &str {
    obj.state()
        .and_then(ModelState::db)
        .unwrap_or(crate::db::DEFAULT_DB_ALIAS)
}

impl<M: Model> ModelExt for M {}
