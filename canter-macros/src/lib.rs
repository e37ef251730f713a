//! canter's procedural macros. One crate for all of them so `syn` compiles once.

use proc_macro::TokenStream;
use proc_macro2::Span;
use quote::quote;
use syn::{parse_macro_input, ImplItem, ItemImpl, Path};

mod errors;
mod model;
mod task;
mod types;

const METHODS: &[(&str, &str)] = &[
    ("get", "GET"),
    ("post", "POST"),
    ("put", "PUT"),
    ("patch", "PATCH"),
    ("delete", "DELETE"),
    ("head", "HEAD"),
];

/// Makes the `impl` block of a type a class-based view (see `canter::views`).
///
/// `#[view]` refers to the `canter` crate; inside canter's own crates use
/// `#[view(crate = canter_core)]`.
#[proc_macro_attribute]
pub fn view(attr: TokenStream, item: TokenStream) -> TokenStream {
    let krate = match crate_path(attr) {
        Ok(path) => path,
        Err(err) => return err.to_compile_error().into(),
    };
    let input = parse_macro_input!(item as ItemImpl);
    let defined: Vec<String> = input
        .items
        .iter()
        .filter_map(|item| match item {
            ImplItem::Fn(f) => Some(f.sig.ident.to_string()),
            _ => None,
        })
        .collect();
    let has = |name: &str| defined.iter().any(|d| d == name);
    for name in ["get", "post", "put", "patch", "delete", "head"] {
        if let Some(ImplItem::Fn(f)) = input
            .items
            .iter()
            .find(|i| matches!(i, ImplItem::Fn(f) if f.sig.ident == name))
        {
            if f.sig.asyncness.is_none() {
                return syn::Error::new_spanned(
                    &f.sig,
                    format!(
                        "`{name}` of a class-based view must be an `async fn(&self, req: Request)`"
                    ),
                )
                .to_compile_error()
                .into();
            }
        }
    }
    if !METHODS.iter().any(|(name, _)| has(name)) {
        return syn::Error::new(
            Span::call_site(),
            "a class-based view needs at least one of get, post, put, patch, delete",
        )
        .to_compile_error()
        .into();
    }

    let mut allowed = Vec::new();
    let mut arms = Vec::new();
    for (name, method) in METHODS {
        let method_ident = syn::Ident::new(method, Span::call_site());
        let fn_ident = syn::Ident::new(name, Span::call_site());
        if has(name) {
            allowed.push(quote!(#krate::http::Method::#method_ident));
            arms.push(quote! {
                if method == #krate::http::Method::#method_ident {
                    return #krate::IntoResponse::into_response(this.#fn_ident(req).await);
                }
            });
        } else if *name == "head" && has("get") {
            allowed.push(quote!(#krate::http::Method::HEAD));
            arms.push(quote! {
                if method == #krate::http::Method::HEAD {
                    return #krate::IntoResponse::into_response(this.get(req).await);
                }
            });
        }
    }
    allowed.push(quote!(#krate::http::Method::OPTIONS));

    let self_ty = &input.self_ty;
    let (impl_generics, _, where_clause) = input.generics.split_for_impl();
    let expanded = quote! {
        #input

        impl #impl_generics #krate::views::View for #self_ty #where_clause {
            fn allowed_methods(&self) -> &'static [#krate::http::Method] {
                static ALLOWED: &[#krate::http::Method] = &[#(#allowed),*];
                ALLOWED
            }

            fn dispatch(
                self: ::std::sync::Arc<Self>,
                req: #krate::Request,
            ) -> #krate::BoxFuture<'static, #krate::Response> {
                ::std::boxed::Box::pin(async move {
                    let this = self;
                    let method = req.method().clone();
                    #(#arms)*
                    if method == #krate::http::Method::OPTIONS {
                        return #krate::views::options_response(#krate::views::View::allowed_methods(&*this));
                    }
                    #krate::views::method_not_allowed(#krate::views::View::allowed_methods(&*this))
                })
            }
        }
    };
    expanded.into()
}

fn crate_path(attr: TokenStream) -> syn::Result<Path> {
    if attr.is_empty() {
        return Ok(syn::parse_quote!(::canter));
    }
    let mut krate: Option<Path> = None;
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("crate") {
            let value = meta.value()?;
            let path: Path = if value.peek(syn::LitStr) {
                let lit: syn::LitStr = value.parse()?;
                lit.parse()?
            } else {
                value.parse()?
            };
            krate = Some(path);
            Ok(())
        } else {
            Err(meta.error("expected `crate = path`"))
        }
    });
    syn::parse::Parser::parse(parser, attr)?;
    Ok(match krate {
        Some(p) if p.leading_colon.is_some() => p,
        Some(p) => syn::parse_quote!(::#p),
        None => syn::parse_quote!(::canter),
    })
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
