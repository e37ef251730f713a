//! Field types: how a Rust type maps to a column on each backend.
//!
//! | Rust | Django | SQLite | PostgreSQL |
//! |---|---|---|---|
//! | `i32` | `IntegerField` | INTEGER | integer |
//! | `i64` | `BigIntegerField` (and the auto `id`) | INTEGER | bigint |
//! | `bool` | `BooleanField` | INTEGER (0/1) | boolean |
//! | `f64` | `FloatField` | REAL | double precision |
//! | `String` (`max_length`) | `CharField` / `TextField` | TEXT | varchar(n) / text |
//! | `Vec<u8>` | `BinaryField` | BLOB | bytea |
//! | `chrono::NaiveDate` | `DateField` | TEXT | date |
//! | `chrono::NaiveTime` | `TimeField` | TEXT | time |
//! | `chrono::DateTime<Utc>` | `DateTimeField` (USE_TZ) | TEXT | timestamptz |
//! | `uuid::Uuid` | `UUIDField` | char(32) | uuid |
//! | `serde_json::Value`, `Json<T>` (any serde type) | `JSONField` | TEXT | jsonb |
//! | `rust_decimal::Decimal` | `DecimalField` | decimal (REAL, ~15 digits, as Django) | numeric (exact) |
//! | `chrono::TimeDelta` | `DurationField` | INTEGER (µs) | bigint (µs) |
//! | `Option<T>` | `null=True` | nullable | nullable |

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use sea_query::Value;

use crate::backends::Row;
use crate::error::OrmError;

/// The column type a field needs; each backend's schema editor spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SqlType {
    Integer,
    BigInteger,
    Boolean,
    Double,
    /// `varchar(max_length)` where there is one, else text.
    Text,
    Bytes,
    Date,
    Time,
    DateTime,
    Uuid,
    Json,
    Decimal,
}

/// A Rust type that can be a model field.
pub trait FieldType: Sized + Send + Sync + 'static {
    /// The type lookups take (`Option<T>` looks up by `T`).
    type Lookup: Send + Sync + 'static;
    const SQL_TYPE: SqlType;
    const NULLABLE: bool = false;
    /// The model a relation field points at.
    const RELATED: Option<fn() -> &'static crate::model::ModelMeta> = None;
    /// The value to bind.
    fn to_value(&self) -> Value;
    /// Reads column `index` of a row.
    fn decode(row: &Row, index: usize) -> Result<Self, String>;
    /// The field's value from a bound value (what [`parse_text`] or [`FieldType::to_value`]
    /// gives), for code that sets fields by index ([`Model::set_value`](crate::Model::set_value):
    /// the admin's forms). A type that cannot be set so says why.
    fn try_from_value(value: Value) -> Result<Self, String> {
        let _ = value;
        Err(format!(
            "{} cannot be set from a value",
            std::any::type_name::<Self>()
        ))
    }
}

/// Whether `value` is SQL NULL (a typed `None`).
pub fn is_null(value: &Value) -> bool {
    value_to_json(value).is_null()
}

/// A bound value as JSON (`null` for NULL), for code that shows values it knows only by
/// their metadata (the admin's cells).
pub fn value_to_json(value: &Value) -> serde_json::Value {
    sea_query::sea_value_to_json_value(value)
}

fn wrong_value<T>(value: &Value) -> String {
    format!("{value:?} is not a {}", std::any::type_name::<T>())
}

macro_rules! field_type {
    ($ty:ty, $sql:ident, $variant:ident) => {
        impl FieldType for $ty {
            type Lookup = $ty;
            const SQL_TYPE: SqlType = SqlType::$sql;
            fn to_value(&self) -> Value {
                Value::$variant(Some(self.clone().into()))
            }
            fn decode(row: &Row, index: usize) -> Result<Self, String> {
                row.try_get_raw::<$ty>(index)
            }
            fn try_from_value(value: Value) -> Result<Self, String> {
                let shown = wrong_value::<$ty>(&value);
                <$ty as sea_query::ValueType>::try_from(value).map_err(|_| shown)
            }
        }
    };
}

field_type!(i32, Integer, Int);
field_type!(i64, BigInteger, BigInt);
field_type!(bool, Boolean, Bool);
field_type!(f64, Double, Double);
field_type!(String, Text, String);
field_type!(Vec<u8>, Bytes, Bytes);
field_type!(NaiveDate, Date, ChronoDate);
field_type!(NaiveTime, Time, ChronoTime);
field_type!(DateTime<Utc>, DateTime, ChronoDateTimeUtc);
field_type!(uuid::Uuid, Uuid, Uuid);

