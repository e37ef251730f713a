//! Hostile input: SQL-injection payloads through every lookup and ordering name on every
//! backend; bad values; an unreachable database, a wrong MariaDB password; an exhausted pool.

use crate::aliases;
use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use canter_orm::chrono::NaiveDate;
use canter_orm::schema::create_table;
use canter_orm::{DatabaseConfig, Databases, Model, OrmError};

#[derive(Model, Debug, Clone)]
#[model(crate = canter_orm, app = "hostile")]
struct Note {
    id: i64,
    #[field(max_length = 200)]
    text: String,
    score: i64,
    day: Option<canter_orm::chrono::NaiveDate>,
}

const PAYLOADS: &[&str] = &[
    "'; DROP TABLE hostile_note; --",
    "\" OR 1=1 --",
    "' OR ''='",
    "1; DELETE FROM hostile_note",
    "x') OR ('1'='1",
    "%",
    "_",
    "\\",
    "*",
    "?",
    "[a-z]",
    "$1",
    "$$",
    "' UNION SELECT NULL, NULL, NULL, NULL --",
    "😀'--",
    "(?i)' OR 1=1",
];

/// Every text lookup (the date parts, `isnull` and the non-text fields get their own checks).
const LOOKUPS: &[&str] = &[
    "exact",
    "iexact",
    "contains",
    "icontains",
    "startswith",
    "istartswith",
    "endswith",
    "iendswith",
    "gt",
    "gte",
    "lt",
    "lte",
    "range",
    "regex",
    "iregex",
    "in",
    "isnull",
];

/// The ids a text lookup with `payload` must match, computed here from the stored texts; `None`
/// for the comparisons, whose order is the database's collation (checked for consistency).
fn expected(
    lookup: &str,
    payload: &str,
    rows: &[(i64, String)],
) -> Option<Result<BTreeSet<i64>, ()>> {
    let lower = payload.to_lowercase();
    let matches = |f: &dyn Fn(&str) -> bool| -> BTreeSet<i64> {
        rows.iter()
            .filter(|(_, t)| f(t))
            .map(|(id, _)| *id)
            .collect()
    };
    Some(Ok(match lookup {
        "exact" => matches(&|t| t == payload),
        "iexact" => matches(&|t| t.to_lowercase() == lower),
        "contains" => matches(&|t| t.contains(payload)),
        "icontains" => matches(&|t| t.to_lowercase().contains(&lower)),
        "startswith" => matches(&|t| t.starts_with(payload)),
        "istartswith" => matches(&|t| t.to_lowercase().starts_with(&lower)),
        "endswith" => matches(&|t| t.ends_with(payload)),
        "iendswith" => matches(&|t| t.to_lowercase().ends_with(&lower)),
        // `in` takes a comma-separated list.
        "in" => {
            let items: Vec<&str> = payload.split(',').filter(|s| !s.is_empty()).collect();
            matches(&|t| items.contains(&t))
        }
        "regex" | "iregex" => {
            let pattern = if lookup == "iregex" {
                format!("(?i){payload}")
            } else {
                payload.to_owned()
            };
            match regex::Regex::new(&pattern) {
                Ok(re) => matches(&|t| re.is_match(t)),
                // Not a valid pattern: the database must refuse it too.
                Err(_) => return Some(Err(())),
            }
        }
        _ => return None,
    }))
}

async fn ids(key: &str, value: &str) -> Result<BTreeSet<i64>, OrmError> {
    let rows = Note::objects().filter_params([(key, value)])?.await?;
    Ok(rows.into_iter().map(|n| n.id).collect())
}

