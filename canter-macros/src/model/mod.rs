//! `#[derive(Model)]`: the model's metadata, typed column handles, and row mapping.
//!
//! Shaped as serde_derive is: [`parse`] reads the struct into a [`ModelDesc`] and finds every
//! error; then each generator writes one part of the output from that description.

mod columns;
mod many_to_many;
mod meta;
mod parse;
mod relations;
mod rows;
#[cfg(test)]
mod tests;
mod validation;

use proc_macro2::TokenStream;
use quote::quote;
use syn::DeriveInput;

use parse::ModelDesc;

pub(crate) fn expand(input: DeriveInput) -> syn::Result<TokenStream> {
    let model = ModelDesc::parse(&input)?;
    Ok(generate(&model))
}

fn generate(model: &ModelDesc) -> TokenStream {
    let default_impl = rows::default_impl(model);
    let has_state_impl = match &model.state_field {
        Some(_) => {
            let (krate, name) = (&model.options.krate, &model.ident);
            quote!(impl #krate::HasState for #name {})
        }
        None => quote!(),
    };
    let reverse_accessors = relations::reverse_accessors(model);
    let inherent_impl = columns::inherent_impl(model);
    let model_impl = model_impl(model);
    quote! {
        #default_impl

        #has_state_impl

        #(#reverse_accessors)*

        #inherent_impl

        #model_impl
    }
}

/// `impl Model`, each method from the generator of its part.
fn model_impl(model: &ModelDesc) -> TokenStream {
    let (krate, name) = (&model.options.krate, &model.ident);
    let meta_fn = meta::meta_fn(model);
    let (from_row_at, fill_from_row) = rows::decode_fns(model);
    let fill_related = relations::fill_related_fn(model);
    let set_related_any = relations::set_related_any_fn(model);
    let set_prefetched_many = many_to_many::set_prefetched_fn(model);
    let value_fns = rows::value_fns(model);
    let state_fns = match &model.state_field {
        Some(ident) => quote! {
            fn state(&self) -> ::std::option::Option<&#krate::ModelState> {
                ::std::option::Option::Some(&self.#ident)
            }
            fn state_mut(&mut self) -> ::std::option::Option<&mut #krate::ModelState> {
                ::std::option::Option::Some(&mut self.#ident)
            }
        },
        None => quote!(),
    };
    let validate_fn = validation::validate_fn(model);
    let pk_ty = &model.pk_field().ty;
    quote! {
        impl #krate::Model for #name {
            type Pk = #pk_ty;
            #meta_fn

            #from_row_at

            #fill_related

            #fill_from_row

            #set_related_any

            #set_prefetched_many

            #value_fns

            #state_fns

            #validate_fn
        }
    }
}
