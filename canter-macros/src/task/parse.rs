//! `#[task(...)]` and its function read into a [`TaskDesc`]; every error is found here.

use syn::meta::ParseNestedMeta;
use syn::{FnArg, Ident, ItemFn, LitStr, Pat, Path, ReturnType, Type};

use crate::errors::Message;
use crate::types::{absolute, first_type_argument, last_segment};

/// A task: its function, options, arguments and what it returns.
pub(crate) struct TaskDesc {
    pub function: ItemFn,
    pub options: TaskOptions,
    /// The arguments, by name and type (they become `delay`'s).
    pub arguments: Vec<(Ident, Type)>,
    /// With `bind`: the first parameter, which receives the task's request (not an argument).
    pub request: Option<(Ident, Type)>,
    /// What the task gives its caller: `T` of `Result<T, _>`, else the return type.
    pub output: Type,
    /// The function returns a `Result`: its `Err` is the task's failure.
    pub returns_result: bool,
}

/// `#[task(...)]`, with Celery's defaults for the options not given.
pub(crate) struct TaskOptions {
    /// The tasks crate the generated code names: `crate = path`, else `::canter::tasks`.
    pub krate: Path,
    /// The task's registered name; else the function's path.
    pub name: Option<String>,
    pub queue: String,
    pub priority: i64,
    pub max_retries: u32,
    pub retry_backoff: f64,
    pub retry_backoff_max: f64,
    pub time_limit: Option<f64>,
    pub soft_time_limit: Option<f64>,
    pub acks_late: bool,
    pub autoretry: bool,
    pub autoretry_for: Vec<String>,
    pub ignore_result: bool,
    pub rate_limit: Option<RateLimit>,
    pub unique: Option<OnDuplicate>,
    /// `bind`: the function's first parameter is the task's request (Celery's `bind=True`).
    pub bind: bool,
}

/// `rate_limit = "100/m"`: `count` runs per `seconds`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RateLimit {
    pub count: u32,
    pub seconds: f64,
}

/// `unique = "refuse"` or `"fold"`: what enqueuing a task already queued does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnDuplicate {
    Refuse,
    Fold,
}

impl Default for TaskOptions {
    fn default() -> Self {
        TaskOptions {
            krate: syn::parse_quote!(::canter::tasks),
            name: None,
            queue: "celery".into(),
            priority: 0,
            max_retries: 3,
            retry_backoff: 1.0,
            retry_backoff_max: 600.0,
            time_limit: None,
            soft_time_limit: None,
            acks_late: true,
            autoretry: false,
            autoretry_for: Vec::new(),
            ignore_result: false,
            rate_limit: None,
            unique: None,
            bind: false,
        }
    }
}

impl TaskDesc {
    pub(crate) fn parse(attr: proc_macro2::TokenStream, function: ItemFn) -> syn::Result<Self> {
        let mut options = TaskOptions::default();
        let parser = syn::meta::parser(|meta| options.option(meta));
        syn::parse::Parser::parse2(parser, attr)?;
        let mut arguments = Vec::new();
        for input in &function.sig.inputs {
            let FnArg::Typed(typed) = input else {
                return Err(Message::TaskMethod.spanned(input));
            };
            let Pat::Ident(ident) = &*typed.pat else {
                return Err(Message::TaskArgumentPattern.spanned(&typed.pat));
            };
            arguments.push((ident.ident.clone(), (*typed.ty).clone()));
        }
        let request = if options.bind {
            if arguments.is_empty() {
                return Err(Message::TaskBindWithoutRequest.spanned(&function.sig));
            }
            Some(arguments.remove(0))
        } else {
            None
        };
        let (output, returns_result) = output_of(&function.sig.output);
        Ok(TaskDesc {
            function,
            options,
            arguments,
            request,
            output,
            returns_result,
        })
    }
}

