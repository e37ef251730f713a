//! Migrations end to end on every backend: a model evolved through eight versions (add field
//! with default, rename, change type, add index and nullable field, drop field, add foreign key,
//! add many-to-many) with rows at every step, data surviving every step and every rollback;
//! concurrent `migrate`; SQL and Rust data migrations; bad files. Relations across migrations
//! are in `migrations_relations`.

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

pub(crate) mod v7 {
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

/// makemigrations for `meta` into `dir`; returns the new migration's name.
fn make(dir: &std::path::Path, meta: &'static ModelMeta, renames: &[&str]) -> String {
    make_all(dir, &[meta], renames)
}

pub(crate) fn make_all(
    dir: &std::path::Path,
    metas: &[&'static ModelMeta],
    renames: &[&str],
) -> String {
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
        #[cfg(feature = "mysql")]
        canter_orm::backends::Pool::Mysql(pool) => sqlx::query(
            "SELECT 1 FROM information_schema.statistics WHERE table_schema = DATABASE() AND index_name = ?",
        )
        .bind(name)
        .fetch_optional(pool)
        .await
        .unwrap()
        .is_some(),
    }
}

pub(crate) async fn migrate(dir: &std::path::Path, target: Target) -> Vec<String> {
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
        let dir = canter_test_kit::TempDir::new("migrations");
        let evolved = evolve_forward(&dir, vendor).await;
        roll_back_one_version_at_a_time(&dir, vendor, evolved).await;
    }
}

/// What the way forward leaves for the way back: the migrations' names, the 150-character
/// headline, the id of the row that has it.
struct Evolved {
    names: Vec<String>,
    long: String,
    fourth: i64,
}

/// Versions 1 to 8, with rows at every step.
async fn evolve_forward(dir: &std::path::Path, vendor: canter_orm::Vendor) -> Evolved {
    let mut names = versions_1_to_3(dir).await;
    let (long, fourth) = versions_4_to_6(dir, vendor, &mut names).await;
    versions_7_and_8(dir, &mut names).await;
    Evolved {
        names,
        long,
        fourth,
    }
}

/// A field added with a default, then renamed (refused without a hint).
async fn versions_1_to_3(dir: &std::path::Path) -> Vec<String> {
    let mut names = Vec::new();

    names.push(make(dir, v1::Article::meta(), &[]));
    assert_eq!(names[0], "0001_initial");
    migrate(dir, Target::Latest).await;
    v1::Article::objects()
        .create(v1::Article {
            id: 0,
            title: "first".into(),
        })
        .await
        .unwrap();

    names.push(make(dir, v2::Article::meta(), &[]));
    migrate(dir, Target::Latest).await;
    let rows = v2::Article::objects().await.unwrap();
    assert_eq!(
        (rows[0].title.as_str(), rows[0].views),
        ("first", 0),
        "the old row got the default"
    );
    v2::Article::objects()
        .create(v2::Article {
            id: 0,
            title: "second".into(),
            views: 7,
        })
        .await
        .unwrap();

    // A rename is refused without a hint, then made with one.
    let set = MigrationSet::load(dir).unwrap();
    let refused = make_migrations(&set, &[v3::Article::meta()], &MakeOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("--rename Article.title=headline"),
        "{refused}"
    );
    names.push(make(dir, v3::Article::meta(), &["Article.title=headline"]));
    migrate(dir, Target::Latest).await;
    let rows = v3::Article::objects()
        .order_by([v3::Article::id.asc()])
        .await
        .unwrap();
    assert_eq!(
        rows.iter()
            .map(|r| (r.headline.as_str(), r.views))
            .collect::<Vec<_>>(),
        [("first", 0), ("second", 7)]
    );
    names
}

