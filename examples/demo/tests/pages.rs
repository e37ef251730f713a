//! The demo's pages (issue 16's contract): `/`, `/chat/<room>/`, `/notes/` and `/upload/` are
//! templates on one base layout with a stylesheet from `/static/`; the notes form validates,
//! escapes and redirects; uploads are kept under the media root, and one over 5 MB is a 413
//! with nothing kept — a 1 GB one streamed at `demo runserver` too, with its memory flat;
//! `demo collectstatic` and a production server serving the hashed files.

mod support;

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

use canter::orm::Databases;
use canter::test::TestClient;
use canter_test_kit::TempDir;
use serde_json::Value;
use support::{demo_command, DemoProcess, SqliteFile};

/// The demo started as a test starts it, on an SQLite file of its own (migrated), its media
/// root in `media`.
async fn with_demo<F: std::future::Future<Output = ()>>(
    media: &std::path::Path,
    test: impl FnOnce(TestClient) -> F,
) {
    let file = SqliteFile::new("demo-pages");
    let dbs = Arc::new(Databases::single(&file.url).unwrap());
    dbs.scope(async {
        demo::migrate().await.unwrap();
        let app = demo::app();
        let mut settings = app.test_settings();
        let mut section = toml_table();
        section.insert("root".into(), media.display().to_string().into());
        settings.sections.insert("media".into(), section.into());
        let client = TestClient::start_with_settings(app, settings).await;
        // The forms are CSRF-protected: a browser's cookie, and its value in each form.
        client.set_cookie("csrftoken", CSRF);
        test(client).await;
    })
    .await;
}

/// A CSRF secret (Django accepts the raw 32 characters as the form's token too).
const CSRF: &str = "abcdefghijklmnopqrstuvwxyzABCDEF";

fn toml_table() -> toml::Table {
    toml::Table::new()
}

#[tokio::test]
async fn every_page_extends_the_base_layout_with_the_stylesheet() {
    let media = TempDir::new("demo-media");
    with_demo(media.path(), |client| async move {
        for (page, title) in [
            ("/", "<title>canter demo</title>"),
            ("/chat/lobby/", "<title>Chat: lobby · canter demo</title>"),
            ("/notes/", "<title>Notes · canter demo</title>"),
            ("/upload/", "<title>Upload · canter demo</title>"),
        ] {
            let r = client.get(page).await;
            assert_eq!(r.status(), 200, "{page}: {}", r.text());
            let html = r.text();
            assert!(html.contains(title), "{page}: {html}");
            assert!(
                html.contains("<link rel=\"stylesheet\" href=\"/static/css/site.css\">"),
                "{page}: {html}"
            );
            assert!(html.contains("<a class=\"brand\" href=\"/\">"), "{page}");
        }
        let chat = client.get("/chat/lobby/").await.text();
        assert!(
            chat.contains("<script src=\"/static/js/chat.js\"></script>"),
            "{chat}"
        );
        let css = client.get("/static/css/site.css").await;
        assert_eq!(css.status(), 200);
        assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
        assert!(css.text().contains(".card"));
        // A room name is text in the page, never markup.
        let hostile = client
            .get("/chat/%3Cscript%3Ex%3C%2Fscript%3E/")
            .await
            .text();
        assert!(!hostile.contains("<script>x"), "{hostile}");
    })
    .await;
}

