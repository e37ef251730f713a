//! The async ORM: one model and its migration (`migrations/blog/`, written by
//! `makemigrations`), then filtering, ordering, `F` updates and an aggregate from views.
//!
//! `cargo run -p example-orm -- runserver` (it migrates `db.sqlite3` first, and says so).

use canter::orm::aggregates::Sum;
use canter::orm::{Model, Orm};
use canter::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(Model, Serialize, Deserialize, Debug, Clone)]
#[model(app = "blog")] // table blog_article
struct Article {
    #[serde(default)]
    id: i64, // 0 = not saved yet
    #[field(max_length = 200)]
    title: String,
    #[serde(default)]
    views: i64,
}

/// GET: the ten most read articles (`?q=` filters titles); POST: a new one.
async fn articles(mut req: Request) -> Result<Response> {
    if req.method() == Method::POST {
        let article: Article = req.json().await?;
        let article = Article::objects()
            .create(article)
            .await
            .map_err(|e| e.into_http())?;
        return Ok(JsonResponse::new(article).status(201).into_response());
    }
    let mut query = Article::objects().order_by([Article::views.desc(), Article::id.asc()]);
    if let Some(q) = req.query_param("q") {
        query = query.filter(Article::title.icontains(q)); // lazy: nothing sent yet
    }
    let found = query.limit(10).await.map_err(|e| e.into_http())?;
    Ok(JsonResponse::new(found).into_response())
}

/// POST `articles/<id>/read/`: `views = views + 1` in the database (no lost updates).
async fn read(Path(id): Path<i64>) -> Result<JsonResponse> {
    let rows = Article::objects().filter(Article::id.eq(id));
    let changed = rows
        .update([Article::views.set(Article::views.f() + 1)])
        .await;
    if changed.map_err(|e| e.into_http())? == 0 {
        return Err(Error::not_found(format!("no article {id}")));
    }
    let total = Article::objects().aggregate([Sum::of(Article::views).named("all_views")]);
    Ok(JsonResponse::new(json!(total
        .await
        .map_err(|e| e.into_http())?)))
}

/// Where `makemigrations` writes and `migrate` reads.
const MIGRATIONS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");

fn app() -> App {
    App::new()
        .settings_toml("debug = true\n[databases.default]\nurl = \"sqlite://db.sqlite3\"")
        .plugin(Orm::new().model::<Article>().migrations_dir(MIGRATIONS))
        .urls(vec![
            path("articles/", articles).name("articles"),
            path("articles/<int:id>/read/", read).name("article-read"),
        ])
}

fn main() -> std::process::ExitCode {
    app().main()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use canter::orm::{migrations::migrate_all, Databases};
    use canter::test::TestClient;
    use serde_json::{json, Value};

    #[tokio::test]
    async fn articles_are_stored_filtered_and_counted() {
        // A database of the test's own, migrated as `migrate` would.
        let databases = Arc::new(Databases::single("sqlite::memory:").unwrap());
        databases
            .scope(async {
                migrate_all(std::path::Path::new(super::MIGRATIONS), "default")
                    .await
                    .unwrap();
                let client = TestClient::new(super::app());
                for title in ["Async views", "Async ORM", "Channels"] {
                    let r = client
                        .post_json("/articles/", &json!({"title": title}))
                        .await;
                    assert_eq!(r.status(), 201, "{}", r.text());
                }
                let r = client.post("/articles/2/read/").await;
                assert_eq!(r.json::<Value>(), json!({"all_views": 1}));
                let found: Value = client.get("/articles/?q=async").await.json();
                assert_eq!(found[0]["title"], "Async ORM"); // most read first
                assert_eq!(found.as_array().unwrap().len(), 2);
                assert_eq!(client.post("/articles/9/read/").await.status(), 404);
            })
            .await;
    }
}
