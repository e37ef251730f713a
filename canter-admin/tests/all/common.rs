//! The test site: a library (authors and their books) in the admin with users and groups, on
//! a fresh database, and helpers to log in and post forms with their CSRF token.

#![allow(dead_code)]

use std::any::Any;
use std::sync::Arc;

use canter_accounts::auth::create_default_permissions;
use canter_accounts::hashers::{make_password_with, Hasher};
use canter_accounts::models::{Permission, User};
use canter_accounts::testing::ForceLogin;
use canter_admin::{Admin, ModelAdmin};
use canter_core::prelude::*;
use canter_core::settings::Settings;
use canter_core::test::{TestClient, TestResponse};
use canter_orm::chrono::{NaiveDate, Utc};
use canter_orm::{Databases, ForeignKey, Model, ModelExt};
use canter_test_kit::{PgSchema, SqliteFile};

pub const PASSWORD: &str = "correct horse battery staple";

#[derive(Model, Clone, Default, Debug, PartialEq)]
#[model(crate = canter_orm, app = "library")]
pub struct Author {
    pub id: i64,
    #[field(max_length = 100)]
    pub name: String,
}

/// `Default` comes from the derive (a field has a default).
#[derive(Model, Clone, Debug, PartialEq)]
#[model(crate = canter_orm, app = "library")]
pub struct Book {
    pub id: i64,
    #[field(max_length = 100)]
    pub title: String,
    pub author: ForeignKey<Author>,
    pub published: bool,
    #[field(max_length = 10, choices = ["draft", "final"], default = "draft")]
    pub status: String,
    pub added: Option<NaiveDate>,
}

/// A review of a book: its foreign key entered as a raw id.
#[derive(Model, Clone, Default, Debug, PartialEq)]
#[model(crate = canter_orm, app = "library")]
pub struct Review {
    pub id: i64,
    pub book: ForeignKey<Book>,
    #[field(max_length = 200)]
    pub text: String,
}

pub fn admin(per_page: u64) -> Admin {
    Admin::new()
        .register::<Author>(
            ModelAdmin::new()
                .list_display(["name"])
                .search_fields(["name"])
                .display(|a: &Author| a.name.clone()),
        )
        .register::<Review>(
            ModelAdmin::new()
                .list_display(["text", "book"])
                .raw_id_fields(["book"])
                .display(|r: &Review| r.text.clone()),
        )
        .register::<Book>(
            ModelAdmin::new()
                .list_display(["title", "author", "published", "status"])
                .list_editable(["published", "status"])
                .search_fields(["^title", "author__name"])
                .list_filter(["published", "status", "author", "added"])
                .list_per_page(per_page)
                .date_hierarchy("added")
                .display(|b: &Book| b.title.clone())
                .action("publish", "Publish selected books", |rows| {
                    Box::pin(async move {
                        let n = rows.len();
                        for mut row in rows {
                            row.published = true;
                            row.save().await?;
                        }
                        Ok(format!("{n} books published."))
                    })
                }),
        )
}

pub fn app(per_page: u64) -> App {
    App::new()
        .urls(vec![admin(per_page).urls("admin/")])
        .install(canter_accounts::install(canter_accounts::Accounts::new()))
        .install(canter_pages::install(canter_admin::pages(
            canter_pages::Pages::new(),
        )))
}

pub fn settings() -> Settings {
    let mut settings = Settings::from_toml(
        "debug = true\nsecret_key = \"test-secret\"\nmiddleware = [\"canter.sessions\", \"canter.auth\", \"canter.csrf\"]\n[auth]\npbkdf2_iterations = 1000\n",
    )
    .expect("valid test settings");
    settings.allowed_hosts = vec!["testserver".into()];
    settings
}

pub struct Site {
    pub client: TestClient,
    pub dbs: Arc<Databases>,
    _place: Box<dyn Any + Send>,
}

impl Site {
    pub async fn run<F: std::future::Future>(&self, future: F) -> F::Output {
        self.dbs.clone().scope(future).await
    }

    /// A user with `PASSWORD`.
    pub async fn user(&self, username: &str, staff: bool, superuser: bool) -> User {
        let user = User {
            username: username.into(),
            password: make_password_with(PASSWORD, &Hasher::Pbkdf2Sha256 { iterations: 1000 }),
            is_active: true,
            is_staff: staff,
            is_superuser: superuser,
            date_joined: Utc::now(),
            ..Default::default()
        };
        self.run(User::objects().create(user)).await.unwrap()
    }