#[tokio::test]
async fn the_notes_form_refuses_bad_titles_and_redirects_after_adding() {
    let media = TempDir::new("demo-media");
    with_demo(media.path(), |client| async move {
        let page = client.get("/notes/").await.text();
        assert!(page.contains("No notes yet"), "{page}");
        assert!(page.contains("<input type=\"text\" name=\"title\" id=\"id_title\" required maxlength=\"100\" value=\"\">"), "{page}");
        assert!(page.contains("name=\"csrfmiddlewaretoken\""), "the form carries its token: {page}");
        // Without the token, or with another one: 403, and no note.
        for token in [None, Some("x".repeat(64))] {
            let mut fields = vec![("title", "forged".to_owned())];
            fields.extend(token.map(|t| ("csrfmiddlewaretoken", t)));
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let r = client.post("/notes/").form(&fields).await;
            assert_eq!(r.status(), 403, "{}", r.text());
        }
        assert!(client.get("/notes/").await.text().contains("No notes yet"));

        let r = client.post("/notes/").form(&[("title", "  "), ("text", "kept"), ("csrfmiddlewaretoken", CSRF)]).await;
        assert_eq!(r.status(), 400);
        assert!(r.text().contains("<li>This field is required.</li>"), "{}", r.text());
        assert!(r.text().contains(">\nkept</textarea>"), "the body is shown again: {}", r.text());
        let long = "t".repeat(101);
        let r = client.post("/notes/").form(&[("title", &long), ("csrfmiddlewaretoken", CSRF)]).await;
        assert_eq!(r.status(), 400);
        assert!(r.text().contains("Ensure this value has at most 100 characters (it has 101)."));

        let r = client
            .post("/notes/")
            .form(&[("title", "<script>alert(1)</script>"), ("text", "\" onmouseover=\"x"), ("csrfmiddlewaretoken", CSRF)])
            .await;
        assert_eq!(r.status(), 303, "{}", r.text());
        assert_eq!(r.header("location"), Some("/notes/"));
        let page = client.get("/notes/").await.text();
        assert!(page.contains("<strong>&lt;script&gt;alert(1)&lt;/script&gt;</strong>"), "{page}");
        assert!(page.contains("<p>&quot; onmouseover=&quot;x</p>"), "{page}");
        assert!(page.contains("1 note in all."), "{page}");
    })
    .await;
}

#[tokio::test]
async fn an_upload_is_kept_under_a_safe_name_and_one_over_5_mb_is_413() {
    let media = TempDir::new("demo-media");
    let root = media.path().to_owned();
    with_demo(media.path(), |client| async move {
        let r = client
            .post("/upload/")
            .header("accept", "application/json")
            .multipart(
                &[("csrfmiddlewaretoken", CSRF)],
                &[("file", "../../etc/my notes.txt", b"hello")],
            )
            .await;
        assert_eq!(r.status(), 200, "{}", r.text());
        let stored: Value = r.json();
        assert_eq!(stored["name"], "uploads/my_notes.txt");
        assert_eq!(stored["size"], 5);
        assert_eq!(
            std::fs::read(root.join("uploads/my_notes.txt")).unwrap(),
            b"hello"
        );
        // Without Accept: JSON, the page says what was stored.
        let page = client
            .post("/upload/")
            .multipart(
                &[("csrfmiddlewaretoken", CSRF)],
                &[("file", "b.txt", b"hi")],
            )
            .await
            .text();
        assert!(
            page.contains("Stored <a href=\"/media/uploads/b.txt\">uploads/b.txt</a> (2 bytes)."),
            "{page}"
        );

        let big = vec![b'x'; 5_000_001];
        let r = client
            .post("/upload/")
            .header("accept", "application/json")
            .multipart(
                &[("csrfmiddlewaretoken", CSRF)],
                &[("file", "big.bin", big.as_slice())],
            )
            .await;
        assert_eq!(r.status(), 413, "{}", r.text());
        let kept: Vec<_> = std::fs::read_dir(root.join("uploads")).unwrap().collect();
        assert_eq!(kept.len(), 2, "nothing more was kept");
    })
    .await;
}

/// A process's resident memory, in bytes.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

