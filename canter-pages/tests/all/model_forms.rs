//! Model forms (`#[form(model = ...)]`): a new row from the form, an edit form from a row and
//! saved back onto it, the model's validation and unique constraint as the form's errors.
//! Built with the `orm` feature (on in the workspace through the demo).

use std::sync::Arc;

use canter_orm::schema::create_table;
use canter_orm::{Databases, Model, ValidationError};
use canter_pages::forms::{BoundForm, Form, FormData, ModelForm, SaveError};
use canter_test_kit::SqliteFile;

#[derive(Model, Debug, Clone, PartialEq, Default)]
#[model(crate = canter_orm, app = "pages", table = "pages_article", validate = no_shouting)]
struct Article {
    id: i64,
    #[field(max_length = 10, unique)]
    slug: String,
    title: String,
    views: i64,
}

fn no_shouting(article: &Article, errors: &mut ValidationError) {
    if article.title.chars().any(char::is_lowercase) || article.title.is_empty() {
        return;
    }
    errors.add("title", "a title in capitals only shouts");
}

#[derive(Form, Debug)]
#[form(crate = canter_pages, model = Article)]
struct ArticleForm {
    slug: String,
    title: String,
}

fn submit(pairs: &[(&str, &str)]) -> BoundForm<ArticleForm> {
    BoundForm::bind(FormData::from_pairs(pairs.iter().copied()))
}

async fn on_a_database(test: impl std::future::Future<Output = ()>) {
    let file = SqliteFile::new("model-forms");
    let databases = Arc::new(Databases::single(&file.url).unwrap());
    databases
        .scope(async {
            create_table::<Article>("default").await.unwrap();
            test.await;
        })
        .await;
}

#[tokio::test]
async fn a_model_form_creates_a_row_and_edits_it() {
    on_a_database(async {
        let created = submit(&[("slug", "hello"), ("title", "Hello")])
            .create()
            .await
            .unwrap();
        assert!(created.id > 0);
        assert_eq!((created.slug.as_str(), created.views), ("hello", 0));

        // An edit form shows the row; saving it back keeps the fields it has not.
        let mut row = Article::objects()
            .filter(Article::id.eq(created.id))
            .get()
            .await
            .unwrap();
        row.views = 7;
        let initial = BoundForm::initial(&ArticleForm::from_model(&row));
        let html = initial.to_value().to_string();
        assert!(html.contains("value=\"Hello\""), "{html}");
        let saved = submit(&[("slug", "hello"), ("title", "Hello again")])
            .save_onto(row)
            .await
            .unwrap();
        assert_eq!((saved.id, saved.views), (created.id, 7));
        let stored = Article::objects()
            .filter(Article::id.eq(created.id))
            .get()
            .await
            .unwrap();
        assert_eq!(stored.title, "Hello again");
        assert_eq!(Article::objects().count().await.unwrap(), 1);
    })
    .await;
}

#[tokio::test]
async fn the_models_validation_and_unique_constraint_are_the_forms_errors() {
    on_a_database(async {
        let Err(SaveError::Invalid(form)) = submit(&[("slug", "far-too-long"), ("title", "LOUD")])
            .create()
            .await
        else {
            panic!("saved a row the model refuses");
        };
        assert_eq!(
            form.errors().field("slug"),
            ["Ensure this value has at most 10 characters (it has 12)."]
        );
        assert_eq!(
            form.errors().field("title"),
            ["A title in capitals only shouts."]
        );
        // The form shows what was sent again.
        assert!(form
            .to_value()
            .to_string()
            .contains("value=\"far-too-long\""));

        submit(&[("slug", "taken"), ("title", "First")])
            .create()
            .await
            .unwrap();
        let Err(SaveError::Invalid(form)) = submit(&[("slug", "taken"), ("title", "Second")])
            .create()
            .await
        else {
            panic!("a second row with a unique slug");
        };
        assert_eq!(
            form.errors().non_field(),
            ["A row with these values already exists."]
        );
        // A form invalid on its own never reaches the database.
        assert!(matches!(
            submit(&[("title", "no slug")]).create().await,
            Err(SaveError::Invalid(_))
        ));
        assert_eq!(Article::objects().count().await.unwrap(), 1);
    })
    .await;
}
