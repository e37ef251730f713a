//! `Model::meta()`: the `ModelMeta` static with one `FieldMeta` per column.

use proc_macro2::TokenStream;
use quote::quote;

use super::many_to_many;
use super::parse::{FieldDesc, ModelDesc, OnDelete};

/// `fn meta()`.
pub(super) fn meta_fn(model: &ModelDesc) -> TokenStream {
    let krate = &model.options.krate;
    let app = match &model.options.app {
        Some(app) => quote!(#app),
        None => quote!(env!("CARGO_CRATE_NAME")),
    };
    let name = &model.name;
    let table = table_name(model, "");
    let fields =
        (model.fields.iter().enumerate()).map(|(index, field)| field_meta(model, index, field));
    let pk = model.pk.index;
    let many_to_many = model
        .many_to_many
        .iter()
        .map(|m2m| many_to_many::meta(model, m2m));
    let check_names = model.options.checks.iter().map(|check| &check.name);
    let check_sqls = model.options.checks.iter().map(|check| &check.sql);
    let indexes = model.options.indexes.iter().map(|index| {
        let fields = &index.fields;
        let name = option_tokens(index.name.as_ref().map(|n| quote!(#n)));
        let unique = index.unique;
        let condition = option_tokens(index.condition.as_ref().map(|c| quote!(#c)));
        quote! {
            #krate::IndexMeta { name: #name, fields: &[#(#fields),*], unique: #unique, condition: #condition }
        }
    });
    quote! {
        fn meta() -> &'static #krate::ModelMeta {
            static META: #krate::ModelMeta = #krate::ModelMeta {
                app: #app,
                name: #name,
                table: #table,
                fields: &[#(#fields),*],
                pk: #pk,
                many_to_many: &[#(#many_to_many),*],
                checks: &[#((#check_names, #check_sqls)),*],
                indexes: &[#(#indexes),*],
            };
            &META
        }
    }
}

/// The model's table (`suffix` empty) or one named after it (a join table: `_tags`):
/// `table = "..."`, else `{app}_{model}`, else `{crate}_{model}`, the model's name in lower case.
pub(super) fn table_name(model: &ModelDesc, suffix: &str) -> TokenStream {
    let model_lower = model.name.to_lowercase();
    match (&model.options.table, &model.options.app) {
        (Some(table), _) => {
            let full = format!("{table}{suffix}");
            quote!(#full)
        }
        (None, Some(app)) => {
            let full = format!("{app}_{model_lower}{suffix}");
            quote!(#full)
        }
        (None, None) => {
            let after_crate = format!("_{model_lower}{suffix}");
            quote!(concat!(env!("CARGO_CRATE_NAME"), #after_crate))
        }
    }
}

/// The `FieldMeta` of the column at `index`.
fn field_meta(model: &ModelDesc, index: usize, field: &FieldDesc) -> TokenStream {
    let krate = &model.options.krate;
    let name = field.ident.to_string();
    let column = &field.column;
    let ty = &field.ty;
    let primary_key = index == model.pk.index;
    let auto_increment = primary_key && model.pk.auto;
    let one_to_one = field.relation.as_ref().is_some_and(|r| r.one_to_one);
    let unique = field.unique || primary_key || one_to_one;
    // Django indexes foreign keys.
    let db_index = field.db_index || field.relation.is_some();
    let max_length = option_tokens(field.max_length.map(|n| quote!(#n)));
    let choices = &field.choices;
    let blank = field.blank;
    let default = option_tokens(field.default.as_ref().map(|expr| {
        quote! {
            {
                fn default_value() -> #krate::Value {
                    let value: #ty = ::std::convert::Into::into(#expr);
                    #krate::FieldType::to_value(&value)
                }
                default_value
            }
        }
    }));
    let on_delete = on_delete_variant(field.on_delete.unwrap_or(OnDelete::Cascade));
    let related_name = option_tokens(field.related_name.as_ref().map(|n| quote!(#n)));
    quote! {
        #krate::FieldMeta {
            name: #name,
            column: #column,
            sql_type: <#ty as #krate::FieldType>::SQL_TYPE,
            nullable: <#ty as #krate::FieldType>::NULLABLE,
            primary_key: #primary_key,
            auto_increment: #auto_increment,
            unique: #unique,
            db_index: #db_index,
            max_length: #max_length,
            choices: &[#(#choices),*],
            blank: #blank,
            default: #default,
            related: <#ty as #krate::FieldType>::RELATED,
            on_delete: #krate::relations::OnDelete::#on_delete,
            related_name: #related_name,
        }
    }
}

/// `Some(value)` or `None`, as tokens.
fn option_tokens(value: Option<TokenStream>) -> TokenStream {
    match value {
        Some(value) => quote!(Some(#value)),
        None => quote!(None),
    }
}

fn on_delete_variant(on_delete: OnDelete) -> TokenStream {
    match on_delete {
        OnDelete::Cascade => quote!(Cascade),
        OnDelete::Protect => quote!(Protect),
        OnDelete::Restrict => quote!(Restrict),
        OnDelete::SetNull => quote!(SetNull),
        OnDelete::SetDefault => quote!(SetDefault),
        OnDelete::DoNothing => quote!(DoNothing),
    }
}
