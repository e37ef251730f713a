//! Migrations end to end on every backend: a model evolved through eight versions (add field
//! with default, rename, change type, add index and nullable field, drop field, add foreign key,
//! add many-to-many) with rows at
//! every step, data surviving every step and every rollback; concurrent `migrate`; bad files.

use crate::common;

use canter_orm::chrono::NaiveDate;
use canter_orm::migrations::{
    make_migrations, Executor, MakeOptions, MigrationSet, RenameHint, Target,
};
use canter_orm::{Model, ModelMeta};

mod v1 {
    #[derive(canter_orm::Model, Debug, Clone)]
    #[model(crate = canter_orm, app = "evo", name = "Article", table = "evo_article")]
    pub struct Article {
        pub id: i64,
        #[field(max_length = 100)]
        pub title: String,
    }
}
mod v2 {
    // Adds a field with a default.
    #[derive(canter_orm::Model, Debug, Clone)]
    #[model(crate = canter_orm, app = "evo", name = "Article", table = "evo_article")]
    pub struct Article {
        pub id: i64,
        #[field(max_length = 100)]
        pub title: String,
        #[field(default = 0)]
        pub views: i64,
    }
}
mod v3 {
    // Renames title → headline.
    #[derive(canter_orm::Model, Debug, Clone)]
    #[model(crate = canter_orm, app = "evo", name = "Article", table = "evo_article")]
    pub struct Article {
        pub id: i64,
        #[field(max_length = 100)]
        pub headline: String,
        #[field(default = 0)]
        pub views: i64,
    }
}
mod v4 {
    // Changes a type: views becomes a float.
    #[derive(canter_orm::Model, Debug, Clone)]
    #[model(crate = canter_orm, app = "evo", name = "Article", table = "evo_article")]
    pub struct Article {
        pub id: i64,
        #[field(max_length = 100)]
        pub headline: String,
        #[field(default = 0.0)]
        pub views: f64,
    }
}
mod v5 {
    // Adds a nullable field, an index, and a longer max_length.
    #[derive(canter_orm::Model, Debug, Clone)]
    #[model(crate = canter_orm, app = "evo", name = "Article", table = "evo_article")]
    pub struct Article {
        pub id: i64,
        #[field(max_length = 200, db_index)]
        pub headline: String,
        #[field(default = 0.0)]
        pub views: f64,
        pub published: Option<canter_orm::chrono::NaiveDate>,
    }
}
mod v6 {
    // Drops a field.
    #[derive(canter_orm::Model, Debug, Clone)]
    #[model(crate = canter_orm, app = "evo", name = "Article", table = "evo_article")]
    pub struct Article {
        pub id: i64,
        #[field(max_length = 200, db_index)]
        pub headline: String,
        pub published: Option<canter_orm::chrono::NaiveDate>,
    }
}

mod v7 {
    // Adds a foreign key (to a model created in the same migration).
    #[derive(canter_orm::Model, Debug, Clone)]
    #[model(crate = canter_orm, app = "evo", name = "Category", table = "evo_category")]
    pub struct Category {
        pub id: i64,
        #[field(max_length = 40)]
        pub label: String,
    }

    #[derive(canter_orm::Model, Debug, Clone)]
    #[model(crate = canter_orm, app = "evo", name = "Article", table = "evo_article")]
    pub struct Article {
        pub id: i64,
        #[field(max_length = 200, db_index)]
        pub headline: String,
        pub published: Option<canter_orm::chrono::NaiveDate>,
        #[field(on_delete = "set_null")]
        pub category: Option<canter_orm::ForeignKey<Category>>,
    }
}
mod v8 {
    // Adds a many-to-many.
    pub use super::v7::Category;

    #[derive(canter_orm::Model, Debug, Clone)]
    #[model(crate = canter_orm, app = "evo", name = "Article", table = "evo_article")]
    pub struct Article {
        pub id: i64,
        #[field(max_length = 200, db_index)]
        pub headline: String,
        pub published: Option<canter_orm::chrono::NaiveDate>,
        #[field(on_delete = "set_null")]
        pub category: Option<canter_orm::ForeignKey<Category>>,
        pub related: canter_orm::ManyToMany<Category>,
    }
}

fn temp_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "canter-migrations-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// makemigrations for `meta` into `dir`; returns the new migration's name.
fn make(dir: &std::path::Path, meta: &'static ModelMeta, renames: &[&str]) -> String {
    make_all(dir, &[meta], renames)
}

