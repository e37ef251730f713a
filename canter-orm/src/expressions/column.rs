//! The typed handles lookups start from: [`Column`] (one per field, with Django's lookup
//! names as methods), [`F`] expressions, assignments, orderings and many-to-many fields.

use crate::fields::{FieldType, Operand as IntoOperand};
use crate::model::Model;
use sea_query::Value;
use std::marker::PhantomData;
use std::ops::{Add, Div, Mul, Sub};

use super::*;

/// A model's column, typed by the value its lookups take. Made by `#[derive(Model)]`.
///
/// `K` says what the handle stands for ([`kind`]): the model's own field (the default), a field
/// across relations (`rel`), or a date part (`year()`…). Assignments (`set`), `F` expressions
/// and the relation loaders other than `select_related` (`prefetch_related`, …) take only the
/// model's own fields, so a related or transformed column given to them is a compile error,
/// never a write to (or a read of) the wrong column (`select_related` follows relations across
/// several hops, `Book::author.rel(Author::publisher)`):
///
/// ```compile_fail
/// # use canter_orm::{ForeignKey, Model};
/// # #[derive(canter_orm::Model)]
/// # #[model(crate = canter_orm, app = "docs")]
/// # struct Author { id: i64, name: String }
/// # #[derive(canter_orm::Model)]
/// # #[model(crate = canter_orm, app = "docs")]
/// # struct Book { id: i64, title: String, author: ForeignKey<Author> }
/// let _ = Book::author.rel(Author::name).set("x");
/// ```
///
/// ```compile_fail
/// # #[derive(canter_orm::Model)]
/// # #[model(crate = canter_orm, app = "docs")]
/// # struct Article { id: i64, published: chrono::NaiveDate }
/// let _ = canter_orm::aggregates::Sum::of(Article::published.year());
/// ```
///
/// ```compile_fail
/// # use canter_orm::{ForeignKey, Model};
/// # #[derive(canter_orm::Model, Clone)]
/// # #[model(crate = canter_orm, app = "docs")]
/// # struct Author { id: i64 }
/// # #[derive(canter_orm::Model, Clone)]
/// # #[model(crate = canter_orm, app = "docs")]
/// # struct Book { id: i64, author: ForeignKey<Author> }
/// # #[derive(canter_orm::Model, Clone)]
/// # #[model(crate = canter_orm, app = "docs")]
/// # struct Review { id: i64, book: ForeignKey<Book> }
/// # async fn demo() {
/// // The reverse loaders take the child's own foreign key, not one reached through another.
/// let _ = Author::objects().with_related(Review::book.rel(Book::author)).await;
/// # }
/// ```
///
/// ```compile_fail
/// # use canter_orm::{ForeignKey, Model};
/// # #[derive(canter_orm::Model, Clone)]
/// # #[model(crate = canter_orm, app = "docs")]
/// # struct Author { id: i64 }
/// # #[derive(canter_orm::Model, Clone)]
/// # #[model(crate = canter_orm, app = "docs")]
/// # struct Book { id: i64, author: ForeignKey<Author> }
/// # #[derive(canter_orm::Model, Clone)]
/// # #[model(crate = canter_orm, app = "docs")]
/// # struct Review { id: i64, book: ForeignKey<Book> }
/// # async fn demo() {
/// let _ = Author::objects().annotate_count(Review::book.rel(Book::author)).await;
/// # }
/// ```
///
/// ```compile_fail
/// # use canter_orm::{ForeignKey, Model};
/// # #[derive(canter_orm::Model, Clone)]
/// # #[model(crate = canter_orm, app = "docs")]
/// # struct Author { id: i64 }
/// # #[derive(canter_orm::Model, Clone)]
/// # #[model(crate = canter_orm, app = "docs")]
/// # struct Book { id: i64, author: ForeignKey<Author> }
/// # #[derive(canter_orm::Model, Clone)]
/// # #[model(crate = canter_orm, app = "docs")]
/// # struct Review { id: i64, book: ForeignKey<Book> }
/// # async fn demo() {
/// let _ = Review::objects().prefetch_related(Review::book.rel(Book::author)).await;
/// # }
/// ```
///
/// ```compile_fail
/// # use canter_orm::{ForeignKey, Model};
/// # #[derive(canter_orm::Model)]
/// # #[model(crate = canter_orm, app = "docs")]
/// # struct Author { id: i64, age: i64 }
/// # #[derive(canter_orm::Model)]
/// # #[model(crate = canter_orm, app = "docs")]
/// # struct Book { id: i64, pages: i64, author: ForeignKey<Author> }
/// let _ = Book::pages.gt(Book::author.rel(Author::age).f());
/// ```
///
/// ```compile_fail
/// # #[derive(canter_orm::Model)]
/// # #[model(crate = canter_orm, app = "docs")]
/// # struct Article { id: i64, published: chrono::NaiveDate }
/// // Ordering by a date part is not supported (it would order by the whole date).
/// let _ = Article::published.month().asc();
/// ```
pub struct Column<M, T, K = Field> {
    path: RelPath,
    index: usize,
    transform: Option<Transform>,
    _types: PhantomData<ColumnTypes<M, T, K>>,
}

