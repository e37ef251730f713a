//! `inspectdb` on every backend: models written from tables the ORM made (string, UUID and
//! integer keys, foreign keys, lengths, nullable columns) and from a table it did not (no
//! primary key, a keyword as a column name).

use crate::common;
use crate::keys::{Account, Bin, City, Country, Shelf};

use canter_orm::schema::create_table;
use canter_orm::schema::inspect::inspect_tables;

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
