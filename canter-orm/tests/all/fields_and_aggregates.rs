//! More field types (decimal, duration, typed JSON, bytes, time, UUID), column options
//! (`db_column`), model validators, aggregates, `values_list`, `in_bulk`, `bulk_update`, `raw`.

use crate::common;

use canter_orm::aggregates::{Avg, Count, Max, Min, Sum};
use canter_orm::chrono::{NaiveTime, TimeDelta};
use canter_orm::rust_decimal::Decimal;
use canter_orm::schema::create_table;
use canter_orm::{Json, Model, OrmError, ValidationError, Vendor};
use serde::{Deserialize, Serialize};
use serde_json::json;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Meta {
    tags: Vec<String>,
    weight: u32,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(crate = canter_orm, app = "more", table = "more_product", validate = check_price)]
struct Product {
    id: i64,
    #[field(max_length = 50, db_column = "product_name")]
    name: String,
    price: Decimal,
    shelf_life: TimeDelta,
    meta: Json<Meta>,
    thumbnail: Vec<u8>,
    opens: NaiveTime,
    code: uuid::Uuid,
    stock: i32,
    category: Option<String>,
}

fn check_price(product: &Product, errors: &mut ValidationError) {
    if product.price.is_sign_negative() {
        errors.add("price", "must not be negative");
    }
}

fn product(name: &str, price: &str, stock: i32, category: Option<&str>) -> Product {
    Product {
        id: 0,
        name: name.into(),
        price: price.parse().unwrap(),
        shelf_life: TimeDelta::days(3) + TimeDelta::microseconds(7),
        meta: Json(Meta {
            tags: vec!["a".into(), name.into()],
            weight: 3,
        }),
        thumbnail: vec![0, 159, 146, 150],
        opens: NaiveTime::from_hms_opt(8, 30, 0).unwrap(),
        code: uuid::Uuid::new_v4(),
        stock,
        category: category.map(String::from),
    }
}

async fn seed() -> Vec<Product> {
    create_table::<Product>("default").await.unwrap();
    Product::objects()
        .bulk_create(vec![
            product("apple", "0.10", 10, Some("fruit")),
            product("pear", "0.25", 20, Some("fruit")),
            product("kale", "1.99", 5, Some("veg")),
            product("salt", "0.01", 100, None),
        ])
        .await
        .unwrap()
}

on_every_backend! {
    async fn field_types_round_trip_exactly(vendor) {
        let created = seed().await;
        let back = Product::objects().filter(Product::id.eq(created[2].id)).get().await.unwrap();
        assert_eq!(back, created[2]);
        assert_eq!(back.price.to_string(), "1.99", "no floating-point drift on {vendor:?}");
        // Exact on PostgreSQL; on SQLite a double (NUMERIC affinity turns the bound text into a
        // REAL), so ~15 significant digits survive, as with Django on SQLite.
        let long = Product::objects().create(product("long", "1.23456789012345678901", 1, None)).await.unwrap();
        let long_id = long.id;
        let long = Product::objects().filter(Product::id.eq(long_id)).get().await.unwrap().price.to_string();
        Product::objects().filter(Product::id.eq(long_id)).delete().await.unwrap();
        match vendor {
            Vendor::Sqlite => assert!(long.starts_with("1.23456789012345") && long.len() < 22, "{long}"),
            _ => assert_eq!(long, "1.23456789012345678901"),
        }
        assert_eq!(back.shelf_life, TimeDelta::days(3) + TimeDelta::microseconds(7));
        assert_eq!(back.meta.0.tags, ["a", "kale"]);
        let cheap = Product::objects().filter(Product::price.lt(Decimal::new(20, 2))).order_by([Product::price.asc()]).await.unwrap();
        assert_eq!(cheap.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["salt", "apple"]);
        let long = Product::objects().filter(Product::shelf_life.gte(TimeDelta::days(3))).count().await.unwrap();
        assert_eq!(long, 4);
        let named = Product::objects().filter(Product::name.eq("pear")).values(&["name"]).await.unwrap();
        assert_eq!(named[0]["name"], "pear", "db_column maps to the field name");
    }
}

