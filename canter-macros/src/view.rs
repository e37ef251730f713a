//! `#[view]`: the `impl` block of a type becomes a class-based view.
//!
//! [`ViewDesc::parse`] finds the handlers (and every error); [`generate`] writes the `View`
//! impl that dispatches each HTTP method to its handler.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::{Ident, ImplItem, ImplItemFn, ItemImpl, Path};

use crate::errors::Message;
use crate::types::absolute;

/// The handler names and the HTTP method each serves, in the order `dispatch` tries them.
const METHODS: &[(&str, &str)] = &[
    ("get", "GET"),
    ("post", "POST"),
    ("put", "PUT"),
    ("patch", "PATCH"),
    ("delete", "DELETE"),
    ("head", "HEAD"),
];

/// A view: the `impl` block and what its handlers serve.
struct ViewDesc {
    /// The web crate the generated code names: `crate = path`, else `::canter`.
    krate: Path,
    item: ItemImpl,
    handlers: Vec<Handler>,
}

/// An HTTP method served by an `async fn` of the view.
struct Handler {
    /// `GET`, as `http::Method`'s constant.
    method: Ident,
    /// `get`; a view without `head` answers HEAD with `get`.
    function: Ident,
}

pub(crate) fn expand(attr: TokenStream, item: ItemImpl) -> syn::Result<TokenStream> {
    let view = ViewDesc::parse(attr, item)?;
    Ok(generate(&view))
}

impl ViewDesc {
    fn parse(attr: TokenStream, item: ItemImpl) -> syn::Result<Self> {
        let krate = crate_path(attr)?;
        let ident = |name: &str| Ident::new(name, Span::call_site());
        let handler = |method, function| Handler {
            method: ident(method),
            function: ident(function),
        };
        let mut handlers = Vec::new();
        for (name, method) in METHODS {
            match function(&item, name) {
                Some(found) if found.sig.asyncness.is_none() => {
                    return Err(Message::ViewHandlerNotAsync(name).spanned(&found.sig));
                }
                Some(_) => handlers.push(handler(method, name)),
                None if *name == "head" && function(&item, "get").is_some() => {
                    handlers.push(handler("HEAD", "get"))
                }
                None => {}
            }
        }
        if handlers.is_empty() {
            return Err(Message::ViewWithoutHandler.spanned(&item.self_ty));
        }
        Ok(ViewDesc {
            krate,
            item,
            handlers,
        })
    }
}

/// The `fn` named `name` in the `impl` block.
fn function<'a>(item: &'a ItemImpl, name: &str) -> Option<&'a ImplItemFn> {
    item.items.iter().find_map(|item| match item {
        ImplItem::Fn(function) if function.sig.ident == name => Some(function),
        _ => None,
    })
}

/// `#[view]` names `::canter`; `#[view(crate = canter_core)]` (or `crate = "canter_core"`)
/// another crate.
fn crate_path(attr: TokenStream) -> syn::Result<Path> {
    let mut krate: Path = syn::parse_quote!(::canter);
    let parser = syn::meta::parser(|meta| {
        if !meta.path.is_ident("crate") {
            return Err(meta.error(Message::ViewOption));
        }
        let value = meta.value()?;
        krate = absolute(if value.peek(syn::LitStr) {
            value.parse::<syn::LitStr>()?.parse()?
        } else {
            value.parse()?
        });
        Ok(())
    });
    syn::parse::Parser::parse2(parser, attr)?;
    Ok(krate)
}

fn generate(view: &ViewDesc) -> TokenStream {
    let krate = &view.krate;
    let methods = view.handlers.iter().map(|handler| &handler.method);
    let allowed = quote!(#(#krate::http::Method::#methods,)* #krate::http::Method::OPTIONS);
    let arms = view.handlers.iter().map(|Handler { method, function }| {
        quote! {
            if method == #krate::http::Method::#method {
                return #krate::IntoResponse::into_response(this.#function(req).await);
            }
        }
    });
    let (input, self_ty) = (&view.item, &view.item.self_ty);
    let (impl_generics, _, where_clause) = view.item.generics.split_for_impl();
    quote! {
        #input

        impl #impl_generics #krate::views::View for #self_ty #where_clause {
            fn allowed_methods(&self) -> &'static [#krate::http::Method] {
                static ALLOWED: &[#krate::http::Method] = &[#allowed];
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
    }
}

#[cfg(test)]
mod tests {
    use quote::{quote, ToTokens};

    use super::*;

    fn parse(attr: TokenStream, item: ItemImpl) -> ViewDesc {
        ViewDesc::parse(attr, item).unwrap_or_else(|err| panic!("{err}"))
    }

    fn handlers(view: &ViewDesc) -> Vec<(String, String)> {
        let pair = |h: &Handler| (h.method.to_string(), h.function.to_string());
        view.handlers.iter().map(pair).collect()
    }

    #[test]
    fn handlers_are_read_in_dispatch_order_and_head_falls_back_to_get() {
        let view = parse(
            quote!(),
            syn::parse_quote! {
                impl Article {
                    async fn post(&self, req: Request) -> Response { todo!() }
                    fn helper(&self) {}
                    async fn get(&self, req: Request) -> Response { todo!() }
                }
            },
        );
        let expected = [("GET", "get"), ("POST", "post"), ("HEAD", "get")];
        assert_eq!(handlers(&view), expected.map(|(m, f)| (m.into(), f.into())));
        let view = parse(
            quote!(),
            syn::parse_quote! {
                impl Article {
                    async fn head(&self, req: Request) -> Response { todo!() }
                    async fn get(&self, req: Request) -> Response { todo!() }
                }
            },
        );
        let expected = [("GET", "get"), ("HEAD", "head")];
        assert_eq!(handlers(&view), expected.map(|(m, f)| (m.into(), f.into())));
    }

    #[test]
    fn the_crate_is_canter_or_the_path_given() {
        let item: ItemImpl = syn::parse_quote!(impl A { async fn get(&self, r: Request) {} });
        let krate = |attr| {
            parse(attr, item.clone())
                .krate
                .to_token_stream()
                .to_string()
        };
        assert_eq!(krate(quote!()), ":: canter");
        assert_eq!(krate(quote!(crate = canter_core)), ":: canter_core");
        assert_eq!(krate(quote!(crate = "canter_core")), ":: canter_core");
        assert_eq!(krate(quote!(crate = ::my::web)), ":: my :: web");
    }
}
