//! Migration operations at the database level, on every backend: RenameModel (rows survive,
//! foreign keys pointing at the model keep working, forwards and back) and AddCheck /
//! RemoveCheck (a violating insert is refused after the add and accepted after the remove;
//! rolling back restores each).

use crate::common;

use canter_orm::migrations::{
    make_migrations, Executor, MakeOptions, MigrationSet, Operation, RenameHint, Target,
};
use canter_orm::{ForeignKey, Model, ModelMeta, OrmError};

mod rename_v1 {
    #[derive(canter_orm::Model, Debug, Clone)]
    #[model(crate = canter_orm, app = "ren", name = "Author", table = "ren_author")]
    pub struct Author {
        pub id: i64,
        #[field(max_length = 40)]
        pub name: String,
    }

    #[derive(canter_orm::Model, Debug, Clone)]
    #[model(crate = canter_orm, app = "ren", name = "Book", table = "ren_book")]
    pub struct Book {
        pub id: i64,
        #[field(max_length = 40)]
        pub title: String,
        #[field(on_delete = "cascade")]
        pub author: canter_orm::ForeignKey<Author>,
    }
}

mod rename_v2 {
    // Author becomes Writer (and its table ren_writer); Book's key follows it.
    #[derive(canter_orm::Model, Debug, Clone)]
    #[model(crate = canter_orm, app = "ren", name = "Writer", table = "ren_writer")]
    pub struct Writer {
        pub id: i64,
        #[field(max_length = 40)]
        pub name: String,
    }

    #[derive(canter_orm::Model, Debug, Clone)]
    #[model(crate = canter_orm, app = "ren", name = "Book", table = "ren_book")]
    pub struct Book {
        pub id: i64,
        #[field(max_length = 40)]
        pub title: String,
        #[field(on_delete = "cascade")]
        pub author: canter_orm::ForeignKey<Writer>,
    }
}

mod rename_v3 {
    // After the rename, Book changes in a way SQLite rebuilds the table for (a new check):
    // the rebuilt table's key must point at ren_writer, not at the old name.
    pub use super::rename_v2::Writer;

    #[derive(canter_orm::Model, Debug, Clone)]
    #[model(
        crate = canter_orm,
        app = "ren",
        name = "Book",
        table = "ren_book",
        check(name = "ren_book_title_set", sql = "title <> ''")
    )]
    pub struct Book {
        pub id: i64,
        #[field(max_length = 40)]
        pub title: String,
        #[field(on_delete = "cascade")]
        pub author: canter_orm::ForeignKey<Writer>,
    }
}

