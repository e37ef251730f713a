//! The SQL compiler (Django's `SQLCompiler`): an internal [`Query`] of a model → SQL and bound
//! values for one backend, through sea-query's statement builders; each backend's
//! `operations` module spells what differs (text lookups, date parts, random order).

use sea_query::{
    Alias, Condition, Expr, ExprTrait, LockBehavior, LockType, Order, PostgresQueryBuilder,
    Query as Sql, SelectStatement, SqliteQueryBuilder, Values,
};

use crate::aggregates::Aggregate;
use crate::backends::Vendor;
use crate::error::OrmError;
use crate::expressions::{Arith, FNode, Lookup, Node, Op, Operand, OrderKind};
use crate::model::ModelMeta;
use crate::query::{Query, RowLock};
use crate::schema::quote_name;

pub(crate) struct Compiler {
    pub(crate) vendor: Vendor,
    pub(crate) meta: &'static ModelMeta,
}

/// A statement ready to run.
pub(crate) struct Compiled {
    pub(crate) sql: String,
    pub(crate) values: Values,
}

macro_rules! build {
    ($vendor:expr, $statement:expr) => {
        match $vendor {
            Vendor::Sqlite => $statement.build(SqliteQueryBuilder),
            Vendor::Postgres => $statement.build(PostgresQueryBuilder),
        }
    };
}

impl Compiler {
    fn table(&self) -> Alias {
        Alias::new(self.meta.table)
    }

    fn column(&self, index: usize) -> Expr {
        Expr::col((self.table(), Alias::new(self.meta.fields[index].column)))
    }

    fn text_lookup(&self, op: Op, column: Expr, value: &str) -> Expr {
        match self.vendor {
            #[cfg(feature = "sqlite")]
            Vendor::Sqlite => crate::backends::sqlite::operations::text_lookup(op, column, value),
            #[cfg(feature = "postgres")]
            Vendor::Postgres => {
                crate::backends::postgres::operations::text_lookup(op, column, value)
            }
            #[allow(unreachable_patterns)]
            _ => unreachable!("backend compiled out"),
        }
    }

