//! The demo binary on its own: copied into an empty folder on a machine without its source tree
//! in reach (DEBUG off, as deployed), `demo migrate` applies the migrations compiled into it and
//! `demo runserver` serves pages that read the database, templates and static files from the
//! binary alone. `makemigrations` there refuses, saying where to run it.

mod support;

use canter_test_kit::TempDir;
use support::DemoProcess;

#[test]
fn a_copied_binary_migrates_and_serves_on_its_own() {
    let dir = TempDir::new("demo-copied");
    let binary = dir.path().join("demo");
    std::fs::copy(env!("CARGO_BIN_EXE_demo"), &binary).unwrap();
    let env = [
        ("CANTER_DEBUG", "false"),
        ("CANTER_SECRET_KEY", "a-deployed-secret-key-of-some-length"),
    ];
    let run = |args: &[&str]| {
        support::command_for(&binary)
            .args(args)
            .current_dir(dir.path())
            .envs(env)
            .output()
            .unwrap()
    };
    let migrated = run(&["migrate"]);
    let stdout = String::from_utf8_lossy(&migrated.stdout);
    assert!(
        migrated.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&migrated.stderr)
    );
    for name in [
        "demo.0001_initial",
        "demo.0002_note",
        "demo.0003_note_title",
    ] {
        assert!(
            stdout.contains(&format!("Applying {name}... OK")),
            "{stdout}"
        );
    }
    assert!(dir.path().join("demo.sqlite3").is_file());
    let refused = run(&["makemigrations"]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("compiled into this binary"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );

    let collected = run(&["collectstatic", "--noinput"]);
    assert!(
        collected.status.success(),
        "{}",
        String::from_utf8_lossy(&collected.stderr)
    );
    let mut server =
        DemoProcess::spawn_binary_in(&binary, dir.path(), &["runserver", "127.0.0.1:0"], &env);
    let addr = server.server_addr();
    let notes = support::http_get(&addr, "/notes/");
    assert!(notes.starts_with("HTTP/1.1 200"), "{notes}");
    assert!(notes.contains("No notes yet"), "{notes}");
    assert!(
        notes.contains("href=\"/static/css/site."),
        "the hashed stylesheet: {notes}"
    );
}
