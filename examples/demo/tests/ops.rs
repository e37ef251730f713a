//! The operations dashboard (issue 21's contract), on the demo binary run as processes: every
//! `/ops/api/` endpoint on the embedded defaults (one runserver with its in-process worker)
//! and on Redis (two web processes and a worker process: the dashboard served by one reports
//! the sockets of both and the worker's tasks); access (anonymous 401/302, wrong token 401,
//! staff session with CSRF, non-staff 403); hostile inputs (bad ids and parameters → 400,
//! script payloads in task arguments escaped on the page).

mod support;

use std::time::{Duration, Instant};

use canter::tasks::{open_broker, send_task, tasks_app};
use serde_json::{json, Value};
use support::http::{Http, Reply};
use support::{demo_command, DemoProcess};

trait Bearer {
    fn get_token(&mut self, path: &str) -> Reply;
    fn post_token(&mut self, path: &str) -> Reply;
}

impl Bearer for Http {
    fn get_token(&mut self, path: &str) -> Reply {
        self.get_bearer(path, TOKEN)
    }
    fn post_token(&mut self, path: &str) -> Reply {
        self.post_bearer(path, TOKEN)
    }
}

const TOKEN: &str = "ops-test-token-0123456789";
const SCRIPT: &str = "<script>alert('ops')</script>";

