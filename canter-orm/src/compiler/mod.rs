//! The SQL compiler (Django's `SQLCompiler`): an internal [`Query`] of a model → SQL and bound
//! values for one backend, through sea-query's statement builders; each backend's
//! `operations` module spells what differs (text lookups, date parts, random order).

use sea_query::{
    Alias, Condition, Expr, ExprTrait, JoinType, LockBehavior, LockType, Order, Query as Sql,
    SelectStatement, Values,
};

use crate::aggregates::Aggregate;
use crate::backends::Backend;
use crate::error::OrmError;
use crate::expressions::{Arith, FNode, Lookup, Node, Op, Operand, OrderKind, RelPath};
use crate::fields::FieldMeta;
use crate::model::ModelMeta;
use crate::query::{Query, RowLock};
use crate::queryset::MAX_FILTER_DEPTH;
use crate::schema::quote_name;

mod conditions;

pub(crate) struct Compiler {
    pub(crate) backend: &'static dyn Backend,
    pub(crate) meta: &'static ModelMeta,
}

/// A statement ready to run.
pub(crate) struct Compiled {
    pub(crate) sql: String,
    pub(crate) values: Values,
}

impl Compiler {
    fn table(&self) -> Alias {
        Alias::new(self.meta.table)
    }

    fn column(&self, index: usize) -> Expr {
        Expr::col((self.table(), Alias::new(self.meta.fields[index].column)))
    }

