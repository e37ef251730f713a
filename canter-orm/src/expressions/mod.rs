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
use std::ops::{BitAnd, BitOr, Not};

use sea_query::Value;

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
    /// ordering, aggregates and `select_related` (JOINed), but not `set`, `f` or the other
    /// relation loaders.
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

mod column;

pub use column::*;
