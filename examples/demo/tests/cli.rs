//! The demo binary's management CLI, run as a user runs it.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn demo() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_demo"));
    // Keep the developer's environment out of the test.
    for (key, _) in std::env::vars() {
        if key.starts_with("CANTER_") {
            command.env_remove(key);
        }
    }
    command.env("RUST_LOG", "warn");
    let db = std::env::temp_dir().join(format!(
        "demo-cli-{}-{}.sqlite3",
        std::process::id(),
        unique()
    ));
    command.env("DATABASE_URL", format!("sqlite://{}", db.display()));
    command.current_dir(std::env::temp_dir());
    command
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::SeqCst)
}

fn run(command: &mut Command) -> (bool, String, String) {
    let out = command.output().expect("the demo binary runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn help_lists_the_commands() {
    let (ok, stdout, _) = run(demo().arg("--help"));
    assert!(ok);
    for command in ["runserver", "check", "routes", "--settings"] {
        assert!(
            stdout.contains(command),
            "{command} missing from --help: {stdout}"
        );
    }
    let (ok, stdout, _) = run(demo().args(["runserver", "--help"]));
    assert!(ok);
    assert!(stdout.contains("ADDR"));
}

#[test]
fn check_and_routes() {
    let (ok, stdout, stderr) = run(demo().arg("check"));
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("System check identified 0 issue(s)"),
        "{stdout}"
    );
    let (ok, stdout, _) = run(demo().args(["check", "--deploy"]));
    assert!(ok);
    assert!(stdout.contains("debug is true"), "{stdout}");
    let (ok, stdout, _) = run(demo().arg("routes"));
    assert!(ok);
    assert!(
        stdout.contains("/async/") && stdout.contains("async_view"),
        "{stdout}"
    );
    assert!(stdout.contains("api:notes"), "{stdout}");
}

#[test]
fn bad_settings_fail_at_start_naming_the_key() {
    let (ok, _, stderr) = run(demo().arg("check").env("CANTER_DEBUG", "maybe"));
    assert!(!ok);
    assert!(stderr.contains("`debug`"), "{stderr}");
    let (ok, _, stderr) = run(demo()
        .arg("check")
        .env("CANTER_DEBUG", "false")
        .env("CANTER_SECRET_KEY", ""));
    assert!(!ok);
    assert!(stderr.contains("secret_key"), "{stderr}");
    let (ok, _, stderr) = run(demo().args(["--settings", "/nonexistent/canter.toml", "check"]));
    assert!(!ok);
    assert!(stderr.contains("/nonexistent/canter.toml"), "{stderr}");
    let (ok, _, stderr) = run(demo()
        .arg("check")
        .env("CANTER_MIDDLEWARE", "canter.security,canter.bogus"));
    assert!(!ok);
    assert!(stderr.contains("middleware[1]"), "{stderr}");
    let (ok, _, stderr) = run(demo().args(["runserver", "not-an-address"]));
    assert!(!ok);
    assert!(stderr.contains("not-an-address"), "{stderr}");
}

#[test]
fn runserver_serves_the_demo_and_stops_gracefully_on_sigterm() {
    let mut child = demo()
        .args(["runserver", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let log = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
        text
    });
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut said_migrated = false;
    let addr = loop {
        let line = lines.next().expect("runserver prints its address").unwrap();
        // demo 0001-0003, contenttypes, auth and sessions (issue 15), admin (issue 20),
        // django_celery_results (issue 18).
        said_migrated |= line.starts_with("Applied 8 migration(s) to the embedded database");
        if let Some(rest) = line.strip_prefix("Starting server at http://") {
            break rest.trim_end_matches('/').to_owned();
        }
    };
    assert!(
        said_migrated,
        "runserver applies pending migrations on SQLite and says so"
    );
    let response = support::http_get(&addr, "/async/");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        response
            .to_ascii_lowercase()
            .contains("server-timing: app;dur="),
        "{response}"
    );
    assert!(
        response.ends_with("{\"message\":\"Hello from async view\"}"),
        "{response}"
    );
    // The table came from the migration: an empty table answers 404 with a JSON error.
    let response = support::http_get(&addr, "/mymodel/first-active/");
    assert!(response.starts_with("HTTP/1.1 404"), "{response}");
    assert!(
        response.ends_with("{\"error\":\"no active MyModel\"}"),
        "{response}"
    );

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "exit status {status}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "runserver did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The request log (warnings: RUST_LOG=warn) goes to stderr, without colour codes when
    // stderr is not a terminal.
    let log = log.join().unwrap();
    assert!(log.contains("GET /mymodel/first-active/ 404"), "{log}");
    assert!(
        !log.contains('\x1b'),
        "escape codes in a redirected log: {log}"
    );
}

#[test]
fn migration_commands() {
    let db = std::env::temp_dir().join(format!(
        "demo-mig-{}-{}.sqlite3",
        std::process::id(),
        unique()
    ));
    let url = format!("sqlite://{}", db.display());
    let (ok, stdout, stderr) = run(demo().env("DATABASE_URL", &url).arg("showmigrations"));
    assert!(ok, "{stderr}");
    assert!(stdout.contains("[ ] 0001_initial"), "{stdout}");
    let (ok, stdout, _) =
        run(demo()
            .env("DATABASE_URL", &url)
            .args(["sqlmigrate", "demo", "0001_initial"]));
    assert!(ok);
    assert!(stdout.contains("CREATE TABLE \"demo_mymodel\""), "{stdout}");
    let (ok, stdout, _) = run(demo().env("DATABASE_URL", &url).args(["migrate", "--plan"]));
    assert!(ok && stdout.contains("Apply demo.0001_initial"), "{stdout}");
    let (ok, stdout, stderr) = run(demo().env("DATABASE_URL", &url).arg("migrate"));
    assert!(ok, "{stderr}");
    assert!(
        stdout.contains("Applying demo.0001_initial... OK"),
        "{stdout}"
    );
    let (_, stdout, _) = run(demo().env("DATABASE_URL", &url).arg("showmigrations"));
    assert!(stdout.contains("[X] 0001_initial"), "{stdout}");
    let (ok, stdout, _) = run(demo()
        .env("DATABASE_URL", &url)
        .args(["makemigrations", "--check"]));
    assert!(
        ok && stdout.contains("No changes detected"),
        "the committed migrations match the models: {stdout}"
    );
    let (ok, stdout, _) = run(demo()
        .env("DATABASE_URL", &url)
        .args(["migrate", "demo", "zero"]));
    assert!(
        ok && stdout.contains("Unapplying demo.0001_initial... OK"),
        "{stdout}"
    );
    // Told not to apply migrations itself, runserver refuses to start with pending ones.
    let (ok, _, stderr) = run(demo()
        .env("DATABASE_URL", &url)
        .env("CANTER_MIGRATIONS__AUTO_APPLY", "false")
        .args(["runserver", "127.0.0.1:0"]));
    assert!(!ok);
    assert!(
        stderr.contains("3 unapplied migration(s)") && stderr.contains("migrate"),
        "{stderr}"
    );
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
}