impl<M, T, K> Clone for Column<M, T, K> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<M, T, K> Copy for Column<M, T, K> {}

impl<M, T> Column<M, T, Field> {
    #[doc(hidden)]
    pub const fn new(index: usize) -> Self {
        Column {
            path: RelPath::EMPTY,
            index,
            transform: None,
            _types: PhantomData,
        }
    }

    /// The field's index in the model's `meta().fields`.
    pub fn index(&self) -> usize {
        self.index
    }

    /// `F("field")`: the column's value in the database, for filters and updates.
    pub fn f(self) -> F<M, T> {
        F {
            node: FNode::Column(self.index),
            _types: PhantomData,
        }
    }
    /// An assignment for `update()`: `MyModel::views.set(MyModel::views.f() + 1)`.
    pub fn set(self, value: impl IntoOperand<T>) -> Assignment<M> {
        Assignment {
            field: self.index,
            value: value.into_operand(),
            _model: PhantomData,
        }
    }
}

impl<M, T, K: Plain> Column<M, T, K> {
    /// Ascending order on this column.
    pub fn asc(self) -> OrderBy<M> {
        OrderBy {
            kind: OrderKind::Column {
                path: self.path,
                field: self.index,
                desc: false,
            },
            _model: PhantomData,
        }
    }
    /// Descending order (Django's `"-field"`).
    pub fn desc(self) -> OrderBy<M> {
        OrderBy {
            kind: OrderKind::Column {
                path: self.path,
                field: self.index,
                desc: true,
            },
            _model: PhantomData,
        }
    }
    /// The relation path and field index (for aggregates).
    pub(crate) fn target(&self) -> (RelPath, usize) {
        (self.path, self.index)
    }
}

impl<M, T, K: Kind> Column<M, T, K> {
    fn lookup(self, op: Op, rhs: Operand) -> Q<M> {
        Q::from_node(Node::Lookup(Lookup {
            path: self.path,
            field: self.index,
            transform: self.transform,
            op,
            rhs,
        }))
    }

