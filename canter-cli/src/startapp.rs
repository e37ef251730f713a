//! `canter startapp NAME` in a project: an app folder (Django's `startapp`) — `src/NAME/` with
//! its models, views and URLs, and `templates/NAME/` — for the project to list.

use std::path::Path;

use crate::project::check_name;

/// Writes the app's files under the project at `root`; their paths, for the user.
pub fn create(name: &str, root: &Path) -> Result<Vec<String>, String> {
    check_name(name)?;
    if name.contains('-') {
        return Err(format!(
            "{name:?}: an app is a Rust module, so `-` is not allowed (use `_`)"
        ));
    }
    if !root.join("Cargo.toml").is_file() || !root.join("src").is_dir() {
        return Err(format!(
            "{} is not a canter project (no Cargo.toml and src/): run startapp in one",
            root.display()
        ));
    }
    let folder = root.join("src").join(name);
    if folder.exists() || root.join("src").join(format!("{name}.rs")).exists() {
        return Err(format!("src/{name} already exists"));
    }
    let files = [
        (format!("src/{name}/mod.rs"), MOD.replace("__APP__", name)),
        (
            format!("src/{name}/models.rs"),
            MODELS.replace("__APP__", name),
        ),
        (
            format!("src/{name}/views.rs"),
            VIEWS.replace("__APP__", name),
        ),
        (format!("src/{name}/urls.rs"), URLS.replace("__APP__", name)),
        (
            format!("templates/{name}/index.html"),
            TEMPLATE.replace("__APP__", name),
        ),
    ];
    let mut written = Vec::new();
    for (path, text) in files {
        let full = root.join(&path);
        std::fs::create_dir_all(full.parent().expect("a folder"))
            .map_err(|e| format!("{path}: {e}"))?;
        std::fs::write(&full, text).map_err(|e| format!("{path}: {e}"))?;
        written.push(path);
    }
    Ok(written)
}

const MOD: &str = "//! The __APP__ app.\n\npub mod models;\npub mod urls;\npub mod views;\n";

const MODELS: &str = "//! The __APP__ app's models: add them to the Orm plugin in src/lib.rs\n//! (`.model::<__APP__::models::Thing>()`), then `cargo run -- makemigrations`.\n";

const VIEWS: &str = "//! The __APP__ app's views.\n\nuse canter::pages::{minijinja, render};\nuse canter::prelude::*;\n\npub async fn index(req: Request) -> Result<Html<String>> {\n    render(&req, \"__APP__/index.html\", minijinja::context! {})\n}\n";

const URLS: &str = "//! The __APP__ app's URLs: include them in src/urls.rs with\n//! `include(\"__APP__/\", crate::__APP__::urls::urlpatterns()).namespace(\"__APP__\")`.\n\nuse canter::prelude::*;\nuse canter::routing::UrlPattern;\n\nuse super::views;\n\npub fn urlpatterns() -> Vec<UrlPattern> {\n    vec![path(\"\", views::index).name(\"index\")]\n}\n";

const TEMPLATE: &str = "<!doctype html>\n<title>__APP__</title>\n<h1>The __APP__ app</h1>\n";
