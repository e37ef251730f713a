//! canter's HTTP core: the parts of Django's async stack that every other part stands on.
//!
//! | Django | canter |
//! |---|---|
//! | `settings.py` | [`settings::Settings`] (TOML file + `CANTER_*` environment) |
//! | `urls.py`: `path()`, `include()`, `reverse()` | [`routing`] |
//! | `async def view(request)` | any `async fn` whose arguments are extractors ([`extract`]) and whose output is [`IntoResponse`] |
//! | class-based `View` | [`views::View`] with [`#[view]`](macro@view) |
//! | `MIDDLEWARE`, `async def __call__(self, request, get_response)` | [`middleware::Middleware`] |
//! | `sync_to_async` / `async_to_sync` | [`blocking`] |
//! | `manage.py runserver / check` | [`management`], run through [`App::main`] |
//! | `django.test.Client` / `LiveServerTestCase` | [`test::TestClient`] / [`test::LiveServer`] |
//!
//! ```
//! use canter_core::prelude::*;
//!
//! async fn hello(_req: Request) -> JsonResponse {
//!     JsonResponse::new(serde_json::json!({"message": "Hello"}))
//! }
//!
//! # async fn run() {
//! let app = App::new().urls(vec![path("hello/", hello).name("hello")]);
//! let client = canter_core::test::TestClient::new(app);
//! let response = client.get("/hello/").await;
//! assert_eq!(response.status(), 200);
//! assert_eq!(response.json::<serde_json::Value>()["message"], "Hello");
//! # }
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(run());
//! ```

#![warn(missing_docs)]

pub mod app;
pub mod blocking;
pub mod cookies;
pub mod counters;
pub mod error;
pub mod extract;
pub mod management;
pub mod middleware;
pub mod request;
pub mod response;
pub mod routing;
pub mod server;
pub use canter_kernel::{plugin, services, settings, stall};
pub mod template_globals;
pub mod test;
pub mod views;

mod debug_page;
pub use debug_page::{escape as escape_html, ErrorPages};
mod handler;

pub use app::App;
pub use error::{Error, Result};
pub use request::{Request, RequestExt};
pub use response::{IntoResponse, Response};

/// Class-based views: put `#[view]` on the `impl` block of a type with `get`, `post`, `put`,
/// `patch` and/or `delete` methods. See [`views`].
pub use canter_macros::view;

// Re-exported for users and for the code that canter's macros generate.
pub use axum::body::Body;
#[doc(hidden)]
pub use futures_util::future::BoxFuture;
pub use http;

/// Everything a views-and-urls module usually needs: `use canter::prelude::*;`.
pub mod prelude {
    pub use crate::app::App;
    pub use crate::blocking::{async_to_sync, sync_to_async};
    pub use crate::error::{Error, Result};
    pub use crate::extract::{Form, Json, Path, Query, State};
    pub use crate::middleware::{Middleware, Next};
    pub use crate::request::{Request, RequestExt};
    pub use crate::response::{
        FileResponse, Html, IntoResponse, JsonResponse, Redirect, Response, StreamingResponse,
    };
    pub use crate::routing::{include, path, UrlPattern};
    pub use crate::view;
    pub use crate::views::View;
    pub use http::{Method, StatusCode};
}