impl TaskOptions {
    /// One `key` or `key = value` of `#[task(...)]`.
    fn option(&mut self, meta: ParseNestedMeta) -> syn::Result<()> {
        let key = meta.path.get_ident().map(Ident::to_string);
        match key.as_deref().unwrap_or_default() {
            "name" => self.name = Some(meta.value()?.parse::<LitStr>()?.value()),
            "queue" => self.queue = meta.value()?.parse::<LitStr>()?.value(),
            "priority" => self.priority = meta.value()?.parse::<syn::LitInt>()?.base10_parse()?,
            "max_retries" => {
                self.max_retries = meta.value()?.parse::<syn::LitInt>()?.base10_parse()?
            }
            "retry_backoff" => self.retry_backoff = seconds(&meta)?,
            "retry_backoff_max" => self.retry_backoff_max = seconds(&meta)?,
            "time_limit" => self.time_limit = Some(seconds(&meta)?),
            "soft_time_limit" => self.soft_time_limit = Some(seconds(&meta)?),
            "acks_late" if meta.input.peek(syn::Token![=]) => {
                self.acks_late = meta.value()?.parse::<syn::LitBool>()?.value
            }
            "acks_late" => self.acks_late = true,
            "autoretry" => self.autoretry = true,
            "autoretry_for" => self.autoretry_for.extend(error_kinds(&meta)?),
            "ignore_result" => self.ignore_result = true,
            "bind" => self.bind = true,
            "unique" => self.unique = Some(on_duplicate(&meta.value()?.parse()?)?),
            "rate_limit" => self.rate_limit = Some(rate_limit(&meta.value()?.parse()?)?),
            "crate" => self.krate = absolute(meta.value()?.parse()?),
            _ => return Err(meta.error(Message::TaskOption)),
        }
        Ok(())
    }
}

/// `autoretry_for = ["Timeout", "Broker"]`.
fn error_kinds(meta: &ParseNestedMeta) -> syn::Result<Vec<String>> {
    let list: syn::ExprArray = meta.value()?.parse()?;
    let kind = |element| match element {
        syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(kind),
            ..
        }) => Ok(kind.value()),
        other => Err(Message::AutoretryForNotStrings.spanned(other)),
    };
    list.elems.into_iter().map(kind).collect()
}

fn on_duplicate(choice: &LitStr) -> syn::Result<OnDuplicate> {
    match choice.value().as_str() {
        "refuse" => Ok(OnDuplicate::Refuse),
        "fold" => Ok(OnDuplicate::Fold),
        _ => Err(Message::UniqueChoice.spanned(choice)),
    }
}

