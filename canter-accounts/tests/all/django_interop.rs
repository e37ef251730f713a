//! Django interop (issue 15): with the same `SECRET_KEY` and database, Django 5.2 (from PyPI,
//! `CANTER_TEST_PYTHON`) configured in-process on canter's SQLite file or PostgreSQL schema:
//! a session canter made is logged in for Django (`SessionStore` loads it, `get_user` returns
//! the user) and one Django made (by `login()`) is logged in for canter; a hash from Django's
//! `make_password` verifies in canter, and canter's in Django's `check_password`.

use std::io::Write;
use std::process::{Command, Stdio};

use canter_accounts::hashers::{check_password, make_password, Hasher};
use canter_accounts::signed_cookies::{sign_cookie, unsign_cookie};
use serde_json::{json, Value};

use crate::common::{postgres_site, Site, PASSWORD};

/// Runs `steps` in Django on `db_url`; their results.
fn django(db_url: &str, steps: Value) -> Vec<Value> {
    let python = canter_core::test::require_service("CANTER_TEST_PYTHON").expect("checked");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/django/interop.py");
    let mut child = Command::new(python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the interop Python runs");
    let input = json!({"db": db_url, "secret_key": "test-secret", "steps": steps});
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "Django failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let parsed: Value = serde_json::from_slice(&out.stdout).unwrap();
    parsed["results"].as_array().unwrap().clone()
}

async fn shared_login(site: &Site, db_url: &str) {
    let ann = site.user("ann", 1000).await;
    // canter logs in → Django sees the session and its user.
    let r = site.log_in(&site.client, "ann", PASSWORD).await;
    assert_eq!(r.status(), 302);
    let key = site.client.cookie("sessionid").unwrap();
    let url = db_url.to_owned();
    let steps = json!([
        {"step": "load_session", "key": key},
        {"step": "session_user", "key": key},
        {"step": "login_session", "username": "ann"},
        {"step": "check_password", "password": PASSWORD, "encoded": ann.password},
        {"step": "make_password", "password": "made by django"},
    ]);
    let results = tokio::task::spawn_blocking(move || django(&url, steps))
        .await
        .unwrap();
    assert_eq!(
        results[0]["_auth_user_id"],
        ann.id.to_string(),
        "{results:?}"
    );
    assert_eq!(
        results[0]["_auth_user_backend"],
        "django.contrib.auth.backends.ModelBackend"
    );
    assert_eq!(results[1], "ann", "Django's get_user on canter's session");
    // Django's login → canter sees the user.
    let django_key = results[2].as_str().unwrap();
    let client = site.other_client();
    client.set_cookie("sessionid", django_key);
    let me = client.get("/me/").await;
    assert_eq!(me.status(), 200, "{}", me.text());
    assert_eq!(me.json::<Value>()["username"], "ann");
    // Hashes both ways.
    assert_eq!(results[3], true, "Django's check_password on canter's hash");
    let django_hash = results[4].as_str().unwrap();
    assert!(
        django_hash.starts_with("pbkdf2_sha256$1000000$"),
        "{django_hash}"
    );
    let checked = check_password("made by django", django_hash, &Hasher::default());
    assert!(checked.valid && !checked.must_update);
    assert!(!check_password("made by canter", django_hash, &Hasher::default()).valid);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn django_and_canter_share_logins_and_password_hashes() {
    if canter_core::test::require_service("CANTER_TEST_PYTHON").is_none() {
        return;
    }
    let file = canter_test_kit::SqliteFile::new("canter-accounts-django");
    let sqlite = crate::common::site_at(&file.url, crate::common::FAST).await;
    shared_login(&sqlite, &file.url).await;
    if let Some(pg) = postgres_site(crate::common::FAST).await {
        let url = pg.url.clone();
        shared_login(&pg, &url).await;
    }
    // A full-strength canter hash verifies in Django too; signed cookies both ways.
    let encoded = make_password("full strength");
    let keys = (b"test-secret".to_vec(), vec![]);
    let ours = sign_cookie(&keys, "theme", "prefs", "dark blue");
    let results = tokio::task::spawn_blocking(move || {
        django(
            &file.url,
            json!([
                {"step": "check_password", "password": "full strength", "encoded": encoded},
                {"step": "unsign_cookie", "name": "theme", "signed": ours, "salt": "prefs"},
                {"step": "sign_cookie", "name": "theme", "value": "light", "salt": "prefs"},
                {"step": "unsign_cookie", "name": "other", "signed": ours, "salt": "prefs"},
            ]),
        )
    })
    .await
    .unwrap();
    assert_eq!(results[0], true);
    assert_eq!(
        results[1], "dark blue",
        "Django reads canter's signed cookie"
    );
    let theirs = results[2].as_str().unwrap().trim_matches('"');
    assert_eq!(
        unsign_cookie(&keys, "theme", "prefs", theirs, None).as_deref(),
        Some("light")
    );
    assert_eq!(results[3], Value::Null, "bound to the cookie's name");
}