on_every_backend! {
    async fn injection_payloads_are_only_ever_values(vendor) {
        create_table::<Note>("default").await.unwrap();
        // The payloads are also stored as rows (beside five plain ones), so a lookup must find
        // exactly the rows its value describes: an injection that widens the match (`' OR
        // ''='`, an unescaped `%`, `_`, `*`, `?` or `[a-z]`) shows up as extra rows.
        let mut texts: Vec<String> = (0..5).map(|i| format!("note {i}")).collect();
        texts.extend(PAYLOADS.iter().map(|p| p.to_string()));
        texts.push("NOTE 1 with 100% and a_b".into());
        let seeded = Note::objects()
            .bulk_create(texts.iter().map(|t| Note { id: 0, text: t.clone(), score: 1, day: NaiveDate::from_ymd_opt(2024, 2, 29) }).collect())
            .await
            .unwrap();
        let rows: Vec<(i64, String)> = seeded.iter().map(|n| (n.id, n.text.clone())).collect();
        let all: BTreeSet<i64> = rows.iter().map(|(id, _)| *id).collect();
        // Stored and read back verbatim.
        for (id, text) in &rows {
            let back = Note::objects().filter(Note::text.eq(text.as_str())).get().await.unwrap();
            assert_eq!((back.id, back.text.as_str()), (*id, text.as_str()), "{vendor:?}");
        }
        let mut ran = 0;
        for payload in PAYLOADS {
            for lookup in LOOKUPS {
                let key = format!("text__{lookup}");
                let got = match *lookup {
                    "isnull" => {
                        // Not a boolean: a typed error.
                        assert!(matches!(Note::objects().filter_params([(key.as_str(), *payload)]), Err(OrmError::InvalidLookup(_))), "{payload} via {key}");
                        continue;
                    }
                    "range" => {
                        // A range is "low,high"; [payload, payload] is exactly the payload's row.
                        if !payload.contains(',') {
                            assert!(matches!(Note::objects().filter_params([(key.as_str(), *payload)]), Err(OrmError::InvalidLookup(_))), "{payload} via {key}");
                            let both = format!("{payload},{payload}");
                            assert_eq!(ids(&key, &both).await.unwrap(), expected("exact", payload, &rows).unwrap().unwrap(), "{payload} via {key} on {vendor:?}");
                        } else {
                            let (low, high) = payload.split_once(',').unwrap();
                            let inside: BTreeSet<i64> = ids("text__gte", low).await.unwrap().intersection(&ids("text__lte", high).await.unwrap()).copied().collect();
                            assert_eq!(ids(&key, payload).await.unwrap(), inside, "{payload} via {key} on {vendor:?}");
                        }
                        ran += 1;
                        continue;
                    }
                    _ => ids(&key, payload).await,
                };
                match (expected(lookup, payload, &rows), got) {
                    (Some(Ok(want)), Ok(got)) => assert_eq!(got, want, "{payload:?} via {lookup} on {vendor:?}"),
                    // An invalid pattern is a bad lookup (a 400), on every backend.
                    (Some(Err(())), Err(OrmError::InvalidLookup(_))) => {}
                    (None, Ok(_)) => {}
                    (want, got) => panic!("{payload:?} via {lookup} on {vendor:?}: expected {want:?}, got {got:?}"),
                }
                ran += 1;
                // Payloads as values of non-text fields (and of date parts) are typed errors.
                for field in ["score", "day", "id", "day__year", "day__month", "day__day"] {
                    let key = format!("{field}__{lookup}");
                    match Note::objects().filter_params([(key.as_str(), *payload)]) {
                        Err(OrmError::InvalidLookup(_)) => {}
                        Ok(_) => panic!("{payload} accepted for {key}"),
                        Err(e) => panic!("unexpected {e}"),
                    }
                }
            }
            // The comparisons, whose order is the collation's: consistent, never widened.
            let cmp = |op: &str| {
                let key = format!("text__{op}");
                async move { ids(&key, payload).await }
            };
            let (lt, lte, gt, gte) = (cmp("lt").await.unwrap(), cmp("lte").await.unwrap(), cmp("gt").await.unwrap(), cmp("gte").await.unwrap());
            let exact = expected("exact", payload, &rows).unwrap().unwrap();
            assert!(lt.is_disjoint(&gte) && gt.is_disjoint(&lte), "{payload:?} on {vendor:?}");
            assert_eq!(lt.union(&gte).copied().collect::<BTreeSet<_>>(), all, "{payload:?}");
            assert_eq!(gte, gt.union(&exact).copied().collect(), "{payload:?}");
            assert_eq!(lte, lt.union(&exact).copied().collect(), "{payload:?}");
            // Date parts with real values still work beside the payloads.
            assert_eq!(ids("day__year", "2024").await.unwrap(), all);
            assert_eq!(ids("day__month", "2").await.unwrap(), all);
            assert_eq!(ids("day__day", "28").await.unwrap(), BTreeSet::new());
            assert_eq!(ids("day__isnull", "true").await.unwrap(), BTreeSet::new());
            // Payloads as field names, lookup names and orderings are refused, by name.
            assert!(matches!(Note::objects().filter_params([(*payload, "1")]), Err(OrmError::InvalidLookup(_))));
            assert!(matches!(Note::objects().filter_params([(format!("text__{payload}").as_str(), "1")]), Err(OrmError::InvalidLookup(_))));
            if *payload != "?" {
                // ("?" is Django's random ordering.)
                for name in [payload.to_string(), format!("-{payload}"), format!("text__{payload}")] {
                    match Note::objects().order_by_names(&[&name]) {
                        Err(OrmError::InvalidLookup(message)) => assert!(message.contains(&format!("{name:?}")), "{message}"),
                        Err(e) => panic!("{name}: {e}"),
                        Ok(_) => panic!("ordering by {name:?} accepted"),
                    }
                }
            }
            assert!(Note::objects().values(&[payload]).await.is_err());
        }
        assert!(ran > 200);
        assert_eq!(Note::objects().count().await.unwrap(), rows.len() as u64, "the table is intact on {vendor:?}");
        assert_eq!(Note::objects().filter(Note::score.eq(1)).count().await.unwrap(), rows.len() as u64, "and unchanged");
    }
}

