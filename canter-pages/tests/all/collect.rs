//! collectstatic, and production serving of what it collected: hashed names cached for a year,
//! precompressed copies, `static()` naming the hashed file; Django's own collectstatic makes
//! the same names from the same files.

use std::sync::Arc;

use canter_pages::StaticFiles;
use canter_test_kit::TempDir;

use crate::common::{app_with, pages, settings};

fn extra(root: &TempDir) -> String {
    format!(
        "[staticfiles]\nroot = {:?}\n",
        root.path().display().to_string()
    )
}

/// Collects with the app's own settings (DEBUG on: the source folders as they are).
async fn collected(root: &TempDir) -> serde_json::Value {
    let client = canter_core::test::TestClient::start_with_settings(
        app_with(pages()),
        settings(true, &extra(root)),
    )
    .await;
    let files: Arc<StaticFiles> = client
        .scope(async {
            canter_core::services::current()
                .unwrap()
                .get_shared::<StaticFiles>()
                .unwrap()
        })
        .await;
    let summary = canter_pages::staticfiles::collectstatic(&files, false).unwrap();
    assert_eq!(summary.copied, 3);
    serde_json::from_slice(&std::fs::read(root.join("staticfiles.json")).unwrap()).unwrap()
}

#[tokio::test]
async fn collectstatic_writes_hashed_copies_a_manifest_and_compressed_copies() {
    let root = TempDir::new("collect");
    let manifest = collected(&root).await;
    assert_eq!(manifest["version"], "1.1");
    let css = manifest["paths"]["css/site.css"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        css.starts_with("css/site.") && css.ends_with(".css") && css.len() == 25,
        "{css}"
    );
    let png = manifest["paths"]["img/dot.png"].as_str().unwrap();
    let hashed_css = std::fs::read_to_string(root.join(&css)).unwrap();
    let png_file = png.rsplit('/').next().unwrap();
    assert!(
        hashed_css.contains(&format!("url(\"../img/{png_file}\")")),
        "CSS points at the hashed image: {hashed_css}"
    );
    for name in ["css/site.css", &css, "js/app.js"] {
        assert!(root.join(&format!("{name}.gz")).exists(), "{name}.gz");
        assert!(root.join(&format!("{name}.br")).exists(), "{name}.br");
    }
    assert!(
        !root.join("img/dot.png.gz").exists(),
        "a PNG is not compressed again"
    );
}

#[tokio::test]
async fn production_serves_collected_files_with_far_future_caching_and_precompressed_copies() {
    let root = TempDir::new("collect-serve");
    let manifest = collected(&root).await;
    let css = manifest["paths"]["css/site.css"]
        .as_str()
        .unwrap()
        .to_owned();
    let client = canter_core::test::TestClient::start_with_settings(
        app_with(pages()),
        settings(false, &extra(&root)),
    )
    .await;
    let hashed = client.get(&format!("/static/{css}")).await;
    assert_eq!(hashed.status(), 200);
    assert_eq!(
        hashed.header("cache-control"),
        Some("max-age=31536000, public, immutable")
    );
    let plain = client.get("/static/css/site.css").await;
    assert_eq!(plain.header("cache-control"), Some("max-age=60, public"));
    let brotli = client
        .get(&format!("/static/{css}"))
        .header("accept-encoding", "gzip, br")
        .await;
    assert_eq!(brotli.header("content-encoding"), Some("br"));
    assert_eq!(brotli.header("vary"), Some("Accept-Encoding"));
    let gzip = client
        .get(&format!("/static/{css}"))
        .header("accept-encoding", "gzip")
        .await;
    assert_eq!(gzip.header("content-encoding"), Some("gzip"));
    assert!(gzip.bytes().len() < hashed.bytes().len());
    // static() names the hashed file.
    let page = client.get("/list/").await.text();
    assert!(page.contains(&format!("href=\"/static/{css}\"")), "{page}");
    let modified = client
        .get(&format!("/static/{css}"))
        .header("if-modified-since", hashed.header("last-modified").unwrap())
        .await;
    assert_eq!(modified.status(), 304);
}

#[tokio::test]
async fn production_without_a_manifest_entry_fails_the_page_not_the_server() {
    let root = TempDir::new("collect-none");
    let client = canter_core::test::TestClient::start_with_settings(
        app_with(pages()),
        settings(false, &extra(&root)),
    )
    .await;
    let page = client.get("/list/").await;
    assert_eq!(page.status(), 500);
    assert_eq!(client.get("/static/css/site.css").await.status(), 404);
    assert_eq!(client.get("/t/shout.html?payload=x").await.status(), 200);
}

/// Django's `ManifestStaticFilesStorage` on the same files names them as canter does.
#[tokio::test]
async fn djangos_collectstatic_names_the_files_as_canter_does() {
    let Some(python) = canter_core::test::require_service("CANTER_TEST_PYTHON") else {
        return;
    };
    let ours = TempDir::new("collect-ours");
    let manifest = collected(&ours).await;
    let theirs = TempDir::new("collect-django");
    let source = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/static");
    let script = r#"
import sys, django
from django.conf import settings
settings.configure(
    INSTALLED_APPS=["django.contrib.staticfiles"],
    STATIC_URL="/static/", STATIC_ROOT=sys.argv[2], STATICFILES_DIRS=[sys.argv[1]],
    STORAGES={"staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"}},
)
django.setup()
from django.core.management import call_command
call_command("collectstatic", interactive=False, verbosity=0)
"#;
    let output = std::process::Command::new(&python)
        .args(["-c", script, source, &theirs.path().display().to_string()])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let django: serde_json::Value =
        serde_json::from_slice(&std::fs::read(theirs.join("staticfiles.json")).unwrap()).unwrap();
    assert_eq!(manifest["paths"], django["paths"]);
    assert_eq!(manifest["version"], django["version"]);
    let css = manifest["paths"]["css/site.css"].as_str().unwrap();
    assert_eq!(
        std::fs::read(ours.join(css)).unwrap(),
        std::fs::read(theirs.join(css)).unwrap(),
        "the rewritten CSS is byte for byte Django's"
    );
}
