//! Conditions: a filter tree → sea-query's `Condition` (long AND/OR lists as balanced groups,
//! nesting bounded), each lookup → its expression with the backend's spelling, and the checks
//! a value passes before any SQL is sent (no NUL in text, a valid `__regex` pattern).

use super::*;

impl Compiler {
    pub(super) fn lhs(&self, lookup: &Lookup) -> Result<Expr, OrmError> {
        let (column, field) = self.path_column(&lookup.path, lookup.field)?;
        Ok(match lookup.transform {
            None => column,
            Some(transform) => self.backend.date_part(transform, column, field.sql_type),
        })
    }

    /// A `__regex` pattern the database would refuse is an error naming it, before any SQL is
    /// sent, where the backend can tell (SQLite's `REGEXP` checks with the crate that runs it).
    /// PostgreSQL's own syntax differs (it has backreferences, for one), so there the server's
    /// "invalid regular expression" error is translated instead (`OrmError::from_sqlx`).
    pub(super) fn check_regex(&self, field: &FieldMeta, pattern: &str) -> Result<(), OrmError> {
        self.backend.check_regex(pattern).map_err(|e| {
            OrmError::InvalidLookup(format!(
                "{}: invalid regular expression {pattern:?}: {e}",
                field.name
            ))
        })
    }

    pub(crate) fn f_expr(&self, node: &FNode) -> Expr {
        match node {
            FNode::Column(index) => self.column(*index),
            FNode::Value(value) => Expr::val(value.clone()),
            FNode::Binary(left, op, right) => {
                let (l, r) = (self.f_expr(left), self.f_expr(right));
                match op {
                    Arith::Add => l.add(r),
                    Arith::Sub => l.sub(r),
                    Arith::Mul => l.mul(r),
                    Arith::Div => l.div(r),
                }
            }
        }
    }

    pub(super) fn operand(&self, operand: &Operand) -> Result<Expr, OrmError> {
        match operand {
            Operand::Value(v) => Ok(Expr::val(v.clone())),
            Operand::Expr(node) => Ok(self.f_expr(node)),
            other => Err(OrmError::InvalidLookup(format!(
                "unexpected operand {other:?}"
            ))),
        }
    }

