//! `inspectdb` on every backend: models written from tables the ORM made (string, UUID and
//! integer keys, foreign keys, lengths, nullable columns, unique constraints and indexes on one
//! field and on several, a many-to-many join table) and from a table it did not (no primary
//! key, a keyword as a column name).

use crate::common;
use crate::keys::{Account, Bin, City, Country, Shelf};

use canter_orm::schema::create_table;
use canter_orm::schema::inspect::inspect_tables;
use canter_orm::Model;

/// Uniques and indexes on one field and on two.
#[derive(Model, Debug, Clone)]
#[model(crate = canter_orm, app = "insp")]
#[model(unique(fields = ["shop", "sku"], name = "stock_shop_sku"), index(fields = ["shop", "bin"], name = "stock_shop_bin"))]
pub struct Stock {
    pub id: i64,
    pub shop: i64,
    #[field(max_length = 20)]
    pub sku: String,
    #[field(unique, max_length = 30)]
    pub barcode: String,
    #[field(db_index)]
    pub bin: i64,
}

on_every_backend! {
    async fn models_are_written_from_existing_tables(vendor) {
        create_table::<Country>("default").await.unwrap();
        create_table::<City>("default").await.unwrap();
        create_table::<Account>("default").await.unwrap();
        create_table::<Shelf>("default").await.unwrap();
        create_table::<Bin>("default").await.unwrap();
        common::raw("CREATE TABLE legacy_row (code varchar(5) NOT NULL, \"type\" integer)").await;

        let tables: Vec<String> = ["keys_country", "keys_city", "keys_account", "keys_bin", "legacy_row"]
            .map(String::from)
            .into();
        let source = inspect_tables("default", &tables, "shop").await.unwrap();
        let expected = [
            "#[model(app = \"shop\", table = \"keys_country\")]\npub struct KeysCountry {\n",
            "    #[field(primary_key, max_length = 2)]\n    pub code: String,\n",
            "pub struct KeysCity {\n    pub id: i64,\n    #[field(max_length = 50)]\n    pub name: String,\n",
            "    #[field(on_delete = \"do_nothing\")]\n    pub country: ForeignKey<KeysCountry>,\n",
            "    #[field(on_delete = \"do_nothing\")]\n    pub shelf: Option<ForeignKey<KeysShelf>>,\n",
            "// legacy_row: no primary key",
            "    pub r#type: Option<i",
        ];
        for part in expected {
            assert!(source.contains(part), "{vendor:?}: no {part:?} in\n{source}");
        }
        // UUIDs: `uuid`, `binary(16)` on MariaDB, `char(32)` on SQLite.
        let account_key = "    #[field(primary_key)]\n    pub id: canter::orm::uuid::Uuid,\n";
        assert!(source.contains(account_key), "{vendor:?}: no {account_key:?} in\n{source}");

        // Every table but the ORM's own when none is named; an unknown table is an error.
        let all = inspect_tables("default", &[], "shop").await.unwrap();
        assert!(all.contains("pub struct KeysShelf {") && all.contains("pub struct LegacyRow {"), "{all}");
        let err = inspect_tables("default", &["nope".to_owned()], "shop").await.unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
    }
}

on_every_backend! {
    async fn uniques_indexes_and_join_tables_are_written_back(vendor) {
        create_table::<Stock>("default").await.unwrap();
        create_table::<Country>("default").await.unwrap();
        create_table::<Account>("default").await.unwrap();
        let tables: Vec<String> = ["insp_stock", "keys_account_visited"].map(String::from).into();
        let source = inspect_tables("default", &tables, "shop").await.unwrap();
        let expected = [
            "#[model(unique(fields = [\"shop\", \"sku\"], name = \"stock_shop_sku\"))]\n",
            "#[model(index(fields = [\"shop\", \"bin\"], name = \"stock_shop_bin\"))]\n",
            "    #[field(max_length = 30, unique)]\n    pub barcode: String,\n",
            "    #[field(db_index)]\n    pub bin: i64,\n",
            // The join table: its own model, its pair unique, and a comment naming the sides.
            "// A many-to-many join table (KeysAccount ↔ KeysCountry)",
            "    #[field(on_delete = \"do_nothing\")]\n    pub account: ForeignKey<KeysAccount>,\n",
            "    #[field(on_delete = \"do_nothing\")]\n    pub country: ForeignKey<KeysCountry>,\n",
            "#[model(unique(fields = [\"account\", \"country\"]",
        ];
        for part in expected {
            assert!(source.contains(part), "{vendor:?}: no {part:?} in\n{source}");
        }
        // The foreign keys' own indexes are not written again, nor is the primary key.
        assert!(!source.contains("pub country: ForeignKey<KeysCountry>,\n    #[field(db_index"), "{source}");
        assert_eq!(source.matches("db_index").count(), 1, "{vendor:?}:\n{source}");
    }
}
