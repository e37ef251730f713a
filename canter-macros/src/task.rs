//! `#[task]`: an `async fn` (or a blocking `fn`) becomes a task with `delay` / `apply_async`.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{FnArg, ItemFn, LitStr, Pat, Path, ReturnType, Type};

#[derive(Default)]
struct Options {
    name: Option<String>,
    queue: Option<String>,
    priority: Option<i64>,
    max_retries: Option<u32>,
    retry_backoff: Option<f64>,
    retry_backoff_max: Option<f64>,
    time_limit: Option<f64>,
    soft_time_limit: Option<f64>,
    acks_late: Option<bool>,
    autoretry: bool,
    autoretry_for: Vec<String>,
    ignore_result: bool,
    rate_limit: Option<(u32, f64)>,
    unique: Option<String>,
    krate: Option<Path>,
}

fn parse_options(attr: TokenStream) -> syn::Result<Options> {
    let mut o = Options::default();
    let parser = syn::meta::parser(|meta| {
        let key = meta
            .path
            .get_ident()
            .map(|i| i.to_string())
            .unwrap_or_default();
        match key.as_str() {
            "name" => o.name = Some(meta.value()?.parse::<LitStr>()?.value()),
            "queue" => o.queue = Some(meta.value()?.parse::<LitStr>()?.value()),
            "priority" => o.priority = Some(meta.value()?.parse::<syn::LitInt>()?.base10_parse()?),
            "max_retries" => o.max_retries = Some(meta.value()?.parse::<syn::LitInt>()?.base10_parse()?),
            "retry_backoff" => o.retry_backoff = Some(seconds(meta.value()?)?),
            "retry_backoff_max" => o.retry_backoff_max = Some(seconds(meta.value()?)?),
            "time_limit" => o.time_limit = Some(seconds(meta.value()?)?),
            "soft_time_limit" => o.soft_time_limit = Some(seconds(meta.value()?)?),
            "acks_late" => {
                o.acks_late = Some(if meta.input.peek(syn::Token![=]) {
                    meta.value()?.parse::<syn::LitBool>()?.value
                } else {
                    true
                })
            }
            "autoretry" => o.autoretry = true,
            "autoretry_for" => {
                let list: syn::ExprArray = meta.value()?.parse()?;
                for element in list.elems {
                    match element {
                        syn::Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(kind), .. }) => o.autoretry_for.push(kind.value()),
                        other => return Err(syn::Error::new_spanned(other, "expected error kinds as strings: autoretry_for = [\"Timeout\"]")),
                    }
                }
            }
            "ignore_result" => o.ignore_result = true,
            "unique" => {
                let choice: LitStr = meta.value()?.parse()?;
                if !matches!(choice.value().as_str(), "refuse" | "fold") {
                    return Err(syn::Error::new_spanned(choice, "expected unique = \"refuse\" or \"fold\""));
                }
                o.unique = Some(choice.value());
            }
            "rate_limit" => {
                let text: LitStr = meta.value()?.parse()?;
                o.rate_limit = Some(rate_limit(&text)?);
            }
            "crate" => {
                let path: Path = meta.value()?.parse()?;
                o.krate = Some(if path.leading_colon.is_some() { path } else { syn::parse_quote!(::#path) });
            }
            _ => return Err(meta.error("expected name, queue, priority, max_retries, retry_backoff, retry_backoff_max, time_limit, soft_time_limit, acks_late, autoretry, autoretry_for, ignore_result, rate_limit, unique or crate")),
        }
        Ok(())
    });
    syn::parse::Parser::parse2(parser, attr)?;
    Ok(o)
}

/// Celery's rate limit text: `"100/m"` → (100, 60.0); `/s`, `/m`, `/h`.
fn rate_limit(text: &LitStr) -> syn::Result<(u32, f64)> {
    let value = text.value();
    let parsed = value.split_once('/').and_then(|(count, per)| {
        let seconds = match per.trim() {
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        Some((
            count.trim().parse::<u32>().ok().filter(|n| *n > 0)?,
            seconds,
        ))
    });
    parsed.ok_or_else(|| {
        syn::Error::new_spanned(text, "expected a rate like \"100/m\" (per s, m or h)")
    })
}

/// Seconds written `30` or `2.5`.
fn seconds(input: syn::parse::ParseStream) -> syn::Result<f64> {
    match input.parse::<syn::Lit>()? {
        syn::Lit::Int(n) => n.base10_parse(),
        syn::Lit::Float(f) => f.base10_parse(),
        other => Err(syn::Error::new_spanned(
            other,
            "expected seconds, as 30 or 2.5",
        )),
    }
}

/// `Result<T, _>` → (T, true); `T` → (T, false).
fn output_of(ret: &ReturnType) -> (Type, bool) {
    let ty: Type = match ret {
        ReturnType::Default => syn::parse_quote!(()),
        ReturnType::Type(_, ty) => (**ty).clone(),
    };
    if let Type::Path(path) = &ty {
        if let Some(last) = path.path.segments.last() {
            if last.ident == "Result" {
                if let syn::PathArguments::AngleBracketed(args) = &last.arguments {
                    if let Some(syn::GenericArgument::Type(ok)) = args.args.first() {
                        return (ok.clone(), true);
                    }
                }
            }
        }
    }
    (ty, false)
}

pub(crate) fn expand(attr: TokenStream, function: ItemFn) -> syn::Result<TokenStream> {
    let o = parse_options(attr)?;
    let krate = o
        .krate
        .clone()
        .unwrap_or_else(|| syn::parse_quote!(::canter::tasks));
    let fn_name = &function.sig.ident;
    let vis = &function.vis;
    let is_async = function.sig.asyncness.is_some();
    let default_name = format!("{}", fn_name);
    let task_name = match &o.name {
        Some(n) => quote!(#n),
        None => quote!(concat!(module_path!(), "::", #default_name)),
    };
    let mut arg_names = Vec::new();
    let mut arg_types = Vec::new();
    for input in &function.sig.inputs {
        let FnArg::Typed(typed) = input else {
            return Err(syn::Error::new_spanned(
                input,
                "a task is a free function, not a method",
            ));
        };
        let Pat::Ident(ident) = &*typed.pat else {
            return Err(syn::Error::new_spanned(
                &typed.pat,
                "task arguments need plain names",
            ));
        };
        arg_names.push(ident.ident.clone());
        arg_types.push((*typed.ty).clone());
    }
    let (output, returns_result) = output_of(&function.sig.output);
    let call = if is_async {
        quote!(#fn_name(#(#arg_names),*).await)
    } else {
        quote!(#krate::task::run_blocking(move || #fn_name(#(#arg_names),*)).await?)
    };
    let call = if returns_result { quote!(#call?) } else { call };
    let queue = o.queue.clone().unwrap_or_else(|| "celery".into());
    let priority = o.priority.unwrap_or(0);
    let max_retries = o.max_retries.unwrap_or(3);
    let retry_backoff = o.retry_backoff.unwrap_or(1.0);
    let retry_backoff_max = o.retry_backoff_max.unwrap_or(600.0);
    let time_limit = match o.time_limit {
        Some(t) => quote!(Some(#t)),
        None => quote!(None),
    };
    let soft_time_limit = match o.soft_time_limit {
        Some(t) => quote!(Some(#t)),
        None => quote!(None),
    };
    let acks_late = o.acks_late.unwrap_or(true);
    let autoretry_for = &o.autoretry_for;
    let (autoretry, ignore_result) = (o.autoretry, o.ignore_result);
    let unique = match o.unique.as_deref() {
        Some("fold") => quote!(Some(#krate::task::OnDuplicate::Fold)),
        Some(_) => quote!(Some(#krate::task::OnDuplicate::Refuse)),
        None => quote!(None),
    };
    let rate_limit = match o.rate_limit {
        Some((count, per)) => quote!(Some((#count, #per))),
        None => quote!(None),
    };
    let args_tuple = quote!((#(#arg_types,)*));
    let to_json = if arg_names.is_empty() {
        quote!(#krate::__private::serde_json::Value::Array(Vec::new()))
    } else {
        quote!(#krate::__private::serde_json::to_value(&args).map_err(|e| #krate::TaskError::Serialization(e.to_string()))?)
    };
    let decode = if arg_names.is_empty() {
        quote!(let _ = args;)
    } else {
        quote!(let (#(#arg_names,)*): #args_tuple = #krate::task::decode_args(<Self as #krate::Task>::NAME, args)?;)
    };
    let doc = format!("The task `{default_name}`: `{default_name}::delay(…)` enqueues it; calling `{default_name}(…)` runs it here and now.");

    Ok(quote! {
        #function

        #[doc = #doc]
        #[allow(non_camel_case_types)]
        #vis struct #fn_name {}

        impl #fn_name {
            /// Enqueues the task (Celery's `delay`); the handle fetches its result.
            #vis async fn delay(#(#arg_names: #arg_types),*) -> ::std::result::Result<#krate::AsyncResult<#output>, #krate::TaskError> {
                Self::apply_async((#(#arg_names,)*), #krate::ApplyOptions::default()).await
            }

            /// Enqueues with options: countdown, eta, expires, queue, priority, task id.
            #vis async fn apply_async(args: #args_tuple, options: #krate::ApplyOptions) -> ::std::result::Result<#krate::AsyncResult<#output>, #krate::TaskError> {
                let args = #to_json;
                let id = #krate::broker::dispatch::<Self>(args, options).await?;
                ::std::result::Result::Ok(#krate::AsyncResult::new(id))
            }

            /// Enqueues once the surrounding `atomic` block commits (never if it rolls back).
            #vis fn delay_on_commit(#(#arg_names: #arg_types),*) -> ::std::result::Result<#krate::AsyncResult<#output>, #krate::TaskError> {
                let args = (#(#arg_names,)*);
                let args = #to_json;
                let id = #krate::broker::enqueue_on_commit::<Self>(args, #krate::ApplyOptions::default());
                ::std::result::Result::Ok(#krate::AsyncResult::new(id))
            }
        }

        impl #krate::Task for #fn_name {
            const NAME: &'static str = #task_name;

            fn options() -> #krate::TaskOptions {
                #krate::TaskOptions {
                    queue: #queue,
                    priority: #priority,
                    max_retries: #max_retries,
                    retry_backoff: #retry_backoff,
                    retry_backoff_max: #retry_backoff_max,
                    time_limit: #time_limit,
                    soft_time_limit: #soft_time_limit,
                    acks_late: #acks_late,
                    autoretry: #autoretry,
                    autoretry_for: &[#(#autoretry_for),*],
                    ignore_result: #ignore_result,
                    rate_limit: #rate_limit,
                    unique: #unique,
                }
            }

            fn run(args: #krate::__private::serde_json::Value) -> #krate::__private::BoxFuture<'static, ::std::result::Result<#krate::__private::serde_json::Value, #krate::TaskError>> {
                ::std::boxed::Box::pin(async move {
                    #decode
                    let output = #call;
                    #krate::__private::serde_json::to_value(&output).map_err(|e| #krate::TaskError::Serialization(e.to_string()))
                })
            }
        }
    })
}
