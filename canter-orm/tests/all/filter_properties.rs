//! Property tests for the SQL rendering of filter trees (issue 13): any generated tree of
//! lookups, `&`, `|` and `!` renders on every backend without panicking, with exactly one
//! bound value per placeholder and balanced parentheses; on SQLite it also runs, and selects
//! exactly the rows a plain Rust evaluation of the same tree selects.

use canter_orm::schema::create_table;
use canter_orm::{Databases, Model, Q};
use proptest::prelude::*;

#[derive(Model, Debug, Clone)]
#[model(crate = canter_orm, app = "filter_properties")]
struct Row {
    id: i64,
    #[field(max_length = 50)]
    name: String,
    rank: i64,
}

/// A filter tree, kept beside the `Q` it builds so Rust can evaluate it too.
#[derive(Debug, Clone)]
enum Tree {
    RankEq(i64),
    RankGt(i64),
    RankLte(i64),
    RankIn(Vec<i64>),
    RankRange(i64, i64),
    NameEq(String),
    NameContains(String),
    NameIContains(String),
    NameStartsWith(String),
    NameIEndsWith(String),
    And(Box<Tree>, Box<Tree>),
    Or(Box<Tree>, Box<Tree>),
    Not(Box<Tree>),
}

impl Tree {
    fn q(&self) -> Q<Row> {
        match self {
            Tree::RankEq(n) => Row::rank.eq(*n),
            Tree::RankGt(n) => Row::rank.gt(*n),
            Tree::RankLte(n) => Row::rank.lte(*n),
            Tree::RankIn(ns) => Row::rank.in_(ns.clone()),
            Tree::RankRange(a, b) => Row::rank.range(*a, *b),
            Tree::NameEq(s) => Row::name.eq(s.as_str()),
            Tree::NameContains(s) => Row::name.contains(s.as_str()),
            Tree::NameIContains(s) => Row::name.icontains(s.as_str()),
            Tree::NameStartsWith(s) => Row::name.startswith(s.as_str()),
            Tree::NameIEndsWith(s) => Row::name.iendswith(s.as_str()),
            Tree::And(a, b) => a.q() & b.q(),
            Tree::Or(a, b) => a.q() | b.q(),
            Tree::Not(a) => !a.q(),
        }
    }

    /// What the tree means for one row (SQLite's LIKE folds ASCII case only; the generated
    /// names are ASCII).
    fn matches(&self, name: &str, rank: i64) -> bool {
        let lower = |s: &str| s.to_ascii_lowercase();
        match self {
            Tree::RankEq(n) => rank == *n,
            Tree::RankGt(n) => rank > *n,
            Tree::RankLte(n) => rank <= *n,
            Tree::RankIn(ns) => ns.contains(&rank),
            Tree::RankRange(a, b) => *a <= rank && rank <= *b,
            Tree::NameEq(s) => name == s,
            Tree::NameContains(s) => name.contains(s.as_str()),
            Tree::NameIContains(s) => lower(name).contains(&lower(s)),
            Tree::NameStartsWith(s) => name.starts_with(s.as_str()),
            Tree::NameIEndsWith(s) => lower(name).ends_with(&lower(s)),
            Tree::And(a, b) => a.matches(name, rank) && b.matches(name, rank),
            Tree::Or(a, b) => a.matches(name, rank) || b.matches(name, rank),
            Tree::Not(a) => !a.matches(name, rank),
        }
    }
}

/// Short texts over an alphabet that holds every character the backends treat specially in
/// patterns or SQL (`%`, `_`, `\`, `*`, `?`, `[`, quotes, `$`).
fn text() -> impl Strategy<Value = String> {
    let alphabet: Vec<char> = "abAB%_\\*?[]'\"$1 ".chars().collect();
    prop::collection::vec(prop::sample::select(alphabet), 0..5)
        .prop_map(|chars| chars.into_iter().collect())
}

