//! Aggregates: Django's `Count`, `Sum`, `Avg`, `Min`, `Max`, for `aggregate()` (one row over
//! the whole queryset) and `annotate_values()` (Django's `values(...).annotate(...)`, one row
//! per group).
//!
//! ```no_run
//! # use canter_orm::aggregates::{Avg, Count, Sum};
//! # #[derive(canter_orm::Model)]
//! # #[model(crate = canter_orm, app = "docs")]
//! # struct Article { id: i64, status: String, views: i64 }
//! # async fn demo() -> Result<(), canter_orm::OrmError> {
//! let totals = Article::objects().aggregate([Count::all(), Sum::of(Article::views), Avg::of(Article::views).named("mean")]).await?;
//! // {"count": 5, "views__sum": 150, "mean": 30.0}
//! let per_status = Article::objects().annotate_values(&["status"], [Count::all().named("n")]).await?;
//! # Ok(()) }
//! ```

use crate::backends::Operations;
use std::marker::PhantomData;

use crate::expressions::kind::Plain;
use crate::expressions::{Column, RelPath};
use crate::fields::SqlType;
use crate::model::ModelMeta;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Function {
    Count,
    Sum,
    Avg,
    Min,
    Max,
}

/// One aggregate over model `M`'s rows.
pub struct Aggregate<M> {
    pub(crate) function: Function,
    /// The aggregated field: a relation path from `M` and the field's index on its model.
    pub(crate) field: Option<(RelPath, usize)>,
    pub(crate) distinct: bool,
    pub(crate) name: Option<String>,
    _model: PhantomData<fn() -> M>,
}

impl<M> Aggregate<M> {
    fn new(function: Function, field: Option<(RelPath, usize)>) -> Self {
        Aggregate {
            function,
            field,
            distinct: false,
            name: None,
            _model: PhantomData,
        }
    }

    /// The key of this aggregate in the result (Django's `aggregate(total=Sum("views"))`).
    pub fn named(mut self, name: &str) -> Self {
        self.name = Some(name.to_owned());
        self
    }

    /// Counts distinct values only (`Count("x", distinct=True)`).
    pub fn distinct(mut self) -> Self {
        self.distinct = true;
        self
    }

    /// Django's default key: `views__sum` (`author__age__avg` across relations), or `count`
    /// for `Count::all()`.
    pub(crate) fn key(&self, meta: &ModelMeta) -> String {
        if let Some(name) = &self.name {
            return name.clone();
        }
        let function = format!("{:?}", self.function).to_lowercase();
        let Some((path, index)) = self.field else {
            return function;
        };
        let mut model = meta;
        let mut parts = Vec::new();
        for hop in path.hops() {
            parts.push(model.fields[hop].name);
            model = (model.fields[hop]
                .related
                .expect("a relation path follows foreign keys"))();
        }
        parts.push(model.fields[index].name);
        format!("{}__{function}", parts.join("__"))
    }

    /// The SQL expression; `target` is the quoted, table-qualified column and its type.
    pub(crate) fn sql(&self, target: Option<(String, SqlType)>, ops: &dyn Operations) -> String {
        let (integer, float) = (ops.integer_cast_type(), ops.float_cast_type());
        let distinct = if self.distinct { "DISTINCT " } else { "" };
        let (target, sql_type) = match target {
            Some((column, sql_type)) => (column, Some(sql_type)),
            None => ("*".to_owned(), None),
        };
        match self.function {
            Function::Count => format!("COUNT({distinct}{target})"),
            // Cast so both backends answer the same type (PostgreSQL's SUM(bigint) is numeric,
            // its AVG numeric too).
            Function::Sum => match sql_type {
                Some(SqlType::Integer | SqlType::BigInteger | SqlType::Boolean) => {
                    format!("CAST(SUM({distinct}{target}) AS {integer})")
                }
                Some(SqlType::Decimal) => format!("SUM({distinct}{target})"),
                _ => format!("CAST(SUM({distinct}{target}) AS {float})"),
            },
            Function::Avg => format!("CAST(AVG({distinct}{target}) AS {float})"),
            Function::Min => format!("MIN({target})"),
            Function::Max => format!("MAX({target})"),
        }
    }
}

/// `Count::all()` is `Count("*")`; `Count::of(col)` counts non-null values.
pub struct Count;
impl Count {
    pub fn all<M>() -> Aggregate<M> {
        Aggregate::new(Function::Count, None)
    }
    pub fn of<M, T, K: Plain>(column: Column<M, T, K>) -> Aggregate<M> {
        Aggregate::new(Function::Count, Some(column.target()))
    }
}

macro_rules! aggregate_fn {
    ($name:ident, $function:ident, $doc:literal) => {
        #[doc = $doc]
        pub struct $name;
        impl $name {
            /// The field may lie across relations (`Book::author.rel(Author::age)`, Django's
            /// `"author__age"`): the rows are JOINed to it.
            pub fn of<M, T, K: Plain>(column: Column<M, T, K>) -> Aggregate<M> {
                Aggregate::new(Function::$function, Some(column.target()))
            }
        }
    };
}

aggregate_fn!(Sum, Sum, "`Sum(\"field\")`.");
aggregate_fn!(Avg, Avg, "`Avg(\"field\")`, as a float.");
aggregate_fn!(Min, Min, "`Min(\"field\")`.");
aggregate_fn!(Max, Max, "`Max(\"field\")`.");
