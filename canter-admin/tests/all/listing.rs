//! The change list: counts, pagination, filters, search, sorting, and a bounded number of
//! queries with a foreign key among the columns.

use crate::common::*;
use crate::on_both;

/// The books' titles in the page's rows, in order.
fn titles(html: &str) -> Vec<String> {
    html.split("/change/\">")
        .skip(1)
        .map(|part| part.split("</a>").next().unwrap().trim().to_owned())
        .collect()
}

async fn pages_filters_and_search(site: Site) {
    let client = site.superuser().await;
    let ann = site.author("Ann Leckie").await;
    let bob = site.author("Bob Shaw").await;
    for (title, author, published) in [
        ("Ancillary Justice", &ann, true),
        ("Ancillary Sword", &ann, false),
        ("Provenance", &ann, true),
        ("Orbitsville", &bob, true),
        ("Other Days", &bob, false),
    ] {
        site.book(title, author, published).await;
    }
    let list = |q: &str| {
        let client = &client;
        let url = format!("/admin/library/book/{q}");
        async move {
            let r = client.get(&url).await;
            assert_eq!(r.status(), 200, "{url}: {}", r.text());
            r.text()
        }
    };
    // Pagination: two a page, newest first by default.
    let first = list("").await;
    assert_eq!(titles(&first), ["Other Days", "Orbitsville"]);
    assert!(first.contains("5 books"));
    assert_eq!(titles(&list("?p=3").await), ["Ancillary Justice"]);
    for bad in ["?p=4", "?p=0", "?p=x", "?p=-1"] {
        assert_eq!(
            client
                .get(&format!("/admin/library/book/{bad}"))
                .await
                .status(),
            404,
            "{bad}"
        );
    }
    assert_eq!(titles(&list("?all=").await).len(), 5);
    // Sorting by the first column, then descending.
    assert_eq!(
        titles(&list("?o=1").await),
        ["Ancillary Justice", "Ancillary Sword"]
    );
    assert_eq!(titles(&list("?o=-1").await), ["Provenance", "Other Days"]);
    // Filters: booleans (as the demo's ?active__exact=1), foreign keys, choices.
    let published = list("?published__exact=1&o=1").await;
    assert_eq!(titles(&published), ["Ancillary Justice", "Orbitsville"]);
    assert!(
        published.contains("3 results"),
        "a count of the filtered rows"
    );
    let by_bob = list(&format!("?author__id__exact={}&o=1", bob.id)).await;
    assert_eq!(titles(&by_bob), ["Orbitsville", "Other Days"]);
    assert!(by_bob.contains("By author") && by_bob.contains("Bob Shaw"));
    assert!(list("?status__exact=final").await.contains("0 results"));
    assert!(list("?added__isnull=True").await.contains("5 results"));
    // Search: `^title` starts with; `author__name` contains; every word must match.
    assert_eq!(
        titles(&list("?q=ancillary&o=1").await),
        ["Ancillary Justice", "Ancillary Sword"]
    );
    assert!(
        list("?q=justice").await.contains("0 results"),
        "^ is a prefix"
    );
    assert_eq!(titles(&list("?q=shaw+orb").await), ["Orbitsville"]);
    assert_eq!(
        titles(&list("?q=%22bob+shaw%22&o=1").await),
        ["Orbitsville", "Other Days"]
    );
    // Search and filter together, the filter kept in the search form.
    let both = list("?q=leckie&published__exact=1").await;
    assert!(both.contains("2 results") && both.contains("name=\"published__exact\" value=\"1\""));
}
on_both!(listing, 2, pages_filters_and_search);

async fn a_page_costs_the_same_queries_for_any_number_of_rows(site: Site) {
    let client = site.superuser().await;
    let mut authors = Vec::new();
    for i in 0..30 {
        authors.push(site.author(&format!("Author {i}")).await);
    }
    let queries = |client: &canter_core::test::TestClient| {
        let dbs = site.dbs.clone();
        let client = client.clone();
        async move {
            let db = dbs.get("default").unwrap();
            let before = db.query_count();
            let r = client.get("/admin/library/book/").await;
            assert_eq!(r.status(), 200);
            db.query_count() - before
        }
    };
    site.book("One", &authors[0], true).await;
    let one = queries(&client).await;
    for (i, author) in authors.iter().enumerate() {
        site.book(&format!("Book {i}"), author, i % 2 == 0).await;
    }
    let thirty_one = queries(&client).await;
    assert_eq!(
        one, thirty_one,
        "no query per row (an author column of 31 rows)"
    );
    assert!(one <= 12, "{one} queries for a change list");
}
on_both!(
    query_count,
    100,
    a_page_costs_the_same_queries_for_any_number_of_rows
);