on_every_backend! {
    async fn text_with_a_nul_byte_is_an_error_not_a_panic(vendor) {
        create_table::<Note>("default").await.unwrap();
        let result = Note::objects().create(Note { id: 0, text: "a\0b".into(), score: 0, day: None }).await;
        match vendor {
            // PostgreSQL refuses NUL in text; SQLite and MariaDB store it.
            canter_orm::Vendor::Postgres => assert!(result.is_err()),
            _ => assert_eq!(result.unwrap().text, "a\0b"),
        }
    }
}

#[tokio::test]
async fn an_unreachable_database_names_the_alias_not_the_password() {
    let mut config = DatabaseConfig::new("postgres://app:hunter2@127.0.0.1:1/app");
    config.acquire_timeout = 1.0;
    let dbs =
        Arc::new(Databases::connect(&BTreeMap::from([("reports".to_owned(), config)])).unwrap());
    let err = dbs
        .scope(async { Note::objects().using("reports").count().await })
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, OrmError::Unavailable { .. }), "{message}");
    assert!(message.contains("\"reports\""), "{message}");
    assert!(!message.contains("hunter2"), "{message}");
    assert!(message.contains("app:***@"), "{message}");
}

#[tokio::test]
async fn a_password_in_the_query_string_is_hidden_too() {
    let mut config =
        DatabaseConfig::new("postgres://app@127.0.0.1:1/app?sslmode=disable&password=hunter2");
    config.acquire_timeout = 1.0;
    let dbs =
        Arc::new(Databases::connect(&BTreeMap::from([("reports".to_owned(), config)])).unwrap());
    let err = dbs
        .scope(async { Note::objects().using("reports").count().await })
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, OrmError::Unavailable { .. }), "{message}");
    assert!(!message.contains("hunter2"), "{message}");
    assert!(message.contains("password=***"), "{message}");
    assert!(!format!("{err:?}").contains("hunter2"), "{err:?}");
}

#[tokio::test]
async fn configuration_errors_are_clear() {
    let err = Databases::single("oracle://x").unwrap_err().to_string();
    assert!(err.contains("unsupported URL"), "{err}");
    let err = Databases::single("").unwrap_err().to_string();
    assert!(err.contains("empty"), "{err}");
    let dbs = Arc::new(Databases::single("sqlite::memory:").unwrap());
    let err = dbs
        .scope(async { Note::objects().using("nope").count().await })
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("\"nope\"") && err.contains("no such database"),
        "{err}"
    );
    // Outside any app: an error saying so, never a database from elsewhere.
    let err = canter_orm::database("default").unwrap_err().to_string();
    assert!(
        err.contains("no app is running here, so there are no databases"),
        "{err}"
    );
    // In an app without the ORM: an error naming the plugin.
    let err = std::sync::Arc::new(canter_core::services::Services::new())
        .scope(async { canter_orm::database("default").unwrap_err().to_string() })
        .await;
    assert!(
        err.contains("this app has no databases: add the ORM's plugin"),
        "{err}"
    );
}

on_every_backend! {
    async fn an_exhausted_pool_times_out_with_a_clear_error(vendor) {
        let fresh = aliases::fresh(vendor, &["default"], |config| {
            config.max_connections = Some(1);
            config.acquire_timeout = 0.3;
        })
        .await;
        let dbs = fresh.dbs.clone();
        dbs.clone().scope(create_table::<Note>("default")).await.unwrap();
        let (held_tx, held_rx) = tokio::sync::oneshot::channel::<()>();
        let (release_tx, release_rx) = tokio::sync::oneshot::channel::<()>();
        let holder = tokio::spawn(dbs.clone().scope(async move {
            canter_orm::atomic(async move {
                Note::objects().count().await?;
                held_tx.send(()).unwrap();
                let _ = release_rx.await;
                Ok::<_, OrmError>(())
            })
            .await
        }));
        held_rx.await.unwrap();
        let started = std::time::Instant::now();
        let err = dbs.clone().scope(Note::objects().count()).await.unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(5), "did not hang on {vendor:?}");
        assert!(matches!(err, OrmError::Unavailable { .. }), "{vendor:?}: {err}");
        assert!(err.to_string().contains("timed out"), "{err}");
        assert!(err.to_string().contains("\"default\""), "names the alias: {err}");
        release_tx.send(()).unwrap();
        holder.await.unwrap().unwrap();
        assert_eq!(dbs.scope(Note::objects().count()).await.unwrap(), 0, "the pool recovered on {vendor:?}");
        fresh.finish();
    }
}