impl FieldType for serde_json::Value {
    type Lookup = serde_json::Value;
    const SQL_TYPE: SqlType = SqlType::Json;
    fn to_value(&self) -> Value {
        Value::Json(Some(Box::new(self.clone())))
    }
    fn decode(row: &Row, index: usize) -> Result<Self, String> {
        row.try_get_raw::<sqlx::types::Json<serde_json::Value>>(index)
            .map(|j| j.0)
    }
    fn try_from_value(value: Value) -> Result<Self, String> {
        match value {
            Value::Json(Some(json)) => Ok(*json),
            other => Err(wrong_value::<Self>(&other)),
        }
    }
}

impl FieldType for rust_decimal::Decimal {
    type Lookup = rust_decimal::Decimal;
    const SQL_TYPE: SqlType = SqlType::Decimal;
    fn to_value(&self) -> Value {
        Value::Decimal(Some(*self))
    }
    fn decode(row: &Row, index: usize) -> Result<Self, String> {
        row.try_get_decimal(index)
    }
    fn try_from_value(value: Value) -> Result<Self, String> {
        match value {
            Value::Decimal(Some(d)) => Ok(d),
            other => Err(wrong_value::<Self>(&other)),
        }
    }
}

/// Django's `DurationField`, stored as microseconds (a bigint) on every backend.
impl FieldType for chrono::TimeDelta {
    type Lookup = chrono::TimeDelta;
    const SQL_TYPE: SqlType = SqlType::BigInteger;
    fn to_value(&self) -> Value {
        Value::BigInt(self.num_microseconds())
    }
    fn decode(row: &Row, index: usize) -> Result<Self, String> {
        row.try_get_raw::<i64>(index)
            .map(chrono::TimeDelta::microseconds)
    }
    fn try_from_value(value: Value) -> Result<Self, String> {
        match value {
            Value::BigInt(Some(us)) => Ok(chrono::TimeDelta::microseconds(us)),
            other => Err(wrong_value::<Self>(&other)),
        }
    }
}

/// A JSON column holding any serde type: `tags: Json<Vec<String>>`.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Json<T>(pub T);

impl<T> FieldType for Json<T>
where
    T: serde::Serialize + serde::de::DeserializeOwned + Send + Sync + 'static,
{
    type Lookup = Json<T>;
    const SQL_TYPE: SqlType = SqlType::Json;
    fn to_value(&self) -> Value {
        match serde_json::to_value(&self.0) {
            Ok(v) => Value::Json(Some(Box::new(v))),
            Err(_) => Value::Json(None),
        }
    }
    fn decode(row: &Row, index: usize) -> Result<Self, String> {
        let value = row
            .try_get_raw::<sqlx::types::Json<serde_json::Value>>(index)?
            .0;
        serde_json::from_value(value)
            .map(Json)
            .map_err(|e| e.to_string())
    }
    fn try_from_value(value: Value) -> Result<Self, String> {
        match value {
            Value::Json(Some(json)) => serde_json::from_value(*json)
                .map(Json)
                .map_err(|e| e.to_string()),
            other => Err(wrong_value::<Self>(&other)),
        }
    }
}

impl<T> Operand<Json<T>> for Json<T>
where
    T: serde::Serialize + serde::de::DeserializeOwned + Send + Sync + 'static,
{
    fn into_operand(self) -> crate::expressions::Operand {
        crate::expressions::Operand::Value(FieldType::to_value(&self))
    }
}

impl<T: FieldType> FieldType for Option<T> {
    type Lookup = T::Lookup;
    const SQL_TYPE: SqlType = T::SQL_TYPE;
    const NULLABLE: bool = true;
    const RELATED: Option<fn() -> &'static crate::model::ModelMeta> = T::RELATED;
    fn to_value(&self) -> Value {
        match self {
            Some(v) => v.to_value(),
            None => null_of(T::SQL_TYPE),
        }
    }
    fn decode(row: &Row, index: usize) -> Result<Self, String> {
        if row.is_null(index) {
            Ok(None)
        } else {
            T::decode(row, index).map(Some)
        }
    }
    fn try_from_value(value: Value) -> Result<Self, String> {
        if is_null(&value) {
            Ok(None)
        } else {
            T::try_from_value(value).map(Some)
        }
    }
}

/// A typed NULL, so drivers that care (PostgreSQL) bind the right type.
pub fn null_of(sql_type: SqlType) -> Value {
    match sql_type {
        SqlType::Integer => Value::Int(None),
        SqlType::BigInteger => Value::BigInt(None),
        SqlType::Boolean => Value::Bool(None),
        SqlType::Double => Value::Double(None),
        SqlType::Text => Value::String(None),
        SqlType::Bytes => Value::Bytes(None),
        SqlType::Date => Value::ChronoDate(None),
        SqlType::Time => Value::ChronoTime(None),
        SqlType::DateTime => Value::ChronoDateTimeUtc(None),
        SqlType::Uuid => Value::Uuid(None),
        SqlType::Json => Value::Json(None),
        SqlType::Decimal => Value::Decimal(None),
    }
}

