//! Querysets on every backend: creation, retrieval, every lookup, Q/F, ordering, slicing,
//! updates and deletes, bulk operations, values, streaming.

use crate::common;

use canter_orm::chrono::{DateTime, NaiveDate, TimeZone, Utc};
use canter_orm::schema::create_table;
use canter_orm::{Model, ModelExt, OrmError, Q};
use futures_util::StreamExt;
use serde_json::json;

#[derive(Model, Debug, Clone, PartialEq)]
#[model(crate = canter_orm, app = "tests")]
struct Article {
    id: i64,
    #[field(max_length = 100)]
    title: String,
    views: i64,
    published: Option<NaiveDate>,
    created: DateTime<Utc>,
    rating: f64,
    active: bool,
    #[field(choices = ["draft", "live"], db_index)]
    status: String,
    tags: serde_json::Value,
    body: Option<String>,
}

fn article(title: &str, views: i64, published: Option<(i32, u32, u32)>) -> Article {
    Article {
        id: 0,
        title: title.into(),
        views,
        published: published.map(|(y, m, d)| NaiveDate::from_ymd_opt(y, m, d).unwrap()),
        created: Utc.with_ymd_and_hms(2024, 5, 17, 12, 30, 0).unwrap(),
        rating: views as f64 / 10.0,
        active: views % 20 == 0,
        status: "live".into(),
        tags: json!(["rust", "django"]),
        body: None,
    }
}

async fn seed() -> Vec<Article> {
    create_table::<Article>("default").await.unwrap();
    let rows = vec![
        article("Async Django", 10, Some((2024, 1, 15))),
        article("async rust", 20, Some((2024, 6, 1))),
        article("Channels in depth", 30, Some((2023, 6, 30))),
        article("Celery 100% explained_", 40, None),
        article("Mixed CASE Title", 50, Some((2022, 12, 31))),
    ];
    Article::objects().bulk_create(rows).await.unwrap()
}

fn titles(rows: &[Article]) -> Vec<&str> {
    rows.iter().map(|a| a.title.as_str()).collect()
}

on_every_backend! {
    async fn create_get_first_last_count_exists(vendor) {
        let created = seed().await;
        assert!(created.iter().all(|a| a.id > 0), "bulk_create returns keys");
        let ids: Vec<i64> = created.iter().map(|a| a.id).collect();
        assert_eq!(ids.windows(2).filter(|w| w[0] < w[1]).count(), 4, "in insertion order");

        let one = Article::objects().create(article("Fresh", 60, None)).await.unwrap();
        assert!(one.id > created[4].id);
        let fetched = Article::objects().filter(Article::id.eq(one.id)).get().await.unwrap();
        assert_eq!(fetched, one, "every field round-trips on {vendor:?}");

        assert_eq!(Article::objects().count().await.unwrap(), 6);
        assert!(Article::objects().filter(Article::views.gt(55)).exists().await.unwrap());
        assert!(!Article::objects().filter(Article::views.gt(1000)).exists().await.unwrap());

        // The article's query.
        let first_active = Article::objects().filter(Article::active.eq(true)).first().await.unwrap().unwrap();
        assert_eq!(first_active.title, "async rust");
        let last = Article::objects().last().await.unwrap().unwrap();
        assert_eq!(last.title, "Fresh");
        let none = Article::objects().filter(Article::views.lt(0)).first().await.unwrap();
        assert!(none.is_none());

        let err = Article::objects().filter(Article::views.lt(0)).get().await.unwrap_err();
        assert!(matches!(err, OrmError::DoesNotExist { model: "Article" }), "{err}");
        let err = Article::objects().get().await.unwrap_err();
        assert!(matches!(err, OrmError::MultipleObjectsReturned { count: 6, .. }), "{err}");

        let all: Vec<Article> = Article::objects().await.unwrap();
        assert_eq!(all.len(), 6);
        assert!(Article::objects().contains(&one).await.unwrap());
        assert_eq!(Article::objects().earliest(Article::views).await.unwrap().views, 10);
        assert_eq!(Article::objects().latest(Article::created).await.unwrap().created, one.created);
    }
}

