//! Primary keys beyond integers, on every backend: string and UUID keys (and an `i32` one) with
//! foreign keys pointing at them, a many-to-many keyed by a UUID on one side and a string on
//! the other, `in_bulk`, `select_related`, `prefetch_related` and the reverse loaders.

use crate::common;

use canter_orm::schema::create_table;
use canter_orm::uuid::Uuid;
use canter_orm::{ForeignKey, ManyToMany, Model, OrmError};

#[derive(Model, Debug, Clone, PartialEq)]
#[model(crate = canter_orm, app = "keys")]
pub struct Country {
    #[field(primary_key, max_length = 2)]
    pub code: String,
    #[field(max_length = 50)]
    pub name: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(crate = canter_orm, app = "keys")]
pub struct City {
    pub id: i64,
    #[field(max_length = 50)]
    pub name: String,
    #[field(on_delete = "cascade", related_name = "cities")]
    pub country: ForeignKey<Country>,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(crate = canter_orm, app = "keys")]
pub struct Account {
    #[field(primary_key)]
    pub id: Uuid,
    #[field(max_length = 50)]
    pub email: String,
    pub visited: ManyToMany<Country>,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(crate = canter_orm, app = "keys")]
pub struct Order {
    pub id: i64,
    #[field(on_delete = "cascade")]
    pub account: ForeignKey<Account>,
    pub total: i64,
}

/// A small auto key: the foreign keys to it are `integer` columns.
#[derive(Model, Debug, Clone, PartialEq)]
#[model(crate = canter_orm, app = "keys")]
pub struct Shelf {
    pub id: i32,
    pub label: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(crate = canter_orm, app = "keys")]
pub struct Bin {
    pub id: i64,
    #[field(on_delete = "set_null")]
    pub shelf: Option<ForeignKey<Shelf>>,
}

fn country(code: &str, name: &str) -> Country {
    Country {
        code: code.into(),
        name: name.into(),
    }
}

fn city(name: &str, country: &Country) -> City {
    City {
        id: 0,
        name: name.into(),
        country: ForeignKey::to(country),
    }
}

async fn create_tables() {
    create_table::<Country>("default").await.unwrap();
    create_table::<City>("default").await.unwrap();
    create_table::<Account>("default").await.unwrap();
    create_table::<Order>("default").await.unwrap();
    create_table::<Shelf>("default").await.unwrap();
    create_table::<Bin>("default").await.unwrap();
}

on_every_backend! {
    async fn string_keys_carry_foreign_keys_and_loaders(vendor) {
        create_tables().await;
        let countries = Country::objects()
            .bulk_create(vec![country("fr", "France"), country("jp", "Japan"), country("pe", "Peru")])
            .await
            .unwrap();
        let (fr, jp) = (&countries[0], &countries[1]);
        City::objects()
            .bulk_create(vec![city("Paris", fr), city("Lyon", fr), city("Kyoto", jp)])
            .await
            .unwrap();

        // The foreign key holds the target's key itself, not a number standing in for it.
        let lyon = City::objects().filter(City::name.eq("Lyon")).get().await.unwrap();
        assert_eq!(lyon.country.id(), "fr", "{vendor:?}");
        assert_eq!(lyon.country.get().await.unwrap(), *fr);
        assert_eq!(City::objects().filter(City::country.eq("fr")).count().await.unwrap(), 2);
        assert_eq!(City::objects().filter(City::country.eq(jp)).count().await.unwrap(), 1);
        let in_japan = City::objects()
            .filter(City::country.rel(Country::name).eq("Japan"))
            .all()
            .await
            .unwrap();
        assert_eq!(in_japan.len(), 1);

        // select_related and prefetch_related fill the cache with the right row.
        for loaded in [
            City::objects().select_related(City::country).order_by([City::name.asc()]).all().await.unwrap(),
            City::objects().order_by([City::name.asc()]).prefetch_related(City::country).await.unwrap(),
        ] {
            let names: Vec<(&str, &str)> = loaded
                .iter()
                .map(|c| (c.name.as_str(), c.country.cached().unwrap().name.as_str()))
                .collect();
            assert_eq!(names, [("Kyoto", "Japan"), ("Lyon", "France"), ("Paris", "France")]);
        }

        // The reverse loader groups the cities under their country by its string key.
        let grouped = Country::objects()
            .order_by([Country::code.asc()])
            .with_related(City::country)
            .await
            .unwrap();
        let counts: Vec<(&str, usize)> =
            grouped.iter().map(|(c, cities)| (c.code.as_str(), cities.len())).collect();
        assert_eq!(counts, [("fr", 2), ("jp", 1), ("pe", 0)]);

        let by_code = Country::objects()
            .in_bulk(["jp".to_owned(), "pe".to_owned(), "xx".to_owned()])
            .await
            .unwrap();
        assert_eq!(by_code.len(), 2);
        assert_eq!(by_code["pe"].name, "Peru");

        // A key that points nowhere is refused by the database (it used to be written as 0).
        let nowhere = City::objects().create(city("Atlantis", &country("zz", "?"))).await;
        assert!(matches!(nowhere, Err(OrmError::Integrity { .. })), "{vendor:?}: {nowhere:?}");

        // Deleting the target cascades along the string key.
        Country::objects().filter(Country::code.eq("fr")).delete().await.unwrap();
        assert_eq!(City::objects().count().await.unwrap(), 1);
    }
}

