//! The demo's accounts (issue 15's contract): `demo migrate` creates Django's tables,
//! `demo createsuperuser --noinput`, the login page and its CSRF cookie, login (302 to `next`
//! or `/`), wrong credentials (the form again, nobody logged in), `/accounts/me/`, logout under
//! CSRF, the chat under the user's name, the JSON APIs still CSRF-exempt.

mod support;

use std::sync::Arc;

use canter::channels::testing::WebsocketCommunicator;
use canter::orm::Databases;
use canter::test::TestClient;
use canter_test_kit::TempDir;
use serde_json::{json, Value};
use support::demo_command;

/// `demo migrate` then `demo createsuperuser --noinput` in `dir` (its `demo.sqlite3`).
fn migrate_and_create(dir: &std::path::Path, username: &str, password: &str) {
    let migrate = demo_command()
        .arg("migrate")
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );
    let created = demo_command()
        .args([
            "createsuperuser",
            "--noinput",
            "--username",
            username,
            "--email",
            "a@example.com",
        ])
        .env("CANTER_SUPERUSER_PASSWORD", password)
        .current_dir(dir)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&created.stdout);
    assert!(
        created.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&created.stderr)
    );
    assert!(out.contains("Superuser created successfully."), "{out}");
}

/// The demo as a test runs it, on the database of `dir`.
async fn client_on(dir: &std::path::Path) -> (TestClient, Arc<Databases>) {
    let url = format!("sqlite://{}", dir.join("demo.sqlite3").display());
    let dbs = Arc::new(Databases::single(&url).unwrap());
    let client = dbs.clone().scope(TestClient::start(demo::app())).await;
    (client, dbs)
}

