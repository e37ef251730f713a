//! Primary keys: the types a model's key may have (Django's `AutoField`, `BigAutoField`,
//! `CharField(primary_key=True)`, `UUIDField(primary_key=True)`), which foreign keys,
//! many-to-many join tables and the relation loaders then use as they are.

use std::fmt::Debug;
use std::hash::Hash;

use sea_query::Value;

use crate::fields::{FieldType, Operand};

/// A type a model's primary key can have: `i64`, `i32`, `String` or `uuid::Uuid`
/// (`#[derive(Model)]` refuses any other). A `ForeignKey<T>` stores a `T::Pk`, and rows are
/// grouped by it when related rows are loaded in batches.
pub trait PrimaryKey:
    FieldType + Operand<Self> + Clone + Eq + Ord + Hash + Debug + Default + serde::Serialize
{
    /// The key in a value the ORM bound or read back; `None` for NULL or a value of another
    /// type.
    fn from_value(value: &Value) -> Option<Self>;
}

impl PrimaryKey for i64 {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::BigInt(Some(id)) => Some(*id),
            Value::Int(Some(id)) => Some(i64::from(*id)),
            _ => None,
        }
    }
}

impl PrimaryKey for i32 {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Int(Some(id)) => Some(*id),
            Value::BigInt(Some(id)) => i32::try_from(*id).ok(),
            _ => None,
        }
    }
}

impl PrimaryKey for String {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::String(Some(text)) => Some(text.clone()),
            _ => None,
        }
    }
}

impl PrimaryKey for uuid::Uuid {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Uuid(Some(id)) => Some(*id),
            _ => None,
        }
    }
}

/// The auto-incrementing primary key's type: `0` means "not saved yet" (Django's `pk is None`).
pub trait AutoPk {
    fn from_i64(id: i64) -> Self;
    fn is_unset(&self) -> bool;
}

impl AutoPk for i64 {
    fn from_i64(id: i64) -> Self {
        id
    }
    fn is_unset(&self) -> bool {
        *self == 0
    }
}

impl AutoPk for i32 {
    fn from_i64(id: i64) -> Self {
        id as i32
    }
    fn is_unset(&self) -> bool {
        *self == 0
    }
}
