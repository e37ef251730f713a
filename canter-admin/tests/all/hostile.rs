//! Hostile input: script payloads escaped on every page, SQL payloads and unknown fields or
//! lookups in search and filters (ignored or 400, never a database error), keys that do not
//! parse (404).

use crate::common::*;
use crate::on_both;

const SCRIPT: &str = "<script>alert('x')</script>";

async fn script_payloads_are_escaped_everywhere(site: Site) {
    let client = site.superuser().await;
    let author = site.author(SCRIPT).await;
    let book = site.book(SCRIPT, &author, true).await;
    let change = format!("/admin/library/book/{}/change/", book.id);
    // Changed through the admin, so the index and history show it too.
    let id = author.id.to_string();
    let r = post_form(
        &client,
        &change,
        &change,
        &[
            ("title", SCRIPT),
            ("author", &id),
            ("status", "draft"),
            ("published", "on"),
        ],
    )
    .await;
    assert_eq!(r.status(), 302);
    let pages = [
        "/admin/".to_owned(),
        "/admin/library/book/".to_owned(),
        format!(
            "/admin/library/book/?q={}",
            "%3Cscript%3Ealert(1)%3C%2Fscript%3E"
        ),
        format!("/admin/library/book/?author__id__exact={}", author.id),
        change.clone(),
        format!("/admin/library/book/{}/history/", book.id),
        format!("/admin/library/book/{}/delete/", book.id),
        format!("/admin/library/author/{}/delete/", author.id),
        "/admin/library/author/".to_owned(),
        format!(
            "/admin/login/?next={}",
            "%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E"
        ),
    ];
    for page in &pages {
        let r = client.get(page).await;
        let html = r.text();
        assert!(
            r.status() == 200 || r.status() == 302,
            "{page}: {}",
            r.status()
        );
        assert!(
            !html.contains("<script>alert"),
            "{page} shows a script unescaped"
        );
    }
    let list = client.get("/admin/library/book/").await.text();
    assert!(
        list.contains("&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;")
            || list.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"),
        "{list}"
    );
}
on_both!(scripts, 100, script_payloads_are_escaped_everywhere);

async fn sql_and_unknown_lookups_never_reach_the_database(site: Site) {
    let client = site.superuser().await;
    let author = site.author("Ann").await;
    site.book("Dune", &author, true).await;
    // Search: any text is a bound value; the rows simply do not match.
    for q in [
        "'; DROP TABLE library_book; --",
        "%' OR 1=1 --",
        "\\",
        "%",
        "_",
        "\"unclosed",
        "a\u{0}b",
    ] {
        let url = format!(
            "/admin/library/book/?q={}",
            form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
        );
        let r = client.get(&url).await;
        assert!(
            r.status() == 200 || r.status() == 400,
            "{q:?}: {}",
            r.status()
        );
        assert!(
            r.status() != 200 || !r.text().contains(">Dune<") || q == "%" || q == "_",
            "{q:?} matched"
        );
    }
    // Filters: fields not in list_filter, unknown fields and lookups, values that do not fit,
    // SQL in values → 400 with the reason, never a 500.
    for query in [
        "title__exact=Dune",
        "nosuch__exact=1",
        "published__nosuch=1",
        "published__exact=maybe",
        "published__exact=1%27%20OR%201=1",
        "author__id__exact=x",
        "author__password__exact=x",
        "added__gte=not-a-date",
        "status__regex=(a",
    ] {
        let r = client.get(&format!("/admin/library/book/?{query}")).await;
        assert_eq!(r.status(), 400, "{query}: {}", r.text());
    }
    // Ordering by junk is ignored.
    for o in ["99", "-0", "1;DROP", "x", "1.1.1"] {
        assert_eq!(
            client
                .get(&format!("/admin/library/book/?o={o}"))
                .await
                .status(),
            200,
            "o={o}"
        );
    }
    assert_eq!(site.books().await.len(), 1, "nothing dropped");
}
on_both!(sql, 100, sql_and_unknown_lookups_never_reach_the_database);

async fn keys_that_do_not_parse_are_not_found(site: Site) {
    let client = site.superuser().await;
    for url in [
        "/admin/library/book/abc/change/",
        "/admin/library/book/1.5/change/",
        "/admin/library/book/99999/change/",
        "/admin/library/book/-1/delete/",
        "/admin/library/book/1%20OR%201=1/history/",
        "/admin/library/book/99999999999999999999999/change/",
        "/admin/library/nosuch/",
        "/admin/nosuch/book/",
        "/admin/library/book/1/password/",
    ] {
        assert_eq!(client.get(url).await.status(), 404, "{url}");
    }
}
on_both!(keys, 100, keys_that_do_not_parse_are_not_found);
