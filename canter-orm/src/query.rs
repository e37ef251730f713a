//! The internal query representation (Django's `sql.Query`): what a `QuerySet` has collected,
//! before a backend's compiler turns it into SQL. Also the parsing of lookups and orderings
//! given as text (`"name__icontains"`, `"-created"`), which checks every name against the
//! model so nothing from a request reaches SQL except as a bound value.

use crate::error::OrmError;
use crate::expressions::{Lookup, Node, Op, Operand, OrderKind, RelPath, Transform};
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
    /// Foreign keys (field indexes of the model) whose rows are JOINed and cached.
    pub(crate) select_related: Vec<crate::expressions::RelPath>,
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
            select_related: Vec::new(),
        }
    }
}

/// `"field[__transform][__lookup]"` and a text value → a lookup on `M`. Long because it is
/// the table of Django's lookup names, one arm each.
pub(crate) fn parse_lookup<M: Model>(key: &str, value: &str) -> Result<Node, OrmError> {
    let meta = M::meta();
    // Django's forms refuse NUL; SQLite's LIKE stops at it and PostgreSQL refuses it.
    if value.contains('\0') {
        return Err(OrmError::InvalidLookup(format!(
            "{key}: the value contains a NUL (\\0) character"
        )));
    }
    let parts: Vec<&str> = key.split("__").collect();
    let (path, index, field, consumed) = resolve_field(meta, &parts)?;
    let rest: Vec<&str> = parts[consumed..].to_vec();
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
        path,
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
    let parts: Vec<&str> = field_name.split("__").collect();
    let (path, field, _, consumed) = resolve_field(M::meta(), &parts)
        .map_err(|e| OrmError::InvalidLookup(format!("cannot order by {name:?}: {e}")))?;
    if consumed != parts.len() {
        return Err(OrmError::InvalidLookup(format!(
            "cannot order by {name:?}: not a field"
        )));
    }
    Ok(OrderKind::Column { path, field, desc })
}

/// Walks `author__publisher__name`-style names: relation fields followed into their models,
/// ending on a field. Returns the path, the field's index and meta in its model, and how many
/// parts were used (the rest are a transform and a lookup).
pub(crate) fn resolve_field(
    meta: &'static crate::model::ModelMeta,
    parts: &[&str],
) -> Result<(RelPath, usize, &'static crate::fields::FieldMeta, usize), OrmError> {
    let mut model = meta;
    let mut path = RelPath::EMPTY;
    let mut i = 0;
    loop {
        let name = parts.get(i).copied().unwrap_or("");
        let (index, field) = model.field(name).ok_or_else(|| {
            let known: Vec<&str> = model.fields.iter().map(|f| f.name).collect();
            OrmError::InvalidLookup(format!(
                "{} has no field {name:?} (fields: {})",
                model.name,
                known.join(", ")
            ))
        })?;
        i += 1;
        // Follow a relation when the next part names a field of the related model.
        if let (Some(target), Some(next)) = (field.related, parts.get(i)) {
            let target = target();
            if target.field(next).is_some() {
                path = path.then(index).ok_or_else(|| {
                    OrmError::InvalidLookup("a lookup follows at most four relations".into())
                })?;
                model = target;
                continue;
            }
        }
        return Ok((path, index, field, i));
    }
}