#[test]
fn a_1_gb_upload_streamed_at_runserver_is_413_with_its_memory_flat_and_nothing_kept() {
    let temp = TempDir::new("demo-upload-temp");
    let temp_dir = temp.path().display().to_string();
    let mut server = DemoProcess::spawn(
        &["runserver", "127.0.0.1:0"],
        &[("CANTER_UPLOADS__TEMP_DIR", temp_dir.as_str())],
    );
    let addr = server.server_addr();
    // Warm up: a page and a small upload, so the figure compares a served server.
    for _ in 0..3 {
        support::http_get(&addr, "/upload/");
    }
    let before = rss(server.pid());

    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    write!(
        stream,
        "POST /upload/ HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n\
         Cookie: csrftoken={CSRF}\r\nX-CSRFToken: {CSRF}\r\n\
         Content-Type: multipart/form-data; boundary=b\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    .unwrap();
    let head =
        b"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"huge.bin\"\r\n\r\n";
    write!(stream, "{:x}\r\n", head.len()).unwrap();
    stream.write_all(head).unwrap();
    stream.write_all(b"\r\n").unwrap();
    // 1 GB in 64 KiB chunks, for as long as the server reads them.
    let chunk = vec![b'x'; 64 * 1024];
    let mut sent = 0u64;
    let mut peak = before;
    while sent < 1 << 30 {
        if write!(stream, "{:x}\r\n", chunk.len()).is_err()
            || stream.write_all(&chunk).is_err()
            || stream.write_all(b"\r\n").is_err()
        {
            break;
        }
        sent += chunk.len() as u64;
        if sent.is_multiple_of(4 << 20) {
            peak = peak.max(rss(server.pid()));
        }
    }
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response);
    peak = peak.max(rss(server.pid()));
    assert!(
        response.starts_with("HTTP/1.1 413") || response.is_empty(),
        "{response}"
    );
    assert!(
        sent >= 5_000_000,
        "the server read {sent} bytes before refusing"
    );
    let grown = peak.saturating_sub(before);
    eprintln!(
        "sent {} MB; answered {:?}; RSS {} MB before, +{} KB at most",
        sent >> 20,
        response.lines().next().unwrap_or("(reset)"),
        before >> 20,
        grown >> 10
    );
    assert!(grown < 20 << 20, "RSS grew by {} MB", grown >> 20);
    // Nothing kept: no temporary file, no stored one.
    assert_eq!(std::fs::read_dir(temp.path()).unwrap().count(), 0);
    assert!(!server.dir().join("media/uploads/huge.bin").exists());
    // And the server goes on serving.
    assert!(support::http_get(&addr, "/upload/").starts_with("HTTP/1.1 200"));
}

#[test]
fn collectstatic_writes_hashed_files_that_production_serves_for_a_year() {
    let dir = TempDir::new("demo-collect");
    let status = demo_command()
        .args(["collectstatic", "--noinput"])
        .current_dir(dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("staticfiles/staticfiles.json")).unwrap(),
    )
    .unwrap();
    let css = manifest["paths"]["css/site.css"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        css.starts_with("css/site.") && css.len() == "css/site.123456789abc.css".len(),
        "{css}"
    );
    assert!(dir.path().join("staticfiles").join(&css).is_file());

    // DEBUG off: the page names the hashed file, which is served with far-future caching.
    let mut server = DemoProcess::spawn_in(
        dir.path(),
        &["runserver", "127.0.0.1:0"],
        &[("CANTER_DEBUG", "false")],
    );
    let addr = server.server_addr();
    let page = support::http_get(&addr, "/");
    assert!(page.contains(&format!("href=\"/static/{css}\"")), "{page}");
    // The demo's own 404 page, on the same layout (the path escaped).
    let missing = support::http_get(&addr, "/no/%3Cb%3Ehere%3C/b%3E/");
    assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
    assert!(
        missing.contains("Nothing lives at <code>/no/&lt;b&gt;here&lt;/b&gt;/</code>"),
        "{missing}"
    );
    assert!(
        missing.contains(&format!("href=\"/static/{css}\"")),
        "{missing}"
    );
    let served = support::http_get(&addr, &format!("/static/{css}"));
    assert!(served.starts_with("HTTP/1.1 200"), "{served}");
    assert!(
        served.contains("cache-control: max-age=31536000, public, immutable"),
        "{served}"
    );
}