    /// The model a relation path ends on.
    fn model_at(&self, path: &RelPath) -> Result<&'static ModelMeta, OrmError> {
        let mut model = self.meta;
        for hop in path.hops() {
            let related = model
                .fields
                .get(hop)
                .and_then(|f| f.related)
                .ok_or_else(|| {
                    OrmError::InvalidLookup(format!(
                        "{}: field {hop} is not a relation",
                        model.name
                    ))
                })?;
            model = related();
        }
        Ok(model)
    }

    /// The table alias a relation path's JOIN gets (`T1_3` for hops 1, then 3).
    fn alias(path: &RelPath) -> Alias {
        Alias::new(Self::alias_name(path))
    }

    fn alias_name(path: &RelPath) -> String {
        let hops: Vec<String> = path.hops().map(|h| h.to_string()).collect();
        format!("T{}", hops.join("_"))
    }

    /// A field of the model at the end of `path`, on its table or JOIN alias.
    fn path_column(
        &self,
        path: &RelPath,
        index: usize,
    ) -> Result<(Expr, &'static FieldMeta), OrmError> {
        if path.is_empty() {
            return Ok((self.column(index), &self.meta.fields[index]));
        }
        let model = self.model_at(path)?;
        let field = model.fields.get(index).ok_or_else(|| {
            OrmError::InvalidLookup(format!("{} has no field {index}", model.name))
        })?;
        Ok((
            Expr::col((Self::alias(path), Alias::new(field.column))),
            field,
        ))
    }

    /// Every relation path (and its prefixes) the query reads through.
    fn join_paths(&self, query: &Query) -> Vec<RelPath> {
        self.join_paths_with(query, &[])
    }

    fn join_paths_with(&self, query: &Query, extra: &[RelPath]) -> Vec<RelPath> {
        // Walked with a stack, not recursion: the depth limit is checked later, by `condition`.
        let mut paths = Vec::new();
        let mut stack = vec![&query.filter];
        while let Some(node) = stack.pop() {
            match node {
                Node::All => {}
                Node::Lookup(lookup) => paths.push(lookup.path),
                Node::And(nodes) | Node::Or(nodes) => stack.extend(nodes),
                Node::Not(inner) => stack.push(inner),
            }
        }
        for order in &query.order {
            if let OrderKind::Column { path, .. } = order {
                paths.push(*path);
            }
        }
        paths.extend_from_slice(&query.select_related);
        paths.extend_from_slice(extra);
        let mut all: Vec<RelPath> = Vec::new();
        for path in paths {
            let len = path.hops().count();
            for n in 1..=len {
                all.push(path.prefix(n));
            }
        }
        all.sort_by_key(|p| (p.hops().count(), *p));
        all.dedup();
        all
    }

    /// LEFT JOINs for the query's relation paths, shortest first.
    fn add_joins(&self, select: &mut SelectStatement, query: &Query) -> Result<(), OrmError> {
        self.add_joins_with(select, query, &[])
    }

    fn add_joins_with(
        &self,
        select: &mut SelectStatement,
        query: &Query,
        extra: &[RelPath],
    ) -> Result<(), OrmError> {
        for path in self.join_paths_with(query, extra) {
            let count = path.hops().count();
            let parent = path.prefix(count - 1);
            let last = path.hops().last().expect("a non-empty path");
            let parent_model = self.model_at(&parent)?;
            let target = self.model_at(&path)?;
            let fk = Alias::new(parent_model.fields[last].column);
            let parent_ref = if parent.is_empty() {
                self.table()
            } else {
                Self::alias(&parent)
            };
            select.join_as(
                JoinType::LeftJoin,
                Alias::new(target.table),
                Self::alias(&path),
                Expr::col((Self::alias(&path), Alias::new(target.pk_field().column)))
                    .equals((parent_ref, fk)),
            );
        }
        Ok(())
    }

    fn base_select(&self, query: &Query) -> Result<SelectStatement, OrmError> {
        self.base_select_with(query, &[])
    }

    /// The FROM, JOINs (the query's and `extra` paths'), WHERE, DISTINCT, lock, ORDER BY and
    /// slice of a SELECT; callers add the columns.
    fn base_select_with(
        &self,
        query: &Query,
        extra: &[RelPath],
    ) -> Result<SelectStatement, OrmError> {
        let mut select = Sql::select();
        select
            .from(self.table())
            .cond_where(self.condition(&query.filter)?);
        self.add_joins_with(&mut select, query, extra)?;
        if query.distinct {
            select.distinct();
        }
        // Without row locks (SQLite), the transaction's own lock serializes what FOR UPDATE
        // would.
        if let (Some(lock), true) = (query.lock, self.backend.features().has_select_for_update) {
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
                OrderKind::Column { path, field, desc } => {
                    select.order_by_expr(
                        self.path_column(path, *field)?.0,
                        if *desc { Order::Desc } else { Order::Asc },
                    );
                }
                OrderKind::Random => {
                    select.order_by_expr(Expr::cust(self.backend.random_function()), Order::Asc);
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

    /// `SELECT <every field> ...`.
    pub(crate) fn select(&self, query: &Query) -> Result<Compiled, OrmError> {
        let mut select = self.base_select(query)?;
        for field in self.meta.fields {
            select.column((self.table(), Alias::new(field.column)));
        }
        // select_related: the related rows' columns follow, model after model, each
        // relation before those reached through it (`select_related::tree`'s order).
        for path in crate::select_related::ordered_paths(&query.select_related) {
            for field in self.model_at(&path)?.fields {
                select.column((Self::alias(&path), Alias::new(field.column)));
            }
        }
        let (sql, values) = self.backend.build_select(&select);
        Ok(Compiled { sql, values })
    }

    /// `SELECT` of columns that may lie across relations (`values("title", "author__name")`).
    pub(crate) fn select_paths(
        &self,
        query: &Query,
        columns: &[(RelPath, usize)],
    ) -> Result<Compiled, OrmError> {
        let extra: Vec<RelPath> = columns
            .iter()
            .map(|(p, _)| *p)
            .filter(|p| !p.is_empty())
            .collect();
        let mut select = self.base_select_with(query, &extra)?;
        for (path, index) in columns {
            select.expr(self.path_column(path, *index)?.0);
        }
        let (sql, values) = self.backend.build_select(&select);
        Ok(Compiled { sql, values })
    }

    /// Every field, then for each `(table, fk column)` the number of its rows pointing at each
    /// row (Django's `annotate(Count("books"))`), as correlated subqueries.
    pub(crate) fn select_with_counts(
        &self,
        query: &Query,
        counts: &[(&str, &str)],
    ) -> Result<Compiled, OrmError> {
        let mut select = self.base_select(query)?;
        for field in self.meta.fields {
            select.column((self.table(), Alias::new(field.column)));
        }
        for (table, column) in counts {
            select.expr(Expr::cust(format!(
                "(SELECT COUNT(*) FROM {} WHERE {}.{} = {}.{})",
                quote_name(table),
                quote_name(table),
                quote_name(column),
                quote_name(self.meta.table),
                quote_name(self.meta.pk_field().column)
            )));
        }
        let (sql, values) = self.backend.build_select(&select);
        Ok(Compiled { sql, values })
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
        let (sql, values) = self.backend.build_select(&select);
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
            self.add_joins(&mut select, query)?;
        }
        let (sql, values) = self.backend.build_select(&select);
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
        let quote =
            |table: &str, column: &str| format!("{}.{}", quote_name(table), quote_name(column));
        let mut select = if query.limit.is_some() || query.offset.is_some() || query.distinct {
            return Err(OrmError::InvalidLookup(
                "aggregate over a sliced or distinct queryset is not supported yet".into(),
            ));
        } else {
            let mut q = query.clone();
            q.order.clear();
            // Aggregates over fields across relations JOIN their paths, as filters do.
            let extra: Vec<RelPath> = aggregates
                .iter()
                .filter_map(|a| a.field.map(|(path, _)| path))
                .filter(|p| !p.is_empty())
                .collect();
            self.base_select_with(&q, &extra)?
        };
        for &i in group_by {
            select.column((self.table(), Alias::new(self.meta.fields[i].column)));
            select.group_by_col((self.table(), Alias::new(self.meta.fields[i].column)));
        }
        for aggregate in aggregates {
            let target = match aggregate.field {
                None => None,
                Some((path, index)) => {
                    let (_, field) = self.path_column(&path, index)?;
                    let table = if path.is_empty() {
                        self.meta.table.to_owned()
                    } else {
                        Self::alias_name(&path)
                    };
                    Some((quote(&table, field.column), field.sql_type))
                }
            };
            select.expr(Expr::cust(aggregate.sql(target, self.backend)));
        }
        for &i in group_by {
            select.order_by_expr(self.column(i), Order::Asc);
        }
        let (sql, values) = self.backend.build_select(&select);
        Ok(Compiled { sql, values })
    }

    /// `SELECT 1 ... LIMIT 1`.
    pub(crate) fn exists(&self, query: &Query) -> Result<Compiled, OrmError> {
        let mut q = query.clone();
        q.order.clear();
        q.lock = None;
        let mut select = self.base_select(&q)?;
        select.expr(Expr::cust("1")).limit(1);
        let (sql, values) = self.backend.build_select(&select);
        Ok(Compiled { sql, values })
    }

    /// The WHERE of an UPDATE or DELETE: the filter itself, or, when it reads through
    /// relations (which need JOINs these statements cannot have), `pk IN (SELECT pk ... JOIN ...)`.
    fn write_condition(&self, query: &Query) -> Result<Condition, OrmError> {
        if self.join_paths(query).is_empty() {
            return self.condition(&query.filter);
        }
        let mut inner = Query {
            order: Vec::new(),
            select_related: Vec::new(),
            ..query.clone()
        };
        inner.lock = None;
        let mut sub = self.base_select(&inner)?;
        sub.column((self.table(), Alias::new(self.meta.pk_field().column)));
        Ok(Condition::all().add(self.column(self.meta.pk).in_subquery(sub)))
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
            .cond_where(self.write_condition(query)?);
        for (field, operand) in assignments {
            update.value(
                Alias::new(self.meta.fields[*field].column),
                self.operand(operand)?,
            );
        }
        let (sql, values) = self.backend.build_update(&update);
        Ok(Compiled { sql, values })
    }

    /// `DELETE FROM ... WHERE ...`.
    pub(crate) fn delete(&self, query: &Query) -> Result<Compiled, OrmError> {
        Self::refuse_sliced(query, "delete")?;
        let mut delete = Sql::delete();
        delete
            .from_table(self.table())
            .cond_where(self.write_condition(query)?);
        let (sql, values) = self.backend.build_delete(&delete);
        Ok(Compiled { sql, values })
    }

    /// `INSERT` of rows (each the model's values in field order). With an auto primary key
    /// not given (`with_pk` false), the key is left out and returned.
    pub(crate) fn insert(
        &self,
        rows: Vec<Vec<sea_query::Value>>,
        with_pk: bool,
    ) -> Result<Compiled, OrmError> {
        let auto = self.meta.has_auto_pk() && !with_pk;
        let fields: Vec<usize> = (0..self.meta.fields.len())
            .filter(|&i| !(auto && i == self.meta.pk))
            .collect();
        if fields.is_empty() {
            // Only an auto primary key: a row of defaults, in the backend's words.
            let sql = self
                .backend
                .insert_defaults_sql(self.meta.table, self.meta.pk_field().column);
            return Ok(Compiled {
                sql,
                values: Values(Vec::new()),
            });
        }
        // Rendered here, not through sea-query's InsertStatement: an INSERT is a fixed shape
        // (columns, then rows of placeholders), and an expression per value, rendered and its
        // value copied once more, cost bulk_create ~15 % over raw sqlx (BENCHMARKS.md, ORM).
        // The values move from the rows into the statement's parameters.
        let placeholders = rows.len() * fields.len();
        let mut sql = String::with_capacity(64 + fields.len() * 16 + placeholders * 6);
        sql.push_str("INSERT INTO ");
        quote_identifier(&mut sql, self.meta.table);
        sql.push_str(" (");
        for (k, &i) in fields.iter().enumerate() {
            if k > 0 {
                sql.push_str(", ");
            }
            quote_identifier(&mut sql, self.meta.fields[i].column);
        }
        sql.push_str(") VALUES ");
        let mut values = Vec::with_capacity(placeholders);
        for (r, row) in rows.into_iter().enumerate() {
            if row.len() != self.meta.fields.len() {
                return Err(OrmError::InvalidLookup(format!(
                    "an insert row of {} has {} values for {} fields",
                    self.meta.table,
                    row.len(),
                    self.meta.fields.len()
                )));
            }
            sql.push_str(if r == 0 { "(" } else { ", (" });
            let mut first = true;
            for (i, value) in row.into_iter().enumerate() {
                if auto && i == self.meta.pk {
                    continue;
                }
                if !first {
                    sql.push_str(", ");
                }
                first = false;
                values.push(value);
                self.backend.push_placeholder(&mut sql, values.len());
            }
            sql.push(')');
        }
        if auto {
            sql.push_str(" RETURNING ");
            quote_identifier(&mut sql, self.meta.pk_field().column);
        }
        Ok(Compiled {
            sql,
            values: Values(values),
        })
    }
}

/// `name` as a quoted SQL identifier (`"…"`, an inner `"` doubled), as sea-query writes it for
/// both backends.
fn quote_identifier(sql: &mut String, name: &str) {
    sql.push('"');
    for c in name.chars() {
        if c == '"' {
            sql.push('"');
        }
        sql.push(c);
    }
    sql.push('"');
}
