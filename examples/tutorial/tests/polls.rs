//! The tutorial's app, part by part: the test client calls it in-process (Django's `Client`)
//! on an SQLite file of the test's own, with tasks run eagerly (Celery's `task_always_eager`).

use canter::channels::testing::WebsocketCommunicator;
use canter::orm::chrono::Utc;
use canter::orm::{migrations::migrate_all, ForeignKey};
use canter::settings::Settings;
use canter::test::TestClient;
use polls::models::{Choice, Question};
use serde_json::json;

/// `test` on the app started with its own settings, but a fresh, migrated database and eager
/// tasks; a question "What's new?" with two choices (ids 1 and 2) is there already.
async fn with_poll<F: std::future::Future<Output = ()>>(test: impl FnOnce(TestClient) -> F) {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let file = std::env::temp_dir().join(format!("polls-test-{}-{n}.sqlite3", std::process::id()));
    let url = format!("sqlite://{}", file.display());
    let settings = include_str!("../src/settings.toml").replace("sqlite://polls.sqlite3", &url)
        + "\n[tasks]\nalways_eager = true\n";
    let client =
        TestClient::start_with_settings(polls::app(), Settings::from_toml(&settings).unwrap())
            .await;
    client
        .scope(async {
            migrate_all(std::path::Path::new(polls::MIGRATIONS_DIR), "default")
                .await
                .unwrap();
            let question = Question {
                id: 0,
                question_text: "What's new?".into(),
                pub_date: Utc::now(),
            };
            let question = Question::objects().create(question).await.unwrap();
            for text in ["Not much", "The sky"] {
                let choice = Choice {
                    id: 0,
                    question: ForeignKey::to(&question),
                    choice_text: text.into(),
                    votes: 0,
                };
                Choice::objects().create(choice).await.unwrap();
            }
        })
        .await;
    test(client).await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
    }
}

#[tokio::test]
async fn part1_the_index_lists_the_latest_questions() {
    with_poll(|client| async move {
        let page = client.get("/").await;
        assert_eq!(page.status(), 200);
        assert!(
            page.text()
                .contains(r#"<a href="/1/">What&#x27;s new?</a>"#),
            "{}",
            page.text()
        );
        assert_eq!(client.get("/9/").await.status(), 404);
    })
    .await;
}

#[tokio::test]
async fn part3_a_vote_is_counted_and_redirects_to_the_results() {
    with_poll(|client| async move {
        let detail = client.get("/1/").await.text();
        assert!(
            detail.contains(r#"<form action="/1/vote/" method="post">"#),
            "{detail}"
        );
        assert!(detail.contains(r#"value="2">"#), "{detail}");

        let r = client.post("/1/vote/").form(&[("choice", "2")]).await;
        assert_eq!(r.status(), 303, "{}", r.text());
        assert_eq!(r.header("location"), Some("/1/results/"));
        let results = client.get("/1/results/").await.text();
        assert!(
            results.contains(r#"The sky: <span id="votes-2">1</span>"#),
            "{results}"
        );
        let choice = Choice::objects().filter(Choice::id.eq(2)).get();
        let choice = client.scope(choice).await.unwrap();
        assert_eq!(choice.votes, 1);
    })
    .await;
}

#[tokio::test]
async fn part3_a_vote_without_a_valid_choice_shows_the_form_again() {
    with_poll(|client| async move {
        for form in [vec![], vec![("choice", "x")], vec![("choice", "99")]] {
            let r = client.post("/1/vote/").form(&form).await;
            assert_eq!(r.status(), 400, "{form:?}");
            assert!(
                r.text().contains("You didn&#x27;t select a choice."),
                "{}",
                r.text()
            );
        }
        let votes = client
            .scope(Choice::objects().filter(Choice::votes.gt(0)).count())
            .await;
        assert_eq!(votes.unwrap(), 0);
    })
    .await;
}

#[tokio::test]
async fn part5_a_vote_pushes_the_counts_to_the_results_page() {
    with_poll(|client| async move {
        let mut socket = WebsocketCommunicator::connect(client.service(), "/ws/1/results/")
            .await
            .unwrap();
        let r = client.post("/1/vote/").form(&[("choice", "1")]).await;
        assert_eq!(r.status(), 303, "{}", r.text());
        let counts = socket
            .receive_json()
            .await
            .expect("the counts, sent by the task");
        assert_eq!(
            counts,
            json!({"choices": [{"id": 1, "votes": 1}, {"id": 2, "votes": 0}]})
        );
    })
    .await;
}