on_every_backend! {
    async fn uuid_keys_carry_foreign_keys_and_many_to_many(vendor) {
        create_tables().await;
        let countries = Country::objects()
            .bulk_create(vec![country("fr", "France"), country("jp", "Japan"), country("pe", "Peru")])
            .await
            .unwrap();
        let ids = [Uuid::new_v4(), Uuid::new_v4()];
        let ada = Account::objects()
            .create(Account { id: ids[0], email: "ada@example.com".into(), visited: ManyToMany::default() })
            .await
            .unwrap();
        let bob = Account::objects()
            .create(Account { id: ids[1], email: "bob@example.com".into(), visited: ManyToMany::default() })
            .await
            .unwrap();
        Order::objects()
            .bulk_create(vec![
                Order { id: 0, account: ForeignKey::to(&ada), total: 10 },
                Order { id: 0, account: ForeignKey::to(&ada), total: 20 },
                Order { id: 0, account: ForeignKey::new(bob.id), total: 5 },
            ])
            .await
            .unwrap();

        let orders = Order::objects().order_by([Order::total.asc()]).select_related(Order::account).all().await.unwrap();
        let emails: Vec<&str> = orders.iter().map(|o| o.account.cached().unwrap().email.as_str()).collect();
        assert_eq!(emails, ["bob@example.com", "ada@example.com", "ada@example.com"], "{vendor:?}");
        assert_eq!(orders[0].account.id(), bob.id);
        assert_eq!(Order::objects().filter(Order::account.eq(ada.id)).count().await.unwrap(), 2);
        let totals = Account::objects().with_related(Order::account).await.unwrap();
        for (account, orders) in &totals {
            let sum: i64 = orders.iter().map(|o| o.total).sum();
            assert_eq!(sum, if account.id == ada.id { 30 } else { 5 });
        }
        let by_id = Account::objects().in_bulk(ids).await.unwrap();
        assert_eq!(by_id[&ids[1]].email, "bob@example.com");

        // The join table holds a UUID and a string per link.
        let (fr, jp, pe) = (&countries[0], &countries[1], &countries[2]);
        ada.visited.add(&[fr, jp]).await.unwrap();
        ada.visited.add(&[jp]).await.unwrap();
        bob.visited.add(&[pe]).await.unwrap();
        let mut visited: Vec<String> = ada.visited.all().all().await.unwrap().into_iter().map(|c| c.code).collect();
        visited.sort();
        assert_eq!(visited, ["fr", "jp"]);
        assert_eq!(ada.visited.remove(&[fr]).await.unwrap(), 1);
        let loaded = Account::objects()
            .order_by([Account::email.asc()])
            .with_many_to_many::<Country>("visited")
            .await
            .unwrap();
        let codes: Vec<(&str, Vec<&str>)> = loaded
            .iter()
            .map(|(a, cs)| (a.email.as_str(), cs.iter().map(|c| c.code.as_str()).collect()))
            .collect();
        assert_eq!(codes, [("ada@example.com", vec!["jp"]), ("bob@example.com", vec!["pe"])]);
        // The manager of a loaded row knows its key too.
        let reloaded = Account::objects().filter(Account::id.eq(bob.id)).get().await.unwrap();
        assert_eq!(reloaded.visited.all().count().await.unwrap(), 1);
    }
}

on_every_backend! {
    async fn small_integer_keys_are_pointed_at_by_their_type(vendor) {
        create_tables().await;
        let shelf = Shelf::objects().create(Shelf { id: 0, label: "A".into() }).await.unwrap();
        assert!(shelf.id > 0);
        let field = &Bin::meta().fields[1];
        assert_eq!(field.sql_type, canter_orm::SqlType::Integer, "{vendor:?}");
        Bin::objects().create(Bin { id: 0, shelf: Some(ForeignKey::to(&shelf)) }).await.unwrap();
        let bins = Bin::objects().prefetch_related(Bin::shelf).await.unwrap();
        assert_eq!(bins[0].shelf.as_ref().unwrap().cached().unwrap().label, "A");
        assert_eq!(Bin::objects().filter(Bin::shelf.eq(shelf.id)).count().await.unwrap(), 1);
    }
}
