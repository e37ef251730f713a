//! `#[derive(Model)]`: the model's metadata, typed column handles, and row mapping.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Data, DeriveInput, Fields, LitStr, Path, Type};

struct FieldSpec {
    ident: syn::Ident,
    ty: Type,
    column: String,
    primary_key: bool,
    unique: bool,
    db_index: bool,
    max_length: Option<u32>,
    choices: Vec<String>,
    default: Option<syn::Expr>,
    on_delete: Option<String>,
    related_name: Option<String>,
    /// `Some(one_to_one)` for `ForeignKey<T>` / `OneToOne<T>` (possibly in an `Option`).
    relation: Option<(bool, Type)>,
}

/// `ManyToMany<T>`: T.
fn many_to_many_of(ty: &Type) -> Option<Type> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    if last.ident != "ManyToMany" {
        return None;
    }
    match &last.arguments {
        syn::PathArguments::AngleBracketed(args) => args.args.iter().find_map(|a| match a {
            syn::GenericArgument::Type(t) => Some(t.clone()),
            _ => None,
        }),
        _ => None,
    }
}

/// `ModelState` (the instance's state, no column).
fn is_model_state(ty: &Type) -> bool {
    let Type::Path(path) = ty else { return false };
    path.path
        .segments
        .last()
        .is_some_and(|last| last.ident == "ModelState" && last.arguments.is_empty())
}

/// `ForeignKey<T>`, `OneToOne<T>`, or either inside `Option<...>`: (one_to_one, T).
fn relation_of(ty: &Type) -> Option<(bool, Type)> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    let inner = || match &last.arguments {
        syn::PathArguments::AngleBracketed(args) => args.args.iter().find_map(|a| match a {
            syn::GenericArgument::Type(t) => Some(t.clone()),
            _ => None,
        }),
        _ => None,
    };
    match last.ident.to_string().as_str() {
        "ForeignKey" => Some((false, inner()?)),
        "OneToOne" => Some((true, inner()?)),
        "Option" => relation_of(&inner()?),
        _ => None,
    }
}

