//! Hostile filters (issue 13): condition lists of any length render without overflowing the
//! stack, nesting and the number of values a request may give are bounded, a NUL byte never
//! reaches SQL, and a bad `__regex` pattern is a typed error naming it. Every test runs on a
//! tokio worker thread (2 MiB of stack, as the server's) on every backend.

use crate::common;

use std::collections::BTreeSet;

use canter_orm::schema::create_table;
use canter_orm::{Model, OrmError, MAX_FILTER_DEPTH, MAX_FILTER_VALUES, Q};

#[derive(Model, Debug, Clone)]
#[model(crate = canter_orm, app = "hostile_filters")]
struct Item {
    id: i64,
    #[field(max_length = 50)]
    name: String,
    rank: i64,
}

async fn seed() -> Vec<Item> {
    create_table::<Item>("default").await.unwrap();
    let names = ["alpha", "beta", "gamma", "delta"];
    Item::objects()
        .bulk_create(
            names
                .iter()
                .enumerate()
                .map(|(i, n)| Item {
                    id: 0,
                    name: (*n).into(),
                    rank: i as i64,
                })
                .collect(),
        )
        .await
        .unwrap()
}

fn ids(items: &[Item]) -> BTreeSet<i64> {
    items.iter().map(|i| i.id).collect()
}

fn invalid_lookup(result: Result<impl std::fmt::Debug, OrmError>) -> String {
    match result {
        Err(OrmError::InvalidLookup(message)) => message,
        other => panic!("expected InvalidLookup, got {other:?}"),
    }
}

on_every_backend! {
    async fn a_hundred_thousand_conditions_render_without_overflow(vendor) {
        // Built in code, not from a request: no limit applies, only the rendering's depth.
        let and = (0..100_000).fold(Q::all(), |q, n| q & Item::rank.eq(n));
        let (sql, values) = Item::objects().filter(and).sql().unwrap();
        assert_eq!(values.len(), 100_000, "{vendor:?}");
        assert_eq!(sql.matches('(').count(), sql.matches(')').count(), "{vendor:?}");
        let or = (0..100_000).fold(Item::rank.eq(-1), |q, n| q | Item::name.contains(format!("x{n}")));
        let (sql, values) = Item::objects().filter(or).sql().unwrap();
        assert_eq!(values.len(), 100_001, "{vendor:?}");
        assert!(sql.contains(" OR "), "{vendor:?}");
        // exclude() of the same list: NOT over the balanced groups.
        let excluded = (1..100_000).fold(Item::rank.eq(0), |q, n| q | Item::rank.eq(n));
        assert_eq!(Item::objects().exclude(excluded).sql().unwrap().1.len(), 100_000);
    }
}

on_every_backend! {
    async fn long_lists_run_with_the_right_rows(vendor) {
        let items = seed().await;
        // A thousand ANDed conditions (nested groups of sixteen) select what one would.
        let and = (0..1000).fold(Q::all(), |q, _| q & Item::rank.gte(1));
        let got = Item::objects().filter(and).await.unwrap();
        assert_eq!(ids(&got), ids(&items[1..]), "{vendor:?}");
        // And a thousand ORed ones: ranks 2 and 3, among 998 that match nothing.
        let or = (0..998).fold(Item::rank.eq(2) | Item::rank.eq(3), |q, n| q | Item::rank.eq(1000 + n));
        let got = Item::objects().filter(or.clone()).await.unwrap();
        assert_eq!(ids(&got), ids(&items[2..]), "{vendor:?}");
        let kept = Item::objects().exclude(or).await.unwrap();
        assert_eq!(ids(&kept), ids(&items[..2]), "{vendor:?}");
        // The most a request may give, as repeated pairs, runs too.
        let pairs = vec![("rank__gte", "1"); MAX_FILTER_VALUES];
        let got = Item::objects().filter_params(pairs).unwrap().await.unwrap();
        assert_eq!(ids(&got), ids(&items[1..]), "{vendor:?}");
    }
}

