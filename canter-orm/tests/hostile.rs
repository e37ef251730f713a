//! Hostile input: SQL-injection payloads through every lookup and ordering name on every
//! backend; bad values; an unreachable database; an exhausted pool.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

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
    "regex",
    "iregex",
    "in",
];

on_every_backend! {
    async fn injection_payloads_are_only_ever_values(vendor) {
        create_table::<Note>("default").await.unwrap();
        let seeded = Note::objects()
            .bulk_create((0..5).map(|i| Note { id: 0, text: format!("note {i}"), score: i, day: None }).collect())
            .await
            .unwrap();
        assert_eq!(seeded.len(), 5);
        let mut ran = 0;
        for payload in PAYLOADS {
            for lookup in LOOKUPS {
                let key = format!("text__{lookup}");
                let qs = Note::objects().filter_params([(key.as_str(), *payload)]).unwrap();
                match qs.clone().await {
                    Ok(rows) => assert!(rows.iter().all(|n| n.text.starts_with("note ")), "{payload} via {lookup}"),
                    // An invalid regex is the database's error, reported, not executed.
                    Err(OrmError::Database { .. }) if lookup.contains("regex") => {}
                    Err(e) => panic!("{payload} via {lookup} on {vendor:?}: {e}"),
                }
                ran += 1;
                // Payloads as values of non-text fields are typed errors, never SQL.
                for field in ["score", "day", "id"] {
                    let key = format!("{field}__{lookup}");
                    match Note::objects().filter_params([(key.as_str(), *payload)]) {
                        Err(OrmError::InvalidLookup(_)) => {}
                        Ok(_) => panic!("{payload} accepted for {key}"),
                        Err(e) => panic!("unexpected {e}"),
                    }
                }
            }
            // Payloads as field names, lookup names and orderings are refused by name.
            assert!(matches!(Note::objects().filter_params([(*payload, "1")]), Err(OrmError::InvalidLookup(_))));
            assert!(matches!(Note::objects().filter_params([(format!("text__{payload}").as_str(), "1")]), Err(OrmError::InvalidLookup(_))));
            if *payload != "?" {
                // ("?" is Django's random ordering.)
                assert!(matches!(Note::objects().order_by_names(&[payload]), Err(OrmError::InvalidLookup(_))));
            }
            assert!(Note::objects().values(&[payload]).await.is_err());
            // And as data: stored and read back verbatim.
            let stored = Note::objects().create(Note { id: 0, text: payload.to_string(), score: 0, day: None }).await.unwrap();
            let back = Note::objects().filter(Note::text.eq(*payload)).get().await.unwrap();
            assert_eq!(back.id, stored.id);
            assert_eq!(back.text, *payload);
            stored_cleanup(stored.id).await;
        }
        assert!(ran > 200);
        assert_eq!(Note::objects().count().await.unwrap(), 5, "the table is intact on {vendor:?}");
    }
}

async fn stored_cleanup(id: i64) {
    assert_eq!(
        Note::objects()
            .filter(Note::id.eq(id))
            .delete()
            .await
            .unwrap(),
        1
    );
}

on_every_backend! {
    async fn text_with_a_nul_byte_is_an_error_not_a_panic(vendor) {
        create_table::<Note>("default").await.unwrap();
        let result = Note::objects().create(Note { id: 0, text: "a\0b".into(), score: 0, day: None }).await;
        match vendor {
            // PostgreSQL refuses NUL in text; SQLite stores it.
            canter_orm::Vendor::Postgres => assert!(result.is_err()),
            canter_orm::Vendor::Sqlite => assert_eq!(result.unwrap().text, "a\0b"),
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
async fn configuration_errors_are_clear() {
    let err = Databases::single("mysql://x").unwrap_err().to_string();
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
    let err = canter_orm::database("default").unwrap_err().to_string();
    assert!(err.contains("no databases are set up"), "{err}");
}

#[tokio::test]
async fn an_exhausted_pool_times_out_with_a_clear_error() {
    let file = std::env::temp_dir().join(format!(
        "canter-pool-{}.sqlite3",
        uuid::Uuid::new_v4().simple()
    ));
    let mut config = DatabaseConfig::new(format!("sqlite://{}", file.display()));
    config.max_connections = Some(1);
    config.acquire_timeout = 0.3;
    let dbs =
        Arc::new(Databases::connect(&BTreeMap::from([("default".to_owned(), config)])).unwrap());
    dbs.clone()
        .scope(create_table::<Note>("default"))
        .await
        .unwrap();
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
    let err = dbs
        .clone()
        .scope(Note::objects().count())
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5), "did not hang");
    assert!(matches!(err, OrmError::Unavailable { .. }), "{err}");
    assert!(err.to_string().contains("timed out"), "{err}");
    release_tx.send(()).unwrap();
    holder.await.unwrap().unwrap();
    assert_eq!(
        dbs.scope(Note::objects().count()).await.unwrap(),
        0,
        "the pool recovered"
    );
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
    }
}

#[tokio::test]
async fn several_databases_by_alias() {
    let dir = std::env::temp_dir();
    let (a, b) = (
        dir.join(format!(
            "canter-alias-a-{}.sqlite3",
            uuid::Uuid::new_v4().simple()
        )),
        dir.join(format!(
            "canter-alias-b-{}.sqlite3",
            uuid::Uuid::new_v4().simple()
        )),
    );
    let config = BTreeMap::from([
        (
            "default".to_owned(),
            DatabaseConfig::new(format!("sqlite://{}", a.display())),
        ),
        (
            "replica".to_owned(),
            DatabaseConfig::new(format!("sqlite://{}", b.display())),
        ),
    ]);
    let dbs = Arc::new(Databases::connect(&config).unwrap());
    dbs.scope(async {
        create_table::<Note>("default").await.unwrap();
        create_table::<Note>("replica").await.unwrap();
        Note::objects()
            .create(Note {
                id: 0,
                text: "primary".into(),
                score: 1,
                day: None,
            })
            .await
            .unwrap();
        Note::objects()
            .using("replica")
            .create(Note {
                id: 0,
                text: "copy".into(),
                score: 2,
                day: None,
            })
            .await
            .unwrap();
        Note::objects()
            .using("replica")
            .create(Note {
                id: 0,
                text: "copy 2".into(),
                score: 3,
                day: None,
            })
            .await
            .unwrap();
        assert_eq!(Note::objects().count().await.unwrap(), 1);
        assert_eq!(Note::objects().using("replica").count().await.unwrap(), 2);
        assert_eq!(
            Note::objects()
                .using("replica")
                .filter(Note::score.gt(2))
                .get()
                .await
                .unwrap()
                .text,
            "copy 2"
        );
        // A transaction on one alias does not capture the other's queries.
        canter_orm::atomic_using("replica", async {
            Note::objects().using("replica").delete().await?;
            assert_eq!(Note::objects().count().await?, 1);
            Err::<(), _>(OrmError::InvalidLookup("roll back".into()))
        })
        .await
        .unwrap_err();
        assert_eq!(
            Note::objects().using("replica").count().await.unwrap(),
            2,
            "rolled back on the replica"
        );
    })
    .await;
    for file in [a, b] {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
        }
    }
}
