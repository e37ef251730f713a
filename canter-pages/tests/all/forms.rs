//! Forms: `#[derive(Form)]` fields read and checked with Django's messages, rendered with every
//! value escaped, posted urlencoded or multipart, redirected after success; hostile bodies.

use canter_core::prelude::*;
use canter_core::test::TestClient;
use canter_pages::forms::{BoundForm, Form, FormData, FormErrors};
use canter_pages::render;
use http::StatusCode;

use crate::common::{pages, settings};

#[derive(Form, Debug)]
#[form(crate = canter_pages, validate = Signup::passwords_match)]
pub struct Signup {
    #[form(max_length = 20, min_length = 2, help_text = "Letters & digits")]
    name: String,
    #[form(email, label = "E-mail")]
    email: String,
    #[form(widget = "password")]
    password: String,
    #[form(widget = "password", label = "Password (again)")]
    password2: String,
    #[form(min = 13, max = 130)]
    age: Option<i64>,
    #[form(choices = [("red", "Red"), ("blue", "Blue")], widget = "select")]
    colour: String,
    newsletter: bool,
    born: Option<chrono::NaiveDate>,
    #[form(widget = "textarea")]
    bio: Option<String>,
}

impl Signup {
    fn passwords_match(&self) -> Result<(), FormErrors> {
        let mut errors = FormErrors::new();
        if self.password != self.password2 {
            errors.add(Some("password2"), "The two password fields didn’t match.");
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

const GOOD: [(&str, &str); 7] = [
    ("name", "ada"),
    ("email", "ada@example.com"),
    ("password", "s3cret"),
    ("password2", "s3cret"),
    ("colour", "blue"),
    ("newsletter", "on"),
    ("born", "1815-12-10"),
];

fn with(changes: &[(&'static str, &'static str)]) -> FormData {
    let mut pairs: Vec<(&str, &str)> = GOOD
        .iter()
        .filter(|(k, _)| !changes.iter().any(|(c, _)| c == k))
        .copied()
        .collect();
    pairs.extend(changes.iter().copied());
    FormData::from_pairs(pairs)
}

#[test]
fn a_valid_submission_gives_the_typed_value() {
    let signup = BoundForm::<Signup>::bind(with(&[])).into_valid().unwrap();
    assert_eq!(signup.name, "ada");
    assert!(signup.newsletter);
    assert_eq!(signup.age, None);
    assert_eq!(signup.born, chrono::NaiveDate::from_ymd_opt(1815, 12, 10));
    assert_eq!(signup.bio, None);
    let unchecked = BoundForm::<Signup>::bind(FormData::from_pairs(
        GOOD.iter().filter(|(k, _)| *k != "newsletter").copied(),
    ));
    assert!(!unchecked.into_valid().unwrap().newsletter);
}

/// Fields changed from [`GOOD`].
type Changes = &'static [(&'static str, &'static str)];

#[test]
fn each_field_says_what_is_wrong_in_djangos_words() {
    let cases: [(Changes, &str, &str); 9] = [
        (&[("name", "   ")], "name", "This field is required."),
        (
            &[("name", "a")],
            "name",
            "Ensure this value has at least 2 characters (it has 1).",
        ),
        (
            &[("name", "abcdefghijklmnopqrstuvwxyz")],
            "name",
            "Ensure this value has at most 20 characters (it has 26).",
        ),
        (
            &[("email", "ada@@")],
            "email",
            "Enter a valid email address.",
        ),
        (&[("age", "twelve")], "age", "Enter a whole number."),
        (
            &[("age", "12")],
            "age",
            "Ensure this value is greater than or equal to 13.",
        ),
        (
            &[("colour", "green")],
            "colour",
            "Select a valid choice. green is not one of the available choices.",
        ),
        (&[("born", "10/12/1815")], "born", "Enter a valid date."),
        (
            &[("password2", "other")],
            "password2",
            "The two password fields didn’t match.",
        ),
    ];
    for (changes, field, message) in cases {
        let form = BoundForm::<Signup>::bind(with(changes));
        assert!(!form.is_valid(), "{changes:?}");
        assert_eq!(
            form.errors().field(field),
            [message],
            "{changes:?}: {}",
            form.errors()
        );
    }
    // Every field's errors at once, not the first only.
    let form = BoundForm::<Signup>::bind(FormData::new());
    let missing: Vec<_> = form.errors().iter().map(|(f, _)| f.unwrap()).collect();
    assert_eq!(
        missing,
        ["name", "email", "password", "password2", "colour"]
    );
    assert_eq!(
        form.errors().to_json()["name"][0],
        "This field is required."
    );
}

#[test]
fn the_derive_describes_each_field() {
    let fields = Signup::fields();
    assert_eq!(fields.len(), 9);
    assert_eq!((fields[1].name, fields[1].label), ("email", "E-mail"));
    assert_eq!(fields[4].label, "Age");
    assert!(!fields[4].required && fields[0].required && !fields[6].required);
    assert_eq!(fields[0].max_length, Some(20));
    assert_eq!(fields[5].choices, [("red", "Red"), ("blue", "Blue")]);
}

async fn signup(mut req: Request) -> Result<Response> {
    if req.method() == http::Method::GET {
        let form = BoundForm::<Signup>::unbound();
        return Ok(
            render(&req, "forms/signup.html", minijinja::context! { form })?.into_response(),
        );
    }
    match BoundForm::<Signup>::from_request(&mut req)
        .await?
        .into_valid()
    {
        Ok(_) => Ok(Redirect::to("/done/").into_response()),
        Err(form) => {
            let page = render(&req, "forms/signup.html", minijinja::context! { form })?;
            Ok((StatusCode::BAD_REQUEST, page).into_response())
        }
    }
}

async fn client() -> TestClient {
    let app = App::new()
        .urls(vec![path("signup/", signup)])
        .install(canter_pages::install(pages()));
    TestClient::start_with_settings(app, settings(true, "")).await
}

#[tokio::test]
async fn an_empty_form_renders_every_field_with_its_label_and_constraints() {
    let html = client().await.get("/signup/").await.text();
    for expected in [
        "<label for=\"id_name\">Name</label>",
        "<div class=\"helptext\" id=\"id_name_helptext\">Letters &amp; digits</div>",
        "<input type=\"text\" name=\"name\" id=\"id_name\" required maxlength=\"20\" minlength=\"2\" aria-describedby=\"id_name_helptext\" value=\"\">",
        "<input type=\"email\" name=\"email\" id=\"id_email\" required value=\"\">",
        "<input type=\"password\" name=\"password\" id=\"id_password\" required>",
        "<input type=\"number\" name=\"age\" id=\"id_age\" min=\"13\" max=\"130\" value=\"\">",
        "<select name=\"colour\" id=\"id_colour\" required><option value=\"red\">Red</option><option value=\"blue\">Blue</option></select>",
        "<input type=\"checkbox\" name=\"newsletter\" id=\"id_newsletter\">",
        "<input type=\"date\" name=\"born\" id=\"id_born\" value=\"\">",
        "<textarea name=\"bio\" id=\"id_bio\" cols=\"40\" rows=\"10\">\n</textarea>",
        "<p id=\"bound\">False</p>",
    ] {
        assert!(html.contains(expected), "no {expected}\n{html}");
    }
}

#[tokio::test]
async fn an_invalid_post_shows_the_form_again_with_its_errors_and_400() {
    let client = client().await;
    let page = client
        .post("/signup/")
        .form(&[
            ("name", "a"),
            ("email", "ada@example.com"),
            ("colour", "red"),
            ("newsletter", "on"),
        ])
        .await;
    assert_eq!(page.status(), 400);
    let html = page.text();
    assert!(
        html.contains("<div class=\"field error\"><label for=\"id_name\">Name</label>"),
        "{html}"
    );
    assert!(html.contains("<ul class=\"errorlist\"><li>Ensure this value has at least 2 characters (it has 1).</li></ul>"), "{html}");
    assert!(
        html.contains("aria-invalid=\"true\" aria-describedby=\"id_name_helptext\" value=\"a\""),
        "{html}"
    );
    assert!(
        html.contains("<option value=\"red\" selected>Red</option>"),
        "{html}"
    );
    assert!(html.contains("id=\"id_newsletter\" checked>"), "{html}");
    assert!(
        html.contains(
            "<p id=\"name-errors\">Ensure this value has at least 2 characters (it has 1).</p>"
        ),
        "{html}"
    );
    // A password is never written back into the page.
    assert!(!html.contains("s3cret"));
}

#[tokio::test]
async fn a_valid_post_redirects_urlencoded_or_multipart() {
    let client = client().await;
    let page = client.post("/signup/").form(&GOOD).await;
    assert_eq!(page.status(), 303, "{}", page.text());
    assert_eq!(page.header("location"), Some("/done/"));
    let page = client.post("/signup/").multipart(&GOOD, &[]).await;
    assert_eq!(page.status(), 303, "{}", page.text());
}

#[tokio::test]
async fn script_and_attribute_injection_in_every_field_come_out_escaped() {
    let client = client().await;
    let payloads = [
        "<script>alert(1)</script>",
        "\" onfocus=\"alert(1)",
        "'><img src=x onerror=alert(1)>",
    ];
    for payload in payloads {
        let fields: Vec<(&str, &str)> = ["name", "email", "age", "colour", "born", "bio"]
            .iter()
            .map(|f| (*f, payload))
            .collect();
        let html = client.post("/signup/").form(&fields).await.text();
        assert!(!html.contains(payload), "{payload} unescaped:\n{html}");
        assert!(
            !html.contains("<script>") && !html.contains("<img"),
            "{html}"
        );
        let escaped = payload
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
            .replace('\'', "&#x27;");
        assert!(html.contains(&escaped), "{escaped} not in\n{html}");
    }
}

#[tokio::test]
async fn bodies_that_are_no_form_are_refused_with_a_clear_status() {
    let client = client().await;
    let page = client
        .post("/signup/")
        .json(&serde_json::json!({"name": "ada"}))
        .await;
    assert_eq!(page.status(), 415, "{}", page.text());
    // 10,000 parts: more than server.max_number_fields.
    let many: Vec<(String, String)> = (0..10_000)
        .map(|i| (format!("f{i}"), "x".to_owned()))
        .collect();
    let many: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let page = client.post("/signup/").multipart(&many, &[]).await;
    assert_eq!(page.status(), 400, "{}", page.text());
    assert!(
        page.text().contains("more than 1000 fields"),
        "{}",
        page.text()
    );
    let page = client.post("/signup/").form(&many).await;
    assert_eq!(page.status(), 400);
    // A boundary missing, or one the body does not use.
    for content_type in [
        "multipart/form-data",
        "multipart/form-data; boundary=nothere",
    ] {
        let page = client
            .post("/signup/")
            .header("content-type", content_type)
            .body("--other\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nada\r\n--other--\r\n")
            .await;
        assert_eq!(page.status(), 400, "{content_type}: {}", page.text());
        assert!(page.text().contains("multipart"), "{}", page.text());
    }
}