fn make_all(dir: &std::path::Path, metas: &[&'static ModelMeta], renames: &[&str]) -> String {
    let set = MigrationSet::load(dir).unwrap();
    let options = MakeOptions {
        renames: renames
            .iter()
            .map(|r| RenameHint::parse(r).unwrap())
            .collect(),
        ..Default::default()
    };
    let made = make_migrations(&set, metas, &options).unwrap();
    assert_eq!(made.len(), 1, "one migration for the one app");
    set.write(&made[0]).unwrap();
    made[0].name.clone()
}

/// Whether the current default database has an index of this name (in the test's schema).
async fn has_index(name: &str) -> bool {
    let db = canter_orm::database("default").unwrap();
    match db.pool() {
        canter_orm::backends::Pool::Sqlite(pool) => {
            sqlx::query("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?")
                .bind(name)
                .fetch_optional(pool)
                .await
                .unwrap()
                .is_some()
        }
        canter_orm::backends::Pool::Postgres(pool) => sqlx::query(
            "SELECT 1 FROM pg_indexes WHERE schemaname = current_schema() AND indexname = $1",
        )
        .bind(name)
        .fetch_optional(pool)
        .await
        .unwrap()
        .is_some(),
    }
}

async fn migrate(dir: &std::path::Path, target: Target) -> Vec<String> {
    Executor::new(MigrationSet::load(dir).unwrap(), "default")
        .migrate(&target)
        .await
        .unwrap()
}

fn to(name: &str) -> Target {
    Target::App {
        app: "evo".into(),
        name: Some(name.into()),
    }
}

on_every_backend! {
    async fn a_model_evolves_through_eight_versions_and_back(vendor) {
        let dir = temp_dir();
        let mut names = Vec::new();

        names.push(make(&dir, v1::Article::meta(), &[]));
        assert_eq!(names[0], "0001_initial");
        migrate(&dir, Target::Latest).await;
        v1::Article::objects().create(v1::Article { id: 0, title: "first".into() }).await.unwrap();

        names.push(make(&dir, v2::Article::meta(), &[]));
        migrate(&dir, Target::Latest).await;
        let rows = v2::Article::objects().await.unwrap();
        assert_eq!((rows[0].title.as_str(), rows[0].views), ("first", 0), "the old row got the default");
        v2::Article::objects().create(v2::Article { id: 0, title: "second".into(), views: 7 }).await.unwrap();

        // A rename is refused without a hint, then made with one.
        let set = MigrationSet::load(&dir).unwrap();
        let refused = make_migrations(&set, &[v3::Article::meta()], &MakeOptions::default()).unwrap_err().to_string();
        assert!(refused.contains("--rename Article.title=headline"), "{refused}");
        names.push(make(&dir, v3::Article::meta(), &["Article.title=headline"]));
        migrate(&dir, Target::Latest).await;
        let rows = v3::Article::objects().order_by([v3::Article::id.asc()]).await.unwrap();
        assert_eq!(rows.iter().map(|r| (r.headline.as_str(), r.views)).collect::<Vec<_>>(), [("first", 0), ("second", 7)]);

        names.push(make(&dir, v4::Article::meta(), &[]));
        migrate(&dir, Target::Latest).await;
        let rows = v4::Article::objects().order_by([v4::Article::id.asc()]).await.unwrap();
        assert_eq!(rows.iter().map(|r| r.views).collect::<Vec<_>>(), [0.0, 7.0], "values converted on {vendor:?}");
        v4::Article::objects().create(v4::Article { id: 0, headline: "third".into(), views: 2.5 }).await.unwrap();

        assert!(!has_index("evo_article_headline_idx").await);
        names.push(make(&dir, v5::Article::meta(), &[]));
        migrate(&dir, Target::Latest).await;
        assert!(has_index("evo_article_headline_idx").await, "db_index added: the index is created");
        let long = "x".repeat(150);
        v5::Article::objects()
            .create(v5::Article { id: 0, headline: long.clone(), views: 1.0, published: NaiveDate::from_ymd_opt(2024, 2, 29) })
            .await
            .unwrap();
        assert_eq!(v5::Article::objects().count().await.unwrap(), 4);

        names.push(make(&dir, v6::Article::meta(), &[]));
        migrate(&dir, Target::Latest).await;
        let rows = v6::Article::objects().order_by([v6::Article::id.asc()]).await.unwrap();
        assert_eq!(rows.iter().map(|r| r.headline.clone()).collect::<Vec<_>>(), ["first".to_string(), "second".into(), "third".into(), long.clone()]);
        assert_eq!(rows[3].published, NaiveDate::from_ymd_opt(2024, 2, 29));
        assert_eq!(names.len(), 6);

        // Version 7: a foreign key to a new model (created first, in the same migration).
        names.push(make_all(&dir, &[v7::Category::meta(), v7::Article::meta()], &[]));
        migrate(&dir, Target::Latest).await;
        let news = v7::Category::objects().create(v7::Category { id: 0, label: "news".into() }).await.unwrap();
        let n = v7::Article::objects().filter(v7::Article::headline.eq("first")).update([v7::Article::category.set(canter_orm::ForeignKey::to(&news))]).await.unwrap();
        assert_eq!(n, 1);
        let first = v7::Article::objects().select_related(v7::Article::category).filter(v7::Article::headline.eq("first")).get().await.unwrap();
        assert_eq!(first.category.unwrap().cached().unwrap().label, "news");
        assert_eq!(v7::Article::objects().count().await.unwrap(), 4, "old rows kept, with a NULL key");

        // Version 8: a many-to-many (its join table).
        names.push(make_all(&dir, &[v8::Category::meta(), v8::Article::meta()], &[]));
        migrate(&dir, Target::Latest).await;
        let article = v8::Article::objects().filter(v8::Article::headline.eq("second")).get().await.unwrap();
        article.related.add(&[&news]).await.unwrap();
        assert_eq!(article.related.all().count().await.unwrap(), 1);

        // Back through the relations: the join table goes, then the foreign key; rows stay.
        migrate(&dir, to(&names[6])).await;
        assert_eq!(v7::Article::objects().count().await.unwrap(), 4);
        assert_eq!(v7::Article::objects().filter(v7::Article::category.isnull(false)).count().await.unwrap(), 1);
        migrate(&dir, to(&names[5])).await;

        // Nothing left to make; showmigrations-style state: all applied.
        let set = MigrationSet::load(&dir).unwrap();
        assert!(make_migrations(&set, &[v8::Category::meta(), v8::Article::meta()], &MakeOptions::default()).unwrap().is_empty());
        // Eight files; the last two were just rolled back.
        assert_eq!(Executor::new(set, "default").applied().await.unwrap().len(), 6);

        // Back, one version at a time: the rows survive every rollback.
        migrate(&dir, to(&names[4])).await;
        if vendor == canter_orm::Vendor::Postgres {
            // Back to max_length 100 would cut the 150-character headline: refused, not truncated.
            let err = Executor::new(MigrationSet::load(&dir).unwrap(), "default").migrate(&to(&names[3])).await.unwrap_err().to_string();
            assert!(err.contains(&names[4]) && err.contains("too long"), "{err}");
            assert_eq!(v5::Article::objects().filter(v5::Article::headline.eq(long.as_str())).count().await.unwrap(), 1, "nothing was cut");
        }
        let long = "x".repeat(90);
        v5::Article::objects().filter(v5::Article::id.eq(rows[3].id)).update([v5::Article::headline.set(long.as_str())]).await.unwrap();
        let rows = v5::Article::objects().order_by([v5::Article::id.asc()]).await.unwrap();
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[3].views, 0.0, "the dropped column comes back with its default");
        assert!(has_index("evo_article_headline_idx").await, "kept through every later step");
        migrate(&dir, to(&names[3])).await;
        assert!(!has_index("evo_article_headline_idx").await, "rolled back: the index is dropped");
        let rows = v4::Article::objects().order_by([v4::Article::id.asc()]).await.unwrap();
        assert_eq!(rows.iter().map(|r| r.headline.clone()).collect::<Vec<_>>(), ["first".to_string(), "second".into(), "third".into(), long.clone()]);
        migrate(&dir, to(&names[2])).await;
        let rows = v3::Article::objects().order_by([v3::Article::id.asc()]).await.unwrap();
        // `views` was dropped by version 6: what it held is gone (as in Django); the rest stays.
        assert_eq!(rows.iter().map(|r| r.views).collect::<Vec<_>>(), [0, 0, 0, 0]);
        assert_eq!(rows[1].headline, "second");
        migrate(&dir, to(&names[1])).await;
        let rows = v2::Article::objects().order_by([v2::Article::id.asc()]).await.unwrap();
        assert_eq!(rows[0].title, "first", "the rename was reversed");
        migrate(&dir, to(&names[0])).await;
        assert_eq!(v1::Article::objects().count().await.unwrap(), 4);
        migrate(&dir, Target::App { app: "evo".into(), name: None }).await;
        assert!(v1::Article::objects().count().await.is_err(), "zero unapplies everything: the table is gone");
        // And forward again in one go.
        migrate(&dir, Target::Latest).await;
        assert_eq!(v6::Article::objects().count().await.unwrap(), 0);
        std::fs::remove_dir_all(&dir).ok();
    }
}

