//! `#[task]`: an `async fn` (or a blocking `fn`) becomes a task with `delay` / `apply_async`.
//!
//! [`parse`] reads the attribute and the function into a [`TaskDesc`]; the generators below
//! write the task's struct with its enqueuing methods, and its `Task` impl.

mod parse;

use proc_macro2::TokenStream;
use quote::quote;
use syn::ItemFn;

use parse::{OnDuplicate, TaskDesc};

pub(crate) fn expand(attr: TokenStream, function: ItemFn) -> syn::Result<TokenStream> {
    let task = TaskDesc::parse(attr, function)?;
    let function = &task.function;
    let enqueue = enqueue_struct(&task);
    let task_impl = task_impl(&task);
    Ok(quote! {
        #function

        #enqueue

        #task_impl
    })
}

/// The struct named as the function, with `delay`, `apply_async` and `delay_on_commit`.
fn enqueue_struct(task: &TaskDesc) -> TokenStream {
    let krate = &task.options.krate;
    let (fn_name, vis, output) = (&task.function.sig.ident, &task.function.vis, &task.output);
    let arg_names: Vec<_> = task.arguments.iter().map(|(name, _)| name).collect();
    let arg_types: Vec<_> = task.arguments.iter().map(|(_, ty)| ty).collect();
    let args_tuple = quote!((#(#arg_types,)*));
    let to_json = if arg_names.is_empty() {
        quote!(#krate::__private::serde_json::Value::Array(Vec::new()))
    } else {
        quote!(#krate::__private::serde_json::to_value(&args).map_err(|e| #krate::TaskError::Serialization(e.to_string()))?)
    };
    let doc = format!("The task `{fn_name}`: `{fn_name}::delay(…)` enqueues it; calling `{fn_name}(…)` runs it here and now.");
    quote! {
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
    }
}

/// `impl Task`: the task's name, its options, and `run`, which decodes the arguments from JSON,
/// calls the function (a blocking one on the blocking pool) and encodes what it returned.
fn task_impl(task: &TaskDesc) -> TokenStream {
    let krate = &task.options.krate;
    let fn_name = &task.function.sig.ident;
    let task_name = match &task.options.name {
        Some(name) => quote!(#name),
        None => {
            let fn_name = fn_name.to_string();
            quote!(concat!(module_path!(), "::", #fn_name))
        }
    };
    let options = options_literal(task);
    let arg_names: Vec<_> = task.arguments.iter().map(|(name, _)| name).collect();
    let decode = decode_arguments(task);
    // A bound task's request comes first (the running task's, from the worker).
    let (request_decl, request_arg) = match &task.request {
        Some((name, ty)) => (
            quote!(let #name: #ty = #krate::request::bound_request();),
            quote!(#name,),
        ),
        None => (quote!(), quote!()),
    };
    let call = if task.function.sig.asyncness.is_some() {
        quote!(#fn_name(#request_arg #(#arg_names),*).await)
    } else {
        quote!(#krate::task::run_blocking(move || #fn_name(#request_arg #(#arg_names),*)).await?)
    };
    let call = if task.returns_result {
        quote!(#call?)
    } else {
        call
    };
    quote! {
        impl #krate::Task for #fn_name {
            const NAME: &'static str = #task_name;

            fn options() -> #krate::TaskOptions {
                #options
            }

            fn run(args: #krate::__private::serde_json::Value, kwargs: #krate::__private::serde_json::Value) -> #krate::__private::BoxFuture<'static, ::std::result::Result<#krate::__private::serde_json::Value, #krate::TaskError>> {
                ::std::boxed::Box::pin(async move {
                    #decode
                    #request_decl
                    let output = #call;
                    #krate::__private::serde_json::to_value(&output).map_err(|e| #krate::TaskError::Serialization(e.to_string()))
                })
            }
        }
    }
}

/// The start of `run`: the call's `args` and `kwargs` bound to the parameters as Python binds
/// them (positions, then names; an `Option` may be left out), each decoded into its type.
fn decode_arguments(task: &TaskDesc) -> TokenStream {
    let krate = &task.options.krate;
    let function = task.function.sig.ident.to_string();
    let parameters = task.arguments.iter().map(|(name, ty)| {
        let (name, optional) = (name.to_string(), is_option(ty));
        quote!(#krate::task::Parameter { name: #name, optional: #optional })
    });
    let decoded = task.arguments.iter().map(|(name, ty)| {
        let text = name.to_string();
        quote! {
            let #name: #ty = #krate::task::decode_argument(
                <Self as #krate::Task>::NAME,
                #text,
                bound.next().unwrap_or_default(),
            )?;
        }
    });
    let bound = if task.arguments.is_empty() {
        quote!(_)
    } else {
        quote!(mut bound)
    };
    quote! {
        let #bound = #krate::task::bind_arguments(#function, &[#(#parameters),*], args, kwargs)?.into_iter();
        #(#decoded)*
    }
}

/// An `Option<…>` parameter (a call may leave it out).
fn is_option(ty: &syn::Type) -> bool {
    crate::types::last_segment(ty).is_some_and(|last| last.ident == "Option")
}

/// The `TaskOptions` literal, every field set.
fn options_literal(task: &TaskDesc) -> TokenStream {
    let o = &task.options;
    let krate = &o.krate;
    let some_or_none = |value: Option<TokenStream>| match value {
        Some(value) => quote!(Some(#value)),
        None => quote!(None),
    };
    let time_limit = some_or_none(o.time_limit.map(|t| quote!(#t)));
    let soft_time_limit = some_or_none(o.soft_time_limit.map(|t| quote!(#t)));
    let rate_limit = some_or_none(o.rate_limit.map(|r| {
        let (count, seconds) = (r.count, r.seconds);
        quote!((#count, #seconds))
    }));
    let unique = some_or_none(o.unique.map(|on_duplicate| match on_duplicate {
        OnDuplicate::Fold => quote!(#krate::task::OnDuplicate::Fold),
        OnDuplicate::Refuse => quote!(#krate::task::OnDuplicate::Refuse),
    }));
    let (queue, priority, max_retries) = (&o.queue, o.priority, o.max_retries);
    let (retry_backoff, retry_backoff_max) = (o.retry_backoff, o.retry_backoff_max);
    let (acks_late, autoretry, autoretry_for) = (o.acks_late, o.autoretry, &o.autoretry_for);
    let ignore_result = o.ignore_result;
    quote! {
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
}