fn token_of(page: &str) -> String {
    let at = page
        .find("name=\"csrfmiddlewaretoken\" value=\"")
        .expect("a CSRF field")
        + 34;
    page[at..at + 64].to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_in_see_me_chat_as_me_and_log_out() {
    let dir = TempDir::new("demo-accounts");
    let password = "a long demo password";
    migrate_and_create(dir.path(), "ada", password);
    let (client, _dbs) = client_on(dir.path()).await;

    let me = client.get("/accounts/me/").await;
    assert_eq!(me.status(), 401);
    assert_eq!(me.json::<Value>(), json!({"username": null}));

    let page = client.get("/accounts/login/?next=/notes/").await;
    assert_eq!(page.status(), 200);
    assert!(
        page.set_cookies().iter().any(|c| c.name() == "csrftoken"),
        "the CSRF cookie"
    );
    let html = page.text();
    for field in [
        "name=\"username\"",
        "name=\"password\"",
        "name=\"csrfmiddlewaretoken\"",
    ] {
        assert!(html.contains(field), "{field}: {html}");
    }
    let token = token_of(&html);

    // Wrong credentials: the form again with the error, nobody logged in.
    for (user, pass) in [("ada", "wrong"), ("nobody", password)] {
        let r = client
            .post("/accounts/login/")
            .form(&[
                ("username", user),
                ("password", pass),
                ("csrfmiddlewaretoken", &token),
            ])
            .await;
        assert_eq!(r.status(), 200);
        assert!(r
            .text()
            .contains("Please enter a correct username and password."));
        assert!(!r.text().contains(pass), "the password is not shown again");
        assert_eq!(client.get("/accounts/me/").await.status(), 401);
    }
    // Without the token: 403.
    let r = client
        .post("/accounts/login/")
        .form(&[("username", "ada"), ("password", password)])
        .await;
    assert_eq!(r.status(), 403);

    let r = client
        .post("/accounts/login/")
        .form(&[
            ("username", "ada"),
            ("password", password),
            ("next", "/notes/"),
            ("csrfmiddlewaretoken", &token),
        ])
        .await;
    assert_eq!(r.status(), 302);
    assert_eq!(r.header("location"), Some("/notes/"));
    let me = client.get("/accounts/me/").await;
    assert_eq!(me.status(), 200);
    assert_eq!(me.json::<Value>(), json!({"username": "ada"}));
    assert!(client
        .get("/")
        .await
        .text()
        .contains("<span id=\"username\">ada</span>"));

    // The chat: a logged-in user's name from the session cookie; anonymous otherwise.
    let cookie = format!("sessionid={}", client.cookie("sessionid").unwrap());
    let mut ada = WebsocketCommunicator::connect_with(
        client.service(),
        "/ws/chat/acc/",
        &[("cookie", &cookie)],
    )
    .await
    .unwrap();
    let mut anon = WebsocketCommunicator::connect(client.service(), "/ws/chat/acc/")
        .await
        .unwrap();
    ada.send_json(&json!({"message": "hi"})).await;
    assert_eq!(
        anon.receive_json().await.unwrap(),
        json!({"message": "hi", "user": "ada"})
    );
    anon.send_json(&json!({"message": "yo"})).await;
    let mut seen = Vec::new();
    while seen.len() < 2 {
        seen.push(ada.receive_json().await.unwrap());
    }
    assert!(
        seen.contains(&json!({"message": "yo", "user": "anonymous"})),
        "{seen:?}"
    );
    ada.close(1000).await;
    anon.close(1000).await;
    let chat = client.get("/chat/lobby/").await.text();
    assert!(chat.contains("data-user=\"ada\""), "{chat}");

    // The JSON APIs keep working without a token (CSRF-exempt).
    let r = client.post_json("/api/echo/", &json!({"a": 1})).await;
    assert_eq!(r.status(), 200, "{}", r.text());

    // Logout: a POST under CSRF protection.
    assert_eq!(client.post("/accounts/logout/").await.status(), 403);
    assert_eq!(
        client.get("/accounts/me/").await.status(),
        200,
        "still logged in"
    );
    let token = token_of(&client.get("/accounts/login/").await.text());
    let r = client
        .post("/accounts/logout/")
        .form(&[("csrfmiddlewaretoken", &token)])
        .await;
    assert_eq!(r.status(), 302);
    assert_eq!(r.header("location"), Some("/"));
    assert_eq!(client.get("/accounts/me/").await.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_never_leaves_the_site() {
    let dir = TempDir::new("demo-accounts-next");
    migrate_and_create(dir.path(), "bo", "pw-pw-pw-pw");
    let (client, _dbs) = client_on(dir.path()).await;
    for next in [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
    ] {
        let token = token_of(&client.get("/accounts/login/").await.text());
        let r = client
            .post("/accounts/login/")
            .form(&[
                ("username", "bo"),
                ("password", "pw-pw-pw-pw"),
                ("next", next),
                ("csrfmiddlewaretoken", &token),
            ])
            .await;
        assert_eq!(r.status(), 302);
        assert_eq!(r.header("location"), Some("/"), "{next}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changepassword_logs_out_the_users_sessions_and_the_new_password_works() {
    use std::io::Write;
    let dir = TempDir::new("demo-accounts-change");
    migrate_and_create(dir.path(), "cy", "first-password");
    let (client, _dbs) = client_on(dir.path()).await;
    let token = token_of(&client.get("/accounts/login/").await.text());
    let r = client
        .post("/accounts/login/")
        .form(&[
            ("username", "cy"),
            ("password", "first-password"),
            ("csrfmiddlewaretoken", &token),
        ])
        .await;
    assert_eq!(r.status(), 302);
    assert_eq!(client.get("/accounts/me/").await.status(), 200);

    let mut child = demo_command()
        .args(["changepassword", "cy"])
        .current_dir(dir.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"second-password\nsecond-password\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("Password changed successfully for user 'cy'"),
        "{stdout}"
    );
    assert!(!stdout.contains("second-password"), "{stdout}");

    assert_eq!(
        client.get("/accounts/me/").await.status(),
        401,
        "logged out by the new hash"
    );
    let token = token_of(&client.get("/accounts/login/").await.text());
    let r = client
        .post("/accounts/login/")
        .form(&[
            ("username", "cy"),
            ("password", "second-password"),
            ("csrfmiddlewaretoken", &token),
        ])
        .await;
    assert_eq!(r.status(), 302);
    assert_eq!(
        client.get("/accounts/me/").await.json::<Value>(),
        json!({"username": "cy"})
    );
    // createsuperuser refuses a taken name.
    let again = demo_command()
        .args(["createsuperuser", "--noinput", "--username", "cy"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("That username is already taken."));
}
