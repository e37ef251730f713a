//! Every error message the macros write, in one table: the parsers name a [`Message`], its text
//! is here, and `tests/ui/` has a compile-fail test for each.

use std::fmt;

use quote::ToTokens;

/// One error message of `#[view]`, `#[derive(Model)]` or `#[task]`; `Display` is its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Message {
    /// `#[view(...)]` with anything but `crate = path`.
    ViewOption,
    /// A handler (`get`, `post`, ...) of a view that is not `async`.
    ViewHandlerNotAsync(&'static str),
    /// A view's `impl` without a handler.
    ViewWithoutHandler,

    /// An unknown key in `#[model(...)]`.
    ModelOption,
    /// An unknown key in `#[model(check(...))]`.
    CheckOption,
    /// `#[model(check(...))]` without its name or its SQL.
    CheckIncomplete,
    /// An unknown key in `#[model(index(...))]` or `#[model(unique(...))]`.
    IndexOption,
    /// `index(...)` or `unique(...)` without its fields.
    IndexWithoutFields,
    /// `index(fields = [...])` naming no column field of the model.
    IndexUnknownField,
    /// `#[derive(Model)]` on an enum or a union.
    ModelNotStruct,
    /// `#[derive(Model)]` on a tuple or unit struct.
    ModelFieldsNotNamed,
    /// A second `ModelState` field.
    SecondModelState,
    /// An unknown key in `#[field(...)]` of a `ManyToMany` field.
    ManyToManyOption,
    /// An unknown key in `#[field(...)]`.
    FieldOption,
    /// `on_delete = "..."` naming no behaviour.
    UnknownOnDelete,
    /// `on_delete` on a field that is not a relation.
    OnDeleteWithoutRelation,
    /// `related_name` on a field that is not a relation.
    RelatedNameWithoutRelation,
    /// Neither an `id` field nor a `primary_key` one.
    NoPrimaryKey,
    /// More than one field marked `primary_key`.
    SecondPrimaryKey,
    /// A primary key of a type the ORM cannot key rows by.
    PrimaryKeyType,

    /// An unknown key in `#[task(...)]`.
    TaskOption,
    /// `autoretry_for = [...]` with something else than string literals.
    AutoretryForNotStrings,
    /// `unique = "..."` naming no behaviour.
    UniqueChoice,
    /// `rate_limit = "..."` that is not a count per s, m or h.
    RateLimit,
    /// A duration that is no number.
    Seconds,
    /// A task taking `self`.
    TaskMethod,
    /// A task argument that is a pattern, not a name.
    TaskArgumentPattern,
    /// `#[task(bind)]` on a function without parameters (the first receives the request).
    TaskBindWithoutRequest,

    /// `embed_dir!` given an absolute path, an empty one, or one with `..`.
    EmbedPath,
    /// `embed_dir!` given a path that is not a folder of the crate.
    EmbedNotAFolder,

    /// An unknown key in a form's `#[form(...)]`.
    FormOption,
    /// An unknown key in a form field's `#[form(...)]`.
    FormFieldOption,
    /// `#[derive(Form)]` on an enum or a union.
    FormNotStruct,
    /// `#[derive(Form)]` on a tuple or unit struct.
    FormFieldsNotNamed,
    /// `#[derive(Form)]` on a generic struct.
    FormGenerics,
    /// `widget = "..."` naming no widget.
    FormWidget,
    /// `choices` that are not strings or `(value, label)` pairs of strings.
    FormChoices,
    /// `min` / `max` that is no number.
    FormNumber,
}

impl Message {
    /// The error at these tokens.
    pub(crate) fn spanned(self, tokens: impl ToTokens) -> syn::Error {
        syn::Error::new_spanned(tokens, self)
    }
}

