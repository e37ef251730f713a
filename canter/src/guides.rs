//! The guides (`README.md` and `docs/*.md`), included here when doc-testing only, so every
//! Rust block in them compiles (and runs, unless marked `no_run`) as a doc test: no guide can
//! drift from the API. (Only under `cfg(doctest)` and in canter's repository, `cfg(canter_guides)`
//! from build.rs: the files live outside this crate's folder, which `cargo package` does not
//! ship.)

#[doc = include_str!("../../README.md")]
pub mod readme {}

#[doc = include_str!("../../docs/http.md")]
pub mod http {}

#[doc = include_str!("../../docs/orm.md")]
pub mod orm {}

#[doc = include_str!("../../docs/channels.md")]
pub mod channels {}

#[doc = include_str!("../../docs/tasks.md")]
pub mod tasks {}

#[doc = include_str!("../../docs/pages.md")]
pub mod pages {}

#[doc = include_str!("../../docs/accounts.md")]
pub mod accounts {}

// The macros' own docs (canter-macros/src/docs/), whose examples need this crate: rustdoc
// shows them on the macros, and they are tested here.

#[doc = include_str!("../../canter-macros/src/docs/model.md")]
pub mod derive_model {}

#[doc = include_str!("../../canter-macros/src/docs/task.md")]
pub mod task_attribute {}

#[doc = include_str!("../../canter-macros/src/docs/view.md")]
pub mod view_attribute {}

#[doc = include_str!("../../canter-macros/src/docs/form.md")]
pub mod derive_form {}