on_every_backend! {
    async fn model_validators_run_before_writes(vendor) {
        create_table::<Product>("default").await.unwrap();
        let err = Product::objects().create(product("bad", "-1", 1, None)).await.unwrap_err();
        match err {
            OrmError::Validation(v) => assert_eq!(v.fields["price"], ["must not be negative"]),
            other => panic!("{other}"),
        }
        assert_eq!(Product::objects().count().await.unwrap(), 0);
    }
}

on_every_backend! {
    async fn aggregates_and_grouping(vendor) {
        seed().await;
        let totals = Product::objects()
            .aggregate([Count::all(), Sum::of(Product::stock), Avg::of(Product::stock).named("mean"), Min::of(Product::stock), Max::of(Product::price), Count::of(Product::category).distinct().named("categories")])
            .await
            .unwrap();
        assert_eq!(totals["count"], 4);
        assert_eq!(totals["stock__sum"], 135);
        assert_eq!(totals["mean"], 33.75);
        assert_eq!(totals["stock__min"], 5);
        assert_eq!(totals["categories"], 2);
        let max_price = &totals["price__max"];
        assert!(max_price == &json!(1.99) || max_price == &json!("1.99"), "{max_price}");

        let fruit = Product::objects().filter(Product::category.eq("fruit")).aggregate([Sum::of(Product::stock)]).await.unwrap();
        assert_eq!(fruit["stock__sum"], 30);
        let empty = Product::objects().filter(Product::stock.gt(1000)).aggregate([Count::all(), Sum::of(Product::stock)]).await.unwrap();
        assert_eq!(empty["count"], 0);
        assert_eq!(empty["stock__sum"], serde_json::Value::Null);

        let groups = Product::objects().annotate_values(&["category"], [Count::all().named("n"), Sum::of(Product::stock)]).await.unwrap();
        let summary: Vec<(serde_json::Value, serde_json::Value, serde_json::Value)> = groups.iter().map(|g| (g["category"].clone(), g["n"].clone(), g["stock__sum"].clone())).collect();
        let expected_null_first = vendor != Vendor::Postgres; // NULLs sort first on SQLite and MariaDB, last on PostgreSQL
        let mut expected = vec![(json!("fruit"), json!(2), json!(30)), (json!("veg"), json!(1), json!(5))];
        if expected_null_first {
            expected.insert(0, (json!(null), json!(1), json!(100)));
        } else {
            expected.push((json!(null), json!(1), json!(100)));
        }
        assert_eq!(summary, expected);
    }
}

on_every_backend! {
    async fn values_list_in_bulk_bulk_update_raw(vendor) {
        let created = seed().await;
        let list = Product::objects().order_by([Product::stock.asc()]).values_list(&["name", "stock"]).await.unwrap();
        assert_eq!(list[0], vec![json!("kale"), json!(5)]);

        let found = Product::objects().in_bulk([created[0].id, created[3].id, 999_999]).await.unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(found[&created[3].id].name, "salt");

        let mut changed = created.clone();
        for p in &mut changed {
            p.stock += 1;
            p.name = format!("{}!", p.name);
        }
        assert_eq!(Product::objects().bulk_update(&changed, &["stock"]).await.unwrap(), 4);
        let after = Product::objects().order_by([Product::id.asc()]).await.unwrap();
        assert_eq!(after.iter().map(|p| p.stock).collect::<Vec<_>>(), [11, 21, 6, 101]);
        assert!(after.iter().all(|p| !p.name.ends_with('!')), "only the named fields were saved");
        assert!(Product::objects().bulk_update(&changed, &["nope"]).await.is_err());

        let placeholder = if vendor == Vendor::Postgres { "$1" } else { "?" };
        let raw = Product::objects()
            .raw(&format!("SELECT * FROM more_product WHERE stock > {placeholder} ORDER BY id"), [canter_orm::Value::BigInt(Some(20))])
            .await
            .unwrap();
        assert_eq!(raw.iter().map(|p| p.stock).collect::<Vec<_>>(), [21, 101]);
        let injected = Product::objects()
            .raw(&format!("SELECT * FROM more_product WHERE product_name = {placeholder}"), [canter_orm::Value::String(Some("x' OR '1'='1".into()))])
            .await
            .unwrap();
        assert!(injected.is_empty());
    }
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(crate = canter_orm, app = "more")]
struct Setting {
    id: i64,
    #[field(max_length = 40)]
    key: String,
    #[field(default = 10)]
    retries: i64,
    #[field(default = "info", max_length = 10)]
    level: String,
    #[field(default = true)]
    enabled: bool,
    /// Records what `only()` / `defer()` loaded, so `save()` writes only that.
    state: canter_orm::ModelState,
}

