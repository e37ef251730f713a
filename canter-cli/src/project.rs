//! `canter new`: the project's files, from `template/` (embedded in this binary), with the
//! project's name, its canter dependency, a fresh secret key and the chosen services filled in.

use std::path::{Path, PathBuf};

/// Where the project gets canter from.
pub enum CanterSource {
    /// A checkout of canter's repository (or its `canter/` crate folder).
    Path(PathBuf),
    /// A published version.
    Version(String),
}

pub struct Options {
    pub postgres: bool,
    pub redis: bool,
    pub canter: CanterSource,
}

/// Every file of a new project: its path (with `__CRATE__` for the crate's name) and text.
const FILES: [(&str, &str); 15] = [
    ("Cargo.toml", include_str!("../template/Cargo.toml.tmpl")),
    ("build.rs", include_str!("../template/build.rs.tmpl")),
    (".gitignore", include_str!("../template/gitignore.tmpl")),
    ("README.md", include_str!("../template/README.md.tmpl")),
    ("src/main.rs", include_str!("../template/src/main.rs.tmpl")),
    ("src/lib.rs", include_str!("../template/src/lib.rs.tmpl")),
    (
        "src/settings.toml",
        include_str!("../template/src/settings.toml.tmpl"),
    ),
    ("src/urls.rs", include_str!("../template/src/urls.rs.tmpl")),
    (
        "src/views.rs",
        include_str!("../template/src/views.rs.tmpl"),
    ),
    (
        "src/models.rs",
        include_str!("../template/src/models.rs.tmpl"),
    ),
    (
        "src/tasks.rs",
        include_str!("../template/src/tasks.rs.tmpl"),
    ),
    (
        "src/consumers.rs",
        include_str!("../template/src/consumers.rs.tmpl"),
    ),
    (
        "templates/index.html",
        include_str!("../template/templates/index.html.tmpl"),
    ),
    (
        "static/css/site.css",
        include_str!("../template/static/css/site.css.tmpl"),
    ),
    (
        "tests/app.rs",
        include_str!("../template/tests/app.rs.tmpl"),
    ),
];

/// The initial migration of the project's one model (its app is the crate's name).
const INITIAL_MIGRATION: &str = include_str!("../template/migrations/app/0001_initial.json.tmpl");

/// Names a project cannot take: they would shadow a crate it uses, or are Rust's own.
const RESERVED: [&str; 12] = [
    "canter",
    "test",
    "core",
    "std",
    "alloc",
    "proc_macro",
    "self",
    "super",
    "crate",
    "tokio",
    "serde",
    "tracing",
];

/// Whether `name` can name a project (and its crate), or why not.
pub fn check_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        return Err(format!(
            "{name:?} is not a project name: use letters, digits, `_` or `-`, starting with a letter"
        ));
    }
    if name.len() > 64 {
        return Err(format!("{name:?} is longer than 64 characters"));
    }
    if RESERVED.contains(&name.replace('-', "_").as_str()) {
        return Err(format!(
            "{name:?} would shadow a crate or keyword of the same name: pick another"
        ));
    }
    Ok(())
}

/// Writes the project into `dir`, which must not exist or be empty.
pub fn create(name: &str, dir: &Path, options: &Options) -> Result<(), String> {
    check_name(name)?;
    if dir.exists() && dir.read_dir().map_err(|e| e.to_string())?.next().is_some() {
        return Err(format!("{} exists and is not empty", dir.display()));
    }
    let krate = name.replace('-', "_");
    let fill = |text: &str| fill(text, name, &krate, options);
    for (path, text) in FILES {
        write(&dir.join(path), &fill(text))?;
    }
    write(
        &dir.join("migrations")
            .join(&krate)
            .join("0001_initial.json"),
        &fill(INITIAL_MIGRATION),
    )?;
    Ok(())
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
    }
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// A template's text with the project's values in place of its `__PLACEHOLDERS__`.
fn fill(text: &str, name: &str, krate: &str, options: &Options) -> String {
    text.replace("__CANTER_DEPENDENCY__", &dependency(&options.canter))
        .replace("__DATABASE__", &database(options.postgres, krate))
        .replace("__REDIS__", if options.redis { REDIS } else { "" })
        .replace("__SECRET_KEY__", &secret_key())
        .replace("__NAME__", name)
        .replace("__CRATE__", krate)
}

fn dependency(source: &CanterSource) -> String {
    match source {
        CanterSource::Version(version) => format!("canter = \"{version}\""),
        CanterSource::Path(path) => {
            let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
            // A checkout's root holds the facade in `canter/`.
            let facade = if path.join("canter/Cargo.toml").is_file() {
                path.join("canter")
            } else {
                path
            };
            format!("canter = {{ path = {:?} }}", facade.display().to_string())
        }
    }
}

fn database(postgres: bool, krate: &str) -> String {
    if postgres {
        format!(
            "# PostgreSQL (DATABASE_URL overrides it). Create the database first: createdb {krate}\n\
             url = \"postgres://postgres@127.0.0.1:5432/{krate}\""
        )
    } else {
        "# An SQLite file in the working directory (DATABASE_URL=postgres://... overrides it).\n\
         url = \"sqlite://db.sqlite3\""
            .to_owned()
    }
}

const REDIS: &str = "
# Redis: the task broker (Celery's protocol) and the channel layer (channels_redis's format).
[tasks]
broker = \"redis://127.0.0.1:6379/0\"

[channels]
layer = \"redis\"

[channels.redis]
hosts = [\"redis://127.0.0.1:6379\"]
";

/// 50 random characters, as Django's `get_random_secret_key`.
fn secret_key() -> String {
    let mut key = String::new();
    while key.len() < 50 {
        key.push_str(&uuid::Uuid::new_v4().simple().to_string());
    }
    key.truncate(50);
    key
}

#[cfg(test)]
mod tests {
    use super::check_name;

    #[test]
    fn project_names_are_crate_names_and_not_reserved_ones() {
        assert!(check_name("mysite").is_ok());
        assert!(check_name("my-site_2").is_ok());
        for bad in [
            "", "2site", "my site", "../x", "a/b", "canter", "test", "tokio", "é",
        ] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert!(check_name(&"x".repeat(65)).is_err());
    }
}
