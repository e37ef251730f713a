//! Access: staff only, the admin's own login, and each of view/add/change/delete refused
//! without its permission — by URL too.

use crate::common::*;
use crate::on_both;

async fn anonymous_and_non_staff_go_to_the_login_page(site: Site) {
    let r = site.client.get("/admin/library/book/").await;
    assert_eq!(r.status(), 302);
    assert_eq!(
        r.header("location"),
        Some("/admin/login/?next=%2Fadmin%2Flibrary%2Fbook%2F")
    );
    site.user("reader", false, false).await;
    // The admin's login refuses a user who is not staff, with Django's message.
    let client = site.other_client();
    let r = post_form(
        &client,
        "/admin/login/",
        "/admin/login/",
        &[
            ("username", "reader"),
            ("password", PASSWORD),
            ("next", "/admin/"),
        ],
    )
    .await;
    assert_eq!(r.status(), 200);
    assert!(r
        .text()
        .contains("correct username and password for a staff account"));
    assert_eq!(client.get("/admin/").await.status(), 302, "not logged in");
    // Staff log in and go to `next` (never another host).
    site.user("editor", true, false).await;
    let r = post_form(
        &client,
        "/admin/login/",
        "/admin/login/",
        &[
            ("username", "editor"),
            ("password", PASSWORD),
            ("next", "//evil.example/"),
        ],
    )
    .await;
    assert_eq!(r.status(), 302, "{}", r.text());
    assert_eq!(r.header("location"), Some("/admin/"));
    let index = client.get("/admin/").await;
    assert_eq!(index.status(), 200);
    assert!(index.text().contains("permission to view or edit anything"));
    // Log out (a POST with the token).
    let r = post_form(&client, "/admin/", "/admin/logout/", &[]).await;
    assert_eq!(r.status(), 200);
    assert!(r.text().contains("Log in again"));
    assert_eq!(client.get("/admin/").await.status(), 302);
}
on_both!(login, 100, anonymous_and_non_staff_go_to_the_login_page);

async fn each_permission_opens_its_page_alone(site: Site) {
    let author = site.author("Ann").await;
    let book = site.book("Dune", &author, false).await;
    let change = format!("/admin/library/book/{}/change/", book.id);
    let delete = format!("/admin/library/book/{}/delete/", book.id);
    let history = format!("/admin/library/book/{}/history/", book.id);
    let nobody = site.staff_with("nobody", &[]).await;
    for url in [
        "/admin/library/book/",
        "/admin/library/book/add/",
        &change,
        &delete,
        &history,
    ] {
        assert_eq!(
            nobody.get(url).await.status(),
            403,
            "{url} without a permission"
        );
    }
    // View: the list, and the form read-only (a POST is refused).
    let viewer = site.staff_with("viewer", &["view_book"]).await;
    assert_eq!(viewer.get("/admin/library/book/").await.status(), 200);
    let form = viewer.get(&change).await;
    assert_eq!(form.status(), 200);
    assert!(form.text().contains("View book") && !form.text().contains("name=\"_save\""));
    assert_eq!(viewer.get("/admin/library/book/add/").await.status(), 403);
    assert_eq!(viewer.get(&delete).await.status(), 403);
    let r = post_form(&viewer, &change, &change, &[("title", "Changed")]).await;
    assert_eq!(r.status(), 403);
    // The index shows what each may see.
    let index = viewer.get("/admin/").await.text();
    assert!(index.contains("/admin/library/book/") && !index.contains("/admin/library/author/"));
    // Add.
    let adder = site.staff_with("adder", &["add_book"]).await;
    assert_eq!(adder.get("/admin/library/book/add/").await.status(), 200);
    assert_eq!(adder.get(&change).await.status(), 403);
    // Change.
    let changer = site.staff_with("changer", &["change_book"]).await;
    let id = author.id.to_string();
    let r = post_form(
        &changer,
        &change,
        &change,
        &[("title", "Dune II"), ("author", &id), ("status", "draft")],
    )
    .await;
    assert_eq!(r.status(), 302, "{}", r.text());
    assert_eq!(site.books().await[0].title, "Dune II");
    assert_eq!(changer.get(&delete).await.status(), 403);
    // Delete.
    let deleter = site.staff_with("deleter", &["delete_book"]).await;
    let r = post_form(&deleter, &delete, &delete, &[("post", "yes")]).await;
    assert_eq!(r.status(), 302);
    assert!(site.books().await.is_empty());
    // A user's own permission on another model opens nothing here.
    let other = site.staff_with("other", &["view_author"]).await;
    assert_eq!(other.get("/admin/library/book/").await.status(), 403);
    assert_eq!(other.get("/admin/library/author/").await.status(), 200);
}
on_both!(permissions, 100, each_permission_opens_its_page_alone);

async fn a_post_without_the_csrf_token_is_refused(site: Site) {
    let client = site.superuser().await;
    let author = site.author("Ann").await;
    let id = author.id.to_string();
    let r = client
        .post("/admin/library/book/add/")
        .form(&[("title", "No token"), ("author", &id), ("status", "draft")])
        .await;
    assert_eq!(r.status(), 403);
    let r = client
        .post("/admin/library/book/add/")
        .form(&[
            ("title", "Bad"),
            ("author", &id),
            ("csrfmiddlewaretoken", &"x".repeat(64)),
        ])
        .await;
    assert_eq!(r.status(), 403);
    assert!(site.books().await.is_empty(), "nothing added");
}
on_both!(csrf, 100, a_post_without_the_csrf_token_is_refused);