    /// A client logged in as a new superuser.
    pub async fn superuser(&self) -> TestClient {
        let admin = self.user("root", true, true).await;
        let client = self.other_client();
        client.force_login(&admin).await;
        client
    }

    /// A client logged in as a staff user holding these permissions (`"view_book"`, …).
    pub async fn staff_with(&self, name: &str, codenames: &[&str]) -> TestClient {
        let user = self.user(name, true, false).await;
        self.run(async {
            create_default_permissions::<Book>().await.unwrap();
            create_default_permissions::<Author>().await.unwrap();
            for codename in codenames {
                let perm = Permission::objects()
                    .filter(Permission::codename.eq(*codename))
                    .get()
                    .await
                    .unwrap();
                user.user_permissions.add(&[&perm]).await.unwrap();
            }
        })
        .await;
        let client = self.other_client();
        client.force_login(&user).await;
        client
    }

    pub fn other_client(&self) -> TestClient {
        TestClient::from_service(self.client.service().clone())
    }

    pub async fn author(&self, name: &str) -> Author {
        self.run(Author::objects().create(Author {
            id: 0,
            name: name.into(),
        }))
        .await
        .unwrap()
    }

    pub async fn book(&self, title: &str, author: &Author, published: bool) -> Book {
        self.run(Book::objects().create(Book {
            title: title.into(),
            author: ForeignKey::new(author.id),
            published,
            status: "draft".into(),
            ..Default::default()
        }))
        .await
        .unwrap()
    }

    pub async fn books(&self) -> Vec<Book> {
        self.run(Book::objects().order_by([Book::id.asc()]).all())
            .await
            .unwrap()
    }
}

/// The CSRF token of a page's form (`csrfmiddlewaretoken`'s value).
pub fn token_in(html: &str) -> String {
    let marker = "name=\"csrfmiddlewaretoken\" value=\"";
    let start = html.find(marker).expect("a CSRF field on the page") + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

/// GETs `page` for its token, then POSTs `fields` (and the token) to `target`.
pub async fn post_form(
    client: &TestClient,
    page: &str,
    target: &str,
    fields: &[(&str, &str)],
) -> TestResponse {
    let html = client.get(page).await.text();
    let token = token_in(&html);
    let mut all: Vec<(&str, &str)> = fields.to_vec();
    all.push(("csrfmiddlewaretoken", &token));
    client.post(target).form(&all).await
}

async fn site_on(url: &str, place: Box<dyn Any + Send>, per_page: u64) -> Site {
    let dbs = Arc::new(Databases::single(url).unwrap());
    let client = dbs
        .clone()
        .scope(async {
            canter_accounts::models::create_tables("default")
                .await
                .unwrap();
            canter_admin::models::create_tables("default")
                .await
                .unwrap();
            canter_orm::schema::create_table::<Author>("default")
                .await
                .unwrap();
            canter_orm::schema::create_table::<Book>("default")
                .await
                .unwrap();
            canter_orm::schema::create_table::<Review>("default")
                .await
                .unwrap();
            TestClient::start_with_settings(app(per_page), settings()).await
        })
        .await;
    Site {
        client,
        dbs,
        _place: place,
    }
}

/// The site on a fresh SQLite file.
pub async fn sqlite(per_page: u64) -> Site {
    let file = SqliteFile::new("canter-admin");
    let url = file.url.clone();
    site_on(&url, Box::new(file), per_page).await
}

/// The site on a fresh PostgreSQL schema (`None`: skipped, said why).
pub async fn postgres(per_page: u64) -> Option<Site> {
    let schema = PgSchema::create("canter_admin")?;
    let url = schema.url.clone();
    Some(site_on(&url, Box::new(schema), per_page).await)
}

/// `#[tokio::test]`s running `$body(site)` on SQLite and on PostgreSQL.
#[macro_export]
macro_rules! on_both {
    ($name:ident, $per_page:expr, $body:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$body($crate::common::sqlite($per_page).await).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(site) = $crate::common::postgres($per_page).await {
                    super::$body(site).await;
                }
            }
        }
    };
}