    // Long because it is the table of lookups (exact, iexact, contains, in, range, …), one arm
    // each, as Django's lookup classes are a list.
    pub(super) fn lookup(&self, lookup: &Lookup) -> Result<Expr, OrmError> {
        let lhs = self.lhs(lookup)?;
        let field = self.path_column(&lookup.path, lookup.field)?.1;
        refuse_nul(field, &lookup.rhs)?;
        if lookup.op.is_text() {
            let Operand::Value(sea_query::Value::String(Some(text))) = &lookup.rhs else {
                return Err(OrmError::InvalidLookup(format!(
                    "{}: lookup {:?} takes a text value",
                    field.name, lookup.op
                )));
            };
            if matches!(lookup.op, Op::Regex | Op::IRegex) {
                self.check_regex(field, text)?;
            }
            return Ok(self.backend.text_lookup(lookup.op, lhs, text));
        }
        Ok(match (&lookup.op, &lookup.rhs) {
            (Op::Exact, Operand::Value(v)) if value_is_null(v) => lhs.is_null(),
            (Op::Exact, rhs) => ExprTrait::eq(lhs, self.operand(rhs)?),
            (Op::Gt, rhs) => lhs.gt(self.operand(rhs)?),
            (Op::Gte, rhs) => lhs.gte(self.operand(rhs)?),
            (Op::Lt, rhs) => lhs.lt(self.operand(rhs)?),
            (Op::Lte, rhs) => lhs.lte(self.operand(rhs)?),
            (Op::In, Operand::Values(values)) if values.is_empty() => Expr::cust("1 = 0"),
            (Op::In, Operand::Values(values)) => lhs.is_in(values.iter().cloned().map(Expr::val)),
            (Op::In, Operand::List(items)) if items.is_empty() => Expr::cust("1 = 0"),
            (Op::In, Operand::List(items)) => lhs.is_in(
                items
                    .iter()
                    .map(|item| self.operand(item))
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            (Op::Range, Operand::Pair(low, high)) => {
                lhs.between(Expr::val(low.clone()), Expr::val(high.clone()))
            }
            (
                Op::InSubquery,
                Operand::Subquery {
                    table,
                    select,
                    filter_column,
                    value,
                },
            ) => {
                let mut sub = Sql::select();
                sub.column(Alias::new(*select))
                    .from(Alias::new(*table))
                    .and_where(Expr::col(Alias::new(*filter_column)).eq(value.clone()));
                lhs.in_subquery(sub)
            }
            (Op::InSubquery, Operand::Related { m2m, condition }) => {
                let target = (m2m.target)();
                let inner = Compiler {
                    backend: self.backend,
                    meta: target,
                };
                let mut targets = Sql::select();
                targets
                    .column((
                        Alias::new(target.table),
                        Alias::new(target.pk_field().column),
                    ))
                    .from(Alias::new(target.table))
                    .cond_where(inner.condition(condition)?);
                let mut owners = Sql::select();
                owners
                    .column(Alias::new(m2m.owner_column()))
                    .from(Alias::new(m2m.join_table()))
                    .and_where(Expr::col(Alias::new(m2m.target_column())).in_subquery(targets));
                lhs.in_subquery(owners)
            }
            (Op::IsNull, Operand::Flag(true)) => lhs.is_null(),
            (Op::IsNull, Operand::Flag(false)) => lhs.is_not_null(),
            (op, rhs) => {
                return Err(OrmError::InvalidLookup(format!(
                    "{}: lookup {op:?} does not take {rhs:?}",
                    field.name
                )))
            }
        })
    }

    /// The WHERE condition for a filter tree. Refuses trees nested deeper than
    /// [`MAX_FILTER_DEPTH`] before rendering any of it (rendering, here and in sea-query,
    /// recurses per level), and renders long AND/OR lists as balanced groups
    /// ([`balanced`]), so a list of any length recurses only logarithmically.
    pub(crate) fn condition(&self, node: &Node) -> Result<Condition, OrmError> {
        let depth = filter_depth(node);
        if depth > MAX_FILTER_DEPTH {
            return Err(OrmError::InvalidLookup(format!(
                "the filter is nested {depth} levels deep; at most {MAX_FILTER_DEPTH} are allowed"
            )));
        }
        self.condition_at(node)
    }

    pub(super) fn condition_at(&self, node: &Node) -> Result<Condition, OrmError> {
        Ok(match node {
            Node::All => Condition::all(),
            Node::Lookup(lookup) => Condition::all().add(self.lookup(lookup)?),
            Node::And(nodes) => balanced(Condition::all, nodes, &|n| self.condition_at(n))?,
            Node::Or(nodes) => balanced(Condition::any, nodes, &|n| self.condition_at(n))?,
            Node::Not(inner) => match inner.as_ref() {
                // NOT of "everything" is "nothing".
                Node::All => Condition::all().add(Expr::cust("1 = 0")),
                other => self.condition_at(other)?.not(),
            },
        })
    }
}

/// A NUL character in a text value is refused before any SQL is sent: SQLite's LIKE and GLOB
/// stop at it (`endswith="\0"` would match every row) and PostgreSQL refuses it outright.
fn refuse_nul(field: &FieldMeta, operand: &Operand) -> Result<(), OrmError> {
    let has_nul = |value: &sea_query::Value| matches!(value, sea_query::Value::String(Some(text)) if text.contains('\0'));
    let found = match operand {
        Operand::Value(v) => has_nul(v),
        Operand::Values(values) => values.iter().any(has_nul),
        Operand::Pair(low, high) => has_nul(low) || has_nul(high),
        Operand::List(items) => items
            .iter()
            .any(|item| matches!(item, Operand::Value(v) if has_nul(v))),
        _ => false,
    };
    if found {
        return Err(OrmError::InvalidLookup(format!(
            "{}: text values cannot contain NUL (\\0) characters",
            field.name
        )));
    }
    Ok(())
}

/// How many conditions one rendered group holds. sea-query turns a group of n conditions into
/// a left-deep chain of n binary expressions and renders it recursively, so a flat list of
/// 100,000 lookups would recurse 100,000 deep and overflow the stack. Longer lists are split
/// into nested groups of at most this many: 100,000 lookups render 5 groups deep.
const GROUP_SIZE: usize = 16;

/// `nodes` joined by one connective (`new_group`: `Condition::all` or `any`), as nested
/// groups of at most [`GROUP_SIZE`] so the rendered expression's depth grows with the
/// logarithm of the list's length. AND and OR are associative, so the grouping does not
/// change the meaning.
fn balanced(
    new_group: fn() -> Condition,
    nodes: &[Node],
    render: &dyn Fn(&Node) -> Result<Condition, OrmError>,
) -> Result<Condition, OrmError> {
    let mut group = new_group();
    if nodes.len() <= GROUP_SIZE {
        for node in nodes {
            group = group.add(render(node)?);
        }
        return Ok(group);
    }
    let chunk = nodes.len().div_ceil(GROUP_SIZE);
    for part in nodes.chunks(chunk) {
        group = group.add(balanced(new_group, part, render)?);
    }
    Ok(group)
}

/// The nesting depth of a filter tree, counted without recursion (the tree may come from
/// anywhere; counting must not overflow where rendering would).
fn filter_depth(node: &Node) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(node, 1usize)];
    while let Some((node, depth)) = stack.pop() {
        deepest = std::cmp::max(deepest, depth);
        match node {
            Node::And(nodes) | Node::Or(nodes) => {
                stack.extend(nodes.iter().map(|n| (n, depth + 1)));
            }
            Node::Not(inner) => stack.push((inner, depth + 1)),
            Node::All | Node::Lookup(_) => {}
        }
    }
    deepest
}

fn value_is_null(value: &sea_query::Value) -> bool {
    use sea_query::Value as V;
    matches!(
        value,
        V::Bool(None)
            | V::Int(None)
            | V::BigInt(None)
            | V::Double(None)
            | V::String(None)
            | V::Bytes(None)
            | V::Json(None)
            | V::ChronoDate(None)
            | V::ChronoTime(None)
            | V::ChronoDateTimeUtc(None)
            | V::Uuid(None)
            | V::Decimal(None)
    )
}
