//! canter's procedural macros. One crate for all of them so `syn` compiles once.
//!
//! Each macro first parses its input into a description (`model::parse::ModelDesc`,
//! `task::parse::TaskDesc`, `view::ViewDesc`), which is where every error is found, with its
//! message from the one table in `errors.rs`; small generators then write the output from it.

use proc_macro::TokenStream;
use syn::parse_macro_input;

mod embed;
mod errors;
mod form;
mod model;
mod task;
mod types;
mod view;

/// Makes the `impl` block of a type a class-based view (see `canter::views`).
///
/// The block's `async fn get(&self, req: Request)` (and `post`, `put`, `patch`, `delete`,
/// `head`; HEAD falls back to `get`) answer their HTTP methods. `#[view]` refers to the
/// `canter` crate; inside canter's own crates use `#[view(crate = canter_core)]`.
/// A folder of the calling crate (`templates`, `static`), embedded in the binary: its
/// absolute path at build time and each file's name and bytes, for `canter_pages::AppFiles`.
/// See `canter-macros/src/embed.rs`.
#[proc_macro]
pub fn embed_dir(input: TokenStream) -> TokenStream {
    let path = parse_macro_input!(input as syn::LitStr);
    match embed::expand(path) {
        Ok(tokens) => tokens.into(),
        Err(err) => err.to_compile_error().into(),
    }
}

#[proc_macro_attribute]
pub fn view(attr: TokenStream, item: TokenStream) -> TokenStream {
    let item = parse_macro_input!(item as syn::ItemImpl);
    match view::expand(attr.into(), item) {
        Ok(tokens) => tokens.into(),
        Err(err) => err.to_compile_error().into(),
    }
}

/// `#[derive(Model)]`: a struct becomes an ORM model (see `canter::orm`).
///
/// Struct options: `#[model(table = "...", app = "...", name = "...", crate = path,
/// validate = path::to::fn, check(name = "...", sql = "..."))]`; `validate` and `check` may
/// repeat. Field options: `#[field(primary_key, unique, db_index, max_length = N,
/// default = expr, db_column = "...", choices = ["a", "b"], on_delete = "...",
/// related_name = "...")]`, the last two on `ForeignKey` / `OneToOne` fields; a `ManyToMany`
/// field takes `#[field(through = "Model")]`, and a `ModelState` field is the instance's state.
/// A field `id: i64` is the auto-incrementing primary key unless another field is marked
/// `primary_key`.
#[proc_macro_derive(Model, attributes(model, field))]
pub fn derive_model(item: TokenStream) -> TokenStream {
    let input = parse_macro_input!(item as syn::DeriveInput);
    match model::expand(input) {
        Ok(tokens) => tokens.into(),
        Err(err) => err.to_compile_error().into(),
    }
}

/// `#[derive(Form)]`: a struct becomes a form (see `canter::pages::forms`).
///
/// Struct options: `#[form(crate = path, validate = path::to::fn, model = Type)]` (`validate`
/// may repeat; a `fn(&Self) -> Result<(), FormErrors>` run once every field is valid; `model`
/// makes it a `ModelForm` whose fields are the model's of the same names and types). Field options:
/// `#[form(label = "...", widget = "textarea", max_length = N, min_length = N, min = N,
/// max = N, choices = [("value", "Label"), ...], email, help_text = "...")]`. A field's type
/// says whether it is required (`Option<_>` and `bool` are not) and how it is read.
#[proc_macro_derive(Form, attributes(form))]
pub fn derive_form(item: TokenStream) -> TokenStream {
    let input = parse_macro_input!(item as syn::DeriveInput);
    match form::expand(input) {
        Ok(tokens) => tokens.into(),
        Err(err) => err.to_compile_error().into(),
    }
}

/// `#[task]`: makes an `async fn` (or a blocking `fn`, run on the blocking pool) a background
/// task: `add::delay(2, 3).await?` enqueues it. Options: `name = "demo.add"`, `queue`,
/// `priority`, `max_retries`, `retry_backoff`, `retry_backoff_max`, `time_limit`,
/// `soft_time_limit`, `acks_late`, `autoretry`, `autoretry_for`, `ignore_result`, `rate_limit`,
/// `unique`, `crate = path`.
#[proc_macro_attribute]
pub fn task(attr: TokenStream, item: TokenStream) -> TokenStream {
    let function = parse_macro_input!(item as syn::ItemFn);
    match task::expand(attr.into(), function) {
        Ok(tokens) => tokens.into(),
        Err(err) => err.to_compile_error().into(),
    }
}
