//! Typed lookups, `Q` objects, `F` expressions and orderings.
//!
//! `#[derive(Model)]` gives each model one [`Column`] constant per field (`MyModel::active`),
//! and a lookup on it is a method with Django's name: `MyModel::name.icontains("x")` is
//! `name__icontains="x"`. The value's type is checked against the field's at compile time,
//! and string lookups exist only on string fields.
//!
//! ```
//! # use canter_orm::{Model, Q};
//! # #[derive(canter_orm::Model)]
//! # #[model(crate = canter_orm, app = "docs")]
//! # struct Article { id: i64, title: String, views: i64, published: Option<chrono::NaiveDate> }
//! let q: Q<Article> = (Article::title.icontains("async") | Article::views.gte(100)) & !Article::published.isnull(true);
//! let q2 = Article::published.year().exact(2024);
//! ```

use std::marker::PhantomData;
use std::ops::{Add, BitAnd, BitOr, Div, Mul, Not, Sub};

use sea_query::Value;

use crate::fields::{FieldType, Operand as IntoOperand};
use crate::model::Model;

/// A function applied to a column before the lookup (`__year`, `__month`, `__day`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transform {
    Year,
    Month,
    Day,
}

/// Django's lookup names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Exact,
    IExact,
    Contains,
    IContains,
    StartsWith,
    IStartsWith,
    EndsWith,
    IEndsWith,
    In,
    Gt,
    Gte,
    Lt,
    Lte,
    Range,
    IsNull,
    Regex,
    IRegex,
    /// `field IN (SELECT ...)` (many-to-many managers).
    InSubquery,
}

impl Op {
    pub fn from_name(name: &str) -> Option<Op> {
        Some(match name {
            "exact" => Op::Exact,
            "iexact" => Op::IExact,
            "contains" => Op::Contains,
            "icontains" => Op::IContains,
            "startswith" => Op::StartsWith,
            "istartswith" => Op::IStartsWith,
            "endswith" => Op::EndsWith,
            "iendswith" => Op::IEndsWith,
            "in" => Op::In,
            "gt" => Op::Gt,
            "gte" => Op::Gte,
            "lt" => Op::Lt,
            "lte" => Op::Lte,
            "range" => Op::Range,
            "isnull" => Op::IsNull,
            "regex" => Op::Regex,
            "iregex" => Op::IRegex,
            _ => return None,
        })
    }
    pub(crate) fn is_text(self) -> bool {
        matches!(
            self,
            Op::IExact
                | Op::Contains
                | Op::IContains
                | Op::StartsWith
                | Op::IStartsWith
                | Op::EndsWith
                | Op::IEndsWith
                | Op::Regex
                | Op::IRegex
        )
    }
}

/// An arithmetic operator in an `F` expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arith {
    Add,
    Sub,
    Mul,
    Div,
}

/// The tree of an `F` expression.
#[derive(Debug, Clone)]
pub enum FNode {
    Column(usize),
    Value(Value),
    Binary(Box<FNode>, Arith, Box<FNode>),
}

/// The right-hand side of a lookup.
#[derive(Debug, Clone)]
pub enum Operand {
    Value(Value),
    Values(Vec<Value>),
    Pair(Value, Value),
    /// An `IN` list with `F` expressions among its items.
    List(Vec<Operand>),
    Flag(bool),
    Expr(FNode),
    /// `SELECT select FROM table WHERE filter_column = value`.
    Subquery {
        table: &'static str,
        select: &'static str,
        filter_column: &'static str,
        value: Value,
    },
    /// `SELECT owner FROM join WHERE target IN (SELECT pk FROM target WHERE condition)`: a
    /// condition on the rows a many-to-many points at.
    Related {
        m2m: &'static crate::relations::ManyToManyMeta,
        condition: Box<Node>,
    },
}

impl Operand {
    /// How many values this operand binds (what `filter_params` counts against its limit).
    pub(crate) fn value_count(&self) -> usize {
        match self {
            Operand::Values(values) => values.len(),
            Operand::List(items) => items.len(),
            Operand::Pair(..) => 2,
            _ => 1,
        }
    }
}

/// The foreign keys a lookup follows from the queryset's model (`author__publisher__name`):
/// field indexes, one per hop, at most four hops. `Copy`, so columns stay constants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash, PartialOrd, Ord)]
pub struct RelPath {
    hops: [u16; 4],
    len: u8,
}

impl RelPath {
    pub const EMPTY: RelPath = RelPath {
        hops: [0; 4],
        len: 0,
    };

    pub fn hops(&self) -> impl Iterator<Item = usize> + '_ {
        self.hops[..self.len as usize].iter().map(|h| *h as usize)
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// This path, then `hop`; `None` past four hops.
    pub fn then(mut self, hop: usize) -> Option<RelPath> {
        if self.len as usize >= self.hops.len() {
            return None;
        }
        self.hops[self.len as usize] = hop as u16;
        self.len += 1;
        Some(self)
    }
    /// This path, then all of `other`'s hops.
    pub fn join(self, other: RelPath) -> Option<RelPath> {
        other.hops().try_fold(self, |path, hop| path.then(hop))
    }
    /// The first `n` hops.
    pub fn prefix(mut self, n: usize) -> RelPath {
        self.len = n.min(self.len as usize) as u8;
        // Unused slots are zero, so equal paths compare equal.
        for slot in &mut self.hops[self.len as usize..] {
            *slot = 0;
        }
        self
    }
}

/// One lookup: `[relation__…]field[__transform]__op = rhs`.
#[derive(Debug, Clone)]
pub struct Lookup {
    pub path: RelPath,
    pub field: usize,
    pub transform: Option<Transform>,
    pub op: Op,
    pub rhs: Operand,
}