on_every_backend! {
    async fn text_lookups(vendor) {
        seed().await;
        let find = |q: Q<Article>| async move { titles(&Article::objects().filter(q).order_by([Article::id.asc()]).await.unwrap()).into_iter().map(String::from).collect::<Vec<_>>() };
        assert_eq!(find(Article::title.exact("Async Django")).await, ["Async Django"]);
        assert_eq!(find(Article::title.iexact("ASYNC DJANGO")).await, ["Async Django"]);
        assert_eq!(find(Article::title.contains("sync")).await, ["Async Django", "async rust"]);
        assert_eq!(find(Article::title.contains("ASYNC")).await, Vec::<String>::new(), "contains is case-sensitive on {vendor:?}");
        assert_eq!(find(Article::title.icontains("ASYNC")).await, ["Async Django", "async rust"]);
        assert_eq!(find(Article::title.startswith("async")).await, ["async rust"]);
        assert_eq!(find(Article::title.istartswith("async")).await, ["Async Django", "async rust"]);
        assert_eq!(find(Article::title.endswith("Title")).await, ["Mixed CASE Title"]);
        assert_eq!(find(Article::title.iendswith("title")).await, ["Mixed CASE Title"]);
        // LIKE/GLOB wildcards in values are literal.
        assert_eq!(find(Article::title.contains("100%")).await, ["Celery 100% explained_"]);
        assert_eq!(find(Article::title.icontains("%")).await, ["Celery 100% explained_"]);
        assert_eq!(find(Article::title.iendswith("_")).await, ["Celery 100% explained_"]);
        assert_eq!(find(Article::title.contains("*")).await, Vec::<String>::new());
        assert_eq!(find(Article::title.regex("^[A-Z][a-z]+ [a-z]")).await, ["Channels in depth"]);
        assert_eq!(find(Article::title.regex("[0-9]+%")).await, ["Celery 100% explained_"]);
        assert_eq!(find(Article::title.iregex("^mixed")).await, ["Mixed CASE Title"]);
    }
}

on_every_backend! {
    async fn comparison_in_range_isnull_and_date_lookups(vendor) {
        seed().await;
        let views = |q: Q<Article>| async move { Article::objects().filter(q).order_by([Article::views.asc()]).await.unwrap().iter().map(|a| a.views).collect::<Vec<_>>() };
        assert_eq!(views(Article::views.gt(30)).await, [40, 50]);
        assert_eq!(views(Article::views.gte(30)).await, [30, 40, 50]);
        assert_eq!(views(Article::views.lt(20)).await, [10]);
        assert_eq!(views(Article::views.lte(20)).await, [10, 20]);
        assert_eq!(views(Article::views.in_([10, 50, 99])).await, [10, 50]);
        assert_eq!(views(Article::views.in_(Vec::<i64>::new())).await, Vec::<i64>::new());
        assert_eq!(views(Article::views.range(20, 40)).await, [20, 30, 40]);
        assert_eq!(views(Article::published.isnull(true)).await, [40]);
        assert_eq!(views(Article::published.isnull(false)).await, [10, 20, 30, 50]);
        assert_eq!(views(Article::body.isnull(true)).await, [10, 20, 30, 40, 50]);
        assert_eq!(views(Article::published.year().exact(2024)).await, [10, 20]);
        assert_eq!(views(Article::published.month().exact(6)).await, [20, 30]);
        assert_eq!(views(Article::published.day().gte(30)).await, [30, 50]);
        assert_eq!(views(Article::created.year().exact(2024)).await, [10, 20, 30, 40, 50]);
        assert_eq!(views(Article::published.gt(NaiveDate::from_ymd_opt(2024, 1, 1).unwrap())).await, [10, 20]);
        assert_eq!(views(Article::rating.gte(3.5)).await, [40, 50]);
        assert_eq!(views(Article::active.eq(true)).await, [20, 40]);
        assert_eq!(views(Article::active.eq(false)).await, [10, 30, 50]);
    }
}