    fn lhs(&self, lookup: &Lookup) -> Expr {
        let column = self.column(lookup.field);
        match lookup.transform {
            None => column,
            Some(transform) => {
                let sql_type = self.meta.fields[lookup.field].sql_type;
                match self.vendor {
                    #[cfg(feature = "sqlite")]
                    Vendor::Sqlite => {
                        crate::backends::sqlite::operations::transform(transform, column, sql_type)
                    }
                    #[cfg(feature = "postgres")]
                    Vendor::Postgres => crate::backends::postgres::operations::transform(
                        transform, column, sql_type,
                    ),
                    #[allow(unreachable_patterns)]
                    _ => unreachable!("backend compiled out"),
                }
            }
        }
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

    fn operand(&self, operand: &Operand) -> Result<Expr, OrmError> {
        match operand {
            Operand::Value(v) => Ok(Expr::val(v.clone())),
            Operand::Expr(node) => Ok(self.f_expr(node)),
            other => Err(OrmError::InvalidLookup(format!(
                "unexpected operand {other:?}"
            ))),
        }
    }

    fn lookup(&self, lookup: &Lookup) -> Result<Expr, OrmError> {
        let lhs = self.lhs(lookup);
        let field = &self.meta.fields[lookup.field];
        if lookup.op.is_text() {
            let Operand::Value(sea_query::Value::String(Some(text))) = &lookup.rhs else {
                return Err(OrmError::InvalidLookup(format!(
                    "{}: lookup {:?} takes a text value",
                    field.name, lookup.op
                )));
            };
            return Ok(self.text_lookup(lookup.op, lhs, text));
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
            (Op::Range, Operand::Pair(low, high)) => {
                lhs.between(Expr::val(low.clone()), Expr::val(high.clone()))
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

    pub(crate) fn condition(&self, node: &Node) -> Result<Condition, OrmError> {
        Ok(match node {
            Node::All => Condition::all(),
            Node::Lookup(lookup) => Condition::all().add(self.lookup(lookup)?),
            Node::And(nodes) => {
                let mut cond = Condition::all();
                for n in nodes {
                    cond = cond.add(self.condition(n)?);
                }
                cond
            }
            Node::Or(nodes) => {
                let mut cond = Condition::any();
                for n in nodes {
                    cond = cond.add(self.condition(n)?);
                }
                cond
            }
            Node::Not(inner) => match inner.as_ref() {
                // NOT of "everything" is "nothing".
                Node::All => Condition::all().add(Expr::cust("1 = 0")),
                other => self.condition(other)?.not(),
            },
        })
    }

    fn base_select(&self, query: &Query) -> Result<SelectStatement, OrmError> {
        let mut select = Sql::select();
        select
            .from(self.table())
            .cond_where(self.condition(&query.filter)?);
        if query.distinct {
            select.distinct();
        }
        // SQLite has no row locks; its transactions take the database's write lock up front
        // (BEGIN IMMEDIATE), which already serializes what FOR UPDATE would.
        if let (Some(lock), Vendor::Postgres) = (query.lock, self.vendor) {
            match lock {
                RowLock::Wait => select.lock(LockType::Update),
                RowLock::NoWait => {
                    select.lock_with_behavior(LockType::Update, LockBehavior::Nowait)
                }
                RowLock::SkipLocked => {
                    select.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
                }
            };
        }
        for order in &query.order {
            match order {
                OrderKind::Column { field, desc } => {
                    select.order_by_expr(
                        self.column(*field),
                        if *desc { Order::Desc } else { Order::Asc },
                    );
                }
                OrderKind::Random => {
                    select.order_by_expr(Expr::cust(self.random()), Order::Asc);
                }
            }
        }
        match (query.limit, query.offset) {
            (Some(limit), offset) => {
                select.limit(limit);
                if let Some(offset) = offset {
                    select.offset(offset);
                }
            }
            (None, Some(offset)) => {
                // SQLite needs a LIMIT before OFFSET; PostgreSQL takes one too.
                select.limit(i64::MAX as u64).offset(offset);
            }
            (None, None) => {}
        }
        Ok(select)
    }

    fn random(&self) -> &'static str {
        match self.vendor {
            #[cfg(feature = "sqlite")]
            Vendor::Sqlite => crate::backends::sqlite::operations::RANDOM,
            #[cfg(feature = "postgres")]
            Vendor::Postgres => crate::backends::postgres::operations::RANDOM,
            #[allow(unreachable_patterns)]
            _ => "RANDOM()",
        }
    }

    /// `SELECT <every field> ...`.
    pub(crate) fn select(&self, query: &Query) -> Result<Compiled, OrmError> {
        self.select_fields(query, &(0..self.meta.fields.len()).collect::<Vec<_>>())
    }

    /// `SELECT <these fields> ...` (for `values()`).
    pub(crate) fn select_fields(
        &self,
        query: &Query,
        fields: &[usize],
    ) -> Result<Compiled, OrmError> {
        let mut select = self.base_select(query)?;
        for &index in fields {
            select.column((self.table(), Alias::new(self.meta.fields[index].column)));
        }
        let (sql, values) = build!(self.vendor, select);
        Ok(Compiled { sql, values })
    }

    /// `SELECT COUNT(*)`, over a subquery when sliced or distinct.
    pub(crate) fn count(&self, query: &Query) -> Result<Compiled, OrmError> {
        let sliced = query.limit.is_some() || query.offset.is_some() || query.distinct;
        let mut select = Sql::select();
        select.expr(Expr::cust("COUNT(*)"));
        if sliced {
            let mut inner = self.base_select(query)?;
            for index in 0..self.meta.fields.len() {
                inner.column((self.table(), Alias::new(self.meta.fields[index].column)));
            }
            select.from_subquery(inner, Alias::new("subquery"));
        } else {
            select
                .from(self.table())
                .cond_where(self.condition(&query.filter)?);
        }
        let (sql, values) = build!(self.vendor, select);
        Ok(Compiled { sql, values })
    }

    /// `SELECT <aggregates> ... [GROUP BY <fields>]`: the group fields first, then one column
    /// per aggregate.
    pub(crate) fn aggregate<M>(
        &self,
        query: &Query,
        group_by: &[usize],
        aggregates: &[Aggregate<M>],
    ) -> Result<Compiled, OrmError> {
        let quoted = |i: usize| {
            format!(
                "{}.{}",
                quote_name(self.meta.table),
                quote_name(self.meta.fields[i].column)
            )
        };
        let mut select = if query.limit.is_some() || query.offset.is_some() || query.distinct {
            return Err(OrmError::InvalidLookup(
                "aggregate over a sliced or distinct queryset is not supported yet".into(),
            ));
        } else {
            let mut q = query.clone();
            q.order.clear();
            self.base_select(&q)?
        };
        for &i in group_by {
            select.column((self.table(), Alias::new(self.meta.fields[i].column)));
            select.group_by_col((self.table(), Alias::new(self.meta.fields[i].column)));
        }
        for aggregate in aggregates {
            select.expr(Expr::cust(
                aggregate.sql(self.meta, aggregate.field.map(quoted)),
            ));
        }
        for &i in group_by {
            select.order_by_expr(self.column(i), Order::Asc);
        }
        let (sql, values) = build!(self.vendor, select);
        Ok(Compiled { sql, values })
    }

    /// `SELECT 1 ... LIMIT 1`.
    pub(crate) fn exists(&self, query: &Query) -> Result<Compiled, OrmError> {
        let mut q = query.clone();
        q.order.clear();
        q.lock = None;
        let mut select = self.base_select(&q)?;
        select.expr(Expr::cust("1")).limit(1);
        let (sql, values) = build!(self.vendor, select);
        Ok(Compiled { sql, values })
    }

    fn refuse_sliced(query: &Query, what: &str) -> Result<(), OrmError> {
        if query.limit.is_some() || query.offset.is_some() {
            return Err(OrmError::InvalidLookup(format!(
                "cannot {what} a query once a slice has been taken"
            )));
        }
        Ok(())
    }

    /// `UPDATE ... SET ... WHERE ...`.
    pub(crate) fn update(
        &self,
        query: &Query,
        assignments: &[(usize, Operand)],
    ) -> Result<Compiled, OrmError> {
        Self::refuse_sliced(query, "update")?;
        let mut update = Sql::update();
        update
            .table(self.table())
            .cond_where(self.condition(&query.filter)?);
        for (field, operand) in assignments {
            update.value(
                Alias::new(self.meta.fields[*field].column),
                self.operand(operand)?,
            );
        }
        let (sql, values) = build!(self.vendor, update);
        Ok(Compiled { sql, values })
    }

    /// `DELETE FROM ... WHERE ...`.
    pub(crate) fn delete(&self, query: &Query) -> Result<Compiled, OrmError> {
        Self::refuse_sliced(query, "delete")?;
        let mut delete = Sql::delete();
        delete
            .from_table(self.table())
            .cond_where(self.condition(&query.filter)?);
        let (sql, values) = build!(self.vendor, delete);
        Ok(Compiled { sql, values })
    }

    /// `INSERT` of rows (each the model's values in field order). With an auto primary key
    /// not given (`with_pk` false), the key is left out and returned.
    pub(crate) fn insert(
        &self,
        rows: &[Vec<sea_query::Value>],
        with_pk: bool,
    ) -> Result<Compiled, OrmError> {
        let auto = self.meta.has_auto_pk() && !with_pk;
        let fields: Vec<usize> = (0..self.meta.fields.len())
            .filter(|&i| !(auto && i == self.meta.pk))
            .collect();
        let mut insert = Sql::insert();
        insert.into_table(self.table()).columns(
            fields
                .iter()
                .map(|&i| Alias::new(self.meta.fields[i].column)),
        );
        for row in rows {
            let exprs: Vec<Expr> = fields.iter().map(|&i| Expr::val(row[i].clone())).collect();
            insert
                .values(exprs)
                .map_err(|e| OrmError::InvalidLookup(e.to_string()))?;
        }
        if fields.is_empty() {
            insert.or_default_values();
        }
        if auto {
            insert.returning_col(Alias::new(self.meta.pk_field().column));
        }
        let (sql, values) = build!(self.vendor, insert);
        Ok(Compiled { sql, values })
    }
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
    )
}