/// Polls `GET path` (with the token) until `ready` holds of its JSON (panics after 40 s with
/// the last answer).
fn wait_for(http: &mut Http, path: &str, what: &str, ready: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let reply = http.get_token(path);
        let body = if reply.status == 200 {
            reply.json()
        } else {
            Value::Null
        };
        if reply.status == 200 && ready(&body) {
            return body;
        }
        if Instant::now() > deadline {
            panic!(
                "{what}: never seen at {path}; last answer {} {}",
                reply.status, reply.body
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `demo migrate`, then users `ada` (staff) and `bob` (not staff) in `dir`'s database.
fn migrate_with_users(dir: &std::path::Path, password: &str) {
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
    for name in ["ada", "bob"] {
        let created = demo_command()
            .args([
                "createsuperuser",
                "--noinput",
                "--username",
                name,
                "--email",
                "a@example.com",
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
    let url = format!("sqlite://{}", dir.join("demo.sqlite3").display());
    support::block_on(async move {
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        sqlx::query("UPDATE auth_user SET is_staff = 0, is_superuser = 0 WHERE username = 'bob'")
            .execute(&pool)
            .await
            .unwrap();
    });
}

/// Sends `demo.add` with a script payload for an argument (it fails: not a number).
fn send_hostile_task(broker_url: &str) -> String {
    let url = broker_url.to_owned();
    support::block_on(async move {
        let broker = open_broker(&url).await.unwrap();
        tasks_app(broker)
            .scope(send_task(
                "demo.add",
                json!([SCRIPT, 1]),
                json!({}),
                Default::default(),
            ))
            .await
            .unwrap()
            .id
    })
}

async fn chat_socket(
    addr: &str,
    room: &str,
    user: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let url = format!("ws://{addr}/ws/chat/{room}/?user={user}");
    tokio_tungstenite::connect_async(url).await.unwrap().0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ops_on_the_embedded_defaults() {
    let dir = canter_test_kit::TempDir::new("demo-ops");
    let password = "a long demo password";
    migrate_with_users(dir.path(), password);
    let mut server = DemoProcess::spawn_in(
        dir.path(),
        &["runserver", "127.0.0.1:0"],
        &[
            ("CANTER_OPS_TOKEN", TOKEN),
            ("CANTER_OPS__PUBLISH_EVERY_MS", "200"),
        ],
    );
    let addr = server.server_addr();
    let dir_path = dir.path().to_owned();
    let addr2 = addr.clone();
    let sockets = (
        chat_socket(&addr, "opsroom", "ann").await,
        chat_socket(&addr, "opsroom", "ben").await,
    );
    tokio::task::spawn_blocking(move || embedded_checks(&addr2, &dir_path, password))
        .await
        .unwrap();
    drop(sockets);
}

fn embedded_checks(addr: &str, dir: &std::path::Path, password: &str) {
    let mut http = Http::new(addr);
    refuses_strangers(&mut http);
    // Tasks: a pipeline (six demo.add / demo.sum) and one failing with a script argument.
    let r = http.call("POST", "/tasks/pipeline/", &[], "");
    assert_eq!(r.status, 202, "{}", r.body);
    let chord_id = r.json()["task_id"].as_str().unwrap().to_owned();
    let broker_url = format!("sqlite://{}", dir.join("tasks.sqlite3").display());
    let hostile_id = send_hostile_task(&broker_url);
    every_endpoint_answers(&mut http, &chord_id, &hostile_id);
    let copy = actions_work(&mut http, &chord_id, &hostile_id);
    hostile_inputs_are_refused(&mut http);
    the_page_escapes_what_it_shows(&mut http);
    sessions(addr, password, &copy);
}

/// Anonymous requests, a wrong token, another scheme.
fn refuses_strangers(http: &mut Http) {
    let r = http.get("/ops/api/summary/");
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(r
        .header("www-authenticate")
        .is_some_and(|v| v.starts_with("Bearer")));
    let r = http.get("/ops/");
    assert_eq!(r.status, 302);
    assert!(
        r.header("location")
            .unwrap()
            .starts_with("/accounts/login/?next=%2Fops%2F"),
        "{:?}",
        r.header("location")
    );
    let r = http.call(
        "GET",
        "/ops/api/summary/",
        &[("Authorization", "Bearer wrong")],
        "",
    );
    assert_eq!(r.status, 401);
    let r = http.call(
        "GET",
        "/ops/api/summary/",
        &[("Authorization", "Basic YTpi")],
        "",
    );
    assert_eq!(r.status, 401);
}

/// The summary once the sockets, the group and the tasks show, then every other endpoint.
fn every_endpoint_answers(http: &mut Http, chord_id: &str, hostile_id: &str) {
    let summary = wait_for(
        http,
        "/ops/api/summary/",
        "two sockets, the group, the tasks",
        |s| {
            s["sockets"]["total"] == 2
                && s["groups"]
                    .as_object()
                    .is_some_and(|g| g.values().any(|n| n == 2))
                && s["tasks"]["SUCCESS"].as_u64().unwrap_or(0) >= 6
                && s["tasks"]["FAILURE"].as_u64().unwrap_or(0) >= 1
                && s["workers"]
                    .as_array()
                    .is_some_and(|w| w.iter().any(|w| w["alive"] == true))
        },
    );
    for key in ["workers", "queues", "tasks", "sockets", "groups"] {
        assert!(summary.get(key).is_some(), "{key} in {summary}");
    }
    let worker = &summary["workers"][0];
    assert!(
        worker["name"].is_string() && worker["active"].is_u64(),
        "{worker}"
    );
    assert!(summary["queues"]["celery"].is_u64(), "{summary}");
    assert_eq!(
        summary["sockets"]["processes"].as_object().unwrap().len(),
        1
    );

    let workers = http.get_token("/ops/api/workers/").json();
    assert!(
        workers["workers"][0]["heartbeat_age"].as_f64().unwrap() < 10.0,
        "{workers}"
    );
    let queues = http.get_token("/ops/api/queues/").json();
    assert!(queues["queues"]
        .as_array()
        .unwrap()
        .iter()
        .any(|q| q["name"] == "celery"));
    let recent = http.get_token("/ops/api/tasks/?limit=3").json();
    assert_eq!(recent["tasks"].as_array().unwrap().len(), 3);
    let chord = http
        .get_token(&format!("/ops/api/tasks/{chord_id}/"))
        .json();
    assert_eq!(chord["status"], "SUCCESS", "{chord}");
    assert_eq!(chord["result"], 12);
    let failed = http
        .get_token(&format!("/ops/api/tasks/{hostile_id}/"))
        .json();
    assert_eq!(failed["status"], "FAILURE", "{failed}");
    assert_eq!(failed["args"][0], SCRIPT);
    assert!(failed["history"].as_array().unwrap().len() >= 2, "{failed}");
    let failures = http.get_token("/ops/api/failures/").json();
    assert!(failures["failures"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["id"] == hostile_id));
    let scheduled = http.get_token("/ops/api/scheduled/").json();
    assert!(
        scheduled["periodic"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["task"] == "demo.heartbeat"),
        "{scheduled}"
    );
    assert!(scheduled["eta"].is_array());
    let letters = http.get_token("/ops/api/dead-letters/");
    assert_eq!(letters.status, 200);
    assert!(letters.json()["dead_letters"].is_array());
    let times = http.get_token("/ops/api/task-times/").json();
    let add = times["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "demo.add")
        .cloned();
    assert!(
        add.is_some_and(|t| t["runtime_p50"].is_f64() && t["wait_p99"].is_f64()),
        "{times}"
    );
    let series = http.get_token("/ops/api/series/?minutes=5").json();
    for key in [
        "at",
        "tasks_received",
        "tasks_succeeded",
        "http_requests",
        "sockets_open",
        "group_sends",
        "queues",
    ] {
        assert!(series.get(key).is_some(), "{key} in {series}");
    }
    assert!(
        series["sockets_open"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v == 2.0),
        "{series}"
    );
    let channels = http.get_token("/ops/api/channels/").json();
    assert_eq!(
        channels["processes"][0]["sockets"]["routes"]["ws-chat"], 2,
        "{channels}"
    );
    let routes = wait_for(http, "/ops/api/http/", "the pipeline's route", |h| {
        h["routes"]
            .as_array()
            .is_some_and(|r| r.iter().any(|r| r["route"] == "task-pipeline"))
    });
    assert!(routes["processes"][0]["in_flight"].is_i64(), "{routes}");
}

/// Retry the failed task, revoke the copy, retry the dead letters; returns the copy's id.
fn actions_work(http: &mut Http, chord_id: &str, hostile_id: &str) -> String {
    let retried = http.post_token(&format!("/ops/api/tasks/{hostile_id}/retry/"));
    assert_eq!(retried.status, 202, "{}", retried.body);
    let copy = retried.json()["id"].as_str().unwrap().to_owned();
    assert_ne!(copy, hostile_id);
    let revoked = http.post_token(&format!("/ops/api/tasks/{copy}/revoke/"));
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    assert_eq!(http.post_token("/ops/api/dead-letters/retry/").status, 200);
    let busy = http.post_token(&format!("/ops/api/tasks/{chord_id}/retry/"));
    assert_eq!(
        busy.status, 409,
        "a succeeded task is not retried: {}",
        busy.body
    );

    copy
}

/// Bad ids and parameters: 400 with a message; unknown ids 404; a wrong method 405.
fn hostile_inputs_are_refused(http: &mut Http) {
    let long_id = "a".repeat(201);
    for path in [
        "/ops/api/tasks/%3Cscript%3E/".to_owned(),
        format!("/ops/api/tasks/{long_id}/"),
        "/ops/api/tasks/a%20b/".to_owned(),
        "/ops/api/tasks/?limit=abc".to_owned(),
        "/ops/api/tasks/?limit=0".to_owned(),
        "/ops/api/tasks/?limit=99999999999999999999999999".to_owned(),
        "/ops/api/series/?minutes=16".to_owned(),
        "/ops/api/series/?minutes=-1".to_owned(),
    ] {
        let r = http.get_token(&path);
        assert_eq!(r.status, 400, "{path}: {}", r.body);
        assert!(r.json()["error"].is_string(), "{path}");
    }
    let r = http.post_token(&format!("/ops/api/tasks/{long_id}/revoke/"));
    assert_eq!(r.status, 400);
    let unknown = "00000000-0000-0000-0000-000000000000";
    assert_eq!(
        http.get_token(&format!("/ops/api/tasks/{unknown}/")).status,
        404
    );
    assert_eq!(
        http.post_token(&format!("/ops/api/tasks/{unknown}/retry/"))
            .status,
        404
    );
    assert_eq!(
        http.get_token(&format!("/ops/api/tasks/{unknown}/revoke/"))
            .status,
        405
    );
}

/// The page's sections, its chart, and the script payload escaped.
fn the_page_escapes_what_it_shows(http: &mut Http) {
    let page = http.get_token("/ops/");
    assert_eq!(page.status, 200);
    for section in ["Tasks", "Workers", "Queues", "Channels", "HTTP"] {
        assert!(
            page.body.contains(&format!("<h2>{section}</h2>")),
            "{section}"
        );
    }
    assert!(
        page.body.contains("&lt;script&gt;alert("),
        "the payload, escaped"
    );
    assert!(
        !page.body.contains(SCRIPT) && !page.body.contains("<script>alert"),
        "never raw"
    );
    assert!(page
        .body
        .contains("<svg class=\"ops-chart\" data-chart=\"tasks\""));
}

/// Staff sessions are let in (their posts need the CSRF header), others not.
fn sessions(addr: &str, password: &str, copy: &str) {
    let mut staff = Http::new(addr);
    staff.log_in("ada", password);
    assert_eq!(staff.get("/ops/api/summary/").status, 200);
    assert_eq!(staff.get("/ops/").status, 200);
    let no_csrf = staff.call("POST", &format!("/ops/api/tasks/{copy}/revoke/"), &[], "");
    assert_eq!(no_csrf.status, 403, "{}", no_csrf.body);
    let secret = staff
        .cookies
        .get("csrftoken")
        .cloned()
        .expect("the CSRF cookie");
    let with_csrf = staff.call(
        "POST",
        &format!("/ops/api/tasks/{copy}/revoke/"),
        &[("X-CSRFToken", &secret)],
        "",
    );
    assert_eq!(with_csrf.status, 200, "{}", with_csrf.body);
    let mut other = Http::new(addr);
    other.log_in("bob", password);
    assert_eq!(other.get("/ops/api/summary/").status, 403);
    assert_eq!(other.get("/ops/").status, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ops_across_two_web_processes_and_a_worker_on_redis() {
    let Some(keys) = canter_test_kit::RedisKeys::create("ops") else {
        return;
    };
    let layer_prefix = format!("{}asgi", keys.prefix);
    let broker_url = keys.broker_url();
    let env = [
        ("REDIS_URL", keys.url.as_str()),
        ("BROKER_URL", broker_url.as_str()),
        ("CANTER_CHANNELS__REDIS__PREFIX", layer_prefix.as_str()),
        ("CANTER_OPS_TOKEN", TOKEN),
        ("CANTER_OPS__PUBLISH_EVERY_MS", "200"),
    ];
    let mut one = DemoProcess::spawn(&["runserver", "127.0.0.1:0"], &env);
    let mut two = DemoProcess::spawn(&["runserver", "127.0.0.1:0"], &env);
    let worker = DemoProcess::spawn(&["worker"], &env);
    let (addr_one, addr_two) = (one.server_addr(), two.server_addr());
    let room = format!("ops{}", support::unique().replace('-', ""));
    let sockets = (
        chat_socket(&addr_one, &room, "ann").await,
        chat_socket(&addr_two, &room, "ben").await,
        chat_socket(&addr_two, &room, "cy").await,
    );
    let hostile_url = broker_url.clone();
    tokio::task::spawn_blocking(move || {
        let mut web_two = Http::new(&addr_two);
        let r = web_two.call("POST", "/tasks/pipeline/", &[], "");
        assert_eq!(r.status, 202, "{}", r.body);
        let chord_id = r.json()["task_id"].as_str().unwrap().to_owned();
        let hostile_id = send_hostile_task(&hostile_url);
        // The dashboard of process one sees both processes' sockets and the worker's tasks.
        let mut web_one = Http::new(&addr_one);
        let summary = wait_for(
            &mut web_one,
            "/ops/api/summary/",
            "both processes and the worker",
            |s| {
                let per_process: Vec<i64> = s["sockets"]["processes"]
                    .as_object()
                    .map(|p| p.values().filter_map(Value::as_i64).collect())
                    .unwrap_or_default();
                s["sockets"]["total"] == 3
                    && per_process.len() == 2
                    && per_process.contains(&1)
                    && per_process.contains(&2)
                    && s["groups"]
                        .as_object()
                        .is_some_and(|g| g.values().any(|n| n == 3))
                    && s["tasks"]["SUCCESS"].as_u64().unwrap_or(0) >= 6
                    && s["tasks"]["FAILURE"].as_u64().unwrap_or(0) >= 1
                    && s["workers"]
                        .as_array()
                        .is_some_and(|w| w.iter().any(|w| w["alive"] == true))
            },
        );
        assert!(summary["queues"].is_object());
        let chord = web_one
            .get_token(&format!("/ops/api/tasks/{chord_id}/"))
            .json();
        assert_eq!(chord["status"], "SUCCESS", "{chord}");
        let failed = web_one
            .get_token(&format!("/ops/api/tasks/{hostile_id}/"))
            .json();
        assert_eq!(failed["args"][0], SCRIPT, "{failed}");
        for path in [
            "/ops/api/workers/",
            "/ops/api/queues/",
            "/ops/api/tasks/",
            "/ops/api/failures/",
            "/ops/api/scheduled/",
            "/ops/api/dead-letters/",
            "/ops/api/task-times/",
            "/ops/api/series/",
            "/ops/api/channels/",
            "/ops/api/http/",
        ] {
            let r = web_one.get_token(path);
            assert_eq!(r.status, 200, "{path}: {}", r.body);
            assert!(r.json().is_object(), "{path}");
        }
        let channels = web_one.get_token("/ops/api/channels/").json();
        assert_eq!(
            channels["processes"].as_array().unwrap().len(),
            2,
            "{channels}"
        );
        let http_routes = wait_for(
            &mut web_one,
            "/ops/api/http/",
            "process two's pipeline route",
            |h| {
                h["routes"]
                    .as_array()
                    .is_some_and(|r| r.iter().any(|r| r["route"] == "task-pipeline"))
            },
        );
        assert_eq!(http_routes["processes"].as_array().unwrap().len(), 2);
        let retried = web_one.post_token(&format!("/ops/api/tasks/{hostile_id}/retry/"));
        assert_eq!(retried.status, 202, "{}", retried.body);
        let copy = retried.json()["id"].as_str().unwrap().to_owned();
        assert_eq!(
            web_one
                .post_token(&format!("/ops/api/tasks/{copy}/revoke/"))
                .status,
            200
        );
        assert_eq!(
            web_one.post_token("/ops/api/dead-letters/retry/").status,
            200
        );
        let page = web_one.get_token("/ops/");
        assert!(page.body.contains("&lt;script&gt;alert(") && !page.body.contains(SCRIPT));
    })
    .await
    .unwrap();
    drop(sockets);
    drop((one, two, worker));
}
