//! Fresh databases under several aliases on one backend: a SQLite file each, or a PostgreSQL
//! schema each (`CANTER_TEST_POSTGRES_URL`), or a MariaDB database each (`CANTER_TEST_MYSQL_URL`), for tests of `.using()` and of pool settings.

#![allow(dead_code)]

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::Arc;

use canter_orm::{DatabaseConfig, Databases, Vendor};
use canter_test_kit::{PgSchema, SqliteFile};

/// The databases, and the fixtures that remove them when the test is done.
pub struct Fresh {
    pub dbs: Arc<Databases>,
    _places: Vec<Box<dyn Any + Send>>,
}

impl Fresh {
    pub fn finish(self) {
        drop(self);
    }
}

/// One fresh database per alias on `vendor`'s backend, each config adjusted by `tweak`.
pub async fn fresh(vendor: Vendor, aliases: &[&str], tweak: impl Fn(&mut DatabaseConfig)) -> Fresh {
    let mut places: Vec<Box<dyn Any + Send>> = Vec::new();
    let mut config = BTreeMap::new();
    for alias in aliases {
        let url = match vendor {
            Vendor::Sqlite => {
                let file = SqliteFile::new("canter-alias");
                let url = file.url.clone();
                places.push(Box::new(file));
                url
            }
            Vendor::Postgres => {
                let schema = PgSchema::create("canter_alias").expect("CANTER_TEST_POSTGRES_URL");
                let url = schema.url.clone();
                places.push(Box::new(schema));
                url
            }
            #[cfg(feature = "mysql")]
            Vendor::Mysql => {
                let database = canter_test_kit::MysqlDatabase::create("canter_alias")
                    .expect("CANTER_TEST_MYSQL_URL");
                let url = database.url.clone();
                places.push(Box::new(database));
                url
            }
        };
        let mut one = DatabaseConfig::new(url);
        tweak(&mut one);
        config.insert(alias.to_string(), one);
    }
    Fresh {
        dbs: Arc::new(Databases::connect(&config).unwrap()),
        _places: places,
    }
}