/// Its type changed, an index and a nullable field added, a field dropped: the 150-character
/// headline and its row's id.
async fn versions_4_to_6(
    dir: &std::path::Path,
    vendor: canter_orm::Vendor,
    names: &mut Vec<String>,
) -> (String, i64) {
    names.push(make(dir, v4::Article::meta(), &[]));
    migrate(dir, Target::Latest).await;
    let rows = v4::Article::objects()
        .order_by([v4::Article::id.asc()])
        .await
        .unwrap();
    assert_eq!(
        rows.iter().map(|r| r.views).collect::<Vec<_>>(),
        [0.0, 7.0],
        "values converted on {vendor:?}"
    );
    v4::Article::objects()
        .create(v4::Article {
            id: 0,
            headline: "third".into(),
            views: 2.5,
        })
        .await
        .unwrap();

    assert!(!has_index("evo_article_headline_idx").await);
    names.push(make(dir, v5::Article::meta(), &[]));
    migrate(dir, Target::Latest).await;
    assert!(
        has_index("evo_article_headline_idx").await,
        "db_index added: the index is created"
    );
    let long = "x".repeat(150);
    v5::Article::objects()
        .create(v5::Article {
            id: 0,
            headline: long.clone(),
            views: 1.0,
            published: NaiveDate::from_ymd_opt(2024, 2, 29),
        })
        .await
        .unwrap();
    assert_eq!(v5::Article::objects().count().await.unwrap(), 4);

    names.push(make(dir, v6::Article::meta(), &[]));
    migrate(dir, Target::Latest).await;
    let rows = v6::Article::objects()
        .order_by([v6::Article::id.asc()])
        .await
        .unwrap();
    assert_eq!(
        rows.iter().map(|r| r.headline.clone()).collect::<Vec<_>>(),
        [
            "first".to_string(),
            "second".into(),
            "third".into(),
            long.clone()
        ]
    );
    assert_eq!(rows[3].published, NaiveDate::from_ymd_opt(2024, 2, 29));
    assert_eq!(names.len(), 6);
    (long, rows[3].id)
}

async fn versions_7_and_8(dir: &std::path::Path, names: &mut Vec<String>) {
    // Version 7: a foreign key to a new model (created first, in the same migration).
    names.push(make_all(
        dir,
        &[v7::Category::meta(), v7::Article::meta()],
        &[],
    ));
    migrate(dir, Target::Latest).await;
    let news = v7::Category::objects()
        .create(v7::Category {
            id: 0,
            label: "news".into(),
        })
        .await
        .unwrap();
    let n = v7::Article::objects()
        .filter(v7::Article::headline.eq("first"))
        .update([v7::Article::category.set(canter_orm::ForeignKey::to(&news))])
        .await
        .unwrap();
    assert_eq!(n, 1);
    let first = v7::Article::objects()
        .select_related(v7::Article::category)
        .filter(v7::Article::headline.eq("first"))
        .get()
        .await
        .unwrap();
    assert_eq!(first.category.unwrap().cached().unwrap().label, "news");
    assert_eq!(
        v7::Article::objects().count().await.unwrap(),
        4,
        "old rows kept, with a NULL key"
    );

    // Version 8: a many-to-many (its join table).
    names.push(make_all(
        dir,
        &[v8::Category::meta(), v8::Article::meta()],
        &[],
    ));
    migrate(dir, Target::Latest).await;
    let article = v8::Article::objects()
        .filter(v8::Article::headline.eq("second"))
        .get()
        .await
        .unwrap();
    article.related.add(&[&news]).await.unwrap();
    assert_eq!(article.related.all().count().await.unwrap(), 1);
}

/// Back through the relations, then one version at a time: the rows survive every rollback.
async fn roll_back_one_version_at_a_time(
    dir: &std::path::Path,
    vendor: canter_orm::Vendor,
    evolved: Evolved,
) {
    back_through_the_relations(dir, &evolved.names).await;
    let long = back_to_version_5(dir, vendor, &evolved).await;
    back_to_nothing_and_forward_again(dir, &evolved.names, &long).await;
}

/// The join table goes, then the foreign key; rows stay.
async fn back_through_the_relations(dir: &std::path::Path, names: &[String]) {
    // Back through the relations: the join table goes, then the foreign key; rows stay.
    migrate(dir, to(&names[6])).await;
    assert_eq!(v7::Article::objects().count().await.unwrap(), 4);
    assert_eq!(
        v7::Article::objects()
            .filter(v7::Article::category.isnull(false))
            .count()
            .await
            .unwrap(),
        1
    );
    migrate(dir, to(&names[5])).await;

    // Nothing left to make; showmigrations-style state: all applied.
    let set = MigrationSet::load(dir).unwrap();
    assert!(make_migrations(
        &set,
        &[v8::Category::meta(), v8::Article::meta()],
        &MakeOptions::default()
    )
    .unwrap()
    .is_empty());
    // Eight files; the last two were just rolled back.
    assert_eq!(
        Executor::new(set, "default").applied().await.unwrap().len(),
        6
    );
}

