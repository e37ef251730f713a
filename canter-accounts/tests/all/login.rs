//! Logging in and out: Django's session keys, fixation, equal answers, the blocking pool,
//! no password in logs, hash upgrades, password changes, guards, force_login.

use canter_accounts::models::User;
use canter_accounts::testing::ForceLogin;

use crate::common::{site, FAST, PASSWORD};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_stores_djangos_keys_rotates_the_key_and_logout_flushes() {
    let site = site(FAST).await;
    let ann = site.user("ann", 1000).await;
    let client = &site.client;
    assert_eq!(client.get("/me/").await.status(), 401);
    // A session from before the login (fixation: an attacker's key planted in the browser).
    let token = client.get("/token/").await.text();
    client
        .post("/session/set/")
        .form(&[("cart", "3"), ("csrfmiddlewaretoken", &token)])
        .await;
    let before = client.cookie("sessionid").unwrap();
    let csrf_before = client.cookie("csrftoken").unwrap();
    let r = site.log_in(client, "ann", PASSWORD).await;
    assert_eq!(r.status(), 302);
    assert_eq!(r.header("location"), Some("/me/"));
    let after = client.cookie("sessionid").unwrap();
    assert_ne!(before, after, "a new session key at login");
    assert_ne!(
        client.cookie("csrftoken").unwrap(),
        csrf_before,
        "a new CSRF secret"
    );
    let r = client.get("/me/").await;
    assert_eq!(r.json::<serde_json::Value>()["username"], "ann");
    let data: serde_json::Value = client.get("/session/get/").await.json();
    assert_eq!(data["_auth_user_id"], ann.id.to_string());
    assert_eq!(
        data["_auth_user_backend"],
        "django.contrib.auth.backends.ModelBackend"
    );
    assert_eq!(data["_auth_user_hash"].as_str().unwrap().len(), 64);
    assert_eq!(data["cart"], "3", "data kept across the new key");
    // The old key is dead: planted elsewhere, it is anonymous.
    let attacker = site.other_client();
    attacker.set_cookie("sessionid", &before);
    assert_eq!(attacker.get("/me/").await.status(), 401);
    let last_login = site
        .run(User::objects().filter(User::id.eq(ann.id)).get())
        .await
        .unwrap()
        .last_login;
    assert!(last_login.is_some());
    // Logout is a POST under CSRF protection.
    let token = client.get("/token/").await.text();
    assert_eq!(client.post("/logout/").await.status(), 403);
    let r = client
        .post("/logout/")
        .form(&[("csrfmiddlewaretoken", &token)])
        .await;
    assert_eq!(r.status(), 302);
    assert_eq!(client.cookie("sessionid"), None, "the cookie is deleted");
    assert_eq!(client.get("/me/").await.status(), 401);
    let stale = site.other_client();
    stale.set_cookie("sessionid", &after);
    assert_eq!(stale.get("/me/").await.status(), 401, "the row is gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_user_and_a_wrong_password_get_the_same_answer() {
    let site = site(FAST).await;
    site.user("ann", 1000).await;
    let wrong = site.log_in(&site.other_client(), "ann", "nope").await;
    let unknown = site.log_in(&site.other_client(), "bob", "nope").await;
    assert_eq!(wrong.status(), unknown.status());
    assert_eq!(wrong.text(), unknown.text());
    assert!(
        wrong.set_cookies().iter().all(|c| c.name() != "sessionid"),
        "nobody logged in"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hash_with_fewer_iterations_is_upgraded_at_login() {
    let site = site("[auth]\npbkdf2_iterations = 2000\n").await;
    let ann = site.user("ann", 1000).await;
    assert!(ann.password.starts_with("pbkdf2_sha256$1000$"));
    assert_eq!(
        site.log_in(&site.client, "ann", PASSWORD).await.status(),
        302
    );
    let saved = site
        .run(User::objects().filter(User::id.eq(ann.id)).get())
        .await
        .unwrap();
    assert!(
        saved.password.starts_with("pbkdf2_sha256$2000$"),
        "{}",
        saved.password.len()
    );
    assert_eq!(
        site.client.get("/me/").await.status(),
        200,
        "still logged in after the upgrade"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_the_password_logs_out_other_sessions() {
    let site = site(FAST).await;
    let ann = site.user("ann", 1000).await;
    site.log_in(&site.client, "ann", PASSWORD).await;
    assert_eq!(site.client.get("/me/").await.status(), 200);
    let new_hash = canter_accounts::hashers::make_password_with(
        "another one",
        &canter_accounts::hashers::Hasher::Pbkdf2Sha256 { iterations: 1000 },
    );
    site.run(
        User::objects()
            .filter(User::id.eq(ann.id))
            .update([User::password.set(new_hash)]),
    )
    .await
    .unwrap();
    assert_eq!(site.client.get("/me/").await.status(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guards_and_force_login() {
    let site = site(FAST).await;
    let ann = site.user("ann", 1000).await;
    let r = site.client.get("/private/?x=1").await;
    assert_eq!(r.status(), 302);
    assert_eq!(
        r.header("location"),
        Some("/accounts/login/?next=%2Fprivate%2F%3Fx%3D1")
    );
    site.client.force_login(&ann).await;
    assert_eq!(site.client.get("/private/").await.status(), 200);
    assert_eq!(
        site.client.get("/perm/").await.status(),
        403,
        "no permission"
    );
    let mut boss = site.user("boss", 1000).await;
    boss.is_superuser = true;
    site.run(
        User::objects()
            .filter(User::id.eq(boss.id))
            .update([User::is_superuser.set(true)]),
    )
    .await
    .unwrap();
    let other = site.other_client();
    other.force_login(&boss).await;
    assert_eq!(other.get("/perm/").await.status(), 200);
    assert_eq!(site.other_client().get("/perm/").await.status(), 302);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_never_reach_logs_or_error_pages() {
    let logs = canter_core::test::CapturedLogs::default();
    let _guard = logs.install();
    let site = site(FAST).await;
    let ann = site.user("ann", 1000).await;
    let secret = "S3cret-Do-Not-Log";
    let r = site.log_in(&site.other_client(), "ann", secret).await;
    assert!(!r.text().contains(secret));
    let r = site.log_in(&site.other_client(), secret, secret).await;
    assert!(!r.text().contains(secret));
    // A rejected (CSRF) login page shows the reason, never the form's values.
    let r = site
        .other_client()
        .post("/login/")
        .form(&[("username", "ann"), ("password", secret)])
        .await;
    assert_eq!(r.status(), 403);
    assert!(!r.text().contains(secret), "{}", r.text());
    assert!(!logs.text().contains(secret), "{}", logs.text());
    let shown = format!("{ann:?}");
    assert!(
        !shown.contains("pbkdf2"),
        "the hash is not in Debug: {shown}"
    );
}

/// 1,000 failed logins at once: hashing runs on the blocking pool, so a request sent after
/// they started is answered before they have all finished.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_failed_logins_do_not_stall_the_runtime() {
    let site = site("[auth]\npbkdf2_iterations = 20000\n").await;
    site.user("ann", 20000).await;
    let token = site.client.get("/token/").await.text();
    let finished = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for i in 0..1000 {
        let client = site.client.clone();
        let (token, finished) = (token.clone(), finished.clone());
        tasks.push(tokio::spawn(async move {
            let user = if i % 2 == 0 { "ann" } else { "nobody" };
            let r = client
                .post("/login/")
                .form(&[
                    ("username", user),
                    ("password", "wrong"),
                    ("csrfmiddlewaretoken", &token),
                ])
                .await;
            assert_eq!(r.status(), 200);
            finished.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let r = site.other_client().get("/me/").await;
    assert_eq!(r.status(), 401);
    let done = finished.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        done < 1000,
        "served while the logins were hashing ({done} of 1000 done)"
    );
    for task in tasks {
        task.await.unwrap();
    }
}

/// `SECRET_KEY` rotation: with the old key in `[signing] secret_key_fallbacks`, sessions and
/// logins made under it still hold; without it they are anonymous.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_secret_key_keeps_logins_through_its_fallbacks() {
    let site = site(FAST).await;
    site.user("ann", 1000).await;
    site.log_in(&site.client, "ann", PASSWORD).await;
    let cookie = site.client.cookie("sessionid").unwrap();
    for (fallbacks, expected) in [("[\"test-secret\"]", 200), ("[]", 401)] {
        let mut settings = crate::common::settings(&format!(
            "{FAST}[signing]\nsecret_key_fallbacks = {fallbacks}\n"
        ));
        settings.secret_key = Some("a-new-secret".into());
        let rotated = site
            .run(canter_core::test::TestClient::start_with_settings(
                crate::common::app(),
                settings,
            ))
            .await;
        rotated.set_cookie("sessionid", &cookie);
        let r = rotated.get("/me/").await;
        assert_eq!(r.status(), expected, "fallbacks {fallbacks}: {}", r.text());
    }
}

/// Permissions as Django's `ModelBackend` has them: a user's own, or their groups'.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permissions_come_from_the_user_or_their_groups() {
    use canter_accounts::auth::{create_default_permissions, has_perm};
    use canter_accounts::models::{Group, Permission};
    let site = site(FAST).await;
    let ann = site.user("ann", 1000).await;
    let bob = site.user("bob", 1000).await;
    let made = site
        .run(create_default_permissions::<User>())
        .await
        .unwrap();
    assert_eq!(
        made,
        [
            "auth.add_user",
            "auth.change_user",
            "auth.delete_user",
            "auth.view_user"
        ]
    );
    // Twice: nothing new.
    site.run(create_default_permissions::<User>())
        .await
        .unwrap();
    site.run(async {
        assert_eq!(Permission::objects().count().await.unwrap(), 4);
        let view = Permission::objects()
            .filter(Permission::codename.eq("view_user"))
            .get()
            .await
            .unwrap();
        let group = Group::objects()
            .create(Group {
                name: "staff".into(),
                ..Default::default()
            })
            .await
            .unwrap();
        group.permissions.add(&[&view]).await.unwrap();
        let ann = User::objects()
            .filter(User::id.eq(ann.id))
            .get()
            .await
            .unwrap();
        ann.groups.add(&[&group]).await.unwrap();
        let change = Permission::objects()
            .filter(Permission::codename.eq("change_user"))
            .get()
            .await
            .unwrap();
        let bob = User::objects()
            .filter(User::id.eq(bob.id))
            .get()
            .await
            .unwrap();
        bob.user_permissions.add(&[&change]).await.unwrap();
        assert!(has_perm(&ann, "auth.view_user").await);
        assert!(!has_perm(&ann, "auth.change_user").await);
        assert!(has_perm(&bob, "auth.change_user").await);
        assert!(!has_perm(&bob, "auth.view_user").await);
        assert!(
            !has_perm(&bob, "other.change_user").await,
            "the app label counts"
        );
        // All at once (Django's get_all_permissions): the user's own and their groups'.
        use canter_accounts::auth::get_all_permissions;
        let all = get_all_permissions(&ann).await.unwrap();
        assert_eq!(all, ["auth.view_user".to_owned()].into_iter().collect());
        let all = get_all_permissions(&bob).await.unwrap();
        assert_eq!(all, ["auth.change_user".to_owned()].into_iter().collect());
        let inactive = User {
            is_active: false,
            ..bob.clone()
        };
        assert!(get_all_permissions(&inactive).await.unwrap().is_empty());
    })
    .await;
    site.client.force_login(&ann).await;
    assert_eq!(site.client.get("/perm/").await.status(), 200);
}