on_every_backend! {
    async fn several_databases_by_alias(vendor) {
        let fresh = aliases::fresh(vendor, &["default", "replica"], |_| {}).await;
        fresh.dbs.clone().scope(async {
            create_table::<Note>("default").await.unwrap();
            create_table::<Note>("replica").await.unwrap();
            let note = |text: &str, score: i64| Note { id: 0, text: text.into(), score, day: None };
            Note::objects().create(note("primary", 1)).await.unwrap();
            Note::objects().using("replica").create(note("copy", 2)).await.unwrap();
            Note::objects().using("replica").create(note("copy 2", 3)).await.unwrap();
            assert_eq!(Note::objects().count().await.unwrap(), 1, "{vendor:?}");
            assert_eq!(Note::objects().using("replica").count().await.unwrap(), 2);
            assert_eq!(Note::objects().using("replica").filter(Note::score.gt(2)).get().await.unwrap().text, "copy 2");
            assert_eq!(Note::objects().using("default").get().await.unwrap().text, "primary");
            // A transaction on one alias does not capture the other's queries.
            canter_orm::atomic_using("replica", async {
                Note::objects().using("replica").delete().await?;
                assert_eq!(Note::objects().count().await?, 1);
                assert_eq!(Note::objects().using("replica").count().await?, 0);
                Err::<(), _>(OrmError::InvalidLookup("roll back".into()))
            })
            .await
            .unwrap_err();
            assert_eq!(Note::objects().using("replica").count().await.unwrap(), 2, "rolled back on the replica ({vendor:?})");
            assert_eq!(Note::objects().count().await.unwrap(), 1);
        })
        .await;
        fresh.finish();
    }
}

/// `alias`'s first query on a MariaDB at `url`: the error.
#[cfg(feature = "mysql")]
async fn first_query_error(url: &str) -> OrmError {
    let mut config = DatabaseConfig::new(url);
    config.acquire_timeout = 2.0;
    let dbs =
        Arc::new(Databases::connect(&BTreeMap::from([("reports".to_owned(), config)])).unwrap());
    dbs.scope(async { Note::objects().using("reports").count().await })
        .await
        .unwrap_err()
}

#[cfg(feature = "mysql")]
#[tokio::test]
async fn an_unreachable_mariadb_names_the_host_not_the_password() {
    let err = first_query_error("mysql://app:hunter2@127.0.0.1:1/app").await;
    let message = err.to_string();
    assert!(matches!(err, OrmError::Unavailable { .. }), "{message}");
    assert!(
        message.contains("\"reports\"") && message.contains("mysql://app:***@127.0.0.1:1/app"),
        "names the alias and the host: {message}"
    );
    assert!(!format!("{message} {err:?}").contains("hunter2"), "{err:?}");
}

#[cfg(feature = "mysql")]
#[tokio::test]
async fn a_wrong_mariadb_password_names_the_host_not_the_password() {
    let Some(database) = canter_test_kit::MysqlDatabase::create("canter_test") else {
        return;
    };
    // The test server's URL with the user's password replaced by a wrong one.
    let (scheme, rest) = database.url.split_once("://").unwrap();
    let (userinfo, host_and_path) = rest.rsplit_once('@').unwrap();
    let user = userinfo.split(':').next().unwrap();
    let url = format!("{scheme}://{user}:wrong-hunter2@{host_and_path}");
    let err = first_query_error(&url).await;
    let message = err.to_string();
    assert!(matches!(err, OrmError::Unavailable { .. }), "{message}");
    assert!(
        message.contains("\"reports\"")
            && message.contains(&format!("{scheme}://{user}:***@{host_and_path}"))
            && message.contains("Access denied"),
        "names the alias, the host and the cause: {message}"
    );
    assert!(
        !format!("{message} {err:?}").contains("wrong-hunter2"),
        "{err:?}"
    );
}
