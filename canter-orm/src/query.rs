//! The internal query representation (Django's `sql.Query`): what a `QuerySet` has collected,
//! before a backend's compiler turns it into SQL. Also the parsing of lookups and orderings
//! given as text (`"name__icontains"`, `"-created"`), which checks every name against the
//! model so nothing from a request reaches SQL except as a bound value.

use crate::error::OrmError;
use crate::expressions::{Lookup, Node, Op, Operand, OrderKind, Transform};
use crate::fields::{parse_text, SqlType};
use crate::model::Model;

#[derive(Debug, Clone)]
pub(crate) struct Query {
    pub(crate) filter: Node,
    pub(crate) order: Vec<OrderKind>,
    pub(crate) limit: Option<u64>,
    pub(crate) offset: Option<u64>,
    pub(crate) distinct: bool,
    pub(crate) lock: Option<RowLock>,
}

/// `SELECT ... FOR UPDATE [NOWAIT | SKIP LOCKED]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RowLock {
    Wait,
    NoWait,
    SkipLocked,
}

impl Default for Query {
    fn default() -> Self {
        Query {
            filter: Node::All,
            order: Vec::new(),
            limit: None,
            offset: None,
            distinct: false,
            lock: None,
        }
    }
}

/// `"field[__transform][__lookup]"` and a text value → a lookup on `M`.
pub(crate) fn parse_lookup<M: Model>(key: &str, value: &str) -> Result<Node, OrmError> {
    let meta = M::meta();
    let mut parts = key.split("__");
    let field_name = parts.next().unwrap_or("");
    let (index, field) = meta.field(field_name).ok_or_else(|| {
        let known: Vec<&str> = meta.fields.iter().map(|f| f.name).collect();
        OrmError::InvalidLookup(format!(
            "{} has no field {field_name:?} (fields: {})",
            meta.name,
            known.join(", ")
        ))
    })?;
    let rest: Vec<&str> = parts.collect();
    let (transform, op_name) = match rest.as_slice() {
        [] => (None, "exact"),
        [one] => match transform_named(one) {
            Some(t) => (Some(t), "exact"),
            None => (None, *one),
        },
        [t, op] => match transform_named(t) {
            Some(t) => (Some(t), *op),
            None => {
                return Err(OrmError::InvalidLookup(format!(
                    "unsupported lookup {key:?}"
                )))
            }
        },
        _ => {
            return Err(OrmError::InvalidLookup(format!(
                "unsupported lookup {key:?}"
            )))
        }
    };
    let op = Op::from_name(op_name)
        .ok_or_else(|| OrmError::InvalidLookup(format!("unknown lookup {op_name:?} in {key:?}")))?;
    if transform.is_some() && !matches!(field.sql_type, SqlType::Date | SqlType::DateTime) {
        return Err(OrmError::InvalidLookup(format!(
            "{key:?}: {} is not a date field",
            field.name
        )));
    }
    if op.is_text() && (field.sql_type != SqlType::Text || transform.is_some()) {
        return Err(OrmError::InvalidLookup(format!(
            "{key:?}: lookup {op_name:?} needs a text field"
        )));
    }
    let parse = |text: &str| -> Result<sea_query::Value, OrmError> {
        if transform.is_some() {
            text.parse::<i64>()
                .map(|n| sea_query::Value::BigInt(Some(n)))
                .map_err(|_| OrmError::InvalidLookup(format!("{key}: {text:?} is not an integer")))
        } else {
            parse_text(field, text)
        }
    };
    let rhs = match op {
        Op::IsNull => Operand::Flag(match value.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => true,
            "false" | "0" | "no" => false,
            _ => {
                return Err(OrmError::InvalidLookup(format!(
                    "{key}: {value:?} is not true or false"
                )))
            }
        }),
        Op::In => Operand::Values(
            value
                .split(',')
                .filter(|s| !s.is_empty())
                .map(parse)
                .collect::<Result<_, _>>()?,
        ),
        Op::Range => {
            let (low, high) = value.split_once(',').ok_or_else(|| {
                OrmError::InvalidLookup(format!("{key}: a range is \"low,high\""))
            })?;
            Operand::Pair(parse(low)?, parse(high)?)
        }
        _ => Operand::Value(parse(value)?),
    };
    Ok(Node::Lookup(Lookup {
        field: index,
        transform,
        op,
        rhs,
    }))
}

fn transform_named(name: &str) -> Option<Transform> {
    match name {
        "year" => Some(Transform::Year),
        "month" => Some(Transform::Month),
        "day" => Some(Transform::Day),
        _ => None,
    }
}

/// `"name"`, `"-name"` or `"?"` → an ordering on `M`; unknown fields are errors.
pub(crate) fn parse_order<M: Model>(name: &str) -> Result<OrderKind, OrmError> {
    if name == "?" {
        return Ok(OrderKind::Random);
    }
    let (desc, field_name) = match name.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, name),
    };
    let meta = M::meta();
    let (field, _) = meta.field(field_name).ok_or_else(|| {
        OrmError::InvalidLookup(format!(
            "cannot order {} by {name:?}: no such field",
            meta.name
        ))
    })?;
    Ok(OrderKind::Column { field, desc })
}