on_every_backend! {
    async fn q_objects_exclude_and_f_expressions(vendor) {
        seed().await;
        let views = |qs: canter_orm::QuerySet<Article>| async move { qs.order_by([Article::views.asc()]).await.unwrap().iter().map(|a| a.views).collect::<Vec<_>>() };
        assert_eq!(views(Article::objects().filter(Article::views.lt(20) | Article::views.gt(40))).await, [10, 50]);
        assert_eq!(views(Article::objects().filter(Article::views.gt(10) & !Article::title.icontains("async"))).await, [30, 40, 50]);
        assert_eq!(views(Article::objects().exclude(Article::published.isnull(true))).await, [10, 20, 30, 50]);
        assert_eq!(views(Article::objects().filter(Article::views.gt(10)).filter(Article::views.lt(40))).await, [20, 30]);
        assert_eq!(views(Article::objects().filter(Q::all())).await.len(), 5);
        assert_eq!(views(Article::objects().filter(!Q::all())).await.len(), 0);

        // F in a filter: views >= views * 2 - 30 holds just for views <= 30.
        assert_eq!(views(Article::objects().filter(Article::views.gte(Article::views.f() * 2 - 30))).await, [10, 20, 30]);
        assert_eq!(views(Article::objects().filter(Article::views.lt(Article::views.f() * 2 - 30))).await, [40, 50]);
        // The F side is the database's value per row, not a constant: views = views matches all.
        assert_eq!(views(Article::objects().filter(Article::views.eq(Article::views.f()))).await.len(), 5);

        // F in an update: views = views + 1, atomically in the database.
        let n = Article::objects().filter(Article::views.gte(30)).update([Article::views.set(Article::views.f() + 1)]).await.unwrap();
        assert_eq!(n, 3);
        assert_eq!(views(Article::objects()).await, [10, 20, 31, 41, 51]);
        let n = Article::objects().update([Article::views.set(Article::views.f() * 2), Article::status.set("draft")]).await.unwrap();
        assert_eq!(n, 5);
        assert_eq!(views(Article::objects()).await, [20, 40, 62, 82, 102]);
        assert_eq!(Article::objects().filter(Article::status.eq("draft")).count().await.unwrap(), 5);
    }
}

on_every_backend! {
    async fn ordering_slicing_distinct(vendor) {
        seed().await;
        let by = |qs: canter_orm::QuerySet<Article>| async move { qs.await.unwrap().iter().map(|a| a.views).collect::<Vec<_>>() };
        assert_eq!(by(Article::objects().order_by([Article::views.desc()])).await, [50, 40, 30, 20, 10]);
        assert_eq!(by(Article::objects().order_by([Article::active.desc(), Article::views.asc()])).await, [20, 40, 10, 30, 50]);
        assert_eq!(by(Article::objects().order_by([Article::views.asc()]).slice(1..3)).await, [20, 30]);
        assert_eq!(by(Article::objects().order_by([Article::views.asc()]).offset(3)).await, [40, 50]);
        assert_eq!(by(Article::objects().order_by([Article::views.asc()]).limit(2)).await, [10, 20]);
        assert_eq!(Article::objects().order_by([Article::views.asc()]).slice(1..3).count().await.unwrap(), 2);
        let random = Article::objects().order_by([canter_orm::OrderBy::random()]);
        let (sql, _) = random.sql().unwrap();
        assert!(sql.contains("ORDER BY RANDOM()") || sql.contains("ORDER BY RAND()"), "{sql}");
        // Over 30 runs the 5 rows come in more than one order (all alike: 1 in 120^29).
        let mut orders = std::collections::BTreeSet::new();
        for _ in 0..30 {
            let order = by(random.clone()).await;
            let mut sorted = order.clone();
            sorted.sort();
            assert_eq!(sorted, [10, 20, 30, 40, 50]);
            orders.insert(order);
        }
        assert!(orders.len() > 1, "random ordering gave one order 30 times on {vendor:?}");
        let names = Article::objects().order_by_names(&["-views"]).unwrap();
        assert_eq!(by(names).await, [50, 40, 30, 20, 10]);
        assert!(Article::objects().order_by_names(&["views; DROP TABLE x"]).is_err());
        let statuses = Article::objects().distinct().values(&["status"]).await.unwrap();
        assert_eq!(statuses, vec![serde_json::Map::from_iter([("status".to_owned(), json!("live"))])]);
        assert!(Article::objects().limit(2).delete().await.is_err(), "no delete on a slice (Django's rule)");
    }
}

