//! Settings: layering, environment overrides, validation.
use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn defaults_then_file_then_env() {
    let s = Settings::from_toml_and_env(
        "debug = true\n[server]\nbind = \"127.0.0.1:9000\"\n",
        env(&[
            ("CANTER_SERVER__BIND", "0.0.0.0:8080"),
            ("CANTER_ALLOWED_HOSTS", "a.com,.b.org"),
            ("OTHER", "x"),
            ("CANTER_TEST_POSTGRES_URL", "not a setting"),
        ]),
    )
    .unwrap();
    assert!(s.debug);
    assert_eq!(s.server.bind, "0.0.0.0:8080");
    assert_eq!(s.allowed_hosts, vec!["a.com", ".b.org"]);
    assert_eq!(s.server.max_body_size, 2_621_440);
}

#[test]
fn env_values_are_typed() {
    let s = Settings::from_toml_and_env(
        "",
        env(&[
            ("CANTER_DEBUG", "true"),
            ("CANTER_SERVER__MAX_BODY_SIZE", "1024"),
        ]),
    )
    .unwrap();
    assert!(s.debug);
    assert_eq!(s.server.max_body_size, 1024);
}

#[test]
fn errors_name_the_key() {
    let e = Settings::from_toml("[server]\nmax_body_size = \"big\"\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("server.max_body_size"), "{e}");
    let e = Settings::from_toml_and_env("", env(&[("CANTER_DEBUG", "maybe")]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("`debug`"), "{e}");
    let e = Settings::from_toml("[server]\nbnd = \"x\"\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("server.bnd"), "{e}");
    let e = Settings::from_toml("degub = true\n")
        .unwrap_err()
        .to_string();
    assert!(e.contains("`degub`"), "{e}");
    let e = Settings::from_toml("debug = \n").unwrap_err().to_string();
    assert!(!e.is_empty());
}

#[test]
fn file_overlays_the_embedded_base() {
    let dir = std::env::temp_dir().join(format!("canter-settings-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("canter.toml");
    std::fs::write(&file, "[server]\nmax_body_size = 10\n").unwrap();
    let s = Settings::load_layered(
        "debug = true\n[server]\nbind = \"127.0.0.1:9999\"\n",
        Some(&file),
    )
    .unwrap();
    assert!(s.debug);
    assert_eq!(s.server.bind, "127.0.0.1:9999");
    assert_eq!(s.server.max_body_size, 10);
    std::fs::write(&file, "[server\n").unwrap();
    let e = Settings::load_layered("debug = true", Some(&file))
        .unwrap_err()
        .to_string();
    assert!(e.contains("canter.toml"), "{e}");
    let e = Settings::load_layered("debug = true", Some(&dir.join("missing.toml")))
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing.toml"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn validation() {
    let e = Settings::default().validate().unwrap_err().to_string();
    assert!(e.contains("secret_key"), "{e}");
    let s = Settings {
        secret_key: Some("k".into()),
        ..Settings::default()
    };
    assert!(s
        .validate()
        .unwrap_err()
        .to_string()
        .contains("allowed_hosts"));
    let s = Settings {
        debug: true,
        server: ServerSettings {
            bind: "nope".into(),
            ..Default::default()
        },
        ..Settings::default()
    };
    assert!(s
        .validate()
        .unwrap_err()
        .to_string()
        .contains("server.bind"));
    let s = Settings {
        debug: true,
        ..Settings::default()
    };
    s.validate().unwrap();
    assert_eq!(
        s.effective_allowed_hosts(),
        vec![".localhost", "127.0.0.1", "[::1]"]
    );
}

#[test]
fn sections_for_other_parts() {
    #[derive(Deserialize, Default, Debug)]
    struct Db {
        url: String,
    }
    let s = Settings::from_toml("[database]\nurl = \"sqlite://x\"\n").unwrap();
    assert_eq!(s.section::<Db>("database").unwrap().url, "sqlite://x");
    assert_eq!(s.section::<Db>("absent").unwrap().url, "");
    let s = Settings::from_toml("[database]\nurl = 3\n").unwrap();
    assert!(s
        .section::<Db>("database")
        .unwrap_err()
        .to_string()
        .contains("database.url"));
}
