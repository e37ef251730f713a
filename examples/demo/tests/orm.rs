//! The demo's ORM endpoints: the article's `filter(active=True).afirst()` and the list view
//! that maps the query string onto lookups. Each test uses its own SQLite file.

use std::sync::Arc;

use canter::orm::Databases;
use canter::test::TestClient;
use demo::models::MyModel;
use serde_json::{json, Value};

async fn with_database<F: std::future::Future<Output = ()>>(test: impl FnOnce(TestClient) -> F) {
    let file = std::env::temp_dir().join(format!("demo-{}.sqlite3", uuid::Uuid::new_v4().simple()));
    let dbs = Arc::new(Databases::single(&format!("sqlite://{}", file.display())).unwrap());
    dbs.scope(async {
        demo::migrate().await.unwrap();
        test(TestClient::new(demo::app())).await;
    })
    .await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
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
    with_database(|client| async move {
        let r = client.get("/mymodel/first-active/").await;
        assert_eq!(r.status(), 404);
        assert!(r.json::<Value>()["error"].is_string());

        add("inactive", false).await;
        let b = add("b", true).await;
        add("c", true).await;
        let r = client.get("/mymodel/first-active/").await;
        assert_eq!(r.status(), 200);
        assert_eq!(
            r.json::<Value>(),
            json!({"id": b.id, "name": "b", "active": true})
        );
    })
    .await;
}

#[tokio::test]
async fn list_maps_the_query_string_onto_lookups() {
    with_database(|client| async move {
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
        assert_eq!(r.status(), 200);
        assert_eq!(names(r.json()), ["Alpha", "alphabet"]);
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
            assert_eq!(r.status(), 400, "{query}");
            let error = r.json::<Value>()["error"].as_str().unwrap().to_owned();
            assert!(error.contains(needle), "{query}: {error}");
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