/// Version 5 on PostgreSQL refuses to go back to a max_length that would cut a row; once the
/// row is shortened it goes. The 90-character headline.
async fn back_to_version_5(
    dir: &std::path::Path,
    vendor: canter_orm::Vendor,
    evolved: &Evolved,
) -> String {
    let (names, long150, fourth) = (&evolved.names, &evolved.long, evolved.fourth);
    // Back, one version at a time: the rows survive every rollback.
    migrate(dir, to(&names[4])).await;
    if vendor == canter_orm::Vendor::Postgres {
        // Back to max_length 100 would cut the 150-character headline: refused, not truncated.
        let err = Executor::new(MigrationSet::load(dir).unwrap(), "default")
            .migrate(&to(&names[3]))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains(&names[4]) && err.contains("too long"), "{err}");
        assert_eq!(
            v5::Article::objects()
                .filter(v5::Article::headline.eq(long150.as_str()))
                .count()
                .await
                .unwrap(),
            1,
            "nothing was cut"
        );
    }
    let long = "x".repeat(90);
    v5::Article::objects()
        .filter(v5::Article::id.eq(fourth))
        .update([v5::Article::headline.set(long.as_str())])
        .await
        .unwrap();
    let rows = v5::Article::objects()
        .order_by([v5::Article::id.asc()])
        .await
        .unwrap();
    assert_eq!(rows.len(), 4);
    assert_eq!(
        rows[3].views, 0.0,
        "the dropped column comes back with its default"
    );
    assert!(
        has_index("evo_article_headline_idx").await,
        "kept through every later step"
    );
    long
}

async fn back_to_nothing_and_forward_again(dir: &std::path::Path, names: &[String], long: &str) {
    migrate(dir, to(&names[3])).await;
    assert!(
        !has_index("evo_article_headline_idx").await,
        "rolled back: the index is dropped"
    );
    let rows = v4::Article::objects()
        .order_by([v4::Article::id.asc()])
        .await
        .unwrap();
    assert_eq!(
        rows.iter().map(|r| r.headline.clone()).collect::<Vec<_>>(),
        [
            "first".to_string(),
            "second".into(),
            "third".into(),
            long.to_owned()
        ]
    );
    migrate(dir, to(&names[2])).await;
    let rows = v3::Article::objects()
        .order_by([v3::Article::id.asc()])
        .await
        .unwrap();
    // `views` was dropped by version 6: what it held is gone (as in Django); the rest stays.
    assert_eq!(
        rows.iter().map(|r| r.views).collect::<Vec<_>>(),
        [0, 0, 0, 0]
    );
    assert_eq!(rows[1].headline, "second");
    migrate(dir, to(&names[1])).await;
    let rows = v2::Article::objects()
        .order_by([v2::Article::id.asc()])
        .await
        .unwrap();
    assert_eq!(rows[0].title, "first", "the rename was reversed");
    migrate(dir, to(&names[0])).await;
    assert_eq!(v1::Article::objects().count().await.unwrap(), 4);
    migrate(
        dir,
        Target::App {
            app: "evo".into(),
            name: None,
        },
    )
    .await;
    assert!(
        v1::Article::objects().count().await.is_err(),
        "zero unapplies everything: the table is gone"
    );
    // And forward again in one go.
    migrate(dir, Target::Latest).await;
    assert_eq!(v6::Article::objects().count().await.unwrap(), 0);
}

on_every_backend! {
    async fn two_migrate_runs_at_once_apply_each_migration_once(vendor) {
        let dir = canter_test_kit::TempDir::new("migrations");
        make(&dir, v1::Article::meta(), &[]);
        make(&dir, v2::Article::meta(), &[]);
        let scope = canter_orm::db::current().unwrap();
        let runs: Vec<_> = (0..2)
            .map(|_| {
                let dir = dir.to_path_buf();
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
    }
}

on_every_backend! {
    async fn sql_and_rust_data_migrations_with_their_reverse(vendor) {
        let dir = canter_test_kit::TempDir::new("migrations");
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
        }).await;
    }
}

#[test]
fn a_hand_edited_invalid_file_is_named_in_the_error() {
    let dir = canter_test_kit::TempDir::new("migrations");
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
}