impl fmt::Display for Message {
    // Long because it is the table of every message's text, one arm each.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Message::*;
        let text = match self {
            ViewOption => "expected `crate = path`",
            ViewHandlerNotAsync(name) => {
                return write!(
                    f,
                    "`{name}` of a class-based view must be an `async fn(&self, req: Request)`"
                )
            }
            ViewWithoutHandler => {
                "a class-based view needs at least one of get, post, put, patch, delete or head"
            }

            ModelOption => "expected table, app, name, crate, validate, check, index or unique",
            IndexOption => {
                "index takes fields = [\"...\"] and name = \"...\"; unique also takes \
                 condition = \"...\""
            }
            IndexWithoutFields => "index and unique need fields = [\"field\", ...]",
            IndexUnknownField => "no field of this model is named so (a ManyToMany is no column)",
            CheckOption => "check takes name = \"...\" and sql = \"...\"",
            CheckIncomplete => "check needs name = \"...\" and sql = \"...\"",
            ModelNotStruct => "#[derive(Model)] is for structs",
            ModelFieldsNotNamed => "#[derive(Model)] needs named fields",
            SecondModelState => "a model has at most one ModelState field",
            ManyToManyOption => "a ManyToMany field takes `through = \"Model\"`",
            FieldOption => {
                "expected primary_key, unique, db_index, max_length, default, db_column, choices, \
                 blank, on_delete or related_name"
            }
            UnknownOnDelete => {
                "on_delete must be one of cascade, protect, restrict, set_null, set_default, \
                 do_nothing"
            }
            OnDeleteWithoutRelation => "on_delete is for ForeignKey and OneToOne fields",
            RelatedNameWithoutRelation => "related_name is for ForeignKey and OneToOne fields",
            NoPrimaryKey => {
                "a model needs a primary key: add `id: i64` (auto-incrementing) or mark a field \
                 #[field(primary_key)]"
            }
            SecondPrimaryKey => "a model has one primary key",
            PrimaryKeyType => {
                "a primary key is i64, i32, String or Uuid; an `id` the database numbers (no \
                 #[field(primary_key)]) is i64 or i32"
            }

            TaskOption => {
                "expected name, queue, priority, max_retries, retry_backoff, retry_backoff_max, \
                 time_limit, soft_time_limit, acks_late, autoretry, autoretry_for, ignore_result, \
                 rate_limit, unique, bind or crate"
            }
            AutoretryForNotStrings => {
                "expected error kinds as strings: autoretry_for = [\"Timeout\"]"
            }
            UniqueChoice => "expected unique = \"refuse\" or \"fold\"",
            RateLimit => "expected a rate like \"100/m\" (per s, m or h)",
            Seconds => "expected seconds, as 30 or 2.5",
            TaskMethod => "a task is a free function, not a method",
            TaskArgumentPattern => "task arguments need plain names",
            TaskBindWithoutRequest => {
                "a bound task (`bind`) takes its request as its first parameter: \
                 `async fn send(request: Request, to: String)`"
            }

            EmbedPath => {
                "embed_dir! takes a folder of this crate, relative to its Cargo.toml, without `..`: \
                 embed_dir!(\"templates\")"
            }
            EmbedNotAFolder => "embed_dir!: no such folder next to this crate's Cargo.toml",

            FormOption => "expected crate, validate or model",
            FormFieldOption => {
                "expected label, widget, max_length, min_length, min, max, choices, email or \
                 help_text"
            }
            FormNotStruct => "#[derive(Form)] is for structs",
            FormFieldsNotNamed => "#[derive(Form)] needs named fields",
            FormGenerics => "a form cannot be generic",
            FormWidget => {
                "widget must be one of text, email, password, number, checkbox, textarea, select, \
                 date, file, hidden"
            }
            FormChoices => "expected choices = [\"a\", \"b\"] or [(\"a\", \"Label A\"), ...]",
            FormNumber => "expected a number, as 0, -1 or 2.5",
        };
        f.write_str(text)
    }
}

/// The keys an "expected a, b or c" message names.
#[cfg(test)]
pub(crate) fn keys_named(message: Message) -> Vec<String> {
    let text = message.to_string();
    let list = text
        .strip_prefix("expected ")
        .expect("an \"expected ...\" message");
    list.replace(" or ", ", ")
        .split(", ")
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::Message::{self, *};

    /// Every message, with the handler name its UI test uses.
    const ALL: [Message; 38] = [
        ViewOption,
        ViewHandlerNotAsync("post"),
        ViewWithoutHandler,
        ModelOption,
        CheckOption,
        CheckIncomplete,
        IndexOption,
        IndexWithoutFields,
        IndexUnknownField,
        ModelNotStruct,
        ModelFieldsNotNamed,
        SecondModelState,
        ManyToManyOption,
        FieldOption,
        UnknownOnDelete,
        OnDeleteWithoutRelation,
        RelatedNameWithoutRelation,
        NoPrimaryKey,
        SecondPrimaryKey,
        PrimaryKeyType,
        TaskOption,
        AutoretryForNotStrings,
        UniqueChoice,
        RateLimit,
        Seconds,
        TaskMethod,
        TaskArgumentPattern,
        TaskBindWithoutRequest,
        EmbedPath,
        EmbedNotAFolder,
        FormOption,
        FormFieldOption,
        FormNotStruct,
        FormFieldsNotNamed,
        FormGenerics,
        FormWidget,
        FormChoices,
        FormNumber,
    ];

    #[test]
    fn every_message_has_a_ui_test() {
        let ui = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/ui");
        let mut snapshots = String::new();
        for entry in std::fs::read_dir(ui).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|ext| ext == "stderr") {
                snapshots += &std::fs::read_to_string(path).unwrap();
            }
        }
        for message in ALL {
            // A new message fails to compile here until it joins ALL (and gets its UI test).
            match message {
                ViewOption | ViewHandlerNotAsync(_) | ViewWithoutHandler => {}
                ModelOption | CheckOption | CheckIncomplete | ModelNotStruct => {}
                IndexOption | IndexWithoutFields | IndexUnknownField => {}
                ModelFieldsNotNamed | SecondModelState | ManyToManyOption | FieldOption => {}
                UnknownOnDelete | OnDeleteWithoutRelation | RelatedNameWithoutRelation => {}
                NoPrimaryKey | SecondPrimaryKey | PrimaryKeyType => {}
                TaskOption | AutoretryForNotStrings | UniqueChoice | RateLimit | Seconds => {}
                TaskMethod | TaskArgumentPattern | TaskBindWithoutRequest => {}
                EmbedPath | EmbedNotAFolder => {}
                FormOption | FormFieldOption | FormNotStruct | FormFieldsNotNamed => {}
                FormGenerics | FormWidget | FormChoices | FormNumber => {}
            }
            let line = format!("error: {message}\n");
            assert!(
                snapshots.contains(&line),
                "no tests/ui/*.stderr shows {line}"
            );
        }
    }
}
