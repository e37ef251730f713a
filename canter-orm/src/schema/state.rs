//! The state of the models as the schema holds them (Django's `ProjectState`): made from the
//! compiled models, and rebuilt by replaying migration files, so the autodetector can compare
//! the two and the schema editor can turn a change into SQL.

use std::collections::BTreeMap;

use sea_query::Value;
use serde::{Deserialize, Serialize};

use crate::fields::SqlType;
use crate::model::ModelMeta;

fn is_false(b: &bool) -> bool {
    !*b
}

/// One field as a migration file records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldState {
    pub name: String,
    pub column: String,
    #[serde(rename = "type")]
    pub sql_type: SqlType,
    #[serde(default, skip_serializing_if = "is_false")]
    pub null: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub primary_key: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub auto_increment: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub unique: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub db_index: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u32>,
    /// The default for existing and new rows, as JSON (`10`, `"info"`, `true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<serde_json::Value>,
    /// A foreign key: the table and column it points at, and `on_delete`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub references: Option<References>,
}

/// Where a foreign key points.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct References {
    /// `app.Model`, for dependencies between migrations.
    pub model: String,
    pub table: String,
    pub column: String,
    pub on_delete: crate::relations::OnDelete,
}

/// One model as migrations record it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelState {
    pub app: String,
    pub name: String,
    pub table: String,
    pub fields: Vec<FieldState>,
    /// Django's `unique_together`: each list of field names is unique as a whole.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unique_together: Vec<Vec<String>>,
    /// Check constraints: name → SQL condition.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<(String, String)>,
    /// Indexes and unique constraints over one or more fields (Django's `Meta.indexes` and
    /// `UniqueConstraint`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub indexes: Vec<IndexState>,
}

/// An index, or a unique constraint (a unique index, partial with a condition), as migrations
/// record it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexState {
    pub name: String,
    /// Field names (not columns), in the index's order.
    pub fields: Vec<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub unique: bool,
    /// An SQL condition: only rows matching it are indexed (Django's `condition=Q(...)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
}

impl IndexState {
    /// The state of a compiled index of table `table`; unnamed ones are named after the table
    /// and fields, shortened with a hash past what every database accepts in a name.
    pub fn from_meta(table: &str, index: &crate::model::IndexMeta) -> Self {
        let name = match index.name {
            Some(name) => name.to_owned(),
            None => {
                let suffix = if index.unique { "uniq" } else { "idx" };
                short_name(&format!("{table}_{}_{suffix}", index.fields.join("_")))
            }
        };
        IndexState {
            name,
            fields: index.fields.iter().map(|f| (*f).to_owned()).collect(),
            unique: index.unique,
            condition: index.condition.map(str::to_owned),
        }
    }
}

/// `name` when it fits MySQL's 64 and PostgreSQL's 63 characters, else its first 50 and a hash
/// of the whole (FNV-1a: the same on every build).
fn short_name(name: &str) -> String {
    if name.len() <= 60 {
        return name.to_owned();
    }
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let mut cut = 50;
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}_{:08x}", &name[..cut], hash as u32)
}

impl ModelState {
    /// The state of a compiled model.
    pub fn from_meta(meta: &ModelMeta) -> Self {
        ModelState {
            app: meta.app.to_owned(),
            name: meta.name.to_owned(),
            table: meta.table.to_owned(),
            fields: meta
                .fields
                .iter()
                .map(|f| FieldState {
                    name: f.name.to_owned(),
                    column: f.column.to_owned(),
                    sql_type: f.sql_type,
                    null: f.nullable,
                    primary_key: f.primary_key,
                    auto_increment: f.auto_increment,
                    unique: f.unique && !f.primary_key,
                    db_index: f.db_index,
                    // A foreign key's column is the target key's: its length too.
                    max_length: match f.related {
                        Some(target) => target().pk_field().max_length,
                        None => f.max_length,
                    },
                    default: f.default.map(|d| value_to_json(&d())),
                    references: f.related.map(|target| {
                        let target = target();
                        References {
                            model: format!("{}.{}", target.app, target.name),
                            table: target.table.to_owned(),
                            column: target.pk_field().column.to_owned(),
                            on_delete: f.on_delete,
                        }
                    }),
                })
                .collect(),
            unique_together: Vec::new(),
            checks: meta
                .checks
                .iter()
                .map(|(n, q)| ((*n).to_owned(), (*q).to_owned()))
                .collect(),
            indexes: (meta.indexes.iter())
                .map(|index| IndexState::from_meta(meta.table, index))
                .collect(),
        }
    }

