//! The demo binary as a child process, for tests that need real processes (a browser, or a
//! server and a worker sharing Redis).

#![allow(dead_code)] // each test binary uses part of it

pub mod http;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A running `demo …`; killed, and its directory removed, on drop.
pub struct DemoProcess {
    child: Child,
    dir: PathBuf,
    /// Whether the directory is the process's own (removed on drop) or the test's.
    owns_dir: bool,
    lines: mpsc::Receiver<String>,
}

impl DemoProcess {
    /// `demo <args>` in a directory of its own (its SQLite files land there), without the
    /// test's CANTER_*, REDIS_URL and DATABASE_URL variables, with `env` set.
    pub fn spawn(args: &[&str], env: &[(&str, &str)]) -> Self {
        let dir = std::env::temp_dir().join(format!("demo-proc-{}", unique()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut process = Self::spawn_in(&dir, args, env);
        process.owns_dir = true;
        process
    }

    /// `demo <args>` in the test's directory `dir` (left in place on drop).
    pub fn spawn_in(dir: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Self {
        Self::spawn_binary_in(
            std::path::Path::new(env!("CARGO_BIN_EXE_demo")),
            dir,
            args,
            env,
        )
    }

    /// `binary <args>` (a copy of the demo) in `dir` (left in place on drop).
    pub fn spawn_binary_in(
        binary: &std::path::Path,
        dir: &std::path::Path,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Self {
        let dir = dir.to_owned();
        let mut child = command_for(binary)
            .args(args)
            .envs(env.iter().copied())
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        // A thread passes stdout on line by line, and drains it so the child never blocks on
        // a full pipe.
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in stdout.lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        DemoProcess {
            child,
            dir,
            owns_dir: false,
            lines,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The `host:port` runserver serves on, once it says so (panics after 30 s or if it exits).
    pub fn server_addr(&mut self) -> String {
        self.line_after("Starting server at http://")
            .trim_end_matches('/')
            .to_owned()
    }

    /// The rest of the first line (from now on) that starts with `prefix` (panics after 30 s or
    /// if the process exits first).
    pub fn line_after(&mut self, prefix: &str) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix(prefix) {
                        return rest.to_owned();
                    }
                }
                Err(_) => panic!(
                    "the process printed no line starting {prefix:?} (exit status: {:?})",
                    self.child.try_wait()
                ),
            }
        }
    }

    /// The directory it runs in (where its SQLite files are).
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }
}

impl Drop for DemoProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if self.owns_dir {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// `demo` without the test's CANTER_*, REDIS_URL and DATABASE_URL variables, logging warnings only.
pub fn demo_command() -> Command {
    command_for(std::path::Path::new(env!("CARGO_BIN_EXE_demo")))
}

/// [`demo_command`] for another copy of the binary.
pub fn command_for(binary: &std::path::Path) -> Command {
    let mut command = Command::new(binary);
    for (key, _) in std::env::vars() {
        if key.starts_with("CANTER_") || key == "REDIS_URL" || key == "DATABASE_URL" {
            command.env_remove(key);
        }
    }
    command.env("RUST_LOG", "warn");
    command
}

/// Whether CI asked for every service to be present (then a missing one fails the test).
pub fn services_required() -> bool {
    std::env::var("CANTER_REQUIRE_SERVICES").is_ok_and(|v| v == "1" || v == "true")
}

/// Skips (printing why), or fails under `CANTER_REQUIRE_SERVICES=1`.
pub fn missing(what: &str) {
    if services_required() {
        panic!("{what}, and CANTER_REQUIRE_SERVICES=1: this test needs it");
    }
    eprintln!("skipped: {what}");
    canter::test::skips::record(what);
}

// The workspace's shared fixtures (canter-test-kit); each test binary uses some of them.
#[allow(unused_imports)]
pub use canter_test_kit::{block_on, execute, http_get, text_rows, unique, PgSchema, SqliteFile};