on_every_backend! {
    async fn instances_save_delete_refresh(vendor) {
        seed().await;
        let mut a = article("New one", 7, None);
        assert_eq!(a.id, 0);
        a.save().await.unwrap();
        assert!(a.id > 0, "insert sets the id");
        a.title = "Renamed".into();
        a.save().await.unwrap();
        assert_eq!(Article::objects().filter(Article::id.eq(a.id)).get().await.unwrap().title, "Renamed");
        assert_eq!(Article::objects().count().await.unwrap(), 6, "second save updated");

        let mut stale = a.clone();
        Article::objects().filter(Article::id.eq(a.id)).update([Article::views.set(99)]).await.unwrap();
        stale.refresh_from_db().await.unwrap();
        assert_eq!(stale.views, 99);

        assert_eq!(a.delete().await.unwrap(), 1);
        assert_eq!(Article::objects().count().await.unwrap(), 5);
        assert_eq!(Article::objects().filter(Article::views.lt(25)).delete().await.unwrap(), 2);
        assert_eq!(Article::objects().count().await.unwrap(), 3);
    }
}

on_every_backend! {
    async fn get_or_create_and_update_or_create(vendor) {
        seed().await;
        let (found, created) = Article::objects().filter(Article::title.eq("async rust")).get_or_create(article("async rust", 0, None)).await.unwrap();
        assert!(!created);
        assert_eq!(found.views, 20);
        let (made, created) = Article::objects().filter(Article::title.eq("brand new")).get_or_create(article("brand new", 1, None)).await.unwrap();
        assert!(created && made.id > 0);

        let (updated, created) = Article::objects().filter(Article::title.eq("brand new")).update_or_create(article("brand new", 77, None)).await.unwrap();
        assert!(!created);
        assert_eq!(updated.id, made.id);
        assert_eq!(Article::objects().filter(Article::id.eq(made.id)).get().await.unwrap().views, 77);
        let (_, created) = Article::objects().filter(Article::title.eq("another")).update_or_create(article("another", 5, None)).await.unwrap();
        assert!(created);
    }
}

on_every_backend! {
    async fn bulk_create_in_batches_and_stream(vendor) {
        create_table::<Article>("default").await.unwrap();
        let rows: Vec<Article> = (0..2500).map(|i| article(&format!("bulk {i}"), i, None)).collect();
        let created = Article::objects().bulk_create(rows).await.unwrap();
        assert_eq!(created.len(), 2500);
        let mut ids: Vec<i64> = created.iter().map(|a| a.id).collect();
        ids.dedup();
        assert_eq!(ids.len(), 2500);
        assert_eq!(Article::objects().count().await.unwrap(), 2500);

        let mut stream = Article::objects().filter(Article::views.gte(1000)).order_by([Article::views.asc()]).stream();
        let mut seen = 0;
        let mut last = -1;
        while let Some(row) = stream.next().await {
            let row = row.unwrap();
            assert!(row.views > last);
            last = row.views;
            seen += 1;
        }
        assert_eq!(seen, 1500);
    }
}

on_every_backend! {
    async fn values_params_and_explain(vendor) {
        seed().await;
        let rows = Article::objects().filter(Article::views.eq(10)).values(&["title", "views", "active", "published"]).await.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0]["title"], "Async Django");
        assert_eq!(rows[0]["views"], 10);
        assert_eq!(rows[0]["active"], false);
        assert!(rows[0]["published"].as_str().unwrap().starts_with("2024-01-15"));

        let qs = Article::objects().filter_params([("title__icontains", "ASYNC"), ("views__gte", "15")]).unwrap();
        assert_eq!(titles(&qs.await.unwrap()), ["async rust"]);
        let qs = Article::objects().filter_params([("published__year", "2024"), ("active", "true")]).unwrap();
        assert_eq!(titles(&qs.await.unwrap()), ["async rust"]);
        let qs = Article::objects().filter_params([("views__in", "10,30")]).unwrap();
        assert_eq!(qs.count().await.unwrap(), 2);

        let err = Article::objects().filter_params([("nope__exact", "1")]).unwrap_err().to_string();
        assert!(err.contains("no field \"nope\""), "{err}");
        let err = Article::objects().filter_params([("title__bogus", "1")]).unwrap_err().to_string();
        assert!(err.contains("unknown lookup \"bogus\""), "{err}");
        let err = Article::objects().filter_params([("views", "ten")]).unwrap_err().to_string();
        assert!(err.contains("not an integer"), "{err}");
        let err = Article::objects().filter_params([("views__icontains", "1")]).unwrap_err().to_string();
        assert!(err.contains("text field"), "{err}");
        assert!(Article::objects().values(&["nope"]).await.is_err());

        let plan = Article::objects().filter(Article::views.eq(10)).explain().await.unwrap();
        assert!(plan.contains("tests_article"), "the plan names the table on {vendor:?}: {plan}");
    }
}