fn leaf() -> impl Strategy<Value = Tree> {
    let rank = -2i64..6;
    prop_oneof![
        rank.clone().prop_map(Tree::RankEq),
        rank.clone().prop_map(Tree::RankGt),
        rank.clone().prop_map(Tree::RankLte),
        prop::collection::vec(rank.clone(), 0..4).prop_map(Tree::RankIn),
        (rank.clone(), rank).prop_map(|(a, b)| Tree::RankRange(a, b)),
        text().prop_map(Tree::NameEq),
        text().prop_map(Tree::NameContains),
        text().prop_map(Tree::NameIContains),
        text().prop_map(Tree::NameStartsWith),
        text().prop_map(Tree::NameIEndsWith),
    ]
}

fn tree() -> impl Strategy<Value = Tree> {
    leaf().prop_recursive(6, 48, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Tree::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Tree::Or(Box::new(a), Box::new(b))),
            inner.prop_map(|a| Tree::Not(Box::new(a))),
        ]
    })
}

/// Placeholders in SQL text: `?` (SQLite) or `$n` (PostgreSQL, each number once or more).
fn placeholders(sql: &str, dollar: bool) -> usize {
    if !dollar {
        return sql.matches('?').count();
    }
    let mut numbers = std::collections::BTreeSet::new();
    let bytes = sql.as_bytes();
    for (i, _) in sql.match_indices('$') {
        let digits: String = bytes[i + 1..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .map(|&b| b as char)
            .collect();
        numbers.insert(digits.parse::<usize>().expect("a number after $"));
    }
    // Numbered 1..=n without gaps.
    assert_eq!(
        numbers.iter().copied().collect::<Vec<_>>(),
        (1..=numbers.len()).collect::<Vec<_>>(),
        "{sql}"
    );
    numbers.len()
}

const NAMES: &[&str] = &[
    "abc", "A%b", "a_b", "x\\y", "*?", "[a]", "it's", "$1", "", "B",
];

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn any_tree_renders_balanced_on_every_backend(tree in tree()) {
        // Rendering needs only the backend's kind: PostgreSQL's pool is never connected.
        for (url, dollar) in [("sqlite::memory:", false), ("postgres://nobody@127.0.0.1:1/none", true)] {
            let runtime = runtime();
            let _entered = runtime.enter();
            let dbs = std::sync::Arc::new(Databases::single(url).unwrap());
            let (sql, values) = runtime.block_on(dbs.scope(async { Row::objects().filter(tree.q()).sql() })).unwrap();
            prop_assert_eq!(placeholders(&sql, dollar), values.len(), "{}", sql);
            prop_assert_eq!(sql.matches('(').count(), sql.matches(')').count(), "{}", sql);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 150, ..ProptestConfig::default() })]

    #[test]
    fn on_sqlite_a_tree_selects_what_it_means(tree in tree()) {
        // In memory: one connection, a database of its own for each case.
        let runtime = runtime();
        let _entered = runtime.enter();
        let dbs = std::sync::Arc::new(Databases::single("sqlite::memory:").unwrap());
        let (got, rows) = runtime.block_on(dbs.scope(async {
            create_table::<Row>("default").await.unwrap();
            let rows = NAMES.iter().enumerate().map(|(i, n)| Row { id: 0, name: (*n).into(), rank: i as i64 % 5 - 1 });
            Row::objects().bulk_create(rows.collect()).await.unwrap();
            let got: Vec<i64> = Row::objects().filter(tree.q()).order_by([Row::id.asc()]).await.unwrap().iter().map(|r| r.id).collect();
            let rows = Row::objects().order_by([Row::id.asc()]).await.unwrap();
            (got, rows)
        }));
        let want: Vec<i64> = rows.iter().filter(|r| tree.matches(&r.name, r.rank)).map(|r| r.id).collect();
        prop_assert_eq!(got, want, "{:?}", tree);
    }
}
