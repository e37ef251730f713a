//! Fresh databases under several aliases on one backend: a SQLite file each, or a PostgreSQL
//! schema each (`CANTER_TEST_POSTGRES_URL`), for tests of `.using()` and of pool settings.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;

use canter_orm::{DatabaseConfig, Databases, Vendor};

/// The databases, and what removes them when the test is done.
pub struct Fresh {
    pub dbs: Arc<Databases>,
    cleanup: Option<Box<dyn FnOnce() + Send>>,
}

impl Fresh {
    pub fn finish(mut self) {
        if let Some(cleanup) = self.cleanup.take() {
            cleanup();
        }
    }
}

fn unique() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_owned()
}

/// One fresh database per alias on `vendor`'s backend, each config adjusted by `tweak`.
pub async fn fresh(vendor: Vendor, aliases: &[&str], tweak: impl Fn(&mut DatabaseConfig)) -> Fresh {
    match vendor {
        Vendor::Sqlite => {
            let files: Vec<_> = aliases
                .iter()
                .map(|_| std::env::temp_dir().join(format!("canter-alias-{}.sqlite3", unique())))
                .collect();
            let config: BTreeMap<String, DatabaseConfig> = aliases
                .iter()
                .zip(&files)
                .map(|(alias, file)| {
                    let mut config = DatabaseConfig::new(format!("sqlite://{}", file.display()));
                    tweak(&mut config);
                    (alias.to_string(), config)
                })
                .collect();
            let dbs = Arc::new(Databases::connect(&config).unwrap());
            let cleanup = move || {
                for file in files {
                    for suffix in ["", "-wal", "-shm"] {
                        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
                    }
                }
            };
            Fresh {
                dbs,
                cleanup: Some(Box::new(cleanup)),
            }
        }
        Vendor::Postgres => {
            let url = std::env::var("CANTER_TEST_POSTGRES_URL").unwrap();
            let schemas: Vec<String> = aliases
                .iter()
                .map(|_| format!("canter_alias_{}", unique()))
                .collect();
            let admin = Arc::new(Databases::single(&url).unwrap());
            for schema in &schemas {
                let sql = format!("CREATE SCHEMA {schema}");
                admin
                    .clone()
                    .scope(async move { crate::common::raw(&sql).await })
                    .await;
            }
            let separator = if url.contains('?') { '&' } else { '?' };
            let config: BTreeMap<String, DatabaseConfig> = aliases
                .iter()
                .zip(&schemas)
                .map(|(alias, schema)| {
                    let mut config = DatabaseConfig::new(format!(
                        "{url}{separator}options=-c%20search_path%3D{schema}"
                    ));
                    tweak(&mut config);
                    (alias.to_string(), config)
                })
                .collect();
            let dbs = Arc::new(Databases::connect(&config).unwrap());
            let cleanup = move || {
                // On a runtime of its own: the test's runtime is busy running the test.
                std::thread::spawn(move || {
                    tokio::runtime::Runtime::new().unwrap().block_on(async {
                        let admin = Arc::new(Databases::single(&url).unwrap());
                        admin
                            .scope(async {
                                for schema in &schemas {
                                    crate::common::raw(&format!(
                                        "DROP SCHEMA IF EXISTS {schema} CASCADE"
                                    ))
                                    .await;
                                }
                            })
                            .await;
                    })
                })
                .join()
                .unwrap();
            };
            Fresh {
                dbs,
                cleanup: Some(Box::new(cleanup)),
            }
        }
    }
}