on_every_backend! {
    async fn validation_before_writes(vendor) {
        create_table::<Article>("default").await.unwrap();
        let mut too_long = article(&"x".repeat(101), 1, None);
        let err = Article::objects().create(too_long.clone()).await.unwrap_err();
        match err {
            OrmError::Validation(v) => assert!(v.fields["title"][0].contains("at most 100"), "{v}"),
            other => panic!("{other}"),
        }
        too_long.title = "ok".into();
        too_long.status = "published".into();
        let err = too_long.save().await.unwrap_err().to_string();
        assert!(err.contains("status") && err.contains("not a valid choice"), "{err}");
        assert_eq!(Article::objects().count().await.unwrap(), 0, "nothing was written");
    }
}

#[derive(Model, Debug, Clone)]
#[model(crate = canter_orm, app = "tests")]
struct Tag {
    id: i64,
    #[field(unique, max_length = 30)]
    name: String,
}

on_every_backend! {
    async fn unique_violations_are_integrity_errors(vendor) {
        create_table::<Tag>("default").await.unwrap();
        Tag::objects().create(Tag { id: 0, name: "rust".into() }).await.unwrap();
        let err = Tag::objects().create(Tag { id: 0, name: "rust".into() }).await.unwrap_err();
        assert!(matches!(err, OrmError::Integrity { .. }), "{err}");
        assert_eq!(err.into_http().status(), 409);
        // get_or_create answers the race with the existing row.
        let (tag, created) = Tag::objects().filter(Tag::name.eq("rust")).get_or_create(Tag { id: 0, name: "rust".into() }).await.unwrap();
        assert!(!created && tag.id > 0);
    }
}

on_every_backend! {
    async fn get_or_create_answers_a_lost_race_with_the_winners_row(vendor) {
        create_table::<Tag>("default").await.unwrap();
        // The winner inserts "race" in a transaction it holds open; the loser's get() misses
        // the uncommitted row, its INSERT then waits on the winner (the unique index on
        // PostgreSQL, the write lock on SQLite) and fails once the winner commits: the
        // integrity-error branch answers with the winner's row.
        let winner = async {
            canter_orm::atomic(async {
                let tag = Tag::objects().create(Tag { id: 0, name: "race".into() }).await?;
                tokio::time::sleep(std::time::Duration::from_millis(600)).await;
                Ok::<_, OrmError>(tag)
            })
            .await
        };
        let loser = async {
            tokio::time::sleep(std::time::Duration::from_millis(150)).await;
            let started = std::time::Instant::now();
            let result = Tag::objects().filter(Tag::name.eq("race")).get_or_create(Tag { id: 0, name: "race".into() }).await;
            (result, started.elapsed())
        };
        let (won, (lost, waited)) = tokio::join!(winner, loser);
        let won = won.unwrap();
        let (found, created) = lost.unwrap();
        assert!(!created, "{vendor:?}");
        assert_eq!(found.id, won.id);
        assert!(waited >= std::time::Duration::from_millis(300), "the loser's insert waited for the winner ({waited:?}), so it passed get()");
        assert_eq!(Tag::objects().count().await.unwrap(), 1);

        // Many concurrent callers: one creates, all get the same row.
        let calls = (0..8).map(|_| async {
            Tag::objects().filter(Tag::name.eq("crowd")).get_or_create(Tag { id: 0, name: "crowd".into() }).await.unwrap()
        });
        let results = futures_util::future::join_all(calls).await;
        assert_eq!(results.iter().filter(|(_, created)| *created).count(), 1, "{vendor:?}");
        assert!(results.iter().all(|(tag, _)| tag.id == results[0].0.id));
        assert_eq!(Tag::objects().filter(Tag::name.eq("crowd")).count().await.unwrap(), 1);

        // An integrity error not caused by a concurrent creator of the row looked for is the
        // caller's (Django re-raises it): here the defaults collide with another row.
        let err = Tag::objects().filter(Tag::name.eq("absent")).get_or_create(Tag { id: 0, name: "race".into() }).await.unwrap_err();
        assert!(matches!(err, OrmError::Integrity { .. }), "{err}");
    }
}
