//! Query string → ORM lookups: `QuerySet::filter_params` on a model with a field of each kind and
//! a relation returns `Ok` or `Err(InvalidLookup)`, never panics; the SQL of an accepted one
//! compiles (SQLite and PostgreSQL; compiling needs no connection).
//!
//! Input: `key=value&key=value…`, as a query string (not percent-decoded: any byte may stand).
#![no_main]

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

use canter_core::services::Services;
use canter_orm::chrono::{DateTime, NaiveDate, Utc};
use canter_orm::rust_decimal::Decimal;
use canter_orm::uuid::Uuid;
use canter_orm::{DatabaseConfig, Databases, ForeignKey, Model, OrmError};
use libfuzzer_sys::fuzz_target;

#[derive(Model, Debug, Clone)]
#[model(crate = canter_orm, app = "fuzz")]
struct Owner {
    id: i64,
    #[field(max_length = 50)]
    name: String,
}

#[derive(Model, Debug, Clone)]
#[model(crate = canter_orm, app = "fuzz")]
struct Item {
    id: i64,
    #[field(max_length = 100)]
    name: String,
    score: i64,
    small: i32,
    ratio: f64,
    flag: bool,
    day: Option<NaiveDate>,
    at: Option<DateTime<Utc>>,
    key: Option<Uuid>,
    price: Option<Decimal>,
    data: Option<serde_json::Value>,
    #[field(on_delete = "cascade", related_name = "items")]
    owner: Option<ForeignKey<Owner>>,
}

/// The aliases compiled for: an in-memory SQLite database and a PostgreSQL one never reached
/// (pools connect lazily).
/// They are an app's services: queries find their database in the app's scope.
static DATABASES: LazyLock<(tokio::runtime::Runtime, Arc<Services>)> = LazyLock::new(|| {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let app = runtime.block_on(async {
        let config = BTreeMap::from([
            ("default".to_owned(), DatabaseConfig::new("sqlite::memory:")),
            (
                "pg".to_owned(),
                DatabaseConfig::new("postgres://fuzz@127.0.0.1:1/never"),
            ),
        ]);
        Arc::new(Services::new().with(Arc::new(Databases::connect(&config).unwrap())))
    });
    (runtime, app)
});

fuzz_target!(|data: &[u8]| {
    let Ok(query) = std::str::from_utf8(data) else {
        return;
    };
    let pairs: Vec<(&str, &str)> = query
        .split('&')
        .take(8)
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
        .collect();
    let _guard = DATABASES.0.enter();
    DATABASES.1.sync_scope(|| check(&pairs));
});

/// Every alias: the lookups are refused as `InvalidLookup`, or they compile to SQL.
fn check(pairs: &[(&str, &str)]) {
    for alias in ["default", "pg"] {
        let filtered = Item::objects()
            .using(alias)
            .filter_params(pairs.iter().copied());
        let queryset = match filtered {
            Ok(queryset) => queryset,
            Err(OrmError::InvalidLookup(_)) => return,
            Err(other) => panic!("{pairs:?}: {other:?} is not InvalidLookup"),
        };
        match queryset.sql() {
            Ok(_) | Err(OrmError::InvalidLookup(_) | OrmError::Validation(_)) => {}
            Err(other) => panic!("{pairs:?} on {alias}: accepted, but its SQL fails: {other:?}"),
        }
    }
}