on_every_backend! {
    async fn field_defaults_fill_rust_values_and_the_column_default(vendor) {
        let s = Setting { key: "mail".into(), ..Default::default() };
        assert_eq!((s.retries, s.level.as_str(), s.enabled, s.id), (10, "info", true, 0));
        create_table::<Setting>("default").await.unwrap();
        Setting::objects().create(s).await.unwrap();
        // A row inserted by other code without those columns gets the SQL DEFAULTs.
        let db = canter_orm::database("default").unwrap();
        let _ = db;
        common::raw("INSERT INTO more_setting (\"key\") VALUES ('raw')").await;
        let raw = Setting::objects().filter(Setting::key.eq("raw")).get().await.unwrap();
        assert_eq!((raw.retries, raw.level.as_str(), raw.enabled), (10, "info", true), "on {vendor:?}");
    }
}

on_every_backend! {
    async fn only_and_defer_load_a_subset(vendor) {
        create_table::<Setting>("default").await.unwrap();
        Setting::objects().create(Setting { key: "mail".into(), retries: 3, level: "debug".into(), enabled: false, ..Default::default() }).await.unwrap();
        let only = Setting::objects().only(&["key"]).unwrap().get().await.unwrap();
        assert!(only.id > 0, "the primary key always loads");
        assert_eq!((only.key.as_str(), only.retries, only.level.as_str()), ("mail", 10, "info"), "others keep their defaults");
        let deferred = Setting::objects().defer(&["level"]).unwrap().first().await.unwrap().unwrap();
        assert_eq!((deferred.retries, deferred.level.as_str(), deferred.enabled), (3, "info", false));
        let mut stream = Setting::objects().only(&["retries"]).unwrap().stream();
        use futures_util::StreamExt;
        assert_eq!(stream.next().await.unwrap().unwrap().retries, 3);
        assert!(Setting::objects().only(&["nope"]).is_err());
    }
}

/// `set_value` (what the admin's forms fill rows with) takes back every value `to_values`
/// gives, of each field type, NULL included; a value of another type or an unknown field is
/// an error saying so, and the row keeps its value.
#[test]
fn set_value_takes_back_what_to_values_gives() {
    let source = product("Tea", "2.50", 7, Some("drinks"));
    let mut target = product("Other", "9.99", 1, None);
    target.id = 42;
    for (i, value) in source.to_values().into_iter().enumerate() {
        target.set_value(i, value).unwrap();
    }
    assert_eq!(target, source);
    let mut nulled = source.clone();
    let category = <Product as Model>::meta().field("category").unwrap().0;
    nulled
        .set_value(
            category,
            canter_orm::fields::null_of(canter_orm::SqlType::Text),
        )
        .unwrap();
    assert_eq!(nulled.category, None);
    // Text parsed for a field, as the admin does.
    let stock = <Product as Model>::meta().field("stock").unwrap();
    let parsed = canter_orm::fields::parse_text(stock.1, "12").unwrap();
    nulled.set_value(stock.0, parsed).unwrap();
    assert_eq!(nulled.stock, 12);
    let wrong = nulled.set_value(stock.0, canter_orm::Value::String(Some("x".into())));
    assert!(wrong.unwrap_err().contains("is not a i32"));
    assert_eq!(nulled.stock, 12, "kept");
    let unknown = nulled.set_value(99, canter_orm::Value::Int(Some(1)));
    assert_eq!(unknown.unwrap_err(), "Product has no field 99");
}