    /// `field=value`; `None` on a nullable column is `field IS NULL` (Django's `field=None`).
    pub fn exact(self, value: impl IntoOperand<T>) -> Q<M> {
        self.lookup(Op::Exact, value.into_operand())
    }
    /// Alias of [`exact`](Self::exact).
    pub fn eq(self, value: impl IntoOperand<T>) -> Q<M> {
        self.exact(value)
    }
    /// `field__gt=value`.
    pub fn gt(self, value: impl IntoOperand<T>) -> Q<M> {
        self.lookup(Op::Gt, value.into_operand())
    }
    pub fn gte(self, value: impl IntoOperand<T>) -> Q<M> {
        self.lookup(Op::Gte, value.into_operand())
    }
    pub fn lt(self, value: impl IntoOperand<T>) -> Q<M> {
        self.lookup(Op::Lt, value.into_operand())
    }
    pub fn lte(self, value: impl IntoOperand<T>) -> Q<M> {
        self.lookup(Op::Lte, value.into_operand())
    }
    /// `field__range=(low, high)`, both ends included.
    pub fn range(self, low: impl IntoOperand<T>, high: impl IntoOperand<T>) -> Q<M> {
        match (low.into_operand(), high.into_operand()) {
            (Operand::Value(a), Operand::Value(b)) => self.lookup(Op::Range, Operand::Pair(a, b)),
            (a, b) => self.lookup(Op::Gte, a) & self.lookup(Op::Lte, b),
        }
    }
    /// `field__in=[...]` (`in` is a Rust keyword). An empty list matches nothing. The items
    /// may be `F` expressions (`Article::views.in_([Article::likes.f(), Article::likes.f() * 2])`
    /// is `views IN (likes, likes * 2)`).
    pub fn in_<V: IntoOperand<T>>(self, values: impl IntoIterator<Item = V>) -> Q<M> {
        let operands: Vec<Operand> = values.into_iter().map(|v| v.into_operand()).collect();
        if operands.iter().all(|o| matches!(o, Operand::Value(_))) {
            let values = operands
                .into_iter()
                .filter_map(|o| match o {
                    Operand::Value(v) => Some(v),
                    _ => None,
                })
                .collect();
            self.lookup(Op::In, Operand::Values(values))
        } else {
            self.lookup(Op::In, Operand::List(operands))
        }
    }
    /// `field__isnull=True/False`.
    pub fn isnull(self, is_null: bool) -> Q<M> {
        self.lookup(Op::IsNull, Operand::Flag(is_null))
    }
}

impl<M, K: Kind> Column<M, String, K> {
    pub fn iexact(self, value: impl IntoOperand<String>) -> Q<M> {
        self.lookup(Op::IExact, value.into_operand())
    }
    pub fn contains(self, value: impl IntoOperand<String>) -> Q<M> {
        self.lookup(Op::Contains, value.into_operand())
    }
    pub fn icontains(self, value: impl IntoOperand<String>) -> Q<M> {
        self.lookup(Op::IContains, value.into_operand())
    }
    pub fn startswith(self, value: impl IntoOperand<String>) -> Q<M> {
        self.lookup(Op::StartsWith, value.into_operand())
    }
    pub fn istartswith(self, value: impl IntoOperand<String>) -> Q<M> {
        self.lookup(Op::IStartsWith, value.into_operand())
    }
    pub fn endswith(self, value: impl IntoOperand<String>) -> Q<M> {
        self.lookup(Op::EndsWith, value.into_operand())
    }
    pub fn iendswith(self, value: impl IntoOperand<String>) -> Q<M> {
        self.lookup(Op::IEndsWith, value.into_operand())
    }
    /// `field__regex=pattern` (PostgreSQL `~`, SQLite `REGEXP` with Rust's regex syntax).
    pub fn regex(self, pattern: impl IntoOperand<String>) -> Q<M> {
        self.lookup(Op::Regex, pattern.into_operand())
    }
    pub fn iregex(self, pattern: impl IntoOperand<String>) -> Q<M> {
        self.lookup(Op::IRegex, pattern.into_operand())
    }
}

impl<M, T: Model, K: Kind> Column<M, crate::relations::ForeignKey<T>, K> {
    /// Follows the foreign key to a column of its model: `Book::author.rel(Author::name)` is
    /// Django's `author__name`; chains for more hops (at most four).
    pub fn rel<U, K2: Kind>(self, column: Column<T, U, K2>) -> Column<M, U, K2::ThroughRelation> {
        let path = self
            .path
            .then(self.index)
            .and_then(|p| p.join(column.path))
            .expect("a lookup follows at most four relations");
        Column {
            path,
            index: column.index,
            transform: column.transform,
            _types: PhantomData,
        }
    }
}

macro_rules! date_parts {
    ($ty:ty) => {
        impl<M, K: Kind> Column<M, $ty, K> {
            /// `field__year`.
            pub fn year(self) -> Column<M, i64, Transformed> {
                Column {
                    path: self.path,
                    index: self.index,
                    transform: Some(Transform::Year),
                    _types: PhantomData,
                }
            }
            /// `field__month` (1–12).
            pub fn month(self) -> Column<M, i64, Transformed> {
                Column {
                    path: self.path,
                    index: self.index,
                    transform: Some(Transform::Month),
                    _types: PhantomData,
                }
            }
            /// `field__day` (1–31).
            pub fn day(self) -> Column<M, i64, Transformed> {
                Column {
                    path: self.path,
                    index: self.index,
                    transform: Some(Transform::Day),
                    _types: PhantomData,
                }
            }
        }
    };
}

