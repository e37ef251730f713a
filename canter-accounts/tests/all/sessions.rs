//! Sessions: saved only when changed, the cookie's attributes, hostile cookies, each store.

use crate::common::{postgres_site, site, FAST};

async fn round_trip(site: &crate::common::Site) {
    let client = &site.client;
    let r = client.get("/session/get/").await;
    assert_eq!(r.status(), 200);
    assert!(
        r.set_cookies().is_empty(),
        "reading an empty session sets no cookie"
    );
    let token = client.get("/token/").await.text();
    let r = client
        .post("/session/set/")
        .form(&[("colour", "blue"), ("csrfmiddlewaretoken", &token)])
        .await;
    assert_eq!(r.status(), 200, "{}", r.text());
    let cookie = r
        .set_cookies()
        .into_iter()
        .find(|c| c.name() == "sessionid")
        .expect("session cookie");
    assert_eq!(cookie.http_only(), Some(true));
    assert_eq!(
        cookie.same_site(),
        Some(canter_core::cookies::SameSite::Lax)
    );
    assert_eq!(cookie.secure(), None);
    assert_eq!(cookie.path(), Some("/"));
    assert_eq!(cookie.max_age().map(|a| a.whole_seconds()), Some(1_209_600));
    let vary: Vec<_> = r.headers().get_all("vary").iter().collect();
    assert_eq!(
        vary,
        ["Cookie"],
        "once, though sessions and CSRF both vary on it"
    );
    let r = client.get("/session/get/").await;
    assert_eq!(r.json::<serde_json::Value>()["colour"], "blue");
    assert!(
        r.set_cookies().iter().all(|c| c.name() != "sessionid"),
        "an unchanged session is not saved again"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_sessions_round_trip_on_sqlite_and_postgres() {
    round_trip(&site(FAST).await).await;
    if let Some(pg) = postgres_site(FAST).await {
        round_trip(&pg).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_cookie_sessions_round_trip() {
    let site = site(&format!("{FAST}[sessions]\nengine = \"signed_cookies\"\n")).await;
    round_trip(&site).await;
    let value = site.client.cookie("sessionid").unwrap();
    assert!(
        value.contains(':'),
        "the cookie is the signed data: {value}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_sessions_round_trip() {
    let Some(url) = canter_core::test::require_service("CANTER_TEST_REDIS_URL") else {
        return;
    };
    let site = site(&format!(
        "{FAST}[sessions]\nengine = \"redis\"\nredis_url = \"{url}\"\n"
    ))
    .await;
    round_trip(&site).await;
    let key = site.client.cookie("sessionid").unwrap();
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let name = format!("django.contrib.sessions.cache{key}");
    let ttl: i64 = redis::cmd("TTL")
        .arg(&name)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(ttl > 1_209_000, "expires with the session: {ttl}");
    let _: i64 = redis::cmd("DEL")
        .arg(&name)
        .query_async(&mut conn)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_truncated_or_forged_session_cookie_is_anonymous_never_a_500() {
    let site = site(FAST).await;
    site.user("ann", 1000).await;
    let r = site
        .log_in(&site.client, "ann", crate::common::PASSWORD)
        .await;
    assert_eq!(r.status(), 302);
    let good = site.client.cookie("sessionid").unwrap();
    let hostile = [
        good[..good.len() - 1].to_owned(),
        format!("{good}x"),
        good.to_uppercase(),
        "".into(),
        "short".into(),
        "../../etc/passwd".into(),
        "a".repeat(5000),
        "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz".into(),
        "%00".into(),
    ];
    for value in hostile {
        let client = site.other_client();
        let r = client
            .get("/me/")
            .header("cookie", &format!("sessionid={value}"))
            .await;
        assert_eq!(r.status(), 401, "{value:?}: {}", r.text());
    }
    // The signed-cookie store: a changed byte anywhere is anonymous too.
    let site = site_signed().await;
    site.user("ann", 1000).await;
    site.log_in(&site.client, "ann", crate::common::PASSWORD)
        .await;
    let good = site.client.cookie("sessionid").unwrap();
    for at in [0, good.len() / 2, good.len() - 1] {
        let mut bytes = good.clone().into_bytes();
        bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
        let value = String::from_utf8(bytes).unwrap();
        let r = site
            .other_client()
            .get("/me/")
            .header("cookie", &format!("sessionid={value}"))
            .await;
        assert_eq!(r.status(), 401, "{value}");
    }
}

async fn site_signed() -> crate::common::Site {
    site(&format!("{FAST}[sessions]\nengine = \"signed_cookies\"\n")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookie_attributes_follow_the_settings() {
    let site = site(&format!(
        "{FAST}[sessions]\ncookie_secure = true\ncookie_samesite = \"Strict\"\ncookie_name = \"sid\"\nexpire_at_browser_close = true\n[csrf]\ncookie_secure = true\ncookie_httponly = true\n"
    ))
    .await;
    let r = site.client.get("/token/").await;
    let csrf = r
        .set_cookies()
        .into_iter()
        .find(|c| c.name() == "csrftoken")
        .unwrap();
    assert_eq!(csrf.secure(), Some(true));
    assert_eq!(csrf.http_only(), Some(true));
    let token = r.text();
    let r = site
        .client
        .post("/session/set/")
        .form(&[("a", "1"), ("csrfmiddlewaretoken", &token)])
        .await;
    let sid = r
        .set_cookies()
        .into_iter()
        .find(|c| c.name() == "sid")
        .unwrap();
    assert_eq!(sid.secure(), Some(true));
    assert_eq!(
        sid.same_site(),
        Some(canter_core::cookies::SameSite::Strict)
    );
    assert_eq!(sid.max_age(), None, "ends with the browser");
    // Defaults: the CSRF cookie is readable by JavaScript, as Django's.
    let plain = site_signed().await;
    let r = plain.client.get("/token/").await;
    let csrf = r
        .set_cookies()
        .into_iter()
        .find(|c| c.name() == "csrftoken")
        .unwrap();
    assert_eq!(csrf.http_only(), None);
    assert_eq!(csrf.max_age().map(|a| a.whole_seconds()), Some(31_449_600));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clearsessions_removes_expired_rows() {
    use canter_accounts::models::Session;
    use canter_orm::chrono::{TimeDelta, Utc};
    let site = site(FAST).await;
    let settings = site.client.service().settings().clone();
    let removed = site
        .run(async {
            for (key, age) in [("expiredkey1", -10), ("livekey0001", 100)] {
                Session::objects()
                    .create(Session {
                        session_key: key.into(),
                        session_data: "x".into(),
                        expire_date: Utc::now() + TimeDelta::seconds(age),
                    })
                    .await
                    .unwrap();
            }
            let store = canter_accounts::sessions::store_from_settings(&settings).unwrap();
            let removed = store.clear_expired().await.unwrap();
            (removed, Session::objects().count().await.unwrap())
        })
        .await;
    assert_eq!(removed, (1, 1));
}
