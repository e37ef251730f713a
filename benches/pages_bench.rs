//! The pages benchmarks (issue 16), run by `benches/pages_run.sh`:
//!
//! * `pages_bench render ROUNDS ITERS`: the 100-row page through canter's templates (minijinja,
//!   with inheritance, production's compiled-once environment) and the same page built by
//!   string formatting; prints the median microseconds per render of each.
//! * `pages_bench serve-canter DIR` / `pages_bench serve-servedir DIR`: serve DIR's files
//!   under `/static/` — canter's `canter.static` middleware in production (after collectstatic)
//!   or tower-http's `ServeDir` alone in a bare axum server — printing the address.

use std::fmt::Write;
use std::sync::Arc;
use std::time::Instant;

use canter::pages::{minijinja, Pages, StaticFiles, Templates};
use canter::prelude::*;
use canter::settings::Settings;

const TEMPLATES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/pages/templates");

#[derive(serde::Serialize)]
struct Row {
    id: usize,
    name: String,
    email: String,
    active: bool,
}

fn rows() -> Vec<Row> {
    (0..100)
        .map(|i| Row {
            id: i,
            name: format!("name <{i}>"),
            email: format!("user{i}@example.com"),
            active: i % 3 == 0,
        })
        .collect()
}

fn escape(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
}

/// The same page as `list.html` extending `base.html`, by hand.
fn formatted(title: &str, rows: &[Row]) -> String {
    let mut out = String::with_capacity(16 * 1024);
    out.push_str("<!doctype html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>");
    escape(title, &mut out);
    out.push_str(
        "</title></head>\n<body>\n<header><a href=\"/\">canter</a></header>\n<main>\n<h1>",
    );
    escape(title, &mut out);
    out.push_str("</h1>\n<table>\n<thead><tr><th>#</th><th>Name</th><th>Email</th><th>Active</th></tr></thead>\n<tbody>\n");
    for (i, row) in rows.iter().enumerate() {
        let class = if i % 2 == 0 { "odd" } else { "even" };
        let _ = write!(out, "\n<tr class=\"{class}\"><td>{}</td><td>", row.id);
        escape(&row.name, &mut out);
        out.push_str("</td><td>");
        escape(&row.email, &mut out);
        out.push_str("</td><td>");
        out.push_str(if row.active { "yes" } else { "no" });
        out.push_str("</td></tr>\n");
    }
    out.push_str(
        "</tbody>\n</table>\n</main>\n<footer>The benchmark page</footer>\n</body>\n</html>",
    );
    out
}

fn settings(extra: &str) -> Settings {
    Settings::from_toml(&format!(
        "debug = false\nsecret_key = \"bench\"\nallowed_hosts = [\"*\"]\nmiddleware = [\"canter.static\"]\n{extra}"
    ))
    .expect("bench settings")
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

async fn render(rounds: usize, iters: usize) {
    let app = App::new().install(canter::pages::install(Pages::new()));
    let started = app
        .start(settings(&format!("[templates]\ndirs = [{TEMPLATES:?}]")))
        .await
        .expect("the bench app starts");
    let templates: Arc<Templates> = started.services().get_shared().expect("templates");
    let rows = rows();
    let title = "Users & friends";
    let context = minijinja::context! { title, rows => minijinja::Value::from_serialize(&rows) };
    let page = templates
        .render("list.html", context.clone())
        .expect("renders");
    let by_hand = formatted(title, &rows);
    let mut template_us = Vec::new();
    let mut format_us = Vec::new();
    for _ in 0..rounds {
        let start = Instant::now();
        for _ in 0..iters {
            std::hint::black_box(templates.render("list.html", context.clone()).unwrap());
        }
        template_us.push(start.elapsed().as_secs_f64() * 1e6 / iters as f64);
        let start = Instant::now();
        for _ in 0..iters {
            std::hint::black_box(formatted(title, std::hint::black_box(&rows)));
        }
        format_us.push(start.elapsed().as_secs_f64() * 1e6 / iters as f64);
    }
    println!(
        "canter-template | {:.1} | {}",
        median(template_us),
        page.len()
    );
    println!(
        "string-format | {:.1} | {}",
        median(format_us),
        by_hand.len()
    );
}

/// The bench app serving `dir`'s files under `/static/` (collected into `dir/collected`).
async fn static_app(dir: &str) -> canter::app::StartedApp {
    App::new()
        .install(canter::pages::install(Pages::new()))
        .start(settings(&format!(
            "[staticfiles]\ndirs = [{dir:?}]\nroot = \"{dir}/collected\""
        )))
        .await
        .expect("the bench app starts")
}

async fn serve_canter(dir: &str) {
    let files: Arc<StaticFiles> = static_app(dir)
        .await
        .services()
        .get_shared()
        .expect("static files");
    canter::pages::staticfiles::collectstatic(&files, true).expect("collectstatic");
    // Started again, so the manifest just written is read.
    let started = static_app(dir).await;
    let listener = canter::server::bind(([127, 0, 0, 1], 0).into()).expect("a port");
    println!("listening on {}", listener.local_addr().unwrap());
    canter::server::serve(listener, started.service().clone(), std::future::pending())
        .await
        .expect("serves");
}

async fn serve_servedir(dir: &str) {
    let router =
        axum::Router::new().nest_service("/static", tower_http::services::ServeDir::new(dir));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port");
    println!("listening on {}", listener.local_addr().unwrap());
    axum::serve(listener, router).await.expect("serves");
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("render") => {
            let rounds = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(5);
            let iters = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(2000);
            render(rounds, iters).await;
        }
        Some("serve-canter") => serve_canter(&args[1]).await,
        Some("serve-servedir") => serve_servedir(&args[1]).await,
        _ => {
            eprintln!(
                "usage: pages_bench render [ROUNDS ITERS] | serve-canter DIR | serve-servedir DIR"
            );
            std::process::exit(2);
        }
    }
}