on_every_backend! {
    async fn two_migrate_runs_at_once_apply_each_migration_once(vendor) {
        let dir = temp_dir();
        make(&dir, v1::Article::meta(), &[]);
        make(&dir, v2::Article::meta(), &[]);
        let scope = canter_orm::db::current().unwrap();
        let runs: Vec<_> = (0..2)
            .map(|_| {
                let dir = dir.clone();
                tokio::spawn(scope.clone().scope(async move {
                    Executor::new(MigrationSet::load(&dir).unwrap(), "default").migrate(&Target::Latest).await
                }))
            })
            .collect();
        let mut applied_lines = 0;
        for run in runs {
            let log = run.await.unwrap().unwrap();
            applied_lines += log.iter().filter(|l| l.ends_with("OK")).count();
        }
        assert_eq!(applied_lines, 2, "each migration applied exactly once on {vendor:?}");
        let set = MigrationSet::load(&dir).unwrap();
        assert_eq!(Executor::new(set, "default").applied().await.unwrap().len(), 2);
        std::fs::remove_dir_all(&dir).ok();
    }
}

on_every_backend! {
    async fn sql_and_rust_data_migrations_with_their_reverse(vendor) {
        let dir = temp_dir();
        make(&dir, v2::Article::meta(), &[]);
        let functions = canter_orm::migrations::RustMigrations::new()
            .add("evo.bump_views", || async {
                v2::Article::objects().update([v2::Article::views.set(v2::Article::views.f() + 100)]).await?;
                Ok(())
            })
            .add("evo.unbump_views", || async {
                v2::Article::objects().update([v2::Article::views.set(v2::Article::views.f() - 100)]).await?;
                Ok(())
            });
        // The app's Rust migrations, beside the test's database.
        let app = std::sync::Arc::new((*canter_core::services::current().unwrap()).clone().with(functions));
        app.scope(async move {
            let data = canter_orm::migrations::Migration {
                app: "evo".into(),
                name: "0002_data".into(),
                dependencies: vec![("evo".into(), "0001_initial".into())],
                operations: vec![
                    canter_orm::migrations::Operation::RunSql {
                        forward: vec!["INSERT INTO evo_article (title, views) VALUES ('seeded', 1)".into()],
                        backward: Some(vec!["DELETE FROM evo_article WHERE title = 'seeded'".into()]),
                    },
                    canter_orm::migrations::Operation::RunRust { forward: "evo.bump_views".into(), backward: Some("evo.unbump_views".into()) },
                ],
            };
            MigrationSet::load(&dir).unwrap().write(&data).unwrap();
            migrate(&dir, Target::Latest).await;
            let rows = v2::Article::objects().await.unwrap();
            assert_eq!(rows.iter().map(|r| (r.title.as_str(), r.views)).collect::<Vec<_>>(), [("seeded", 101)]);
            migrate(&dir, to("0001_initial")).await;
            assert_eq!(v2::Article::objects().count().await.unwrap(), 0, "both data steps reversed on {vendor:?}");

            // sqlmigrate-style SQL is available for review.
            let set = MigrationSet::load(&dir).unwrap();
            let steps = Executor::new(set, "default").steps(&("evo".into(), "0001_initial".into()), vendor, true).unwrap();
            assert!(format!("{steps:?}").contains("CREATE TABLE \\\"evo_article\\\""), "{steps:?}");
            std::fs::remove_dir_all(&dir).ok();
        }).await;
    }
}

