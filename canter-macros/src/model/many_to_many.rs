//! `ManyToMany<T>` fields: their handles for conditions, their `ManyToManyMeta` (join table and
//! columns), and binding each to its owner's primary key.

use proc_macro2::TokenStream;
use quote::quote;

use super::meta::table_name;
use super::parse::{ManyToManyDesc, ModelDesc};
use crate::types::last_segment;

/// `pub const tags: ManyToManyField<Post, Tag>`, one per many-to-many field.
pub(super) fn handles(model: &ModelDesc) -> impl Iterator<Item = TokenStream> + '_ {
    let (krate, name) = (&model.options.krate, &model.ident);
    model.many_to_many.iter().enumerate().map(move |(index, m2m)| {
        let (ident, target) = (&m2m.ident, &m2m.target);
        let doc = format!(
            "The `{ident}` many-to-many, for conditions on its rows: `{name}::{ident}.any(...)`."
        );
        quote! {
            #[doc = #doc]
            pub const #ident: #krate::ManyToManyField<#name, #target> = #krate::ManyToManyField::new(#index);
        }
    })
}

/// The `ManyToManyMeta` of one field: its join table is `{model table}_{field}`, its columns
/// `{model}_id` and `{target}_id` (`from_{model}_id` and `to_{model}_id` when both are the same).
pub(super) fn meta(model: &ModelDesc, m2m: &ManyToManyDesc) -> TokenStream {
    let (krate, name, target) = (&model.options.krate, &model.ident, &m2m.target);
    let field = m2m.ident.to_string();
    let model_lower = model.name.to_lowercase();
    let target_lower = last_segment(target)
        .map(|last| last.ident.to_string().to_lowercase())
        .unwrap_or_default();
    let (from_column, to_column) = if target_lower == model_lower {
        (
            format!("from_{model_lower}_id"),
            format!("to_{target_lower}_id"),
        )
    } else {
        (format!("{model_lower}_id"), format!("{target_lower}_id"))
    };
    let through = match &m2m.through {
        Some(through) => quote!(Some(<#through as #krate::Model>::meta)),
        None => quote!(None),
    };
    let table = table_name(model, &format!("_{field}"));
    quote! {
        #krate::relations::ManyToManyMeta {
            name: #field,
            target: <#target as #krate::Model>::meta,
            owner: <#name as #krate::Model>::meta,
            through: #through,
            table: #table,
            from_column: #from_column,
            to_column: #to_column,
        }
    }
}

/// `bind_many_to_many()`: each related manager learns the row's primary key (after a load or
/// an insert), so `post.tags.add(...)` knows the post.
pub(super) fn bind_method(model: &ModelDesc) -> TokenStream {
    let krate = &model.options.krate;
    let pk_ident = &model.pk_field().ident;
    let binds = model.many_to_many.iter().enumerate().map(|(index, m2m)| {
        let ident = &m2m.ident;
        quote! {
            self.#ident.bind(&pk, &<Self as #krate::Model>::meta().many_to_many[#index]);
        }
    });
    quote! {
        #[doc(hidden)]
        pub fn bind_many_to_many(&mut self) {
            let pk = #krate::FieldType::to_value(&self.#pk_ident);
            let _ = &pk;
            #(#binds)*
        }
    }
}

/// `fn set_prefetched_many()`: the rows `prefetch_related` loaded for many-to-many field
/// `index`, handed to its manager.
pub(super) fn set_prefetched_fn(model: &ModelDesc) -> TokenStream {
    let arms = model.many_to_many.iter().enumerate().map(|(index, m2m)| {
        let ident = &m2m.ident;
        quote!(#index => self.#ident.set_prefetched_any(rows),)
    });
    quote! {
        fn set_prefetched_many(&mut self, index: usize, rows: ::std::boxed::Box<dyn ::std::any::Any + Send>) -> bool {
            let _ = &rows;
            match index {
                #(#arms)*
                _ => false,
            }
        }
    }
}