/// Converts a value for a lookup on a column of type `T` (`"x"` for `String`, `5` for `i64`…),
/// or an `F` expression naming another column.
pub trait Operand<T> {
    fn into_operand(self) -> crate::expressions::Operand;
}

/// `None` is SQL NULL: `Article::published.eq(None)` is `published IS NULL` (Django's
/// `published=None`), `Article::published.set(None)` writes NULL; `Some(v)` is `v`.
impl<T: FieldType> Operand<T> for Option<T> {
    fn into_operand(self) -> crate::expressions::Operand {
        crate::expressions::Operand::Value(match self {
            Some(value) => value.to_value(),
            None => null_of(T::SQL_TYPE),
        })
    }
}

macro_rules! operand {
    ($target:ty => $($source:ty),*) => {
        $(impl Operand<$target> for $source {
            fn into_operand(self) -> crate::expressions::Operand {
                let value: $target = self.into();
                crate::expressions::Operand::Value(FieldType::to_value(&value))
            }
        })*
    };
}

operand!(i32 => i32, i16, u16, u8, i8);
operand!(i64 => i64, i32, u32, i16, u16, u8, i8);
operand!(bool => bool);
operand!(f64 => f64, f32, i32);
operand!(String => String, &str, &String, char);
operand!(Vec<u8> => Vec<u8>, &[u8]);
operand!(NaiveDate => NaiveDate);
operand!(NaiveTime => NaiveTime);
operand!(DateTime<Utc> => DateTime<Utc>);
operand!(uuid::Uuid => uuid::Uuid);
operand!(serde_json::Value => serde_json::Value);
operand!(rust_decimal::Decimal => rust_decimal::Decimal, i64, i32);
operand!(chrono::TimeDelta => chrono::TimeDelta);

/// Metadata of one field, made by `#[derive(Model)]`.
#[derive(Debug)]
pub struct FieldMeta {
    pub name: &'static str,
    pub column: &'static str,
    pub sql_type: SqlType,
    pub nullable: bool,
    pub primary_key: bool,
    pub auto_increment: bool,
    pub unique: bool,
    pub db_index: bool,
    pub max_length: Option<u32>,
    pub choices: &'static [&'static str],
    /// `#[field(blank)]`: forms (the admin's) may leave it empty (Django's `blank=True`); no
    /// effect on the column.
    pub blank: bool,
    /// `#[field(default = ...)]`: the value for new rows (also the column's SQL DEFAULT).
    pub default: Option<fn() -> Value>,
    /// For a `ForeignKey`: the model it points at, and what deleting that row does.
    pub related: Option<fn() -> &'static crate::model::ModelMeta>,
    pub on_delete: crate::relations::OnDelete,
    /// The reverse accessor's name on the target (`author.books()`).
    pub related_name: Option<&'static str>,
}

/// Parses text (a query-string or form value) into a value of this field's type; an error
/// names the field and what the text should have been.
pub fn parse_text(field: &FieldMeta, text: &str) -> Result<Value, OrmError> {
    let bad =
        |what: &str| OrmError::InvalidLookup(format!("{}: {text:?} is not {what}", field.name));
    Ok(match field.sql_type {
        SqlType::Integer => Value::Int(Some(text.parse().map_err(|_| bad("an integer"))?)),
        SqlType::BigInteger => Value::BigInt(Some(text.parse().map_err(|_| bad("an integer"))?)),
        SqlType::Boolean => Value::Bool(Some(match text.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => true,
            "false" | "0" | "no" | "off" => false,
            _ => return Err(bad("a boolean (true/false)")),
        })),
        SqlType::Double => Value::Double(Some(text.parse().map_err(|_| bad("a number"))?)),
        SqlType::Text => Value::String(Some(text.to_owned())),
        SqlType::Bytes => Value::Bytes(Some(text.as_bytes().to_vec())),
        SqlType::Date => {
            Value::ChronoDate(Some(text.parse().map_err(|_| bad("a date (YYYY-MM-DD)"))?))
        }
        SqlType::Time => {
            Value::ChronoTime(Some(text.parse().map_err(|_| bad("a time (HH:MM:SS)"))?))
        }
        SqlType::DateTime => Value::ChronoDateTimeUtc(Some(
            DateTime::parse_from_rfc3339(text)
                .map_err(|_| bad("an RFC 3339 date-time"))?
                .with_timezone(&Utc),
        )),
        SqlType::Uuid => Value::Uuid(Some(text.parse().map_err(|_| bad("a UUID"))?)),
        SqlType::Json => Value::Json(Some(Box::new(
            serde_json::from_str(text).map_err(|_| bad("JSON"))?,
        ))),
        SqlType::Decimal => {
            Value::Decimal(Some(text.parse().map_err(|_| bad("a decimal number"))?))
        }
    })
}