#[test]
fn a_hand_edited_invalid_file_is_named_in_the_error() {
    let dir = temp_dir();
    std::fs::create_dir_all(dir.join("evo")).unwrap();
    let file = dir.join("evo/0001_initial.json");
    std::fs::write(&file, r#"{"app": "evo", "name": "0001_initial", "operations": [{"op": "add_feild", "model": "X"}]}"#).unwrap();
    let err = MigrationSet::load(&dir).unwrap_err().to_string();
    assert!(
        err.contains("0001_initial.json") && err.contains("add_feild"),
        "{err}"
    );

    std::fs::write(&file, r#"{"app": "evo", "name": "0001_initial", "operations": [{"op": "remove_field", "model": "Nope", "name": "x"}]}"#).unwrap();
    let err = MigrationSet::load(&dir).unwrap_err().to_string();
    assert!(
        err.contains("0001_initial.json")
            && err.contains("evo.0001_initial")
            && err.contains("Nope"),
        "a semantic error names the file too: {err}"
    );

    // A misspelt key is an error naming the file and the key (not a silently irreversible
    // migration).
    std::fs::write(&file, r#"{"app": "evo", "name": "0001_initial", "operations": [{"op": "run_sql", "forward": ["SELECT 1"], "backwards": ["SELECT 2"]}]}"#).unwrap();
    let err = MigrationSet::load(&dir).unwrap_err().to_string();
    assert!(
        err.contains("0001_initial.json") && err.contains("backwards"),
        "{err}"
    );
    std::fs::write(&file, r#"{"app": "evo", "name": "0001_initial", "operations": [{"op": "create_model", "name": "X", "table": "x", "fields": [], "check": []}]}"#).unwrap();
    let err = MigrationSet::load(&dir).unwrap_err().to_string();
    assert!(
        err.contains("0001_initial.json") && err.contains("`check`"),
        "{err}"
    );

    std::fs::write(
        &file,
        r#"{"app": "other", "name": "0001_initial", "operations": []}"#,
    )
    .unwrap();
    let err = MigrationSet::load(&dir).unwrap_err().to_string();
    assert!(
        err.contains("0001_initial.json") && err.contains("path says"),
        "{err}"
    );

    std::fs::write(&file, r#"{"app": "evo", "name": "0001_initial", "dependencies": [["evo", "0000_missing"]], "operations": []}"#).unwrap();
    let err = MigrationSet::load(&dir).unwrap_err().to_string();
    assert!(err.contains("0000_missing"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

mod two_apps {
    // App "zy" holds the target; app "ax" (first in the alphabet) points at it.
    #[derive(canter_orm::Model, Debug, Clone)]
    #[model(crate = canter_orm, app = "zy", name = "Owner", table = "zy_owner")]
    pub struct Owner {
        pub id: i64,
        #[field(max_length = 40)]
        pub name: String,
    }

    #[derive(canter_orm::Model, Debug, Clone)]
    #[model(crate = canter_orm, app = "ax", name = "Item", table = "ax_item")]
    pub struct Item {
        pub id: i64,
        #[field(on_delete = "cascade")]
        pub owner: canter_orm::ForeignKey<Owner>,
        pub tags: canter_orm::ManyToMany<Owner>,
    }
}

mod two_apps_v2 {
    // Both apps change at once: zy gets a model, ax a foreign key to it.
    pub use super::two_apps::Owner;

    #[derive(canter_orm::Model, Debug, Clone)]
    #[model(crate = canter_orm, app = "zy", name = "Shelf", table = "zy_shelf")]
    pub struct Shelf {
        pub id: i64,
    }

    #[derive(canter_orm::Model, Debug, Clone)]
    #[model(crate = canter_orm, app = "ax", name = "Item", table = "ax_item")]
    pub struct Item {
        pub id: i64,
        #[field(on_delete = "cascade")]
        pub owner: canter_orm::ForeignKey<Owner>,
        pub tags: canter_orm::ManyToMany<Owner>,
        #[field(on_delete = "set_null")]
        pub shelf: Option<canter_orm::ForeignKey<Shelf>>,
    }
}

fn app_target(app: &str, name: Option<&str>) -> Target {
    Target::App {
        app: app.into(),
        name: name.map(Into::into),
    }
}

on_every_backend! {
    async fn a_foreign_key_to_another_app_depends_on_its_migration(vendor) {
        let dir = temp_dir();
        let set = MigrationSet::load(&dir).unwrap();
        let made = make_migrations(&set, &[two_apps::Item::meta(), two_apps::Owner::meta()], &MakeOptions::default()).unwrap();
        assert_eq!(made.iter().map(|m| (m.app.as_str(), m.name.as_str())).collect::<Vec<_>>(), [("ax", "0001_initial"), ("zy", "0001_initial")]);
        assert_eq!(made[0].dependencies, [("zy".to_string(), "0001_initial".to_string())], "the key (and the join table) to zy.Owner");
        assert!(made[1].dependencies.is_empty());
        for m in &made {
            set.write(m).unwrap();
        }

        // Only ax asked for: zy's migration comes first (PostgreSQL needs its table to exist).
        let log = migrate(&dir, app_target("ax", Some("0001_initial"))).await;
        assert_eq!(log, ["Applying zy.0001_initial... OK", "Applying ax.0001_initial... OK"], "on {vendor:?}");
        let owner = two_apps::Owner::objects().create(two_apps::Owner { id: 0, name: "o".into() }).await.unwrap();
        let item = two_apps::Item::objects().create(two_apps::Item { id: 0, owner: canter_orm::ForeignKey::to(&owner), tags: Default::default() }).await.unwrap();
        item.tags.add(&[&owner]).await.unwrap();
        let dangling = two_apps::Item::objects().create(two_apps::Item { id: 0, owner: canter_orm::ForeignKey::new(999), tags: Default::default() }).await;
        assert!(matches!(dangling, Err(canter_orm::OrmError::Integrity { .. })), "the key is a real constraint");

        // Both apps change together: ax's migration depends on zy's new one, not the old leaf.
        let set = MigrationSet::load(&dir).unwrap();
        let made = make_migrations(&set, &[two_apps_v2::Item::meta(), two_apps_v2::Owner::meta(), two_apps_v2::Shelf::meta()], &MakeOptions::default()).unwrap();
        assert_eq!(made.len(), 2);
        assert_eq!(made[0].app, "ax");
        assert_eq!(made[0].dependencies, [("ax".to_string(), "0001_initial".to_string()), ("zy".to_string(), "0002_shelf".to_string())]);
        for m in &made {
            set.write(m).unwrap();
        }
        let log = migrate(&dir, Target::Latest).await;
        assert_eq!(log, ["Applying zy.0002_shelf... OK", "Applying ax.0002_item_shelf... OK"]);

        // Rolling zy back while ax depends on it is refused, naming the dependent migration.
        let err = Executor::new(MigrationSet::load(&dir).unwrap(), "default").migrate(&app_target("zy", None)).await.unwrap_err().to_string();
        assert!(err.contains("ax.0001_initial depends on it"), "{err}");
        // In reverse order it works: ax first (its keys go), then zy's tables can be dropped.
        let log = migrate(&dir, app_target("ax", None)).await;
        assert_eq!(log, ["Unapplying ax.0002_item_shelf... OK", "Unapplying ax.0001_initial... OK"]);
        let log = migrate(&dir, app_target("zy", None)).await;
        assert_eq!(log, ["Unapplying zy.0002_shelf... OK", "Unapplying zy.0001_initial... OK"]);
        assert!(two_apps::Owner::objects().count().await.is_err(), "every table is gone");
        // And forwards again in one go, in dependency order.
        let log = migrate(&dir, Target::Latest).await;
        assert_eq!(log.len(), 4);
        assert!(log[0].contains("zy.0001") && log[3].contains("ax.0002"), "{log:?}");
        std::fs::remove_dir_all(&dir).ok();
    }
}

/// Every connection the pool holds refuses a key to a row that does not exist (none was left
/// with SQLite's foreign-key enforcement off by a failed migration).
async fn every_pooled_connection_refuses_a_dangling_key() {
    let insert = "INSERT INTO evo_article (headline, category_id) VALUES ('ghost', 999999)";
    let db = canter_orm::database("default").unwrap();
    match db.pool() {
        canter_orm::backends::Pool::Sqlite(pool) => {
            // Holding as many connections as the pool has open gets every idle one.
            let mut held = Vec::new();
            for _ in 0..pool.size().max(1) {
                held.push(pool.acquire().await.unwrap());
            }
            for conn in &mut held {
                let err = sqlx::query(insert).execute(&mut **conn).await;
                assert!(
                    err.is_err(),
                    "a pooled connection let a dangling key through"
                );
            }
        }
        canter_orm::backends::Pool::Postgres(pool) => {
            assert!(sqlx::query(insert).execute(pool).await.is_err());
        }
    }
    let through_orm = v7::Article::objects()
        .create(v7::Article {
            id: 0,
            headline: "ghost".into(),
            published: None,
            category: Some(canter_orm::ForeignKey::new(999_999)),
        })
        .await;
    assert!(
        matches!(through_orm, Err(canter_orm::OrmError::Integrity { .. })),
        "{through_orm:?}"
    );
}

on_every_backend! {
    async fn a_failed_data_migration_leaves_foreign_keys_enforced(vendor) {
        let dir = temp_dir();
        make_all(&dir, &[v7::Category::meta(), v7::Article::meta()], &[]);
        migrate(&dir, Target::Latest).await;
        every_pooled_connection_refuses_a_dangling_key().await;

        let functions = canter_orm::migrations::RustMigrations::new()
            .add("evo.fk_guard_panics", || async {
                v7::Category::objects().create(v7::Category { id: 0, label: "half".into() }).await?;
                panic!("a data migration panics");
            })
            .add("evo.fk_guard_fails", || async {
                v7::Category::objects().create(v7::Category { id: 0, label: "half".into() }).await?;
                Err(canter_orm::OrmError::InvalidLookup("a data migration fails".into()))
            });
        // The app's Rust migrations, beside the test's database.
        let app = std::sync::Arc::new((*canter_core::services::current().unwrap()).clone().with(functions));
        app.scope(async move {
            for (function, panics) in [("evo.fk_guard_panics", true), ("evo.fk_guard_fails", false)] {
                let data = canter_orm::migrations::Migration {
                    app: "evo".into(),
                    name: "0002_data".into(),
                    dependencies: vec![("evo".into(), "0001_initial".into())],
                    operations: vec![canter_orm::migrations::Operation::RunRust { forward: function.into(), backward: None }],
                };
                MigrationSet::load(&dir).unwrap().write(&data).unwrap();
                let scope = canter_orm::db::current().unwrap();
                let dir2 = dir.clone();
                let run = tokio::spawn(scope.scope(async move {
                    Executor::new(MigrationSet::load(&dir2).unwrap(), "default").migrate(&Target::Latest).await
                }))
                .await;
                if panics {
                    assert!(run.unwrap_err().is_panic());
                } else {
                    let err = run.unwrap().unwrap_err().to_string();
                    assert!(err.contains("a data migration fails"), "{err}");
                }
                assert_eq!(v7::Category::objects().count().await.unwrap(), 0, "rolled back on {vendor:?}");
                every_pooled_connection_refuses_a_dangling_key().await;
            }
            std::fs::remove_dir_all(&dir).ok();
        }).await;
    }
}

mod with_tags {
    #[derive(canter_orm::Model, Debug, Clone)]
    #[model(crate = canter_orm, app = "blog", name = "Tag", table = "blog_tag")]
    pub struct Tag {
        pub id: i64,
        #[field(max_length = 20)]
        pub name: String,
    }

    #[derive(canter_orm::Model, Debug, Clone)]
    #[model(crate = canter_orm, app = "blog", name = "Post", table = "blog_post")]
    pub struct Post {
        pub id: i64,
        #[field(max_length = 20)]
        pub title: String,
        pub tags: canter_orm::ManyToMany<Tag>,
    }
}

on_every_backend! {
    async fn a_model_with_a_many_to_many_is_deleted_and_restored(vendor) {
        let dir = temp_dir();
        make_all(&dir, &[with_tags::Tag::meta(), with_tags::Post::meta()], &[]);
        migrate(&dir, Target::Latest).await;
        let tag = with_tags::Tag::objects().create(with_tags::Tag { id: 0, name: "t".into() }).await.unwrap();
        let post = with_tags::Post::objects().create(with_tags::Post { id: 0, title: "p".into(), tags: Default::default() }).await.unwrap();
        post.tags.add(&[&tag]).await.unwrap();

        // Post goes: its join table first (it references blog_post), then the model.
        let deleted = make_all(&dir, &[with_tags::Tag::meta()], &[]);
        let set = MigrationSet::load(&dir).unwrap();
        let ops = &set.get("blog", &deleted).unwrap().operations;
        assert!(
            matches!(&ops[..], [canter_orm::migrations::Operation::DeleteModel { name: a }, canter_orm::migrations::Operation::DeleteModel { name: b }] if a == "Post_tags" && b == "Post"),
            "{ops:?}"
        );
        migrate(&dir, Target::Latest).await;
        assert!(with_tags::Post::objects().count().await.is_err(), "blog_post dropped on {vendor:?}");
        assert_eq!(with_tags::Tag::objects().count().await.unwrap(), 1);

        // Rollback creates blog_post before the join table that references it.
        migrate(&dir, app_target("blog", Some("0001_initial"))).await;
        let post = with_tags::Post::objects().create(with_tags::Post { id: 0, title: "again".into(), tags: Default::default() }).await.unwrap();
        post.tags.add(&[&tag]).await.unwrap();
        assert_eq!(post.tags.all().count().await.unwrap(), 1);
        // And the whole app back to zero and forwards again.
        migrate(&dir, Target::App { app: "blog".into(), name: None }).await;
        migrate(&dir, Target::Latest).await;
        std::fs::remove_dir_all(&dir).ok();
    }
}

mod fk_v0 {
    #[derive(canter_orm::Model, Debug, Clone)]
    #[model(crate = canter_orm, app = "fk", name = "Parent", table = "fk_parent")]
    pub struct Parent {
        pub id: i64,
    }

    // A plain integer in the column a foreign key would use.
    #[derive(canter_orm::Model, Debug, Clone)]
    #[model(crate = canter_orm, app = "fk", name = "Child", table = "fk_child")]
    pub struct Child {
        pub id: i64,
        #[field(db_column = "parent_id")]
        pub parent: i64,
    }
}
mod fk_v1 {
    pub use super::fk_v0::Parent;

    // The integer becomes a protecting foreign key.
    #[derive(canter_orm::Model, Debug, Clone)]
    #[model(crate = canter_orm, app = "fk", name = "Child", table = "fk_child")]
    pub struct Child {
        pub id: i64,
        #[field(on_delete = "protect")]
        pub parent: canter_orm::ForeignKey<Parent>,
    }
}
mod fk_v2 {
    pub use super::fk_v0::Parent;

    // Only on_delete changes.
    #[derive(canter_orm::Model, Debug, Clone)]
    #[model(crate = canter_orm, app = "fk", name = "Child", table = "fk_child")]
    pub struct Child {
        pub id: i64,
        #[field(on_delete = "cascade")]
        pub parent: canter_orm::ForeignKey<Parent>,
    }
}

/// Whether `fk_child` accepts a row pointing at no parent.
async fn accepts_a_dangling_child() -> bool {
    let created = fk_v0::Child::objects()
        .create(fk_v0::Child {
            id: 0,
            parent: 999_999,
        })
        .await;
    match created {
        Ok(child) => {
            fk_v0::Child::objects()
                .filter(fk_v0::Child::id.eq(child.id))
                .delete()
                .await
                .unwrap();
            true
        }
        Err(canter_orm::OrmError::Integrity { .. }) => false,
        Err(other) => panic!("{other}"),
    }
}

on_every_backend! {
    async fn altering_a_foreign_key_changes_the_constraint(vendor) {
        let dir = temp_dir();
        let v0 = make_all(&dir, &[fk_v0::Parent::meta(), fk_v0::Child::meta()], &[]);
        migrate(&dir, Target::Latest).await;
        assert!(accepts_a_dangling_child().await, "a plain integer on {vendor:?}");

        let v1 = make_all(&dir, &[fk_v1::Parent::meta(), fk_v1::Child::meta()], &[]);
        assert!(
            matches!(&MigrationSet::load(&dir).unwrap().get("fk", &v1).unwrap().operations[..], [canter_orm::migrations::Operation::AlterField { .. }]),
            "an AlterField, not a remove and an add"
        );
        migrate(&dir, Target::Latest).await;
        assert!(!accepts_a_dangling_child().await, "now a foreign key on {vendor:?}");
        let parent = fk_v1::Parent::objects().create(fk_v1::Parent { id: 0 }).await.unwrap();
        fk_v1::Child::objects().create(fk_v1::Child { id: 0, parent: canter_orm::ForeignKey::to(&parent) }).await.unwrap();
        let protected = fk_v1::Parent::objects().filter(fk_v1::Parent::id.eq(parent.id)).delete().await;
        assert!(matches!(protected, Err(canter_orm::OrmError::Integrity { .. })), "PROTECT on {vendor:?}: {protected:?}");

        // PROTECT → CASCADE: deleting the parent now deletes its child.
        make_all(&dir, &[fk_v2::Parent::meta(), fk_v2::Child::meta()], &[]);
        migrate(&dir, Target::Latest).await;
        fk_v2::Parent::objects().filter(fk_v2::Parent::id.eq(parent.id)).delete().await.unwrap();
        assert_eq!(fk_v2::Child::objects().count().await.unwrap(), 0, "CASCADE on {vendor:?}");
        assert!(!accepts_a_dangling_child().await);

        // Back to PROTECT, then back to a plain integer.
        migrate(&dir, app_target("fk", Some(&v1))).await;
        let parent = fk_v1::Parent::objects().create(fk_v1::Parent { id: 0 }).await.unwrap();
        fk_v1::Child::objects().create(fk_v1::Child { id: 0, parent: canter_orm::ForeignKey::to(&parent) }).await.unwrap();
        let protected = fk_v1::Parent::objects().filter(fk_v1::Parent::id.eq(parent.id)).delete().await;
        assert!(matches!(protected, Err(canter_orm::OrmError::Integrity { .. })), "PROTECT again on {vendor:?}");
        migrate(&dir, app_target("fk", Some(&v0))).await;
        assert!(accepts_a_dangling_child().await, "the constraint is gone on {vendor:?}");
        std::fs::remove_dir_all(&dir).ok();
    }
}
