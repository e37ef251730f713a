//! canter's procedural macros. One crate for all of them so `syn` compiles once.

use proc_macro::TokenStream;
use syn::parse_macro_input;

mod errors;
mod model;
mod task;
mod types;
mod view;

/// Makes the `impl` block of a type a class-based view (see `canter::views`).
///
/// `#[view]` refers to the `canter` crate; inside canter's own crates use
/// `#[view(crate = canter_core)]`.
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
/// Struct options: `#[model(table = "...", app = "...", crate = path)]`. Field options:
/// `#[field(primary_key, max_length = N, unique, db_index, default = expr, db_column = "...",
/// choices = ["a", "b"])]`; struct option `validate = path::to::fn` adds a validator. A field `id: i64` is the auto-incrementing primary key unless
/// another field is marked `primary_key`.
#[proc_macro_derive(Model, attributes(model, field))]
pub fn derive_model(item: TokenStream) -> TokenStream {
    let input = parse_macro_input!(item as syn::DeriveInput);
    match model::expand(input) {
        Ok(tokens) => tokens.into(),
        Err(err) => err.to_compile_error().into(),
    }
}

/// `#[task]`: makes an `async fn` (or a blocking `fn`, run on the blocking pool) a background
/// task: `add::delay(2, 3).await?` enqueues it. Options: `name = "demo.add"`, `queue`,
/// `priority`, `max_retries`, `retry_backoff`, `time_limit`, `autoretry`, `ignore_result`,
/// `crate = path`.
#[proc_macro_attribute]
pub fn task(attr: TokenStream, item: TokenStream) -> TokenStream {
    let function = parse_macro_input!(item as syn::ItemFn);
    match task::expand(attr.into(), function) {
        Ok(tokens) => tokens.into(),
        Err(err) => err.to_compile_error().into(),
    }
}