date_parts!(chrono::NaiveDate);
date_parts!(chrono::DateTime<chrono::Utc>);

/// Django's `F`: a column's value in the database, with arithmetic.
pub struct F<M, T> {
    pub(crate) node: FNode,
    _types: PhantomData<fn() -> (M, T)>,
}

impl<M, T> Clone for F<M, T> {
    fn clone(&self) -> Self {
        F {
            node: self.node.clone(),
            _types: PhantomData,
        }
    }
}

impl<M, T> IntoOperand<T> for F<M, T> {
    fn into_operand(self) -> Operand {
        Operand::Expr(self.node)
    }
}

macro_rules! arith {
    ($trait:ident, $method:ident, $op:ident) => {
        impl<M, T: FieldType, V: IntoOperand<T>> $trait<V> for F<M, T> {
            type Output = F<M, T>;
            fn $method(self, rhs: V) -> F<M, T> {
                let rhs = match rhs.into_operand() {
                    Operand::Expr(node) => node,
                    Operand::Value(v) => FNode::Value(v),
                    _ => FNode::Value(Value::BigInt(None)),
                };
                F {
                    node: FNode::Binary(Box::new(self.node), Arith::$op, Box::new(rhs)),
                    _types: PhantomData,
                }
            }
        }
    };
}

arith!(Add, add, Add);
arith!(Sub, sub, Sub);
arith!(Mul, mul, Mul);
arith!(Div, div, Div);

/// One `SET column = value` of `update()`.
pub struct Assignment<M> {
    pub(crate) field: usize,
    pub(crate) value: Operand,
    _model: PhantomData<fn() -> M>,
}

/// An ordering for `order_by`.
pub struct OrderBy<M> {
    pub(crate) kind: OrderKind,
    _model: PhantomData<fn() -> M>,
}

impl<M> Clone for OrderBy<M> {
    fn clone(&self) -> Self {
        OrderBy {
            kind: self.kind.clone(),
            _model: PhantomData,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum OrderKind {
    Column {
        path: RelPath,
        field: usize,
        desc: bool,
    },
    Random,
}

impl<M> OrderBy<M> {
    /// Django's `order_by("?")`.
    pub fn random() -> Self {
        OrderBy {
            kind: OrderKind::Random,
            _model: PhantomData,
        }
    }
}

/// `pk = value`, for instance methods.
pub(crate) fn pk_exact<M: Model>(pk: Value) -> Q<M> {
    Q::from_node(Node::Lookup(Lookup {
        path: RelPath::EMPTY,
        field: M::meta().pk,
        transform: None,
        op: Op::Exact,
        rhs: Operand::Value(pk),
    }))
}

/// A many-to-many field, for conditions on the related rows (Django's `tags__name="rust"`).
/// Made by `#[derive(Model)]`: `Post::tags.any(Tag::name.eq("rust"))`.
pub struct ManyToManyField<M, T> {
    index: usize,
    _types: PhantomData<fn() -> (M, T)>,
}

impl<M, T> Clone for ManyToManyField<M, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<M, T> Copy for ManyToManyField<M, T> {}

impl<M: Model, T: Model> ManyToManyField<M, T> {
    #[doc(hidden)]
    pub const fn new(index: usize) -> Self {
        ManyToManyField {
            index,
            _types: PhantomData,
        }
    }

    /// The field's index in the model's `meta().many_to_many`.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Rows with at least one related row matching `condition` (each row once).
    pub fn any(self, condition: Q<T>) -> Q<M> {
        let m2m = &M::meta().many_to_many[self.index];
        Q::from_node(Node::Lookup(Lookup {
            path: RelPath::EMPTY,
            field: M::meta().pk,
            transform: None,
            op: Op::InSubquery,
            rhs: Operand::Related {
                m2m,
                condition: Box::new(condition.node),
            },
        }))
    }
}
