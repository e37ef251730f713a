//! The demo in a real browser: headless Chromium (`CANTER_TEST_CHROMIUM`, default
//! /usr/bin/chromium) driven by playwright-core scripts in `tests/browser` (`npm ci` there)
//! against a `demo runserver`. `chat.mjs` opens `/chat/<room>/` in two tabs and a message sent
//! in one shows up in the other; `pages.mjs` checks the stylesheet applies, the notes form's
//! error and redirect, and an upload. Without Chromium, node or node_modules they are skipped
//! with a printed reason; under CANTER_REQUIRE_SERVICES=1 they fail instead.

mod support;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use support::{missing, DemoProcess};

const BROWSER_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/browser");
/// Longer than chat.mjs's own 25 s stop (and ops.mjs's 50 s), so the script's message is what a failure shows.
const NODE_LIMIT: Duration = Duration::from_secs(70);

/// The Chromium, node and playwright-core the script needs, or why not.
fn browser_tools() -> Result<PathBuf, String> {
    let chromium = std::env::var("CANTER_TEST_CHROMIUM")
        .ok()
        .filter(|p| !p.trim().is_empty())
        .unwrap_or_else(|| "/usr/bin/chromium".into());
    if !Path::new(&chromium).is_file() {
        return Err(format!(
            "no Chromium at {chromium} (apt-get install chromium, or set CANTER_TEST_CHROMIUM)"
        ));
    }
    let node = Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .status();
    if !node.is_ok_and(|s| s.success()) {
        return Err("no `node` on PATH".into());
    }
    if !Path::new(BROWSER_DIR)
        .join("node_modules/playwright-core")
        .is_dir()
    {
        return Err(format!(
            "no playwright-core in {BROWSER_DIR}/node_modules (run `npm ci` there)"
        ));
    }
    Ok(PathBuf::from(chromium))
}

#[test]
fn a_message_typed_in_one_tab_appears_in_the_other() {
    let chromium = match browser_tools() {
        Ok(path) => path,
        Err(reason) => return missing(&reason),
    };
    let mut server = DemoProcess::spawn(&["runserver", "127.0.0.1:0"], &[]);
    let base = format!("http://{}", server.server_addr());
    let stdout = run_script(&chromium, "chat.mjs", &[&base]);
    assert!(stdout.contains("ok: two tabs chatted"), "{stdout}");
    drop(server);
}

/// The pages in a browser: styled, the notes form's error and redirect, an upload, the chat.
/// `CANTER_SCREENSHOTS=DIR` keeps a screenshot of each page there (how docs/screenshots/ was
/// made).
#[test]
fn the_pages_are_styled_and_their_forms_work_in_a_browser() {
    let chromium = match browser_tools() {
        Ok(path) => path,
        Err(reason) => return missing(&reason),
    };
    let mut server = DemoProcess::spawn(&["runserver", "127.0.0.1:0"], &[]);
    let base = format!("http://{}", server.server_addr());
    let shots = std::env::var("CANTER_SCREENSHOTS").unwrap_or_default();
    let stdout = run_script(&chromium, "pages.mjs", &[&base, &shots]);
    assert!(stdout.contains("ok: pages styled"), "{stdout}");
    drop(server);
}

/// The admin in a browser (issue 20): log in, add a row, find it by search, edit it, delete
/// it. `CANTER_SCREENSHOTS=DIR` keeps the change list and the change form there
/// (docs/screenshots/admin-change-list.png and admin-change-form.png were made so).
#[test]
fn the_admin_adds_finds_edits_and_deletes_a_row_in_a_browser() {
    let chromium = match browser_tools() {
        Ok(path) => path,
        Err(reason) => return missing(&reason),
    };
    let dir = canter_test_kit::TempDir::new("demo-admin-browser");
    let password = "a browser admin password";
    let run = |args: &[&str]| {
        let out = support::demo_command()
            .args(args)
            .env("CANTER_SUPERUSER_PASSWORD", password)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&["migrate"]);
    run(&["createsuperuser", "--noinput", "--username", "boss"]);
    let mut server = DemoProcess::spawn_in(dir.path(), &["runserver", "127.0.0.1:0"], &[]);
    let base = format!("http://{}", server.server_addr());
    let shots = std::env::var("CANTER_SCREENSHOTS").unwrap_or_default();
    let stdout = run_script(&chromium, "admin.mjs", &[&base, "boss", password, &shots]);
    assert!(stdout.contains("ok: admin added"), "{stdout}");
    drop(server);
}

/// The operations page (issue 21): numbers and charts change without a reload as chat sockets
/// open and tasks run; `CANTER_SCREENSHOTS=DIR` keeps ops.png and ops-tasks.png there.
#[test]
fn the_ops_page_updates_itself_as_sockets_open_and_tasks_run() {
    let chromium = match browser_tools() {
        Ok(path) => path,
        Err(reason) => return missing(&reason),
    };
    let token = "browser-ops-token";
    let mut server = DemoProcess::spawn(
        &["runserver", "127.0.0.1:0"],
        &[
            ("CANTER_OPS_TOKEN", token),
            ("CANTER_OPS__PUBLISH_EVERY_MS", "250"),
        ],
    );
    let base = format!("http://{}", server.server_addr());
    let shots = std::env::var("CANTER_SCREENSHOTS").unwrap_or_default();
    let stdout = run_script(&chromium, "ops.mjs", &[&base, token, &shots]);
    assert!(stdout.contains("ok: ops page live"), "{stdout}");
    drop(server);
}

/// Runs `node tests/browser/<script> <args>` to its end (at most [`NODE_LIMIT`]); its stdout.
/// Panics with both outputs when it fails.
fn run_script(chromium: &Path, script: &str, args: &[&str]) -> String {
    let started = Instant::now();
    let mut node = Command::new("node")
        .arg(Path::new(BROWSER_DIR).join(script))
        .args(args.iter().filter(|a| !a.is_empty()))
        .env("CANTER_TEST_CHROMIUM", chromium)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node starts");
    // Both pipes are read on threads so a chatty browser cannot block the script on a full
    // pipe, and collected with a time limit in case a stray process keeps one open.
    let read_all = |mut pipe: Box<dyn Read + Send>| {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            let _ = tx.send(text);
        });
        move || rx.recv_timeout(Duration::from_secs(5)).unwrap_or_default()
    };
    let stdout = read_all(Box::new(node.stdout.take().unwrap()));
    let stderr = read_all(Box::new(node.stderr.take().unwrap()));
    let status = loop {
        if let Some(status) = node.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > NODE_LIMIT {
            let _ = node.kill();
            let _ = node.wait();
            panic!("{script} still running after {NODE_LIMIT:?}; killed");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let (stdout, stderr) = (stdout(), stderr());
    eprintln!(
        "{script} took {:.1} s: {}",
        started.elapsed().as_secs_f64(),
        stdout.trim()
    );
    assert!(
        status.success(),
        "{script} failed ({status}):\n{stdout}\n{stderr}"
    );
    stdout
}
