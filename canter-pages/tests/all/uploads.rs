//! Uploads: files stored under `[media] root` with safe names, spilled to a temporary file past
//! `[uploads] max_memory_size`, refused over their limits with nothing left on disk, and served
//! under `[media] url` in DEBUG only.

use canter_core::prelude::*;
use canter_core::test::TestClient;
use canter_pages::forms::{BoundForm, Form};
use canter_pages::{default_storage, UploadedFile};
use canter_test_kit::TempDir;
use serde_json::{json, Value};

use crate::common::{pages, settings};

#[derive(Form)]
#[form(crate = canter_pages)]
struct UploadForm {
    file: UploadedFile,
    note: Option<String>,
}

async fn upload(mut req: Request) -> Result<Response> {
    match BoundForm::<UploadForm>::from_request(&mut req)
        .await?
        .into_valid()
    {
        Ok(UploadForm { file, note }) => {
            let spilled = file.temporary_path().is_some();
            let storage = default_storage()?;
            let name = storage
                .save(&format!("uploads/{}", file.name()), &file)
                .await
                .map_err(Error::internal)?;
            Ok(JsonResponse::new(json!({
                "name": name, "size": file.size(), "spilled": spilled,
                "url": storage.url(&name), "note": note,
            }))
            .into_response())
        }
        Err(form) => Ok(JsonResponse::new(form.errors().to_json())
            .status(400)
            .into_response()),
    }
}

struct Site {
    client: TestClient,
    media: TempDir,
    temp: TempDir,
}

impl Site {
    /// Files left in the media root and in the uploads' temporary folder.
    fn left(&self) -> (usize, usize) {
        (
            count_files(self.media.path()),
            count_files(self.temp.path()),
        )
    }
}

fn count_files(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .map(|e| e.unwrap().path())
        .map(|p| if p.is_dir() { count_files(&p) } else { 1 })
        .sum()
}

async fn site(debug: bool) -> Site {
    let (media, temp) = (TempDir::new("media"), TempDir::new("upload-temp"));
    let extra = format!(
        "[server]\nmax_upload_size = 1000000\n[media]\nroot = {:?}\n[uploads]\nmax_memory_size = 1000\nmax_file_size = 200000\ntemp_dir = {:?}\n",
        media.path(),
        temp.path()
    );
    let app = App::new()
        .urls(vec![path("upload/", upload)])
        .install(canter_pages::install(pages()));
    let client = TestClient::start_with_settings(app, settings(debug, &extra)).await;
    Site {
        client,
        media,
        temp,
    }
}

#[tokio::test]
async fn an_upload_is_stored_under_the_media_root_and_served_in_debug() {
    let site = site(true).await;
    let page = site
        .client
        .post("/upload/")
        .multipart(&[("note", "hi")], &[("file", "report 2026.txt", b"hello")])
        .await;
    assert_eq!(page.status(), 200, "{}", page.text());
    let stored: Value = page.json();
    assert_eq!(stored["name"], "uploads/report_2026.txt");
    assert_eq!(
        (stored["size"].as_u64(), stored["spilled"].as_bool()),
        (Some(5), Some(false))
    );
    assert_eq!(stored["note"], "hi");
    assert_eq!(
        std::fs::read(site.media.path().join("uploads/report_2026.txt")).unwrap(),
        b"hello"
    );
    let served = site.client.get(stored["url"].as_str().unwrap()).await;
    assert_eq!(served.status(), 200);
    assert_eq!(served.text(), "hello");
    // A second file of the same name keeps the first.
    let again: Value = site
        .client
        .post("/upload/")
        .multipart(&[], &[("file", "report 2026.txt", b"again")])
        .await
        .json();
    let second = again["name"].as_str().unwrap();
    assert!(
        second.starts_with("uploads/report_2026_") && second.ends_with(".txt"),
        "{second}"
    );
    assert_eq!(site.left().0, 2);
    for traversal in [
        "/media/../Cargo.toml",
        "/media/%2e%2e/%2e%2e/etc/passwd",
        "/media/uploads%5c..%5c..%5cx",
    ] {
        assert_eq!(
            site.client.get(traversal).await.status(),
            404,
            "{traversal}"
        );
    }
}

