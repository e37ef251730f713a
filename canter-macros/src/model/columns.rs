//! The model's inherent `impl`: a typed handle per column (`Book::title.exact(...)`), one per
//! many-to-many field, and the manager `objects()`.

use proc_macro2::TokenStream;
use quote::quote;

use super::many_to_many;
use super::parse::ModelDesc;

pub(super) fn inherent_impl(model: &ModelDesc) -> TokenStream {
    let (krate, name) = (&model.options.krate, &model.ident);
    let columns = model.fields.iter().enumerate().map(|(index, field)| {
        let (ident, ty) = (&field.ident, &field.ty);
        let doc = format!(
            "The `{}` column, for lookups: `{}::{}.exact(...)`.",
            field.column, model.name, ident
        );
        quote! {
            #[doc = #doc]
            pub const #ident: #krate::Column<#name, <#ty as #krate::FieldType>::Lookup> = #krate::Column::new(#index);
        }
    });
    let many_to_many_handles = many_to_many::handles(model);
    let bind_method = many_to_many::bind_method(model);
    quote! {
        #[allow(non_upper_case_globals)]
        impl #name {
            #(#columns)*

            #(#many_to_many_handles)*

            #bind_method

            /// The manager (Django's `MyModel.objects`): a lazy queryset over every row.
            pub fn objects() -> #krate::QuerySet<#name> {
                #krate::QuerySet::new()
            }
        }
    }
}
