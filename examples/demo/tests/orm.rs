//! The demo's ORM endpoints: the article's `filter(active=True).afirst()`, the list view
//! that maps the query string onto lookups, and the notes of `/api/notes/`. Each test runs on an SQLite file of its own, then
//! on a PostgreSQL schema of its own when `CANTER_TEST_POSTGRES_URL` is set (skipped with a
//! printed reason otherwise; a failure under `CANTER_REQUIRE_SERVICES=1`).

mod support;

use std::sync::Arc;

use canter::orm::Databases;
use canter::test::TestClient;
use demo::models::{MyModel, Note};
use serde_json::{json, Value};

use support::{PgSchema, SqliteFile};

/// The demo on a database at `url`, migrated by the demo's own migrations.
async fn on_database<F: std::future::Future<Output = ()>>(
    url: &str,
    test: impl FnOnce(TestClient) -> F,
) {
    let dbs = Arc::new(Databases::single(url).unwrap());
    dbs.scope(async {
        demo::migrate().await.unwrap();
        test(TestClient::new(demo::app())).await;
    })
    .await;
}

/// `test` on SQLite, then on PostgreSQL (when configured); it is told which.
async fn on_every_database<F: std::future::Future<Output = ()>>(
    test: impl Fn(TestClient, &'static str) -> F,
) {
    let file = SqliteFile::new("demo-test");
    on_database(&file.url, |client| test(client, "SQLite")).await;
    if let Some(schema) = PgSchema::create("demo_test") {
        on_database(&schema.url, |client| test(client, "PostgreSQL")).await;
    }
}

async fn add(name: &str, active: bool) -> MyModel {
    MyModel::objects()
        .create(MyModel {
            id: 0,
            name: name.into(),
            active,
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn first_active_is_404_then_the_first_active_row_by_id() {
    on_every_database(|client, backend| async move {
        let r = client.get("/mymodel/first-active/").await;
        assert_eq!(r.status(), 404, "{backend}");
        assert_eq!(
            r.json::<Value>(),
            json!({"error": "no active MyModel"}),
            "{backend}"
        );

        add("inactive", false).await;
        let b = add("b", true).await;
        add("c", true).await;
        let r = client.get("/mymodel/first-active/").await;
        assert_eq!(r.status(), 200, "{backend}");
        assert_eq!(
            r.json::<Value>(),
            json!({"id": b.id, "name": "b", "active": true}),
            "{backend}"
        );
        // The first by id, not the first found: deactivate b and c comes next; a later row
        // made active again does not jump the queue.
        MyModel::objects()
            .filter(MyModel::id.eq(b.id))
            .update([MyModel::active.set(false)])
            .await
            .unwrap();
        let r = client.get("/mymodel/first-active/").await;
        assert_eq!(r.json::<Value>()["name"], "c", "{backend}");
        MyModel::objects()
            .filter(MyModel::id.eq(b.id))
            .update([MyModel::active.set(true)])
            .await
            .unwrap();
        let r = client.get("/mymodel/first-active/").await;
        assert_eq!(r.json::<Value>()["name"], "b", "{backend}");
    })
    .await;
}

#[tokio::test]
async fn list_maps_the_query_string_onto_lookups() {
    on_every_database(|client, backend| async move {
        for (name, active) in [
            ("Alpha", true),
            ("beta", true),
            ("Gamma", false),
            ("alphabet", true),
        ] {
            add(name, active).await;
        }
        let names = |v: Value| {
            v.as_array()
                .unwrap()
                .iter()
                .map(|r| r["name"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        };
        let r = client
            .get("/mymodel/?active=true&name__icontains=ALPHA&limit=10")
            .await;
        assert_eq!(r.status(), 200, "{backend}");
        assert_eq!(names(r.json()), ["Alpha", "alphabet"], "{backend}");
        assert_eq!(
            names(client.get("/mymodel/?limit=2").await.json()),
            ["Alpha", "beta"]
        );
        assert_eq!(
            names(client.get("/mymodel/?active=false").await.json()),
            ["Gamma"]
        );
        assert_eq!(
            names(client.get("/mymodel/?name__startswith=a").await.json()),
            ["alphabet"]
        );

        for (query, needle) in [
            ("nme=1", "no field \"nme\""),
            ("name__bogus=1", "unknown lookup \"bogus\""),
            ("active=maybe", "not a boolean"),
            ("id__gt=x", "not an integer"),
            ("limit=0", "limit"),
            ("limit=abc", "limit"),
        ] {
            let r = client.get(&format!("/mymodel/?{query}")).await;
            assert_eq!(r.status(), 400, "{backend}: {query}");
            let error = r.json::<Value>()["error"].as_str().unwrap().to_owned();
            assert!(error.contains(needle), "{backend}: {query}: {error}");
        }
        let r = client.get("/mymodel/?name='%20OR%201=1%20--").await;
        assert_eq!(r.status(), 200);
        assert_eq!(
            names(r.json()),
            Vec::<String>::new(),
            "an injection attempt is just a value"
        );
        assert_eq!(MyModel::objects().count().await.unwrap(), 4);
    })
    .await;
}

/// Issue 13: a query string that once aborted the process (a repeated lookup's conditions
/// rendered recursively until the stack overflowed), and the other hostile values, are
/// answered: 200 where the query is fine, 400 naming the problem otherwise.
#[tokio::test]
async fn hostile_query_strings_are_answered_not_crashes() {
    on_every_database(|client, backend| async move {
        add("alpha", true).await;
        add("beta", true).await;
        // 999 conditions and a limit: the most fields a query string may have.
        let many = vec!["id__gte=1"; 999].join("&");
        let r = client.get(&format!("/mymodel/?{many}&limit=10")).await;
        assert_eq!(r.status(), 200, "{backend}: {}", r.text());
        assert_eq!(r.json::<Value>().as_array().unwrap().len(), 2, "{backend}");
        let too_many = vec!["id=1"; 1001].join("&");
        let r = client.get(&format!("/mymodel/?{too_many}")).await;
        assert_eq!(r.status(), 400, "{backend}");
        assert!(
            r.text().contains("more than 1000 fields"),
            "{backend}: {}",
            r.text()
        );
        let ids: Vec<String> = (0..=1000).map(|n| n.to_string()).collect();
        let r = client
            .get(&format!("/mymodel/?id__in={}", ids.join(",")))
            .await;
        assert_eq!(r.status(), 400, "{backend}");
        assert!(
            r.text().contains("too many filter values"),
            "{backend}: {}",
            r.text()
        );
        // A NUL once matched every row on SQLite (LIKE stops at it) and was a 500 on PostgreSQL.
        for query in ["name__endswith=%00", "name=a%00", "name__icontains=%00x"] {
            let r = client.get(&format!("/mymodel/?{query}")).await;
            assert_eq!(r.status(), 400, "{backend}: {query}");
            assert!(r.text().contains("NUL"), "{backend}: {query}: {}", r.text());
        }
        // A bad regex was a 500 ("constraint failed" on SQLite).
        for pattern in ["(", "%5Ba-", "*"] {
            let r = client
                .get(&format!("/mymodel/?name__regex={pattern}"))
                .await;
            assert_eq!(r.status(), 400, "{backend}: {pattern}: {}", r.text());
            assert!(
                r.text().contains("invalid regular expression"),
                "{backend}: {}",
                r.text()
            );
        }
        let r = client.get("/mymodel/?name__regex=%5Ea").await;
        assert_eq!(r.json::<Value>().as_array().unwrap().len(), 1, "{backend}");
    })
    .await;
}

#[tokio::test]
async fn notes_are_kept_in_the_database_not_in_the_process() {
    on_every_database(|client, backend| async move {
        let r = client
            .post_json("/api/notes/", &json!({"text": "remember the milk"}))
            .await;
        assert_eq!(r.status(), 201, "{backend}: {}", r.text());
        let created = r.json::<Value>();
        assert_eq!(created["text"], "remember the milk", "{backend}");
        // The row is in the table (the view kept every note in a static before).
        let stored = Note::objects().all().await.unwrap();
        assert_eq!(
            stored,
            [Note {
                id: created["id"].as_i64().unwrap(),
                title: String::new(),
                text: "remember the milk".into()
            }],
            "{backend}"
        );
        let listed = client.get("/api/notes/").await.json::<Value>();
        assert_eq!(listed, json!([created]), "{backend}");

        for bad in [
            json!({"text": "  "}),
            json!({"wrong": 1}),
            json!({"text": "x".repeat(Note::MAX_LENGTH + 1)}),
        ] {
            let r = client.post_json("/api/notes/", &bad).await;
            assert_eq!(r.status(), 400, "{backend}: {}", r.text());
        }
        let r = client
            .post_json(
                "/api/notes/",
                &json!({"text": "x".repeat(Note::MAX_LENGTH)}),
            )
            .await;
        assert_eq!(r.status(), 201, "{backend}: at most MAX_LENGTH is fine");
        assert_eq!(Note::objects().count().await.unwrap(), 2, "{backend}");

        // A GET lists the newest notes, a bounded number of them.
        let many = (0..demo::views::NOTES_LISTED)
            .map(|n| Note {
                id: 0,
                title: String::new(),
                text: format!("note {n}"),
            })
            .collect();
        Note::objects().bulk_create(many).await.unwrap();
        let listed = client.get("/api/notes/").await.json::<Value>();
        let listed = listed.as_array().unwrap();
        assert_eq!(listed.len() as u64, demo::views::NOTES_LISTED, "{backend}");
        assert_eq!(
            listed[0]["text"],
            format!("note {}", demo::views::NOTES_LISTED - 1),
            "{backend}: newest first"
        );
    })
    .await;
}