/// Celery's rate limit text: `"100/m"` → 100 per 60 seconds; `/s`, `/m`, `/h`.
fn rate_limit(text: &LitStr) -> syn::Result<RateLimit> {
    let value = text.value();
    let parsed = value.split_once('/').and_then(|(count, per)| {
        let seconds = match per.trim() {
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        let count = count.trim().parse::<u32>().ok().filter(|n| *n > 0)?;
        Some(RateLimit { count, seconds })
    });
    parsed.ok_or_else(|| Message::RateLimit.spanned(text))
}

/// Seconds written `30` or `2.5`.
fn seconds(meta: &ParseNestedMeta) -> syn::Result<f64> {
    match meta.value()?.parse::<syn::Lit>()? {
        syn::Lit::Int(n) => n.base10_parse(),
        syn::Lit::Float(f) => f.base10_parse(),
        other => Err(Message::Seconds.spanned(other)),
    }
}

/// `Result<T, _>` → (T, true); `T` → (T, false).
fn output_of(ret: &ReturnType) -> (Type, bool) {
    let ty: Type = match ret {
        ReturnType::Default => syn::parse_quote!(()),
        ReturnType::Type(_, ty) => (**ty).clone(),
    };
    let ok = last_segment(&ty)
        .filter(|last| last.ident == "Result")
        .and_then(first_type_argument);
    match ok {
        Some(ok) => (ok.clone(), true),
        None => (ty, false),
    }
}

#[cfg(test)]
mod tests {
    use quote::{quote, ToTokens};

    use super::*;

    fn parse(attr: proc_macro2::TokenStream, function: ItemFn) -> TaskDesc {
        TaskDesc::parse(attr, function).unwrap_or_else(|err| panic!("{err}"))
    }

    fn text(tokens: impl ToTokens) -> String {
        tokens.to_token_stream().to_string()
    }

    #[test]
    fn without_options_a_task_has_celerys_defaults() {
        let task = parse(
            quote!(),
            syn::parse_quote!(
                async fn ping() {}
            ),
        );
        let o = &task.options;
        assert_eq!(text(&o.krate), ":: canter :: tasks");
        assert_eq!((o.name.as_deref(), o.queue.as_str()), (None, "celery"));
        assert_eq!((o.priority, o.max_retries), (0, 3));
        assert_eq!((o.retry_backoff, o.retry_backoff_max), (1.0, 600.0));
        assert_eq!((o.time_limit, o.soft_time_limit), (None, None));
        assert!(o.acks_late && !o.autoretry && !o.ignore_result);
        assert!(o.autoretry_for.is_empty());
        assert_eq!((o.rate_limit, o.unique), (None, None));
        assert!(task.arguments.is_empty());
        assert_eq!(
            (text(&task.output), task.returns_result),
            ("()".into(), false)
        );
    }

    #[test]
    fn every_option_is_read() {
        let task = parse(
            quote!(
                name = "mail.send",
                queue = "mail",
                priority = 9,
                max_retries = 5,
                retry_backoff = 2,
                retry_backoff_max = 30.5,
                time_limit = 60,
                soft_time_limit = 45.5,
                acks_late = false,
                autoretry,
                autoretry_for = ["Timeout"],
                autoretry_for = ["Broker"],
                ignore_result,
                rate_limit = "100/m",
                unique = "fold",
                crate = canter_tasks
            ),
            syn::parse_quote!(
                async fn send() {}
            ),
        );
        let o = &task.options;
        assert_eq!(text(&o.krate), ":: canter_tasks");
        assert_eq!(
            (o.name.as_deref(), o.queue.as_str()),
            (Some("mail.send"), "mail")
        );
        assert_eq!((o.priority, o.max_retries), (9, 5));
        assert_eq!((o.retry_backoff, o.retry_backoff_max), (2.0, 30.5));
        assert_eq!((o.time_limit, o.soft_time_limit), (Some(60.0), Some(45.5)));
        assert!(!o.acks_late && o.autoretry && o.ignore_result);
        assert_eq!(o.autoretry_for, ["Timeout", "Broker"]);
        let per_minute = RateLimit {
            count: 100,
            seconds: 60.0,
        };
        assert_eq!(
            (o.rate_limit, o.unique),
            (Some(per_minute), Some(OnDuplicate::Fold))
        );
        let o = parse(
            quote!(acks_late, unique = "refuse"),
            syn::parse_quote!(
                fn f() {}
            ),
        )
        .options;
        assert_eq!((o.acks_late, o.unique), (true, Some(OnDuplicate::Refuse)));
    }

    #[test]
    fn rate_limits_are_counts_per_second_minute_or_hour() {
        let read = |text: &str| rate_limit(&LitStr::new(text, proc_macro2::Span::call_site()));
        let per = |count, seconds| RateLimit { count, seconds };
        assert_eq!(read("3/s").unwrap(), per(3, 1.0));
        assert_eq!(read(" 10 / h ").unwrap(), per(10, 3600.0));
        for wrong in ["0/m", "10/d", "10", "ten/m", "-1/s"] {
            assert_eq!(
                read(wrong).unwrap_err().to_string(),
                Message::RateLimit.to_string()
            );
        }
    }

    #[test]
    fn arguments_and_the_returned_type_are_read() {
        let task = parse(
            quote!(),
            syn::parse_quote!(
                fn add(a: i64, b: Vec<i64>) -> Result<i64, String> {
                    Ok(a)
                }
            ),
        );
        let arguments: Vec<_> = (task.arguments.iter())
            .map(|(name, ty)| (name.to_string(), text(ty)))
            .collect();
        assert_eq!(
            arguments,
            [
                ("a".into(), "i64".into()),
                ("b".into(), "Vec < i64 >".into())
            ]
        );
        assert_eq!(
            (text(&task.output), task.returns_result),
            ("i64".into(), true)
        );
        let task = parse(
            quote!(),
            syn::parse_quote!(
                async fn count() -> usize {
                    1
                }
            ),
        );
        assert_eq!(
            (text(&task.output), task.returns_result),
            ("usize".into(), false)
        );
    }
}

#[cfg(test)]
mod message_tests {
    use quote::quote;

    use super::*;
    use crate::errors::keys_named;

    #[test]
    fn the_unknown_option_message_names_every_option() {
        let options = [
            quote!(name = "mail.send"),
            quote!(queue = "mail"),
            quote!(priority = 1),
            quote!(max_retries = 1),
            quote!(retry_backoff = 1),
            quote!(retry_backoff_max = 1),
            quote!(time_limit = 1),
            quote!(soft_time_limit = 1),
            quote!(acks_late),
            quote!(autoretry),
            quote!(autoretry_for = ["Timeout"]),
            quote!(ignore_result),
            quote!(rate_limit = "1/s"),
            quote!(unique = "fold"),
            quote!(bind),
            quote!(crate = canter_tasks),
        ];
        let mut keys = Vec::new();
        for option in options {
            keys.push(option.clone().into_iter().next().unwrap().to_string());
            // A parameter, for `bind` to take as the request.
            let function = syn::parse_quote!(
                async fn send(request: Request) {}
            );
            if let Err(err) = TaskDesc::parse(option.clone(), function) {
                panic!("{option}: {err}");
            }
        }
        assert_eq!(keys_named(Message::TaskOption), keys);
    }
}
