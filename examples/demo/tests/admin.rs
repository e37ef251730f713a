//! The demo's admin (issue 20's contract): `demo migrate`, `demo createsuperuser --noinput`,
//! then log in at `/admin/login/`, list `/admin/demo/mymodel/`, search with `?q=`, filter
//! with `?active__exact=1`, add, change and delete a row at Django's URLs; a user who is not
//! staff goes to the admin's login page.

mod support;

use std::sync::Arc;

use canter::accounts::hashers::make_password;
use canter::accounts::models::User;
use canter::orm::chrono::Utc;
use canter::orm::Databases;
use canter::test::{TestClient, TestResponse};
use canter_test_kit::TempDir;
use demo::models::MyModel;
use support::demo_command;

fn migrate_and_create_superuser(dir: &std::path::Path, password: &str) {
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
            "boss",
            "--email",
            "b@example.com",
        ])
        .env("CANTER_SUPERUSER_PASSWORD", password)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
}

fn token_of(page: &str) -> String {
    let marker = "name=\"csrfmiddlewaretoken\" value=\"";
    let at = page.find(marker).expect("a CSRF field") + marker.len();
    page[at..at + 64].to_owned()
}

async fn post(
    client: &TestClient,
    page: &str,
    target: &str,
    fields: &[(&str, &str)],
) -> TestResponse {
    let token = token_of(&client.get(page).await.text());
    let mut all = fields.to_vec();
    all.push(("csrfmiddlewaretoken", &token));
    client.post(target).form(&all).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_superuser_lists_searches_filters_adds_changes_and_deletes() {
    let dir = TempDir::new("demo-admin");
    let password = "an admin password";
    migrate_and_create_superuser(dir.path(), password);
    let url = format!("sqlite://{}", dir.path().join("demo.sqlite3").display());
    let dbs = Arc::new(Databases::single(&url).unwrap());
    let client = dbs.clone().scope(TestClient::start(demo::app())).await;
    dbs.clone()
        .scope(async {
            for (name, active) in [("alpha", true), ("beta", false), ("alphabet", false)] {
                MyModel::objects()
                    .create(MyModel {
                        id: 0,
                        name: name.into(),
                        active,
                    })
                    .await
                    .unwrap();
            }
        })
        .await;

    // Anonymous: to the admin's login page.
    let r = client.get("/admin/demo/mymodel/").await;
    assert_eq!(r.status(), 302);
    assert_eq!(
        r.header("location"),
        Some("/admin/login/?next=%2Fadmin%2Fdemo%2Fmymodel%2F")
    );
    let r = post(
        &client,
        "/admin/login/",
        "/admin/login/",
        &[
            ("username", "boss"),
            ("password", password),
            ("next", "/admin/"),
        ],
    )
    .await;
    assert_eq!(r.status(), 302, "{}", r.text());
    let index = client.get("/admin/").await.text();
    for link in [
        "/admin/demo/mymodel/",
        "/admin/demo/note/",
        "/admin/auth/user/",
        "/admin/auth/group/",
    ] {
        assert!(index.contains(link), "{link} on the index");
    }

    let list = client.get("/admin/demo/mymodel/").await.text();
    assert!(
        list.contains(">alpha<") && list.contains(">beta<") && list.contains("3 my models"),
        "{list}"
    );
    let searched = client.get("/admin/demo/mymodel/?q=alph").await.text();
    assert!(
        searched.contains("2 results") && !searched.contains(">beta<"),
        "{searched}"
    );
    let active = client
        .get("/admin/demo/mymodel/?active__exact=1")
        .await
        .text();
    assert!(
        active.contains("1 result ") && active.contains(">alpha<"),
        "{active}"
    );

    let add = "/admin/demo/mymodel/add/";
    let r = post(&client, add, add, &[("name", "gamma"), ("active", "on")]).await;
    assert_eq!(r.status(), 302, "{}", r.text());
    let gamma = dbs
        .clone()
        .scope(MyModel::objects().filter(MyModel::name.eq("gamma")).get())
        .await
        .unwrap();
    assert!(gamma.active);
    let change = format!("/admin/demo/mymodel/{}/change/", gamma.id);
    let r = post(&client, &change, &change, &[("name", "gamma ray")]).await;
    assert_eq!(r.status(), 302);
    let changed = dbs
        .clone()
        .scope(MyModel::objects().filter(MyModel::id.eq(gamma.id)).get())
        .await
        .unwrap();
    assert_eq!(
        (changed.name.as_str(), changed.active),
        ("gamma ray", false)
    );
    let delete = format!("/admin/demo/mymodel/{}/delete/", gamma.id);
    assert!(client.get(&delete).await.text().contains("Are you sure"));
    let r = post(&client, &delete, &delete, &[("post", "yes")]).await;
    assert_eq!(r.status(), 302);
    let left = dbs.clone().scope(MyModel::objects().count()).await.unwrap();
    assert_eq!(left, 3);
    let history = client
        .get(&format!("/admin/demo/mymodel/{}/history/", gamma.id))
        .await;
    assert_eq!(history.status(), 404, "the row is gone");

    // A logged-in user who is not staff is sent to the admin's login page.
    dbs.clone()
        .scope(User::objects().create(User {
            username: "visitor".into(),
            password: make_password("visitor password"),
            is_active: true,
            date_joined: Utc::now(),
            ..Default::default()
        }))
        .await
        .unwrap();
    let visitor = TestClient::from_service(client.service().clone());
    let login = visitor.get("/accounts/login/").await.text();
    let r = visitor
        .post("/accounts/login/")
        .form(&[
            ("username", "visitor"),
            ("password", "visitor password"),
            ("csrfmiddlewaretoken", &token_of(&login)),
        ])
        .await;
    assert_eq!(r.status(), 302);
    let r = visitor.get("/admin/demo/mymodel/").await;
    assert_eq!(r.status(), 302);
    assert!(r.header("location").unwrap().starts_with("/admin/login/"));
}
