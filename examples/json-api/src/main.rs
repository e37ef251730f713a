//! A JSON API over an in-memory list of todos: a class-based view for the collection, a
//! function view for one item, typed bodies (bad JSON → 400) and `Http404`.
//!
//! `cargo run -p example-json-api -- runserver`, then
//! `curl -d '{"title": "milk"}' -H 'content-type: application/json' localhost:8000/todos/`.

use std::sync::Mutex;

use canter::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Clone)]
struct Todo {
    id: usize,
    title: String,
}

#[derive(Deserialize)]
struct NewTodo {
    title: String,
}

/// The app's state, shared by every view (`State<Todos>`).
#[derive(Default)]
struct Todos(Mutex<Vec<Todo>>);

/// `todos/`: GET lists, POST adds (201); other methods get 405 with `Allow`.
struct TodoList;

#[view]
impl TodoList {
    async fn get(&self, req: Request) -> Json<Vec<Todo>> {
        let todos = req.state::<Todos>().expect("the app's state");
        let list = todos.0.lock().unwrap().clone();
        Json(list)
    }

    async fn post(&self, mut req: Request) -> Result<(StatusCode, Json<Todo>)> {
        let new: NewTodo = req.json().await?; // not JSON, or no title → 400
        let todos = req.state::<Todos>().expect("the app's state");
        let mut todos = todos.0.lock().unwrap();
        let todo = Todo {
            id: todos.len() + 1,
            title: new.title,
        };
        todos.push(todo.clone());
        Ok((StatusCode::CREATED, Json(todo)))
    }
}

/// `todos/<int:id>/`: one todo, or 404.
async fn todo_detail(State(todos): State<Todos>, Path(id): Path<usize>) -> Result<Json<Todo>> {
    let todos = todos.0.lock().unwrap();
    let todo = todos.iter().find(|t| t.id == id);
    todo.cloned()
        .map(Json)
        .ok_or_else(|| Error::not_found(format!("no todo {id}")))
}

fn app() -> App {
    App::new()
        .settings_toml("debug = true") // a development server: no secret key needed
        .state(Todos::default())
        .urls(vec![
            path("todos/", TodoList.as_view()).name("todo-list"),
            path("todos/<int:id>/", todo_detail).name("todo-detail"),
        ])
}

fn main() -> std::process::ExitCode {
    app().main()
}

#[cfg(test)]
mod tests {
    use canter::test::TestClient;
    use serde_json::{json, Value};

    #[tokio::test]
    async fn todos_are_created_listed_and_found() {
        let client = TestClient::new(super::app());
        let r = client.post_json("/todos/", &json!({"title": "milk"})).await;
        assert_eq!(r.status(), 201, "{}", r.text());
        assert_eq!(r.json::<Value>(), json!({"id": 1, "title": "milk"}));
        assert_eq!(
            client.get("/todos/").await.json::<Value>()[0]["title"],
            "milk"
        );
        assert_eq!(
            client.get("/todos/1/").await.json::<Value>()["title"],
            "milk"
        );

        assert_eq!(client.get("/todos/2/").await.status(), 404);
        assert_eq!(
            client
                .post_json("/todos/", &json!({"name": "x"}))
                .await
                .status(),
            400
        );
        assert_eq!(client.delete("/todos/").await.status(), 405);
    }
}
