//! The demo's `urlpatterns`.

use canter::accounts::guards::AccountsPatterns;
use canter::channels::{websocket, Json, Scope};
use canter::prelude::*;
use canter::routing::UrlPattern;

use crate::consumers::{ChatConsumer, MyConsumer};
use crate::{accounts, pages, views};

pub fn urlpatterns() -> Vec<UrlPattern> {
    vec![
        path("", pages::index).name("index"),
        path("async/", views::async_view)
            .name("async")
            .methods([Method::GET]),
        path("hello/", views::hello).name("hello"),
        path("healthz/", views::health)
            .name("health")
            .methods([Method::GET, Method::HEAD]),
        path("articles/<int:year>/<slug:slug>/", views::article).name("article-detail"),
        path("blocking/", views::blocking).name("blocking"),
        path("stream/", views::stream).name("stream"),
        path("ws/hello/", websocket(|_: &Scope| MyConsumer)).name("ws-hello"),
        path(
            "ws/chat/<str:room>/",
            websocket(|scope: &Scope| Json(ChatConsumer::new(scope))),
        )
        .name("ws-chat"),
        path("chat/<str:room>/", pages::chat_room)
            .name("chat-room")
            .methods([Method::GET]),
        path("chat/<str:room>/events/", views::chat_events)
            .name("chat-events")
            .methods([Method::GET]),
        path("notes/", pages::notes_page)
            .name("notes-page")
            .methods([Method::GET, Method::POST]),
        path("upload/", pages::upload_page)
            .name("upload-page")
            .methods([Method::GET, Method::POST]),
        path("mymodel/", views::mymodel_list)
            .name("mymodel-list")
            .methods([Method::GET]),
        path("mymodel/first-active/", views::first_active)
            .name("mymodel-first-active")
            .methods([Method::GET]),
        // JSON endpoints for scripts and other services: exempt from CSRF (Django's
        // `@csrf_exempt`), as the article's API views.
        path("tasks/long-running/", views::start_long_running_task)
            .name("task-start")
            .methods([Method::POST])
            .csrf_exempt(),
        path("tasks/pipeline/", views::start_pipeline)
            .name("task-pipeline")
            .methods([Method::POST])
            .csrf_exempt(),
        path("tasks/<str:id>/", views::task_status)
            .name("task-status")
            .methods([Method::GET]),
        path("accounts/login/", accounts::login_page)
            .name("login")
            .methods([Method::GET, Method::POST]),
        path("accounts/logout/", accounts::logout_view)
            .name("logout")
            .methods([Method::POST]),
        canter::ops::urls(),
        path("accounts/me/", accounts::me)
            .name("me")
            .methods([Method::GET]),
        // The admin (Django's `path("admin/", admin.site.urls)`).
        crate::admin::site().urls("admin/"),
        include(
            "api/",
            vec![
                path("echo/", views::echo)
                    .name("echo")
                    .methods([Method::POST]),
                path("notes/", views::Notes.as_view()).name("notes"),
            ],
        )
        .namespace("api")
        .csrf_exempt(),
    ]
}
