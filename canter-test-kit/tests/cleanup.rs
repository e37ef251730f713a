//! Each fixture leaves nothing behind once dropped.

use canter_test_kit::{execute, text_rows, PgSchema, RedisKeys, SqliteFile, TempDir};

#[test]
fn a_schema_holds_the_tests_tables_and_goes_when_dropped() {
    let Some(schema) = PgSchema::create("kit_test") else {
        return;
    };
    execute(
        &schema.url,
        "CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('here')",
    );
    assert_eq!(text_rows(&schema.url, "SELECT v FROM t"), [["here"]]);
    let name = schema.name.clone();
    let admin = std::env::var("CANTER_TEST_POSTGRES_URL").unwrap();
    let query = format!("SELECT nspname::text FROM pg_namespace WHERE nspname = '{name}'");
    assert_eq!(text_rows(&admin, &query).len(), 1);
    drop(schema);
    assert!(
        text_rows(&admin, &query).is_empty(),
        "schema {name} dropped"
    );
}

#[test]
fn keys_under_the_prefix_go_when_dropped() {
    let Some(keys) = RedisKeys::create("kit-test") else {
        return;
    };
    let (url, key) = (keys.url.clone(), format!("{}k", keys.prefix));
    canter_test_kit::block_on(async move {
        let client = redis::Client::open(url).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        let _: () = redis::cmd("SET")
            .arg(key)
            .arg("v")
            .query_async(&mut conn)
            .await
            .unwrap();
    });
    assert_eq!(keys.keys().len(), 1);
    let prefix = keys.prefix.clone();
    let url = keys.url.clone();
    drop(keys);
    let left = RedisKeys { url, prefix };
    assert!(left.keys().is_empty());
    assert!(
        left.broker_url()
            .ends_with(&format!("?global_keyprefix={}", left.prefix)),
        "{}",
        left.broker_url()
    );
}

#[test]
fn files_and_directories_go_when_dropped() {
    let dir = TempDir::new("kit-test");
    std::fs::write(dir.join("a.txt"), "x").unwrap();
    let path = dir.path().to_owned();
    drop(dir);
    assert!(!path.exists());

    let file = SqliteFile::new("kit-test");
    let companions: Vec<_> = ["", "-wal", "-shm"]
        .iter()
        .map(|suffix| format!("{}{suffix}", file.path.display()))
        .collect();
    for companion in &companions {
        std::fs::write(companion, "x").unwrap();
    }
    assert!(file.url.starts_with("sqlite://"));
    drop(file);
    for companion in &companions {
        assert!(!std::path::Path::new(companion).exists(), "{companion}");
    }
}
