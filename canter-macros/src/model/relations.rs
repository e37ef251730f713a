//! `ForeignKey` / `OneToOne` fields: filling the related object from a joined row or a
//! prefetch, and the reverse accessors that `related_name` asks for.

use proc_macro2::TokenStream;
use quote::quote;

use super::parse::{FieldDesc, ModelDesc};

/// The relation fields with their column index.
fn relation_fields(model: &ModelDesc) -> impl Iterator<Item = (usize, &FieldDesc)> {
    (model.fields.iter().enumerate()).filter(|(_, field)| field.relation.is_some())
}

/// `fn fill_related()`: the related object of field `node.field` from the row at
/// `node.offset`, with its own relations below `node` (`select_related`'s JOINs).
pub(super) fn fill_related_fn(model: &ModelDesc) -> TokenStream {
    let krate = &model.options.krate;
    let arms = relation_fields(model).map(|(index, field)| {
        let ident = &field.ident;
        quote! {
            #index => {
                #krate::relations::RelatedField::fill(&mut self.#ident, row, node)?;
                ::std::result::Result::Ok(true)
            }
        }
    });
    quote! {
        fn fill_related(&mut self, node: &#krate::select_related::Joined, row: &#krate::Row) -> ::std::result::Result<bool, #krate::OrmError> {
            let _ = row;
            match node.field {
                #(#arms)*
                _ => ::std::result::Result::Ok(false),
            }
        }
    }
}

/// `fn set_related_any()`: the related object of field `field`, loaded apart
/// (`prefetch_related`).
pub(super) fn set_related_any_fn(model: &ModelDesc) -> TokenStream {
    let krate = &model.options.krate;
    let arms = relation_fields(model).map(|(index, field)| {
        let ident = &field.ident;
        quote!(#index => #krate::relations::RelatedField::set_any(&mut self.#ident, value),)
    });
    quote! {
        fn set_related_any(&mut self, field: usize, value: ::std::boxed::Box<dyn ::std::any::Any + Send>) -> bool {
            let _ = &value;
            match field {
                #(#arms)*
                _ => false,
            }
        }
    }
}

/// `related_name = "books"` on `Book.author`: `author.books()`, through a trait on `Author`
/// (another crate's type gets no inherent methods).
pub(super) fn reverse_accessors(model: &ModelDesc) -> Vec<TokenStream> {
    let (krate, name) = (&model.options.krate, &model.ident);
    let accessor = |field: &FieldDesc| {
        let (accessor, relation) = (field.related_name.as_ref()?, field.relation.as_ref()?);
        let target = &relation.target;
        let method = syn::Ident::new(accessor, field.ident.span());
        let field_ident = &field.ident;
        let trait_name = format!("{}{}Reverse", name, camel(&field.ident.to_string()));
        let trait_ident = syn::Ident::new(&trait_name, field.ident.span());
        let doc = format!("`{accessor}()`: the {name} rows whose `{field_ident}` points at this one (Django's reverse accessor), on the database this one came from; after `prefetch_related({name}::{field_ident}.reverse())`, the prefetched rows without a query.");
        Some(quote! {
            #[doc = #doc]
            pub trait #trait_ident {
                fn #method(&self) -> #krate::QuerySet<#name>;
            }
            impl #trait_ident for #target {
                fn #method(&self) -> #krate::QuerySet<#name> {
                    #krate::prefetch::reverse_queryset(self, #name::#field_ident)
                }
            }
        })
    };
    model.fields.iter().filter_map(accessor).collect()
}

/// `first_author` → `FirstAuthor`.
fn camel(snake: &str) -> String {
    snake
        .split('_')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut chars = p.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().collect::<String>() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect()
}
