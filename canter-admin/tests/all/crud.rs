//! Adding, changing and deleting through the forms: errors per field, the log
//! (`django_admin_log`) and the history page, related rows on the delete page, bulk delete.

use canter_admin::models::{LogEntry, ADDITION, CHANGE, DELETION};

use crate::common::*;
use crate::on_both;

async fn log(site: &Site) -> Vec<LogEntry> {
    site.run(LogEntry::objects().order_by([LogEntry::id.asc()]).all())
        .await
        .unwrap()
}

async fn add_change_delete_are_logged(site: Site) {
    let client = site.superuser().await;
    let author = site.author("Frank Herbert").await;
    let id = author.id.to_string();
    let add = "/admin/library/book/add/";
    let form = client.get(add).await.text();
    assert!(
        form.contains("<option value=\"\">---------</option>") && form.contains("Frank Herbert")
    );
    let r = post_form(
        &client,
        add,
        add,
        &[
            ("title", "Dune"),
            ("author", &id),
            ("status", "draft"),
            ("_continue", ""),
        ],
    )
    .await;
    assert_eq!(r.status(), 302, "{}", r.text());
    let book = site.books().await.remove(0);
    assert_eq!(
        (book.title.as_str(), book.author.id(), book.published),
        ("Dune", author.id, false)
    );
    let change = format!("/admin/library/book/{}/change/", book.id);
    assert_eq!(r.header("location"), Some(change.as_str()));
    let page = client.get(&change).await.text();
    assert!(page.contains("was added successfully. You may edit it again below."));
    assert!(page.contains("value=\"Dune\""));
    // Change two fields.
    let r = post_form(
        &client,
        &change,
        &change,
        &[
            ("title", "Dune Messiah"),
            ("author", &id),
            ("published", "on"),
            ("status", "final"),
        ],
    )
    .await;
    assert_eq!(r.status(), 302);
    assert_eq!(r.header("location"), Some("/admin/library/book/"));
    let book = site.books().await.remove(0);
    assert_eq!(
        (book.title.as_str(), book.published, book.status.as_str()),
        ("Dune Messiah", true, "final")
    );
    let entries = log(&site).await;
    assert_eq!(entries.len(), 2);
    assert_eq!(
        (entries[0].action_flag, entries[0].change_message.as_str()),
        (ADDITION, r#"[{"added":{}}]"#)
    );
    assert_eq!(entries[1].action_flag, CHANGE);
    assert_eq!(entries[1].message(), "Changed Title, Published and Status.");
    assert_eq!(
        entries[1].object_id.as_deref(),
        Some(book.id.to_string().as_str())
    );
    assert_eq!(entries[1].object_repr, "Dune Messiah");
    let history = client
        .get(&format!("/admin/library/book/{}/history/", book.id))
        .await
        .text();
    assert!(
        history.contains("Added.")
            && history.contains("Changed Title, Published and Status.")
            && history.contains("root")
    );
    // Deleting the author lists the book that goes with it.
    let delete = format!("/admin/library/author/{}/delete/", author.id);
    let confirm = client.get(&delete).await.text();
    assert!(
        confirm.contains("Books: 1") && confirm.contains("Dune Messiah"),
        "{confirm}"
    );
    let r = post_form(&client, &delete, &delete, &[("post", "yes")]).await;
    assert_eq!(r.status(), 302);
    let entries = log(&site).await;
    assert_eq!(entries.last().unwrap().action_flag, DELETION);
    assert_eq!(entries.last().unwrap().object_repr, "Frank Herbert");
    let list = client.get("/admin/library/author/").await.text();
    assert!(list.contains("was deleted successfully"));
    // The index lists the recent actions.
    let index = client.get("/admin/").await.text();
    assert!(index.contains("Dune Messiah") && index.contains("Frank Herbert"));
}
on_both!(add_change_delete, 100, add_change_delete_are_logged);

async fn invalid_submissions_show_each_fields_error(site: Site) {
    let client = site.superuser().await;
    let author = site.author("Ann").await;
    let id = author.id.to_string();
    let add = "/admin/library/book/add/";
    let r = post_form(
        &client,
        add,
        add,
        &[
            ("title", ""),
            ("author", "999999"),
            ("status", "lost"),
            ("added", "yesterday"),
        ],
    )
    .await;
    assert_eq!(r.status(), 400);
    let html = r.text();
    assert!(
        html.contains("Please correct the errors below.")
            || html.contains("Please correct the error below.")
    );
    assert!(html.contains("This field is required."), "title");
    assert!(
        html.contains("Select a valid choice. That choice is not one of the available choices."),
        "author"
    );
    assert!(
        html.contains("Select a valid choice. lost is not one of the available choices."),
        "status"
    );
    assert!(html.contains("Enter a valid date."), "added");
    // What was sent is shown again.
    assert!(html.contains("value=\"yesterday\""));
    let long = "x".repeat(101);
    let r = post_form(
        &client,
        add,
        add,
        &[("title", &long), ("author", &id), ("status", "draft")],
    )
    .await;
    assert_eq!(r.status(), 400);
    assert!(
        r.text().contains("field-title errors"),
        "the model's max_length is the title's error"
    );
    assert!(site.books().await.is_empty());
    // A user needs the password twice, equal.
    let add_user = "/admin/auth/user/add/";
    let r = post_form(
        &client,
        add_user,
        add_user,
        &[
            ("username", "bea"),
            ("password1", "a"),
            ("password2", "b"),
            ("is_active", "on"),
        ],
    )
    .await;
    assert_eq!(r.status(), 400);
    assert!(r.text().contains("The two password fields didn’t match."));
    let r = post_form(
        &client,
        add_user,
        add_user,
        &[
            ("username", "bea"),
            ("password1", "s3cret!"),
            ("password2", "s3cret!"),
            ("is_active", "on"),
            ("is_staff", "on"),
            ("date_joined", "2026-12-05T10:00:00"),
        ],
    )
    .await;
    assert_eq!(r.status(), 302, "{}", r.text());
    // The password form, then a log in with the new password.
    let bea = site
        .run(
            canter_accounts::models::User::objects()
                .filter(canter_accounts::models::User::username.eq("bea"))
                .get(),
        )
        .await
        .unwrap();
    assert!(bea.password.starts_with("pbkdf2_sha256$"));
    let password = format!("/admin/auth/user/{}/password/", bea.id);
    let r = post_form(
        &client,
        &password,
        &password,
        &[("password1", "n3w pass"), ("password2", "n3w pass")],
    )
    .await;
    assert_eq!(r.status(), 302);
    let fresh = site.other_client();
    let r = post_form(
        &fresh,
        "/admin/login/",
        "/admin/login/",
        &[("username", "bea"), ("password", "n3w pass")],
    )
    .await;
    assert_eq!(r.status(), 302, "{}", r.text());
}
on_both!(validation, 100, invalid_submissions_show_each_fields_error);

async fn bulk_delete_asks_then_deletes_the_selected(site: Site) {
    let client = site.superuser().await;
    let author = site.author("Ann").await;
    let a = site.book("A", &author, false).await;
    let b = site.book("B", &author, false).await;
    let c = site.book("C", &author, false).await;
    let list = "/admin/library/book/";
    let (ka, kb) = (a.id.to_string(), b.id.to_string());
    let fields = [
        ("action", "delete_selected"),
        ("_selected_action", ka.as_str()),
        ("_selected_action", kb.as_str()),
    ];
    let r = post_form(&client, list, list, &fields).await;
    assert_eq!(r.status(), 200);
    assert!(r
        .text()
        .contains("Are you sure you want to delete the selected books?"));
    assert_eq!(
        site.books().await.len(),
        3,
        "nothing deleted before the confirmation"
    );
    let mut confirmed = fields.to_vec();
    confirmed.push(("post", "yes"));
    let r = post_form(&client, list, list, &confirmed).await;
    assert_eq!(r.status(), 302);
    assert_eq!(site.books().await, std::slice::from_ref(&c));
    assert!(client
        .get(list)
        .await
        .text()
        .contains("Successfully deleted 2 books."));
    // No selection: a warning, nothing changed.
    let r = post_form(&client, list, list, &[("action", "delete_selected")]).await;
    assert_eq!(r.status(), 302);
    assert!(client
        .get(list)
        .await
        .text()
        .contains("Items must be selected"));
    // A user action.
    let kc = c.id.to_string();
    let r = post_form(
        &client,
        list,
        list,
        &[("action", "publish"), ("_selected_action", &kc)],
    )
    .await;
    assert_eq!(r.status(), 302);
    assert!(site.books().await[0].published);
    // A staff user without the delete permission cannot run it by POST either.
    let changer = site
        .staff_with("changer", &["change_book", "view_book"])
        .await;
    let r = post_form(
        &changer,
        list,
        list,
        &[
            ("action", "delete_selected"),
            ("_selected_action", &kc),
            ("post", "yes"),
        ],
    )
    .await;
    assert_eq!(r.status(), 403);
    assert_eq!(site.books().await.len(), 1);
}
on_both!(bulk_delete, 100, bulk_delete_asks_then_deletes_the_selected);

async fn a_users_groups_are_a_multiple_select(site: Site) {
    use canter_accounts::models::{Group, User};
    let client = site.superuser().await;
    let add_group = "/admin/auth/group/add/";
    for name in ["editors", "<b>admins</b>"] {
        let r = post_form(&client, add_group, add_group, &[("name", name)]).await;
        assert_eq!(r.status(), 302, "{}", r.text());
    }
    let groups = site
        .run(Group::objects().order_by([Group::name.asc()]).all())
        .await
        .unwrap();
    let bea = site.user("bea", true, false).await;
    let change = format!("/admin/auth/user/{}/change/", bea.id);
    let form = client.get(&change).await.text();
    assert!(
        form.contains("name=\"groups\" id=\"id_groups\" multiple"),
        "{form}"
    );
    assert!(form.contains("&lt;b&gt;admins&lt;/b&gt;") && !form.contains("<b>admins"));
    let (g1, g2) = (groups[0].id.to_string(), groups[1].id.to_string());
    let joined = bea.date_joined.format("%Y-%m-%dT%H:%M:%S").to_string();
    let base = [
        ("username", "bea"),
        ("is_active", "on"),
        ("is_staff", "on"),
        ("date_joined", joined.as_str()),
    ];
    let mut fields = base.to_vec();
    fields.extend([("groups", g1.as_str()), ("groups", g2.as_str())]);
    let r = post_form(&client, &change, &change, &fields).await;
    assert_eq!(r.status(), 302, "{}", r.text());
    let linked = |site: &Site| {
        let id = bea.id;
        let dbs = site.dbs.clone();
        async move {
            dbs.scope(async move {
                let user = User::objects().filter(User::id.eq(id)).get().await.unwrap();
                let mut names: Vec<String> = user
                    .groups
                    .all()
                    .all()
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|g| g.name)
                    .collect();
                names.sort();
                names
            })
            .await
        }
    };
    assert_eq!(linked(&site).await, ["<b>admins</b>", "editors"]);
    let history = client
        .get(&format!("/admin/auth/user/{}/history/", bea.id))
        .await
        .text();
    // (The date-time also counts as changed: the form shows it to the second.)
    assert!(history.contains(" and Groups."), "{history}");
    // An unknown group is the field's error; nothing changes.
    let mut fields = base.to_vec();
    fields.push(("groups", "999999"));
    let r = post_form(&client, &change, &change, &fields).await;
    assert_eq!(r.status(), 400);
    assert!(r
        .text()
        .contains("Select a valid choice. 999999 is not one of the available choices."));
    assert_eq!(linked(&site).await.len(), 2);
    // None selected: unlinked.
    let r = post_form(&client, &change, &change, &base).await;
    assert_eq!(r.status(), 302);
    assert!(linked(&site).await.is_empty());
}
on_both!(many_to_many, 100, a_users_groups_are_a_multiple_select);

