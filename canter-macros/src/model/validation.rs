//! `Model::validate()`: `max_length` and `choices` of each field, then the model's validators.

use proc_macro2::TokenStream;
use quote::quote;

use super::parse::ModelDesc;

pub(super) fn validate_fn(model: &ModelDesc) -> TokenStream {
    let krate = &model.options.krate;
    let checked = (model.fields.iter().enumerate())
        .filter(|(_, field)| field.max_length.is_some() || !field.choices.is_empty());
    let field_checks = checked.map(|(index, field)| {
        let ident = &field.ident;
        quote! { #krate::validation::check_field(&meta.fields[#index], &#krate::FieldType::to_value(&self.#ident), &mut errors); }
    });
    let validators = (model.options.validators.iter())
        .map(|validator| quote! { #validator(self, &mut errors); });
    quote! {
        fn validate(&self) -> ::std::result::Result<(), #krate::ValidationError> {
            let meta = <Self as #krate::Model>::meta();
            let mut errors = #krate::ValidationError::default();
            #(#field_checks)*
            #(#validators)*
            errors.into_result()
        }
    }
}
