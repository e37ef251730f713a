//! Migrations of relations on every backend: a foreign key to another app's model depends on
//! that app's migration; foreign keys stay enforced after a failed data migration; a model with
//! a many-to-many deleted and restored; a foreign key altered.

use crate::common;
use crate::migrations::{make_all, migrate, v7};

use canter_orm::migrations::{make_migrations, Executor, MakeOptions, MigrationSet, Target};
use canter_orm::Model;

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
        let dir = canter_test_kit::TempDir::new("migrations-rel");
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
        #[cfg(feature = "mysql")]
        canter_orm::backends::Pool::Mysql(pool) => {
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
        let dir = canter_test_kit::TempDir::new("migrations-rel");
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
                let dir2 = dir.to_path_buf();
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
        let dir = canter_test_kit::TempDir::new("migrations-rel");
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
        let dir = canter_test_kit::TempDir::new("migrations-rel");
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
    }
}