pub(crate) fn expand(input: DeriveInput) -> syn::Result<TokenStream> {
    let name = &input.ident;
    let mut table: Option<String> = None;
    let mut app: Option<String> = None;
    let mut krate: Path = syn::parse_quote!(::canter::orm);
    let mut validators: Vec<Path> = Vec::new();
    let mut model_name_override: Option<String> = None;
    let mut checks: Vec<(String, String)> = Vec::new();
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("model")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("table") {
                table = Some(meta.value()?.parse::<LitStr>()?.value());
            } else if meta.path.is_ident("app") {
                app = Some(meta.value()?.parse::<LitStr>()?.value());
            } else if meta.path.is_ident("crate") {
                let path: Path = meta.value()?.parse()?;
                krate = if path.leading_colon.is_some() {
                    path
                } else {
                    syn::parse_quote!(::#path)
                };
            } else if meta.path.is_ident("check") {
                let (mut check_name, mut sql) = (None, None);
                meta.parse_nested_meta(|inner| {
                    if inner.path.is_ident("name") {
                        check_name = Some(inner.value()?.parse::<LitStr>()?.value());
                    } else if inner.path.is_ident("sql") {
                        sql = Some(inner.value()?.parse::<LitStr>()?.value());
                    } else {
                        return Err(inner.error("check takes name = \"...\" and sql = \"...\""));
                    }
                    Ok(())
                })?;
                match (check_name, sql) {
                    (Some(n), Some(q)) => checks.push((n, q)),
                    _ => return Err(meta.error("check needs name = \"...\" and sql = \"...\"")),
                }
            } else if meta.path.is_ident("name") {
                model_name_override = Some(meta.value()?.parse::<LitStr>()?.value());
            } else if meta.path.is_ident("validate") {
                validators.push(meta.value()?.parse()?);
            } else {
                return Err(meta.error("expected table, app, name, crate or validate"));
            }
            Ok(())
        })?;
    }
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new_spanned(
            &input,
            "#[derive(Model)] is for structs",
        ));
    };
    let Fields::Named(named) = &data.fields else {
        return Err(syn::Error::new_spanned(
            &input,
            "#[derive(Model)] needs named fields",
        ));
    };
    let mut fields = Vec::new();
    let mut many_to_many: Vec<(syn::Ident, Type, Option<Type>)> = Vec::new();
    let mut state_field: Option<syn::Ident> = None;
    for field in &named.named {
        let ident = field.ident.clone().expect("named");
        if is_model_state(&field.ty) {
            if state_field.is_some() {
                return Err(syn::Error::new_spanned(
                    &field.ty,
                    "a model has at most one ModelState field",
                ));
            }
            state_field = Some(ident);
            continue;
        }
        if let Some(target) = many_to_many_of(&field.ty) {
            let mut through: Option<Type> = None;
            for attr in field.attrs.iter().filter(|a| a.path().is_ident("field")) {
                attr.parse_nested_meta(|meta| {
                    if meta.path.is_ident("through") {
                        through = Some(syn::parse_str(&meta.value()?.parse::<LitStr>()?.value())?);
                        Ok(())
                    } else {
                        Err(meta.error("a ManyToMany field takes `through = \"Model\"`"))
                    }
                })?;
            }
            many_to_many.push((ident, target, through));
            continue;
        }
        let mut spec = FieldSpec {
            column: ident.to_string(),
            ident,
            ty: field.ty.clone(),
            primary_key: false,
            unique: false,
            db_index: false,
            max_length: None,
            choices: Vec::new(),
            default: None,
            on_delete: None,
            related_name: None,
            relation: relation_of(&field.ty),
        };
        if spec.relation.is_some() {
            // Django's column for a foreign key `author` is `author_id`.
            spec.column = format!("{}_id", spec.ident);
        }
        for attr in field.attrs.iter().filter(|a| a.path().is_ident("field")) {
            attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("primary_key") {
                    spec.primary_key = true;
                } else if meta.path.is_ident("unique") {
                    spec.unique = true;
                } else if meta.path.is_ident("db_index") {
                    spec.db_index = true;
                } else if meta.path.is_ident("max_length") {
                    spec.max_length = Some(meta.value()?.parse::<syn::LitInt>()?.base10_parse()?);
                } else if meta.path.is_ident("on_delete") {
                    spec.on_delete = Some(meta.value()?.parse::<LitStr>()?.value());
                } else if meta.path.is_ident("related_name") {
                    spec.related_name = Some(meta.value()?.parse::<LitStr>()?.value());
                } else if meta.path.is_ident("default") {
                    spec.default = Some(meta.value()?.parse()?);
                } else if meta.path.is_ident("db_column") {
                    spec.column = meta.value()?.parse::<LitStr>()?.value();
                } else if meta.path.is_ident("choices") {
                    let value = meta.value()?;
                    let content;
                    syn::bracketed!(content in value);
                    let list = content.parse_terminated(|p| p.parse::<LitStr>(), syn::Token![,])?;
                    spec.choices = list.iter().map(LitStr::value).collect();
                } else {
                    return Err(meta.error(
                        "expected primary_key, unique, db_index, max_length, db_column or choices",
                    ));
                }
                Ok(())
            })?;
        }
        fields.push(spec);
    }

    for f in &fields {
        if let Some(on_delete) = &f.on_delete {
            const KNOWN: &[&str] = &[
                "cascade",
                "protect",
                "restrict",
                "set_null",
                "set_default",
                "do_nothing",
            ];
            if !KNOWN.contains(&on_delete.as_str()) {
                return Err(syn::Error::new_spanned(
                    &f.ident,
                    format!("on_delete must be one of {}", KNOWN.join(", ")),
                ));
            }
            if f.relation.is_none() {
                return Err(syn::Error::new_spanned(
                    &f.ident,
                    "on_delete is for ForeignKey and OneToOne fields",
                ));
            }
        }
        if f.related_name.is_some() && f.relation.is_none() {
            return Err(syn::Error::new_spanned(
                &f.ident,
                "related_name is for ForeignKey and OneToOne fields",
            ));
        }
    }

    let explicit_pk: Vec<usize> = fields
        .iter()
        .enumerate()
        .filter(|(_, f)| f.primary_key)
        .map(|(i, _)| i)
        .collect();
    let (pk_index, auto_pk) = match explicit_pk.as_slice() {
        [] => match fields.iter().position(|f| f.ident == "id") {
            Some(i) => (i, true),
            None => {
                return Err(syn::Error::new_spanned(
                    name,
                    "a model needs a primary key: add `id: i64` (auto-incrementing) or mark a field #[field(primary_key)]",
                ))
            }
        },
        [i] => (*i, false),
        _ => return Err(syn::Error::new_spanned(name, "a model has one primary key")),
    };

    let model_name = model_name_override.unwrap_or_else(|| name.to_string());
    let app_expr = match &app {
        Some(app) => quote!(#app),
        None => quote!(env!("CARGO_CRATE_NAME")),
    };
    let table_expr = match (&table, &app) {
        (Some(table), _) => quote!(#table),
        (None, Some(app)) => {
            let t = format!("{}_{}", app, model_name.to_lowercase());
            quote!(#t)
        }
        (None, None) => {
            let suffix = format!("_{}", model_name.to_lowercase());
            quote!(concat!(env!("CARGO_CRATE_NAME"), #suffix))
        }
    };

    let field_metas = fields.iter().enumerate().map(|(i, f)| {
        let fname = f.ident.to_string();
        let column = &f.column;
        let ty = &f.ty;
        let primary_key = i == pk_index;
        let one_to_one = matches!(f.relation, Some((true, _)));
        let unique = f.unique || primary_key || one_to_one;
        // Django indexes foreign keys.
        let db_index = f.db_index || f.relation.is_some();
        let on_delete = match f.on_delete.as_deref().unwrap_or("cascade") {
            "protect" => quote!(Protect),
            "restrict" => quote!(Restrict),
            "set_null" => quote!(SetNull),
            "set_default" => quote!(SetDefault),
            "do_nothing" => quote!(DoNothing),
            _ => quote!(Cascade),
        };
        let related_name = match &f.related_name {
            Some(n) => quote!(Some(#n)),
            None => quote!(None),
        };
        let max_length = match f.max_length {
            Some(n) => quote!(Some(#n)),
            None => quote!(None),
        };
        let choices = &f.choices;
        let auto = primary_key && auto_pk;
        let default = match &f.default {
            Some(expr) => quote! {
                Some({
                    fn default_value() -> #krate::Value {
                        let value: #ty = ::std::convert::Into::into(#expr);
                        #krate::FieldType::to_value(&value)
                    }
                    default_value
                })
            },
            None => quote!(None),
        };
        quote! {
            #krate::FieldMeta {
                name: #fname,
                column: #column,
                sql_type: <#ty as #krate::FieldType>::SQL_TYPE,
                nullable: <#ty as #krate::FieldType>::NULLABLE,
                primary_key: #primary_key,
                auto_increment: #auto,
                unique: #unique,
                db_index: #db_index,
                max_length: #max_length,
                choices: &[#(#choices),*],
                default: #default,
                related: <#ty as #krate::FieldType>::RELATED,
                on_delete: #krate::relations::OnDelete::#on_delete,
                related_name: #related_name,
            }
        }
    });

    let columns = fields.iter().enumerate().map(|(i, f)| {
        let ident = &f.ident;
        let ty = &f.ty;
        let doc = format!("The `{}` column, for lookups: `{}::{}.exact(...)`.", f.column, model_name, ident);
        quote! {
            #[doc = #doc]
            pub const #ident: #krate::Column<#name, <#ty as #krate::FieldType>::Lookup> = #krate::Column::new(#i);
        }
    });

    let decode = fields.iter().enumerate().map(|(i, f)| {
        let ident = &f.ident;
        quote!(#ident: row.get(offset + #i)?)
    });
    let related_arms = fields
        .iter()
        .enumerate()
        .filter(|(_, f)| f.relation.is_some())
        .map(|(i, f)| {
            let ident = &f.ident;
            quote! {
                #i => {
                    #krate::relations::RelatedField::fill(&mut self.#ident, row, offset)?;
                    ::std::result::Result::Ok(true)
                }
            }
        });
    let set_related_arms = fields
        .iter()
        .enumerate()
        .filter(|(_, f)| f.relation.is_some())
        .map(|(i, f)| {
            let ident = &f.ident;
            quote!(#i => #krate::relations::RelatedField::set_any(&mut self.#ident, value),)
        });
    // `related_name = "books"` on Book.author: `author.books()` through a trait on Author.
    let reverse_accessors = fields
        .iter()
        .filter_map(|f| {
            let (accessor, (_, target)) = (f.related_name.as_ref()?, f.relation.as_ref()?);
            let method = syn::Ident::new(accessor, f.ident.span());
            let field_ident = &f.ident;
            let trait_ident = syn::Ident::new(&format!("{}{}Reverse", name, camel(&f.ident.to_string())), f.ident.span());
            let doc = format!("`{accessor}()`: the {name} rows whose `{field_ident}` points at this one (Django's reverse accessor).");
            Some(quote! {
                #[doc = #doc]
                pub trait #trait_ident {
                    fn #method(&self) -> #krate::QuerySet<#name>;
                }
                impl #trait_ident for #target {
                    fn #method(&self) -> #krate::QuerySet<#name> {
                        #krate::QuerySet::<#name>::new().filter(#name::#field_ident.eq(self))
                    }
                }
            })
        })
        .collect::<Vec<_>>();
    let partial_arms = fields.iter().enumerate().map(|(i, f)| {
        let ident = &f.ident;
        quote!(#i => base.#ident = row.get(position)?,)
    });
    let values = fields.iter().map(|f| {
        let ident = &f.ident;
        quote!(#krate::FieldType::to_value(&self.#ident))
    });
    let pk_ident = &fields[pk_index].ident;
    let pk_ident_for_bind = pk_ident;
    let pk_ty = &fields[pk_index].ty;
    let set_pk = if auto_pk {
        quote! { self.#pk_ident = <#pk_ty as #krate::AutoPk>::from_i64(id); }
    } else {
        quote! { let _ = id; }
    };
    let is_unsaved = if auto_pk {
        quote! { <#pk_ty as #krate::AutoPk>::is_unset(&self.#pk_ident) }
    } else {
        quote! { false }
    };
    let field_checks = fields.iter().enumerate().filter(|(_, f)| f.max_length.is_some() || !f.choices.is_empty()).map(|(i, f)| {
        let ident = &f.ident;
        quote! { #krate::validation::check_field(&meta.fields[#i], &#krate::FieldType::to_value(&self.#ident), &mut errors); }
    });
    let custom = validators.iter().map(|v| quote! { #v(self, &mut errors); });

    let m2m_columns = many_to_many.iter().enumerate().map(|(k, (ident, target, _))| {
        let doc = format!("The `{ident}` many-to-many, for conditions on its rows: `{}::{ident}.any(...)`.", name);
        quote! {
            #[doc = #doc]
            pub const #ident: #krate::ManyToManyField<#name, #target> = #krate::ManyToManyField::new(#k);
        }
    });
    let check_names: Vec<&String> = checks.iter().map(|(n, _)| n).collect();
    let check_sqls: Vec<&String> = checks.iter().map(|(_, q)| q).collect();
    let model_lower = model_name.to_lowercase();
    let m2m_metas = many_to_many.iter().map(|(ident, target, through)| {
        let field = ident.to_string();
        let target_lower = match target {
            Type::Path(p) => p
                .path
                .segments
                .last()
                .map(|s| s.ident.to_string().to_lowercase())
                .unwrap_or_default(),
            _ => String::new(),
        };
        let (from_column, to_column) = if target_lower == model_lower {
            (
                format!("from_{model_lower}_id"),
                format!("to_{target_lower}_id"),
            )
        } else {
            (format!("{model_lower}_id"), format!("{target_lower}_id"))
        };
        let through_meta = match through {
            Some(t) => quote!(Some(<#t as #krate::Model>::meta)),
            None => quote!(None),
        };
        let table_suffix = format!("_{field}");
        let join_table = match (&table, &app) {
            (Some(t), _) => {
                let full = format!("{t}{table_suffix}");
                quote!(#full)
            }
            (None, Some(app)) => {
                let full = format!("{app}_{model_lower}{table_suffix}");
                quote!(#full)
            }
            (None, None) => {
                let suffix = format!("_{model_lower}{table_suffix}");
                quote!(concat!(env!("CARGO_CRATE_NAME"), #suffix))
            }
        };
        quote! {
            #krate::relations::ManyToManyMeta {
                name: #field,
                target: <#target as #krate::Model>::meta,
                owner: <#name as #krate::Model>::meta,
                through: #through_meta,
                table: #join_table,
                from_column: #from_column,
                to_column: #to_column,
            }
        }
    });
    let m2m_defaults = many_to_many
        .iter()
        .map(|(ident, _, _)| quote!(#ident: ::std::default::Default::default()));
    let m2m_defaults_again = many_to_many
        .iter()
        .map(|(ident, _, _)| quote!(#ident: ::std::default::Default::default()))
        .chain(
            state_field
                .iter()
                .map(|ident| quote!(#ident: ::std::default::Default::default())),
        )
        .collect::<Vec<_>>();
    let m2m_defaults = m2m_defaults.chain(
        state_field
            .iter()
            .map(|ident| quote!(#ident: ::std::default::Default::default())),
    );
    let state_methods = match &state_field {
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
    let has_state_impl = match &state_field {
        Some(_) => quote!(impl #krate::HasState for #name {}),
        None => quote!(),
    };
    let m2m_bind = many_to_many.iter().enumerate().map(|(k, (ident, _, _))| {
        quote! {
            self.#ident.bind(&pk, &<Self as #krate::Model>::meta().many_to_many[#k]);
        }
    });
    let bind_method = quote! {
        #[doc(hidden)]
        pub fn bind_many_to_many(&mut self) {
            let pk = #krate::FieldType::to_value(&self.#pk_ident_for_bind);
            let _ = &pk;
            #(#m2m_bind)*
        }
    };

    // With any `default = ...`, the model gets `Default` (others from their own `Default`), so
    // `MyModel { name: "x".into(), ..Default::default() }` works as Django's keyword defaults.
    let default_impl = if fields.iter().any(|f| f.default.is_some()) {
        let inits = fields.iter().map(|f| {
            let ident = &f.ident;
            let ty = &f.ty;
            match &f.default {
                Some(expr) => quote!(#ident: ::std::convert::Into::<#ty>::into(#expr)),
                None => quote!(#ident: ::std::default::Default::default()),
            }
        });
        quote! {
            impl ::std::default::Default for #name {
                fn default() -> Self {
                    Self { #(#inits,)* #(#m2m_defaults_again),* }
                }
            }
        }
    } else {
        quote!()
    };

    Ok(quote! {
        #default_impl

        #has_state_impl

        #(#reverse_accessors)*

        #[allow(non_upper_case_globals)]
        impl #name {
            #(#columns)*

            #(#m2m_columns)*

            #bind_method

            /// The manager (Django's `MyModel.objects`): a lazy queryset over every row.
            pub fn objects() -> #krate::QuerySet<#name> {
                #krate::QuerySet::new()
            }
        }

        impl #krate::Model for #name {
            fn meta() -> &'static #krate::ModelMeta {
                static META: #krate::ModelMeta = #krate::ModelMeta {
                    app: #app_expr,
                    name: #model_name,
                    table: #table_expr,
                    fields: &[#(#field_metas),*],
                    pk: #pk_index,
                    many_to_many: &[#(#m2m_metas),*],
                    checks: &[#((#check_names, #check_sqls)),*],
                };
                &META
            }

            fn from_row_at(row: &#krate::Row, offset: usize) -> ::std::result::Result<Self, #krate::OrmError> {
                let mut obj = Self { #(#decode,)* #(#m2m_defaults),* };
                obj.bind_many_to_many();
                ::std::result::Result::Ok(obj)
            }

            fn fill_related(&mut self, field: usize, row: &#krate::Row, offset: usize) -> ::std::result::Result<bool, #krate::OrmError> {
                let _ = (row, offset);
                match field {
                    #(#related_arms)*
                    _ => ::std::result::Result::Ok(false),
                }
            }

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

            fn set_related_any(&mut self, field: usize, value: ::std::boxed::Box<dyn ::std::any::Any + Send>) -> bool {
                let _ = &value;
                match field {
                    #(#set_related_arms)*
                    _ => false,
                }
            }

            fn to_values(&self) -> ::std::vec::Vec<#krate::Value> {
                ::std::vec![#(#values),*]
            }

            fn pk_value(&self) -> #krate::Value {
                #krate::FieldType::to_value(&self.#pk_ident)
            }

            fn set_auto_pk(&mut self, id: i64) {
                #set_pk
                self.bind_many_to_many();
            }

            fn is_unsaved(&self) -> bool {
                #is_unsaved
            }

            #state_methods

            fn validate(&self) -> ::std::result::Result<(), #krate::ValidationError> {
                let meta = <Self as #krate::Model>::meta();
                let mut errors = #krate::ValidationError::default();
                #(#field_checks)*
                #(#custom)*
                errors.into_result()
            }
        }
    })
}

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
