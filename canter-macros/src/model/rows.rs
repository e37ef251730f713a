//! Instances to and from rows: decoding a whole row or the columns `only()` loaded, the values
//! to write, the primary key, and `Default` for models with field defaults.

use proc_macro2::TokenStream;
use quote::quote;

use super::parse::ModelDesc;

/// `fn from_row_at()` and `fn fill_from_row()`: the columns are in the fields' order.
pub(super) fn decode_fns(model: &ModelDesc) -> (TokenStream, TokenStream) {
    let krate = &model.options.krate;
    let decode = model.fields.iter().enumerate().map(|(index, field)| {
        let ident = &field.ident;
        quote!(#ident: row.get(offset + #index)?)
    });
    let others = non_column_defaults(model);
    let from_row_at = quote! {
        fn from_row_at(row: &#krate::Row, offset: usize) -> ::std::result::Result<Self, #krate::OrmError> {
            let mut obj = Self { #(#decode,)* #(#others),* };
            obj.bind_many_to_many();
            ::std::result::Result::Ok(obj)
        }
    };
    let partial_arms = model.fields.iter().enumerate().map(|(index, field)| {
        let ident = &field.ident;
        quote!(#index => base.#ident = row.get(position)?,)
    });
    let fill_from_row = quote! {
        fn fill_from_row(mut base: Self, row: &#krate::Row, fields: &[usize]) -> ::std::result::Result<Self, #krate::OrmError> {
            for (position, field) in fields.iter().enumerate() {
                match *field {
                    #(#partial_arms)*
                    _ => {}
                }
            }
            base.bind_many_to_many();
            ::std::result::Result::Ok(base)
        }
    };
    (from_row_at, fill_from_row)
}

/// `fn to_values()`, `fn pk_value()`, `fn set_auto_pk()` and `fn is_unsaved()`.
pub(super) fn value_fns(model: &ModelDesc) -> TokenStream {
    let krate = &model.options.krate;
    let values = model.fields.iter().map(|field| {
        let ident = &field.ident;
        quote!(#krate::FieldType::to_value(&self.#ident))
    });
    let (pk_ident, pk_ty) = (&model.pk_field().ident, &model.pk_field().ty);
    let (set_pk, is_unsaved) = if model.pk.auto {
        (
            quote! { self.#pk_ident = <#pk_ty as #krate::AutoPk>::from_i64(id); },
            quote! { <#pk_ty as #krate::AutoPk>::is_unset(&self.#pk_ident) },
        )
    } else {
        (quote! { let _ = id; }, quote! { false })
    };
    let set_arms = model.fields.iter().enumerate().map(|(index, field)| {
        let (ident, ty) = (&field.ident, &field.ty);
        quote!(#index => self.#ident = <#ty as #krate::FieldType>::try_from_value(value)?,)
    });
    let name = model.name.clone();
    quote! {
        fn to_values(&self) -> ::std::vec::Vec<#krate::Value> {
            ::std::vec![#(#values),*]
        }

        fn set_value(&mut self, field: usize, value: #krate::Value) -> ::std::result::Result<(), ::std::string::String> {
            match field {
                #(#set_arms)*
                _ => return ::std::result::Result::Err(::std::format!("{} has no field {field}", #name)),
            }
            ::std::result::Result::Ok(())
        }

        fn pk_value(&self) -> #krate::Value {
            #krate::FieldType::to_value(&self.#pk_ident)
        }
        fn pk(&self) -> Self::Pk {
            ::std::clone::Clone::clone(&self.#pk_ident)
        }

        fn bind_managers(&mut self) {
            self.bind_many_to_many();
        }
        fn set_auto_pk(&mut self, id: i64) {
            #set_pk
            self.bind_many_to_many();
        }

        fn is_unsaved(&self) -> bool {
            #is_unsaved
        }
    }
}

/// With any `default = ...`, the model gets `Default` (other fields from their own `Default`),
/// so `MyModel { name: "x".into(), ..Default::default() }` works as Django's keyword defaults.
pub(super) fn default_impl(model: &ModelDesc) -> TokenStream {
    if model.fields.iter().all(|field| field.default.is_none()) {
        return quote!();
    }
    let name = &model.ident;
    let inits = model.fields.iter().map(|field| {
        let (ident, ty) = (&field.ident, &field.ty);
        match &field.default {
            Some(expr) => quote!(#ident: ::std::convert::Into::<#ty>::into(#expr)),
            None => quote!(#ident: ::std::default::Default::default()),
        }
    });
    let others = non_column_defaults(model);
    quote! {
        impl ::std::default::Default for #name {
            fn default() -> Self {
                Self { #(#inits,)* #(#others),* }
            }
        }
    }
}

/// The fields that are no column (many-to-many managers, the state) start as their `Default`.
fn non_column_defaults(model: &ModelDesc) -> impl Iterator<Item = TokenStream> + '_ {
    let many_to_many = model.many_to_many.iter().map(|m2m| &m2m.ident);
    (many_to_many.chain(&model.state_field))
        .map(|ident| quote!(#ident: ::std::default::Default::default()))
}
