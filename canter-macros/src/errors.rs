//! Every error message the macros write, in one table: the parsers name a [`Message`], its text
//! is here, and `tests/ui/` has a compile-fail test for each.

use std::fmt;

use quote::ToTokens;

/// One error message of `#[view]`, `#[derive(Model)]` or `#[task]`; `Display` is its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Message {
    /// An unknown key in `#[model(...)]`.
    ModelOption,
    /// An unknown key in `#[model(check(...))]`.
    CheckOption,
    /// `#[model(check(...))]` without its name or its SQL.
    CheckIncomplete,
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
}

impl Message {
    /// The error at these tokens.
    pub(crate) fn spanned(self, tokens: impl ToTokens) -> syn::Error {
        syn::Error::new_spanned(tokens, self)
    }
}

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Message::*;
        let text = match self {
            ModelOption => "expected table, app, name, crate or validate",
            CheckOption => "check takes name = \"...\" and sql = \"...\"",
            CheckIncomplete => "check needs name = \"...\" and sql = \"...\"",
            ModelNotStruct => "#[derive(Model)] is for structs",
            ModelFieldsNotNamed => "#[derive(Model)] needs named fields",
            SecondModelState => "a model has at most one ModelState field",
            ManyToManyOption => "a ManyToMany field takes `through = \"Model\"`",
            FieldOption => {
                "expected primary_key, unique, db_index, max_length, db_column or choices"
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
        };
        f.write_str(text)
    }
}