/// makemigrations for `metas` into `dir`; returns the new migration's name and operations.
pub(crate) fn make(
    dir: &std::path::Path,
    metas: &[&'static ModelMeta],
    renames: &[&str],
) -> (String, Vec<Operation>) {
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
    (made[0].name.clone(), made[0].operations.clone())
}

pub(crate) async fn migrate(dir: &std::path::Path, target: Target) -> Vec<String> {
    Executor::new(MigrationSet::load(dir).unwrap(), "default")
        .migrate(&target)
        .await
        .unwrap()
}

pub(crate) fn to(app: &str, name: Option<&str>) -> Target {
    Target::App {
        app: app.into(),
        name: name.map(Into::into),
    }
}

fn is_integrity<T: std::fmt::Debug>(result: &Result<T, OrmError>) -> bool {
    matches!(result, Err(OrmError::Integrity { .. }))
}

/// Whether a table of this name exists in the test's database (its schema on PostgreSQL).
async fn table_exists(name: &str) -> bool {
    let db = canter_orm::database("default").unwrap();
    match db.pool() {
        canter_orm::backends::Pool::Sqlite(pool) => {
            sqlx::query("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?")
                .bind(name)
                .fetch_optional(pool)
                .await
                .unwrap()
                .is_some()
        }
        canter_orm::backends::Pool::Postgres(pool) => sqlx::query(
            "SELECT 1 FROM pg_tables WHERE schemaname = current_schema() AND tablename = $1",
        )
        .bind(name)
        .fetch_optional(pool)
        .await
        .unwrap()
        .is_some(),
        #[cfg(feature = "mysql")]
        canter_orm::backends::Pool::Mysql(pool) => sqlx::query(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?",
        )
        .bind(name)
        .fetch_optional(pool)
        .await
        .unwrap()
        .is_some(),
    }
}

/// Rows, keys and cascades through Book → Writer after the rename (v2 and v3 share the shape).
macro_rules! writer_keys_work {
    ($v:ident, $vendor:expr) => {{
        use $v::{Book, Writer};
        let names: Vec<String> = Writer::objects()
            .order_by([Writer::id.asc()])
            .await
            .unwrap()
            .into_iter()
            .map(|w| w.name)
            .collect();
        assert_eq!(
            names,
            ["Le Guin", "Herbert"],
            "the rows moved with the table on {:?}",
            $vendor
        );
        let books = Book::objects()
            .select_related(Book::author)
            .order_by([Book::id.asc()])
            .await
            .unwrap();
        let pairs: Vec<(String, String)> = books
            .iter()
            .map(|b| (b.title.clone(), b.author.cached().unwrap().name.clone()))
            .collect();
        assert_eq!(
            pairs,
            [
                ("Earthsea".to_string(), "Le Guin".to_string()),
                ("Dune".into(), "Herbert".into())
            ],
            "the JOIN to the renamed table on {:?}",
            $vendor
        );
        let herbert = Writer::objects()
            .filter(Writer::name.eq("Herbert"))
            .get()
            .await
            .unwrap();
        Book::objects()
            .create(Book::from_parts("Children of Dune", &herbert))
            .await
            .unwrap();
        let dangling = Book::objects().create(Book::dangling("Ghost")).await;
        assert!(
            is_integrity(&dangling),
            "the key still refuses a missing writer on {:?}: {dangling:?}",
            $vendor
        );
        let written = Writer::objects()
            .create(Writer {
                id: 0,
                name: "Temporary".into(),
            })
            .await
            .unwrap();
        Book::objects()
            .create(Book::from_parts("Short-lived", &written))
            .await
            .unwrap();
        Writer::objects()
            .filter(Writer::id.eq(written.id))
            .delete()
            .await
            .unwrap();
        assert_eq!(
            Book::objects()
                .filter(Book::title.eq("Short-lived"))
                .count()
                .await
                .unwrap(),
            0,
            "deleting a writer cascades to its books on {:?}",
            $vendor
        );
        Book::objects()
            .filter(Book::title.eq("Children of Dune"))
            .delete()
            .await
            .unwrap();
    }};
}

impl rename_v2::Book {
    fn from_parts(title: &str, writer: &rename_v2::Writer) -> Self {
        Self {
            id: 0,
            title: title.into(),
            author: ForeignKey::to(writer),
        }
    }
    fn dangling(title: &str) -> Self {
        Self {
            id: 0,
            title: title.into(),
            author: ForeignKey::new(999_999),
        }
    }
}

impl rename_v3::Book {
    fn from_parts(title: &str, writer: &rename_v3::Writer) -> Self {
        Self {
            id: 0,
            title: title.into(),
            author: ForeignKey::to(writer),
        }
    }
    fn dangling(title: &str) -> Self {
        Self {
            id: 0,
            title: title.into(),
            author: ForeignKey::new(999_999),
        }
    }
}

/// Rows and keys through Book → Author before the rename (or after rolling it back).
async fn author_keys_work(vendor: canter_orm::Vendor) {
    use rename_v1::{Author, Book};
    let books = Book::objects()
        .select_related(Book::author)
        .order_by([Book::id.asc()])
        .await
        .unwrap();
    let pairs: Vec<(String, String)> = books
        .iter()
        .map(|b| (b.title.clone(), b.author.cached().unwrap().name.clone()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("Earthsea".to_string(), "Le Guin".to_string()),
            ("Dune".into(), "Herbert".into())
        ],
        "on {vendor:?}"
    );
    let dangling = Book::objects()
        .create(Book {
            id: 0,
            title: "Ghost".into(),
            author: ForeignKey::new(999_999),
        })
        .await;
    assert!(
        is_integrity(&dangling),
        "the key refuses a missing author on {vendor:?}: {dangling:?}"
    );
    assert_eq!(Author::objects().count().await.unwrap(), 2);
}

on_every_backend! {
    async fn rename_model_keeps_rows_and_the_keys_pointing_at_it(vendor) {
        let dir = canter_test_kit::TempDir::new("migration-ops");
        let (initial, _) = make(&dir, &[rename_v1::Author::meta(), rename_v1::Book::meta()], &[]);
        migrate(&dir, Target::Latest).await;
        for (name, title) in [("Le Guin", "Earthsea"), ("Herbert", "Dune")] {
            let author = rename_v1::Author::objects()
                .create(rename_v1::Author { id: 0, name: name.into() })
                .await
                .unwrap();
            rename_v1::Book::objects()
                .create(rename_v1::Book { id: 0, title: title.into(), author: ForeignKey::to(&author) })
                .await
                .unwrap();
        }
        author_keys_work(vendor).await;

        let (renamed, ops) = make(&dir, &[rename_v2::Writer::meta(), rename_v2::Book::meta()], &["Author=Writer"]);
        assert!(
            matches!(&ops[..], [Operation::RenameModel { old, new, table }] if old == "Author" && new == "Writer" && table == "ren_writer"),
            "one operation: Book's key follows the model without an AlterField: {ops:?}"
        );
        migrate(&dir, Target::Latest).await;
        assert!(table_exists("ren_writer").await && !table_exists("ren_author").await);
        writer_keys_work!(rename_v2, vendor);

        // A later change SQLite makes by rebuilding the table that holds the key.
        let (checked, _) = make(&dir, &[rename_v3::Writer::meta(), rename_v3::Book::meta()], &[]);
        migrate(&dir, Target::Latest).await;
        writer_keys_work!(rename_v3, vendor);
        let empty = rename_v3::Book::objects().create(rename_v3::Book::from_parts("", &rename_v3::Writer::objects().first().await.unwrap().unwrap())).await;
        assert!(is_integrity(&empty), "the new check holds on {vendor:?}");

        // Back one step, then back across the rename: the rows and keys follow.
        migrate(&dir, to("ren", Some(&renamed))).await;
        writer_keys_work!(rename_v2, vendor);
        migrate(&dir, to("ren", Some(&initial))).await;
        assert!(table_exists("ren_author").await && !table_exists("ren_writer").await);
        author_keys_work(vendor).await;

        // And forwards again over the same rows.
        migrate(&dir, Target::Latest).await;
        writer_keys_work!(rename_v3, vendor);
        let _ = checked;
    }
}

mod check_v1 {
    #[derive(canter_orm::Model, Debug, Clone)]
    #[model(crate = canter_orm, app = "chk", name = "Stock", table = "chk_stock")]
    pub struct Stock {
        pub id: i64,
        #[field(max_length = 40)]
        pub sku: String,
        pub quantity: i64,
    }
}

mod check_v2 {
    // Adds a check: quantities are never negative.
    #[derive(canter_orm::Model, Debug, Clone)]
    #[model(
        crate = canter_orm,
        app = "chk",
        name = "Stock",
        table = "chk_stock",
        check(name = "chk_stock_quantity_gte_0", sql = "quantity >= 0")
    )]
    pub struct Stock {
        pub id: i64,
        #[field(max_length = 40)]
        pub sku: String,
        pub quantity: i64,
    }
}