async fn raw_id_foreign_keys_take_a_key_and_name_its_row(site: Site) {
    let client = site.superuser().await;
    let author = site.author("Ann").await;
    let book = site.book("Dune", &author, true).await;
    let add = "/admin/library/review/add/";
    let form = client.get(add).await.text();
    assert!(
        form.contains("class=\"vForeignKeyRawIdAdminField\""),
        "{form}"
    );
    assert!(!form.contains(">Dune</option>"), "no select of every book");
    let r = post_form(&client, add, add, &[("book", "999999"), ("text", "Great")]).await;
    assert_eq!(r.status(), 400);
    assert!(r
        .text()
        .contains("Select a valid choice. That choice is not one of the available choices."));
    let id = book.id.to_string();
    let r = post_form(
        &client,
        add,
        add,
        &[("book", &id), ("text", "Great"), ("_continue", "")],
    )
    .await;
    assert_eq!(r.status(), 302, "{}", r.text());
    let change = client.get(r.header("location").unwrap()).await.text();
    assert!(
        change.contains("<strong class=\"related-label\">Dune</strong>"),
        "{change}"
    );
    // The list names the book; deleting the book lists the review that goes with it.
    let list = client.get("/admin/library/review/").await.text();
    assert!(list.contains("<td>Dune</td>"), "{list}");
    let delete = client
        .get(&format!("/admin/library/book/{}/delete/", book.id))
        .await
        .text();
    assert!(
        delete.contains("Reviews: 1") && delete.contains("Great"),
        "{delete}"
    );
}
on_both!(raw_id, 100, raw_id_foreign_keys_take_a_key_and_name_its_row);