/// A condition tree.
#[derive(Debug, Clone)]
pub enum Node {
    /// Matches every row (an empty `Q()`).
    All,
    Lookup(Lookup),
    And(Vec<Node>),
    Or(Vec<Node>),
    Not(Box<Node>),
}

/// Django's `Q`: conditions on model `M`, combined with `&`, `|` and `!`.
pub struct Q<M> {
    pub(crate) node: Node,
    _model: PhantomData<fn() -> M>,
}

impl<M> Clone for Q<M> {
    fn clone(&self) -> Self {
        Q {
            node: self.node.clone(),
            _model: PhantomData,
        }
    }
}

impl<M> std::fmt::Debug for Q<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.node.fmt(f)
    }
}

impl<M> Q<M> {
    pub(crate) fn from_node(node: Node) -> Self {
        Q {
            node,
            _model: PhantomData,
        }
    }
    /// `Q()`: matches everything.
    pub fn all() -> Self {
        Q::from_node(Node::All)
    }
}

impl<M: Model> Q<M> {
    /// A lookup from text, as in a query string: `Q::parse("name__icontains", "x")`.
    /// Unknown fields or lookups, and values that do not fit the field, are errors naming them.
    pub fn parse(key: &str, value: &str) -> Result<Q<M>, crate::OrmError> {
        crate::query::parse_lookup::<M>(key, value).map(Q::from_node)
    }
}

impl<M> BitAnd for Q<M> {
    type Output = Q<M>;
    fn bitand(self, rhs: Q<M>) -> Q<M> {
        Q::from_node(match (self.node, rhs.node) {
            (Node::All, other) | (other, Node::All) => other,
            (Node::And(mut a), Node::And(b)) => {
                a.extend(b);
                Node::And(a)
            }
            (Node::And(mut a), other) => {
                a.push(other);
                Node::And(a)
            }
            (a, b) => Node::And(vec![a, b]),
        })
    }
}

impl<M> BitOr for Q<M> {
    type Output = Q<M>;
    fn bitor(self, rhs: Q<M>) -> Q<M> {
        Q::from_node(match (self.node, rhs.node) {
            (Node::All, _) | (_, Node::All) => Node::All,
            (Node::Or(mut a), Node::Or(b)) => {
                a.extend(b);
                Node::Or(a)
            }
            (Node::Or(mut a), other) => {
                a.push(other);
                Node::Or(a)
            }
            (a, b) => Node::Or(vec![a, b]),
        })
    }
}

impl<M> Not for Q<M> {
    type Output = Q<M>;
    fn not(self) -> Q<M> {
        Q::from_node(match self.node {
            Node::Not(inner) => *inner,
            other => Node::Not(Box::new(other)),
        })
    }
}

/// What a [`Column`] handle stands for, at the type level, so operations that need a plain
/// field of the model itself cannot be handed a path across relations or a date part.
pub mod kind {
    /// A field of the model itself (what `#[derive(Model)]` makes): every operation.
    #[derive(Debug, Clone, Copy)]
    pub struct Field;
    /// A field reached through foreign keys (`Book::author.rel(Author::name)`): lookups,
    /// ordering and aggregates (JOINed), but not `set`, `f` or the relation loaders.
    #[derive(Debug, Clone, Copy)]
    pub struct Related;
    /// A date part (`.year()`, `.month()`, `.day()`), possibly across relations: lookups only.
    #[derive(Debug, Clone, Copy)]
    pub struct Transformed;

    mod sealed {
        pub trait Sealed {}
        impl Sealed for super::Field {}
        impl Sealed for super::Related {}
        impl Sealed for super::Transformed {}
    }

    /// Any kind of column.
    pub trait Kind: sealed::Sealed + 'static {
        /// The kind a column of this kind becomes when reached through a foreign key.
        type ThroughRelation: Kind;
    }
    impl Kind for Field {
        type ThroughRelation = Related;
    }
    impl Kind for Related {
        type ThroughRelation = Related;
    }
    impl Kind for Transformed {
        type ThroughRelation = Transformed;
    }

    /// A column holding the stored value itself (no date part): it can be ordered on and
    /// aggregated.
    pub trait Plain: Kind {}
    impl Plain for Field {}
    impl Plain for Related {}
}

use kind::{Field, Kind, Plain, Transformed};

/// The types a [`Column`] is tagged with (it holds none of them).
type ColumnTypes<M, T, K> = fn() -> (M, T, K);

/// A model's column, typed by the value its lookups take. Made by `#[derive(Model)]`.
///
/// `K` says what the handle stands for ([`kind`]): the model's own field (the default), a field
/// across relations (`rel`), or a date part (`year()`…). Assignments (`set`), `F` expressions
/// and the relation loaders (`select_related`, `prefetch_related`, …) take only the model's own
/// fields, so a related or transformed column given to them is a compile error, never a
/// write to (or a read of) the wrong column:
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
/// # #[derive(canter_orm::Model)]
/// # #[model(crate = canter_orm, app = "docs")]
/// # struct Publisher { id: i64 }
/// # #[derive(canter_orm::Model)]
/// # #[model(crate = canter_orm, app = "docs")]
/// # struct Author { id: i64, publisher: ForeignKey<Publisher> }
/// # #[derive(canter_orm::Model)]
/// # #[model(crate = canter_orm, app = "docs")]
/// # struct Book { id: i64, author: ForeignKey<Author> }
/// // Django's select_related("author__publisher") is not supported: refused, not half-done.
/// let _ = Book::objects().select_related(Book::author.rel(Author::publisher));
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

impl<M, T, K: Kind> Column<M, crate::relations::ForeignKey<T>, K> {
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