/// Whether the table accepts a row with a negative quantity (removed again if it does).
async fn accepts_negative_stock() -> bool {
    let created = check_v1::Stock::objects()
        .create(check_v1::Stock {
            id: 0,
            sku: "negative".into(),
            quantity: -1,
        })
        .await;
    match created {
        Ok(row) => {
            check_v1::Stock::objects()
                .filter(check_v1::Stock::id.eq(row.id))
                .delete()
                .await
                .unwrap();
            true
        }
        Err(OrmError::Integrity { .. }) => false,
        Err(other) => panic!("{other}"),
    }
}

async fn skus() -> Vec<(String, i64)> {
    check_v1::Stock::objects()
        .order_by([check_v1::Stock::id.asc()])
        .await
        .unwrap()
        .into_iter()
        .map(|s| (s.sku, s.quantity))
        .collect()
}

on_every_backend! {
    async fn add_and_remove_check_refuse_and_accept_and_roll_back(vendor) {
        let dir = canter_test_kit::TempDir::new("migration-ops");
        let (initial, _) = make(&dir, &[check_v1::Stock::meta()], &[]);
        migrate(&dir, Target::Latest).await;
        for (sku, quantity) in [("bolt", 10), ("nut", 0)] {
            check_v1::Stock::objects()
                .create(check_v1::Stock { id: 0, sku: sku.into(), quantity })
                .await
                .unwrap();
        }
        assert!(accepts_negative_stock().await, "no check yet on {vendor:?}");

        let (added, ops) = make(&dir, &[check_v2::Stock::meta()], &[]);
        assert!(
            matches!(&ops[..], [Operation::AddCheck { name, sql, .. }] if name == "chk_stock_quantity_gte_0" && sql == "quantity >= 0"),
            "{ops:?}"
        );
        migrate(&dir, Target::Latest).await;
        assert!(!accepts_negative_stock().await, "AddCheck: the database refuses the row on {vendor:?}");
        assert_eq!(skus().await, [("bolt".to_string(), 10), ("nut".into(), 0)], "rows kept on {vendor:?}");
        let bulk = check_v2::Stock::objects()
            .filter(check_v2::Stock::sku.eq("bolt"))
            .update([check_v2::Stock::quantity.set(-5)])
            .await;
        assert!(is_integrity(&bulk), "an UPDATE is checked too on {vendor:?}: {bulk:?}");

        let (removed, ops) = make(&dir, &[check_v1::Stock::meta()], &[]);
        assert!(
            matches!(&ops[..], [Operation::RemoveCheck { name, .. }] if name == "chk_stock_quantity_gte_0"),
            "{ops:?}"
        );
        migrate(&dir, Target::Latest).await;
        assert!(accepts_negative_stock().await, "RemoveCheck: accepted again on {vendor:?}");

        // Rolling back the removal restores the check; rolling back the addition drops it.
        migrate(&dir, to("chk", Some(&added))).await;
        assert!(!accepts_negative_stock().await, "RemoveCheck rolled back: refused again on {vendor:?}");
        migrate(&dir, to("chk", Some(&initial))).await;
        assert!(accepts_negative_stock().await, "AddCheck rolled back: accepted on {vendor:?}");
        assert_eq!(skus().await, [("bolt".to_string(), 10), ("nut".into(), 0)]);

        // A row that breaks the check makes adding it fail as a whole: the migration is not
        // recorded, and the table (rows and all) is as it was.
        check_v1::Stock::objects()
            .create(check_v1::Stock { id: 0, sku: "owed".into(), quantity: -3 })
            .await
            .unwrap();
        let err = Executor::new(MigrationSet::load(&dir).unwrap(), "default")
            .migrate(&to("chk", Some(&added)))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains(&added), "the error names the migration on {vendor:?}: {err}");
        let applied = Executor::new(MigrationSet::load(&dir).unwrap(), "default").applied().await.unwrap();
        assert!(!applied.contains(&("chk".to_string(), added.clone())));
        assert_eq!(skus().await.len(), 3, "no row lost on {vendor:?}");
        assert!(accepts_negative_stock().await, "still no check on {vendor:?}");
        let _ = removed;
    }
}