#[tokio::test]
async fn media_is_not_served_outside_debug() {
    let site = site(false).await;
    let stored: Value = site
        .client
        .post("/upload/")
        .multipart(&[], &[("file", "a.txt", b"x")])
        .await
        .json();
    assert_eq!(
        site.client
            .get(stored["url"].as_str().unwrap())
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn a_large_file_goes_through_a_temporary_file_that_is_removed_afterwards() {
    let site = site(true).await;
    let content = vec![b'x'; 150_000];
    let stored: Value = site
        .client
        .post("/upload/")
        .multipart(&[], &[("file", "big.bin", content.as_slice())])
        .await
        .json();
    assert_eq!(
        (stored["size"].as_u64(), stored["spilled"].as_bool()),
        (Some(150_000), Some(true))
    );
    assert_eq!(site.left(), (1, 0), "the temporary file is gone");
}

#[tokio::test]
async fn files_over_their_limits_are_413_and_leave_nothing_on_disk() {
    let site = site(true).await;
    // Over [uploads] max_file_size, past the memory threshold (a temporary file was begun).
    let page = site
        .client
        .post("/upload/")
        .multipart(&[], &[("file", "big.bin", vec![b'x'; 300_000].as_slice())])
        .await;
    assert_eq!(page.status(), 413, "{}", page.text());
    assert!(page.text().contains("max_file_size"), "{}", page.text());
    // Over server.max_upload_size, the body as a whole.
    let part = vec![b'x'; 190_000];
    let page = site
        .client
        .post("/upload/")
        .multipart(&[], &[("a", "a.bin", part.as_slice()); 6])
        .await;
    assert_eq!(page.status(), 413, "{}", page.text());
    assert_eq!(site.left(), (0, 0));
    // An empty file and no file are the field's errors.
    let page = site
        .client
        .post("/upload/")
        .multipart(&[], &[("file", "empty.txt", b"")])
        .await;
    assert_eq!(page.status(), 400);
    assert_eq!(
        page.json::<Value>()["file"][0],
        "The submitted file is empty."
    );
    let page = site
        .client
        .post("/upload/")
        .multipart(&[("file", "text")], &[])
        .await;
    assert_eq!(
        page.json::<Value>()["file"][0],
        "No file was submitted. Check the encoding type on the form."
    );
}

#[tokio::test]
async fn hostile_file_names_are_stored_under_safe_ones() {
    let site = site(true).await;
    let long = format!("{}.txt", "n".repeat(1000));
    for (given, expected_start) in [
        ("../../etc/passwd", "uploads/passwd"),
        ("..\\..\\boot.ini", "uploads/boot.ini"),
        ("<script>alert(1)</script>.html", "uploads/script.html"),
        ("..", "uploads/file"),
        (long.as_str(), "uploads/nnnn"),
    ] {
        let page = site
            .client
            .post("/upload/")
            .multipart(&[], &[("file", given, b"x")])
            .await;
        assert_eq!(page.status(), 200, "{given}: {}", page.text());
        let name = page.json::<Value>()["name"].as_str().unwrap().to_owned();
        assert!(name.starts_with(expected_start), "{given} → {name}");
        assert!(name.chars().count() <= 100, "{name}");
        assert!(site.media.path().join(&name).starts_with(site.media.path()));
        assert!(site.media.path().join(&name).is_file(), "{name}");
    }
    // A NUL in the part's headers: refused as malformed, or stored without it.
    let body = "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\0b.txt\"\r\n\r\nx\r\n--b--\r\n";
    let page = site
        .client
        .post("/upload/")
        .header("content-type", "multipart/form-data; boundary=b")
        .body(body)
        .await;
    match page.status().as_u16() {
        400 => {}
        200 => assert_eq!(page.json::<Value>()["name"], "uploads/ab.txt"),
        other => panic!("{other}: {}", page.text()),
    }
    assert!(count_files(site.media.path()) >= 5);
}