    /// The join tables of a model's many-to-many fields, as models of their own (Django's
    /// auto-created "through" models): `<Model>_<field>`, a foreign key to each side (deleting
    /// either side deletes the link), each pair once.
    pub fn join_models(meta: &ModelMeta) -> Vec<ModelState> {
        meta.many_to_many
            .iter()
            // A `through` model is a model of its own, registered like any other.
            .filter(|m2m| m2m.through.is_none())
            .map(|m2m| {
                let target = (m2m.target)();
                let key = |name: &str, model: &ModelMeta| FieldState {
                    name: name.to_owned(),
                    column: name.to_owned(),
                    // Each side's column has the type of that side's primary key.
                    sql_type: model.pk_field().sql_type,
                    null: false,
                    primary_key: false,
                    auto_increment: false,
                    unique: false,
                    db_index: true,
                    max_length: model.pk_field().max_length,
                    default: None,
                    references: Some(References {
                        model: format!("{}.{}", model.app, model.name),
                        table: model.table.to_owned(),
                        column: model.pk_field().column.to_owned(),
                        on_delete: crate::relations::OnDelete::Cascade,
                    }),
                };
                ModelState {
                    app: meta.app.to_owned(),
                    name: format!("{}_{}", meta.name, m2m.name),
                    table: m2m.table.to_owned(),
                    fields: vec![
                        FieldState {
                            name: "id".into(),
                            column: "id".into(),
                            sql_type: SqlType::BigInteger,
                            null: false,
                            primary_key: true,
                            auto_increment: true,
                            unique: false,
                            db_index: false,
                            max_length: None,
                            default: None,
                            references: None,
                        },
                        key(m2m.from_column, meta),
                        key(m2m.to_column, target),
                    ],
                    unique_together: vec![vec![
                        m2m.from_column.to_owned(),
                        m2m.to_column.to_owned(),
                    ]],
                    checks: Vec::new(),
                    indexes: Vec::new(),
                }
            })
            .collect()
    }

    pub fn field(&self, name: &str) -> Option<&FieldState> {
        self.fields.iter().find(|f| f.name == name)
    }

    pub fn key(&self) -> String {
        format!("{}.{}", self.app, self.name)
    }
}

/// Every model's state, by `app.Model`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProjectState {
    pub models: BTreeMap<String, ModelState>,
}

impl ProjectState {
    pub fn model(&self, app: &str, name: &str) -> Option<&ModelState> {
        self.models.get(&format!("{app}.{name}"))
    }
    pub fn model_mut(&mut self, app: &str, name: &str) -> Option<&mut ModelState> {
        self.models.get_mut(&format!("{app}.{name}"))
    }
    /// Points every foreign key to model `old` (`app.Model`) at `new` and its table `table`
    /// (what renaming a model does to the fields that reference it, as Django's `RenameModel`
    /// does to related fields).
    pub fn rename_references(&mut self, old: &str, new: &str, table: &str) {
        for model in self.models.values_mut() {
            for field in &mut model.fields {
                if let Some(target) = field.references.as_mut().filter(|r| r.model == old) {
                    target.model = new.to_owned();
                    target.table = table.to_owned();
                }
            }
        }
    }
    /// The models of one app.
    pub fn app_models<'a>(&'a self, app: &'a str) -> impl Iterator<Item = &'a ModelState> + 'a {
        self.models.values().filter(move |m| m.app == app)
    }
}

/// A bound value as JSON, for migration files.
pub(crate) fn value_to_json(value: &Value) -> serde_json::Value {
    use serde_json::json;
    match value {
        Value::Bool(Some(b)) => json!(b),
        Value::Int(Some(n)) => json!(n),
        Value::BigInt(Some(n)) => json!(n),
        Value::SmallInt(Some(n)) => json!(n),
        Value::Double(Some(f)) => json!(f),
        Value::Float(Some(f)) => json!(f),
        Value::String(Some(s)) => json!(s),
        Value::Json(Some(j)) => (**j).clone(),
        Value::Decimal(Some(d)) => json!(d.to_string()),
        Value::ChronoDate(Some(d)) => json!(d.to_string()),
        Value::ChronoTime(Some(t)) => json!(t.to_string()),
        Value::ChronoDateTimeUtc(Some(t)) => json!(t.to_rfc3339()),
        Value::Uuid(Some(u)) => json!(u.to_string()),
        _ => serde_json::Value::Null,
    }
}

/// A migration file's JSON default → a value of the field's type.
pub(crate) fn json_to_value(json: &serde_json::Value, sql_type: SqlType) -> Option<Value> {
    use serde_json::Value as J;
    Some(match (sql_type, json) {
        (_, J::Null) => return None,
        (SqlType::Boolean, J::Bool(b)) => Value::Bool(Some(*b)),
        (SqlType::Integer, J::Number(n)) => Value::Int(Some(n.as_i64()? as i32)),
        (SqlType::BigInteger, J::Number(n)) => Value::BigInt(Some(n.as_i64()?)),
        (SqlType::Double, J::Number(n)) => Value::Double(Some(n.as_f64()?)),
        (SqlType::Json, other) => Value::Json(Some(Box::new(other.clone()))),
        (_, J::String(s)) => Value::String(Some(s.clone())),
        (_, J::Number(n)) => Value::String(Some(n.to_string())),
        (_, J::Bool(b)) => Value::Bool(Some(*b)),
        _ => return None,
    })
}
