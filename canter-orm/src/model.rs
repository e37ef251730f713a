//! The `Model` trait that `#[derive(Model)]` implements, and model metadata.

use sea_query::Value;

use crate::backends::Row;
use crate::error::{OrmError, ValidationError};
use crate::fields::FieldMeta;
use crate::queryset::QuerySet;

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

/// A database model (Django's `models.Model`); derive it with `#[derive(Model)]`.
pub trait Model: Sized + Send + Sync + Unpin + 'static {
    fn meta() -> &'static ModelMeta;
    /// Builds an instance from a row whose columns are the fields in order.
    fn from_row(row: &Row) -> Result<Self, OrmError> {
        Self::from_row_at(row, 0)
    }
    /// Builds an instance from the row's columns starting at `offset` (for JOINed rows).
    fn from_row_at(row: &Row, offset: usize) -> Result<Self, OrmError>;
    /// Fills the cache of relation field `field` from the related row's columns at `offset`
    /// (`select_related`). Returns false for a field that is no relation.
    fn fill_related(
        &mut self,
        _field: usize,
        _row: &Row,
        _offset: usize,
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
    /// Overwrites the listed fields of `base` from a row holding just those columns, in that
    /// order (for `only()` / `defer()`).
    fn fill_from_row(base: Self, row: &Row, fields: &[usize]) -> Result<Self, OrmError>;
    /// Every field's value, in order.
    fn to_values(&self) -> Vec<Value>;
    fn pk_value(&self) -> Value;
    /// Sets the auto primary key after an insert.
    fn set_auto_pk(&mut self, id: i64);
    /// True for an instance with an auto primary key that was never saved.
    fn is_unsaved(&self) -> bool;
    /// `max_length`, `choices` and the model's own validators (`#[model(validate = f)]`).
    fn validate(&self) -> Result<(), ValidationError>;

    /// The manager: `MyModel::objects().filter(...)` (Django's `MyModel.objects`).
    fn objects() -> QuerySet<Self> {
        QuerySet::new()
    }
}

/// Instance methods (Django's `obj.save()`, `obj.delete()`, `obj.refresh_from_db()`).
pub trait ModelExt: Model {
    /// Inserts an unsaved instance (setting its id) or updates a saved one, after validation.
    fn save(&mut self) -> impl std::future::Future<Output = Result<(), OrmError>> + Send {
        crate::queryset::save_instance(self, None)
    }
    /// Deletes this row.
    fn delete(&self) -> impl std::future::Future<Output = Result<u64, OrmError>> + Send {
        let pk = self.pk_value();
        async move {
            Self::objects()
                .filter(crate::expressions::pk_exact::<Self>(pk))
                .delete()
                .await
        }
    }
    /// Reloads every field from the database.
    fn refresh_from_db(
        &mut self,
    ) -> impl std::future::Future<Output = Result<(), OrmError>> + Send {
        let pk = self.pk_value();
        async move {
            *self = Self::objects()
                .filter(crate::expressions::pk_exact::<Self>(pk))
                .get()
                .await?;
            Ok(())
        }
    }
}

impl<M: Model> ModelExt for M {}
