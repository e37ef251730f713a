//! canter's procedural macros. One crate for all of them so `syn` compiles once.
//!
//! Use them through the crates that re-export them: `canter::view` (class-based views),
//! `canter::orm::Model` (`#[derive(Model)]`), `canter::tasks::task` (`#[task]`),
//! `canter::pages::forms::Form` (`#[derive(Form)]`) and `canter::pages::embed_dir!`.
//!
//! Each macro first parses its input into a description (`model::parse::ModelDesc`,
//! `task::parse::TaskDesc`, `view::ViewDesc`), which is where every error is found, with its
//! message from the one table in `errors.rs`; small generators then write the output from it.
//!
//! The examples of `#[derive(Model)]` and `#[task]` (`src/docs/*.md`) need the `canter` crate,
//! which depends on this one: they are doc-tested as part of `canter`'s doc tests (its
//! `guides` module), and hidden from this crate's own.

#![warn(missing_docs)]

use proc_macro::TokenStream;
use syn::parse_macro_input;

mod embed;
mod errors;
mod form;
mod model;
mod task;
mod types;
mod view;

/// `embed_dir!("templates")`: a folder of the calling crate (`templates`, `static`), embedded
/// in the binary: its absolute path at build time and each file's name and bytes, for
/// `canter::pages::AppFiles` (`Pages::new().app("blog", embed_dir!("templates"), …)`).
///
/// The path is relative to the crate's `Cargo.toml` and may not leave it (no `..`, not
/// absolute); a path that is not a folder is a compile error. Each file is read with
/// `include_bytes!`, so editing one rebuilds the crate; a file added to the folder is seen at
/// the next build that recompiles the crate. In DEBUG the pages part reads the folder from
/// disk instead, so edits show without a rebuild.
#[proc_macro]
pub fn embed_dir(input: TokenStream) -> TokenStream {
    let path = parse_macro_input!(input as syn::LitStr);
    match embed::expand(path) {
        Ok(tokens) => tokens.into(),
        Err(err) => err.to_compile_error().into(),
    }
}

#[cfg_attr(not(doctest), doc = include_str!("docs/view.md"))]
#[proc_macro_attribute]
pub fn view(attr: TokenStream, item: TokenStream) -> TokenStream {
    let item = parse_macro_input!(item as syn::ItemImpl);
    match view::expand(attr.into(), item) {
        Ok(tokens) => tokens.into(),
        Err(err) => err.to_compile_error().into(),
    }
}

#[cfg_attr(not(doctest), doc = include_str!("docs/model.md"))]
#[proc_macro_derive(Model, attributes(model, field))]
pub fn derive_model(item: TokenStream) -> TokenStream {
    let input = parse_macro_input!(item as syn::DeriveInput);
    match model::expand(input) {
        Ok(tokens) => tokens.into(),
        Err(err) => err.to_compile_error().into(),
    }
}

#[cfg_attr(not(doctest), doc = include_str!("docs/form.md"))]
#[proc_macro_derive(Form, attributes(form))]
pub fn derive_form(item: TokenStream) -> TokenStream {
    let input = parse_macro_input!(item as syn::DeriveInput);
    match form::expand(input) {
        Ok(tokens) => tokens.into(),
        Err(err) => err.to_compile_error().into(),
    }
}

#[cfg_attr(not(doctest), doc = include_str!("docs/task.md"))]
#[proc_macro_attribute]
pub fn task(attr: TokenStream, item: TokenStream) -> TokenStream {
    let function = parse_macro_input!(item as syn::ItemFn);
    match task::expand(attr.into(), function) {
        Ok(tokens) => tokens.into(),
        Err(err) => err.to_compile_error().into(),
    }
}
