//! `#[derive(Form)]`: a struct becomes a form of `canter_pages::forms` — a static table of its
//! fields (`FieldSpec`s from the types and `#[form(...)]`), reading each field from a
//! submission with every error collected, and writing its values back for an edit form.

mod parse;

use proc_macro2::TokenStream;
use quote::quote;

use parse::FormDesc;

pub fn expand(input: syn::DeriveInput) -> syn::Result<TokenStream> {
    let desc = FormDesc::parse(input)?;
    let (ident, krate) = (&desc.ident, &desc.krate);
    let count = desc.fields.len();
    let specs = desc.fields.iter().map(|f| f.spec(krate));
    let names: Vec<_> = desc.fields.iter().map(|f| &f.ident).collect();
    let tys: Vec<_> = desc.fields.iter().map(|f| &f.ty).collect();
    let texts: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let indexes = 0..count;
    let validators = &desc.validators;
    let model_form = desc.model.as_ref().map(|model| {
        quote! {
            impl #krate::forms::ModelForm for #ident {
                type Model = #model;
                fn apply(self, row: &mut #model) {
                    #( row.#names = self.#names; )*
                }
                fn from_model(row: &#model) -> Self {
                    Self { #( #names: ::core::clone::Clone::clone(&row.#names) ),* }
                }
            }
        }
    });
    Ok(quote! {
        #model_form

        impl #krate::forms::Form for #ident {
            fn fields() -> &'static [#krate::forms::FieldSpec] {
                static FIELDS: [#krate::forms::FieldSpec; #count] = [#(#specs),*];
                &FIELDS
            }

            fn from_data(
                data: &mut #krate::forms::FormData,
            ) -> ::core::result::Result<Self, #krate::forms::FormErrors> {
                let fields = <Self as #krate::forms::Form>::fields();
                let mut errors = #krate::forms::FormErrors::new();
                #(
                    let #names = match <#tys as #krate::forms::FormValue>::from_form(&fields[#indexes], data) {
                        ::core::result::Result::Ok(value) => ::core::option::Option::Some(value),
                        ::core::result::Result::Err(message) => {
                            errors.add(::core::option::Option::Some(#texts), message);
                            ::core::option::Option::None
                        }
                    };
                )*
                if !errors.is_empty() {
                    return ::core::result::Result::Err(errors);
                }
                let value = Self {
                    #( #names: #names.expect("a field without an error has its value") ),*
                };
                #( #validators(&value)?; )*
                ::core::result::Result::Ok(value)
            }

            fn to_data(&self) -> #krate::forms::FormData {
                #krate::forms::FormData::from_pairs([
                    #( (#texts, #krate::forms::FormValue::to_form(&self.#names)) ),*
                ])
            }
        }
    })
}
