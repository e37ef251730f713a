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

use std::marker::PhantomData;

use crate::expressions::Column;
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
    pub(crate) field: Option<usize>,
    pub(crate) distinct: bool,
    pub(crate) name: Option<String>,
    _model: PhantomData<fn() -> M>,
}

impl<M> Aggregate<M> {
    fn new(function: Function, field: Option<usize>) -> Self {
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

    /// Django's default key: `views__sum`, or `count` for `Count::all()`.
    pub(crate) fn key(&self, meta: &ModelMeta) -> String {
        if let Some(name) = &self.name {
            return name.clone();
        }
        let function = format!("{:?}", self.function).to_lowercase();
        match self.field {
            Some(i) => format!("{}__{function}", meta.fields[i].name),
            None => function,
        }
    }

    /// The SQL expression; `column` is the quoted, table-qualified column.
    pub(crate) fn sql(&self, meta: &ModelMeta, column: Option<String>) -> String {
        let distinct = if self.distinct { "DISTINCT " } else { "" };
        let target = column.unwrap_or_else(|| "*".to_owned());
        let sql_type = self.field.map(|i| meta.fields[i].sql_type);
        match self.function {
            Function::Count => format!("COUNT({distinct}{target})"),
            // Cast so both backends answer the same type (PostgreSQL's SUM(bigint) is numeric,
            // its AVG numeric too).
            Function::Sum => match sql_type {
                Some(SqlType::Integer | SqlType::BigInteger | SqlType::Boolean) => {
                    format!("CAST(SUM({distinct}{target}) AS BIGINT)")
                }
                Some(SqlType::Decimal) => format!("SUM({distinct}{target})"),
                _ => format!("CAST(SUM({distinct}{target}) AS DOUBLE PRECISION)"),
            },
            Function::Avg => format!("CAST(AVG({distinct}{target}) AS DOUBLE PRECISION)"),
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
    pub fn of<M, T>(column: Column<M, T>) -> Aggregate<M> {
        Aggregate::new(Function::Count, Some(column.index()))
    }
}

macro_rules! aggregate_fn {
    ($name:ident, $function:ident, $doc:literal) => {
        #[doc = $doc]
        pub struct $name;
        impl $name {
            pub fn of<M, T>(column: Column<M, T>) -> Aggregate<M> {
                Aggregate::new(Function::$function, Some(column.index()))
            }
        }
    };
}

aggregate_fn!(Sum, Sum, "`Sum(\"field\")`.");
aggregate_fn!(Avg, Avg, "`Avg(\"field\")`, as a float.");
aggregate_fn!(Min, Min, "`Min(\"field\")`.");
aggregate_fn!(Max, Max, "`Max(\"field\")`.");
