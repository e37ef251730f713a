//! The URL conf (Django's polls/urls.py).

use canter::channels::{websocket, Json, Scope};
use canter::prelude::*;
use canter::routing::UrlPattern;

use crate::consumers::ResultsConsumer;
use crate::views;

pub fn urlpatterns() -> Vec<UrlPattern> {
    vec![
        path("", views::index).name("index"),
        path("<int:question_id>/", views::detail).name("detail"),
        path("<int:question_id>/vote/", views::vote)
            .name("vote")
            .methods([Method::POST]),
        path("<int:question_id>/results/", views::results).name("results"),
        path(
            "ws/<int:question_id>/results/",
            websocket(|scope: &Scope| Json(ResultsConsumer::new(scope))),
        )
        .name("ws-results"),
    ]
}
