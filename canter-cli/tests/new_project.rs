//! `canter new` as a new user runs it: a project generated into a temporary folder (canter by
//! path to this checkout) builds, passes its own `cargo test`, has migrations that match its
//! models, and serves its index page and stylesheet with `cargo run -- runserver`. Its build
//! shares `target/canter-new` (and this checkout's Cargo.lock), so only the first run compiles
//! canter's dependencies. Also: the options' settings, `startapp`, and names refused.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use canter_test_kit::TempDir;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

fn canter_cli() -> Command {
    Command::new(env!("CARGO_BIN_EXE_canter"))
}

/// `cargo` for the generated project: its own target folder under this checkout's, and none of
/// the outer cargo's jobserver variables.
fn cargo(project: &Path) -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command
        .current_dir(project)
        .env("CARGO_TARGET_DIR", repo().join("target/canter-new"))
        .env_remove("CARGO_MAKEFLAGS")
        .env_remove("MAKEFLAGS")
        .env_remove("MFLAGS")
        .env_remove("RUSTFLAGS");
    for (key, _) in std::env::vars() {
        if key.starts_with("CANTER_") {
            command.env_remove(key);
        }
    }
    command
}

fn run(mut command: Command, what: &str) -> String {
    let output = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{what} failed:\n{text}");
    text
}

fn generate(dir: &Path, name: &str, extra: &[&str]) -> PathBuf {
    let project = dir.join(name);
    let mut command = canter_cli();
    command
        .args(["new", name, "--canter-path"])
        .arg(repo())
        .arg("--dir")
        .arg(&project)
        .args(extra);
    run(command, "canter new");
    project
}

#[test]
fn a_new_project_builds_passes_its_tests_and_serves_its_pages() {
    let dir = TempDir::new("canter-new");
    let project = generate(dir.path(), "mysite", &[]);
    std::fs::copy(repo().join("Cargo.lock"), project.join("Cargo.lock")).unwrap();
    let started = Instant::now();
    let mut build = cargo(&project);
    build.args(["build", "--quiet"]);
    let output = run(build, "cargo build");
    assert!(
        !output.contains("warning"),
        "the generated code has warnings:\n{output}"
    );
    eprintln!(
        "the generated project built in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let mut test = cargo(&project);
    test.args(["test", "--quiet"]);
    let output = run(test, "the project's cargo test");
    assert!(output.contains("2 passed"), "{output}");

    let mut check = cargo(&project);
    check.args(["run", "--quiet", "--", "makemigrations", "--check"]);
    let output = run(check, "makemigrations --check");
    assert!(
        output.contains("No changes detected"),
        "the initial migration matches the model: {output}"
    );

    let mut server = cargo(&project)
        .args(["run", "--quiet", "--", "runserver", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("runserver prints its address").unwrap();
        if let Some(rest) = line.strip_prefix("Starting server at http://") {
            break rest.trim_end_matches('/').to_owned();
        }
    };
    let page = canter_test_kit::http_get(&addr, "/");
    let css = canter_test_kit::http_get(&addr, "/static/css/site.css");
    let _ = server.kill();
    let _ = server.wait();
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("<h1>mysite</h1>"), "{page}");
    assert!(
        css.starts_with("HTTP/1.1 200") && css.contains("text/css"),
        "{css}"
    );
    assert!(
        project.join("db.sqlite3").is_file(),
        "runserver migrated its database"
    );
}

#[test]
fn postgres_and_redis_options_write_their_settings() {
    let dir = TempDir::new("canter-new-options");
    let project = generate(
        dir.path(),
        "shop-api",
        &["--database", "postgres", "--redis"],
    );
    let settings = std::fs::read_to_string(project.join("src/settings.toml")).unwrap();
    assert!(
        settings.contains("url = \"postgres://postgres@127.0.0.1:5432/shop_api\""),
        "{settings}"
    );
    assert!(
        settings.contains("[tasks]\nbroker = \"redis://127.0.0.1:6379/0\""),
        "{settings}"
    );
    assert!(
        settings.contains("[channels]\nlayer = \"redis\""),
        "{settings}"
    );
    let manifest = std::fs::read_to_string(project.join("Cargo.toml")).unwrap();
    assert!(manifest.contains("name = \"shop-api\""), "{manifest}");
    assert!(manifest.contains(&format!(
        "canter = {{ path = {:?} }}",
        repo().join("canter").display().to_string()
    )));
    // The crate's name (shop_api) is its app's and its migration's.
    assert!(project
        .join("migrations/shop_api/0001_initial.json")
        .is_file());
    // A secret key of its own, not a placeholder.
    assert!(!settings.contains("__SECRET_KEY__"));
    let other = generate(dir.path(), "other", &[]);
    let key = |p: &Path| {
        std::fs::read_to_string(p.join("src/settings.toml"))
            .unwrap()
            .lines()
            .find(|l| l.starts_with("secret_key"))
            .unwrap()
            .to_owned()
    };
    assert_ne!(key(&project), key(&other));
    // By version when no path is given.
    let mut command = canter_cli();
    command
        .args(["new", "versioned", "--dir"])
        .arg(dir.path().join("versioned"));
    run(command, "canter new by version");
    let manifest = std::fs::read_to_string(dir.path().join("versioned/Cargo.toml")).unwrap();
    assert!(
        manifest.contains(&format!("canter = \"{}\"", env!("CARGO_PKG_VERSION"))),
        "{manifest}"
    );
}

#[test]
fn startapp_adds_an_app_folder_to_a_project() {
    let dir = TempDir::new("canter-startapp");
    let project = generate(dir.path(), "mysite", &[]);
    let output = canter_cli()
        .args(["startapp", "blog"])
        .current_dir(&project)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for file in [
        "src/blog/mod.rs",
        "src/blog/models.rs",
        "src/blog/views.rs",
        "src/blog/urls.rs",
        "templates/blog/index.html",
    ] {
        assert!(project.join(file).is_file(), "{file}");
    }
    // Twice, outside a project, or with a bad name: refused, saying why.
    for (args, cwd, message) in [
        (["startapp", "blog"], project.as_path(), "already exists"),
        (["startapp", "blog"], dir.path(), "not a canter project"),
        (
            ["startapp", "my-app"],
            project.as_path(),
            "`-` is not allowed",
        ),
    ] {
        let output = canter_cli().args(args).current_dir(cwd).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !output.status.success() && stderr.contains(message),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn bad_names_and_taken_folders_are_refused_with_a_reason() {
    let dir = TempDir::new("canter-new-bad");
    for (name, message) in [
        ("../escape", "is not a project name"),
        ("2fast", "is not a project name"),
        ("canter", "would shadow"),
        ("my site", "is not a project name"),
    ] {
        let output = canter_cli()
            .args(["new", name, "--dir"])
            .arg(dir.path().join("x"))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !output.status.success() && stderr.contains(message),
            "{name}: {stderr}"
        );
    }
    let taken = dir.path().join("taken");
    std::fs::create_dir_all(&taken).unwrap();
    std::fs::write(taken.join("keep.txt"), "mine").unwrap();
    let output = canter_cli()
        .args(["new", "taken", "--dir"])
        .arg(&taken)
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("is not empty"));
    assert_eq!(
        std::fs::read_to_string(taken.join("keep.txt")).unwrap(),
        "mine"
    );
}