async fn dates_drill_down_by_year_month_and_day(site: Site) {
    use canter_orm::chrono::NaiveDate;
    let client = site.superuser().await;
    let author = site.author("Ann").await;
    for (title, day) in [
        ("Old", (2024, 5, 2)),
        ("March", (2026, 3, 9)),
        ("Later", (2026, 3, 20)),
    ] {
        let book = site.book(title, &author, true).await;
        let added = NaiveDate::from_ymd_opt(day.0, day.1, day.2);
        site.run(
            Book::objects()
                .filter(Book::id.eq(book.id))
                .update([Book::added.set(added)]),
        )
        .await
        .unwrap();
    }
    let page = |q: &str| {
        let client = &client;
        let url = format!("/admin/library/book/{q}");
        async move {
            let r = client.get(&url).await;
            assert_eq!(r.status(), 200, "{url}");
            r.text()
        }
    };
    let all = page("").await;
    assert!(all.contains(">2024</a>") && all.contains(">2025</a>") && all.contains(">2026</a>"));
    let year = page("?added__year=2026&o=1").await;
    assert_eq!(titles(&year), ["Later", "March"]);
    assert!(year.contains(">March 2026</a>") && year.contains("‹ All dates"));
    let month = page("?added__year=2026&added__month=3").await;
    assert!(month.contains(">March 31</a>") && month.contains("‹ 2026"));
    let day = page("?added__year=2026&added__month=3&added__day=9").await;
    assert_eq!(titles(&day), ["March"]);
    assert!(day.contains("March 9, 2026"));
    assert_eq!(
        client
            .get("/admin/library/book/?added__year=x")
            .await
            .status(),
        400
    );
}
on_both!(date_hierarchy, 100, dates_drill_down_by_year_month_and_day);

async fn list_editable_saves_the_rows_together(site: Site) {
    let client = site.superuser().await;
    let author = site.author("Ann").await;
    let a = site.book("A", &author, false).await;
    let b = site.book("B", &author, true).await;
    let list = "/admin/library/book/?o=1";
    let page = client.get(list).await.text();
    assert!(
        page.contains("name=\"form-0-published\"")
            && page.contains("name=\"form-TOTAL_FORMS\" value=\"2\"")
    );
    let (ka, kb) = (a.id.to_string(), b.id.to_string());
    // Row 0 (A) published, row 1 (B) unpublished and final.
    let fields = [
        ("form-TOTAL_FORMS", "2"),
        ("form-0-key", ka.as_str()),
        ("form-0-published", "on"),
        ("form-0-status", "draft"),
        ("form-1-key", kb.as_str()),
        ("form-1-status", "final"),
        ("_save", ""),
    ];
    let r = post_form(&client, list, list, &fields).await;
    assert_eq!(r.status(), 302, "{}", r.text());
    let books = site.books().await;
    assert_eq!(
        (books[0].published, books[0].status.as_str()),
        (true, "draft")
    );
    assert_eq!(
        (books[1].published, books[1].status.as_str()),
        (false, "final")
    );
    assert!(client
        .get(list)
        .await
        .text()
        .contains("2 books were changed successfully."));
    // One bad value: nothing saved, the reason shown.
    let bad = [
        ("form-TOTAL_FORMS", "2"),
        ("form-0-key", ka.as_str()),
        ("form-0-status", "final"),
        ("form-1-key", kb.as_str()),
        ("form-1-status", "lost"),
        ("_save", ""),
    ];
    let r = post_form(&client, list, list, &bad).await;
    assert_eq!(r.status(), 302);
    assert!(client.get(list).await.text().contains("Nothing was saved"));
    assert_eq!(site.books().await[0].status, "draft");
    // Without the change permission: refused.
    let viewer = site.staff_with("viewer", &["view_book"]).await;
    let r = post_form(&viewer, list, list, &fields).await;
    assert_eq!(r.status(), 403);
    // A silly row count is a 400.
    let r = post_form(
        &client,
        list,
        list,
        &[("form-TOTAL_FORMS", "99999999"), ("_save", "")],
    )
    .await;
    assert_eq!(r.status(), 400);
}
on_both!(list_editable, 100, list_editable_saves_the_rows_together);