on_every_backend! {
    async fn nesting_is_bounded_before_any_sql(vendor) {
        // (a | (b & (c | …))): each level alternates, so nothing flattens.
        let nested = |depth: usize| {
            (1..depth).fold(Item::rank.eq(0), |q, n| {
                if n % 2 == 0 { Item::rank.eq(n as i64) | q } else { Item::rank.gte(0) & q }
            })
        };
        seed().await;
        // Ranks 0 and 2 match: the innermost rank 0, and each `|` level adds its own rank.
        let ok = Item::objects().filter(nested(MAX_FILTER_DEPTH - 1)).count().await.unwrap();
        assert_eq!(ok, 2, "{vendor:?}");
        let message = invalid_lookup(Item::objects().filter(nested(MAX_FILTER_DEPTH + 1)).count().await);
        assert!(message.contains(&format!("at most {MAX_FILTER_DEPTH}")), "{message}");
        // Far deeper: still an error, not an overflow.
        let message = invalid_lookup(Item::objects().filter(nested(5_000)).sql());
        assert!(message.contains("nested"), "{message}");
    }
}

#[test]
fn a_request_gives_at_most_max_filter_values() {
    let at_limit = vec![("id", "1"); MAX_FILTER_VALUES];
    assert!(Item::objects().filter_params(at_limit).is_ok());
    let over = vec![("id", "1"); MAX_FILTER_VALUES + 1];
    let message = invalid_lookup(Item::objects().filter_params(over));
    assert!(message.contains("too many filter values"), "{message}");
    // `__in` counts each item; `__range` two.
    let many: String = (0..=MAX_FILTER_VALUES).map(|n| format!("{n},")).collect();
    invalid_lookup(Item::objects().filter_params([("id__in", many.as_str())]));
    let ranges = vec![("id__range", "1,2"); MAX_FILTER_VALUES / 2 + 1];
    invalid_lookup(Item::objects().filter_params(ranges));
}

on_every_backend! {
    async fn a_nul_byte_never_reaches_sql(vendor) {
        seed().await;
        // From text (a request): refused when parsed, naming the lookup.
        for key in ["name", "name__endswith", "name__contains", "name__iexact", "name__in", "name__regex", "name__gt"] {
            let message = invalid_lookup(Item::objects().filter_params([(key, "\u{0}")]));
            assert!(message.contains("NUL") && message.contains(key), "{message}");
        }
        // From code: refused before any SQL is sent (on SQLite, LIKE and GLOB stop at the NUL,
        // so `endswith("\0")` matched every row; PostgreSQL refused it with a 500).
        let lookups = [
            Item::name.endswith("\u{0}"),
            Item::name.istartswith("x\u{0}"),
            Item::name.eq("a\u{0}b"),
            Item::name.in_(["ok", "a\u{0}b"]),
            Item::name.range("a", "\u{0}"),
        ];
        for q in lookups {
            let message = invalid_lookup(Item::objects().filter(q.clone()).await);
            assert!(message.contains("NUL"), "{vendor:?}: {message}");
            invalid_lookup(Item::objects().filter(q).sql());
        }
        // Texts without one are untouched.
        assert_eq!(Item::objects().filter(Item::name.endswith("a")).count().await.unwrap(), 4);
    }
}

on_every_backend! {
    async fn an_invalid_regex_is_a_typed_error_naming_it(vendor) {
        seed().await;
        for pattern in ["(", "[a-", "a{2,1}", "*"] {
            for key in ["name__regex", "name__iregex"] {
                let message = invalid_lookup(Item::objects().filter_params([(key, pattern)]).unwrap().await);
                assert!(message.contains("invalid regular expression"), "{vendor:?} {pattern}: {message}");
                if vendor == canter_orm::Vendor::Sqlite {
                    assert!(message.contains(&format!("{pattern:?}")), "names the pattern: {message}");
                }
            }
        }
        // A valid one still matches.
        let got = Item::objects().filter_params([("name__regex", "^(alpha|beta)$")]).unwrap().await.unwrap();
        assert_eq!(got.len(), 2, "{vendor:?}");
    }
}
