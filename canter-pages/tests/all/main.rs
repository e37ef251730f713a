//! canter-pages' tests, one binary: templates, static files served in DEBUG and in
//! production, collectstatic (and Django's own collectstatic on the same files).

mod collect;
mod common;
mod forms;
#[cfg(feature = "orm")]
mod model_forms;
mod static_files;
mod templates;
mod uploads;
