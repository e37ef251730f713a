//! The parser's tests: what a model's description holds, and that each "expected ..." message
//! names every key the parser reads. Every message's text at its span: `tests/ui/`.

mod description {
    use quote::ToTokens;
    use syn::DeriveInput;

    use crate::model::parse::*;

    fn parse(input: DeriveInput) -> ModelDesc {
        ModelDesc::parse(&input).unwrap_or_else(|err| panic!("{err}"))
    }

    fn text(tokens: impl ToTokens) -> String {
        tokens.to_token_stream().to_string()
    }

    #[test]
    fn struct_options_are_read() {
        let model = parse(syn::parse_quote! {
            #[model(app = "library", table = "books", name = "Volume", crate = canter_orm)]
            #[model(validate = rules::title_set, validate = rules::isbn_valid)]
            #[model(check(name = "pages_positive", sql = "pages > 0"))]
            struct Book {
                id: i64,
            }
        });
        assert_eq!(model.ident, "Book");
        assert_eq!(model.name, "Volume");
        let options = &model.options;
        assert_eq!(text(&options.krate), ":: canter_orm");
        assert_eq!(options.app.as_deref(), Some("library"));
        assert_eq!(options.table.as_deref(), Some("books"));
        let validators: Vec<String> = options.validators.iter().map(text).collect();
        assert_eq!(validators, ["rules :: title_set", "rules :: isbn_valid"]);
        let [check] = options.checks.as_slice() else {
            panic!("one check")
        };
        assert_eq!(
            (check.name.as_str(), check.sql.as_str()),
            ("pages_positive", "pages > 0")
        );
    }

    #[test]
    fn without_options_the_model_is_named_after_the_struct_in_canter_orm() {
        let model = parse(syn::parse_quote! {
            struct Book {
                id: i64,
            }
        });
        assert_eq!(model.name, "Book");
        assert_eq!(text(&model.options.krate), ":: canter :: orm");
        assert_eq!(
            (model.options.app.clone(), model.options.table.clone()),
            (None, None)
        );
        assert!(model.options.validators.is_empty() && model.options.checks.is_empty());
        // A path that starts with `::` is kept as written.
        let model = parse(syn::parse_quote! {
            #[model(crate = ::my::orm)]
            struct Book {
                id: i64,
            }
        });
        assert_eq!(text(&model.options.krate), ":: my :: orm");
    }

    #[test]
    fn field_options_are_read() {
        let model = parse(syn::parse_quote! {
            struct Book {
                id: i64,
                #[field(max_length = 200, unique, db_index, db_column = "book_title")]
                #[field(choices = ["draft", "published"], default = "draft")]
                title: String,
                pages: i32,
            }
        });
        let [id, title, pages] = model.fields.as_slice() else {
            panic!("three columns")
        };
        assert_eq!(
            (id.ident.to_string(), id.column.as_str()),
            ("id".into(), "id")
        );
        assert_eq!(title.column, "book_title");
        assert_eq!(text(&title.ty), "String");
        assert!(title.unique && title.db_index && !title.primary_key);
        assert_eq!(title.max_length, Some(200));
        assert_eq!(title.choices, ["draft", "published"]);
        assert_eq!(text(title.default.as_ref().unwrap()), "\"draft\"");
        assert!(title.relation.is_none() && title.on_delete.is_none());
        assert!(!pages.unique && !pages.db_index && pages.max_length.is_none());
        assert!(pages.choices.is_empty() && pages.default.is_none());
    }

    #[test]
    fn relations_many_to_many_and_state_are_told_apart() {
        let model = parse(syn::parse_quote! {
            struct Book {
                id: i64,
                #[field(on_delete = "set_null", related_name = "books")]
                author: Option<ForeignKey<Author>>,
                cover: canter::orm::OneToOne<Image>,
                #[field(through = "Shelving")]
                shelves: ManyToMany<Shelf>,
                tags: ManyToMany<Tag>,
                state: ModelState,
            }
        });
        let columns: Vec<&str> = model.fields.iter().map(|f| f.column.as_str()).collect();
        assert_eq!(columns, ["id", "author_id", "cover_id"]);
        let author = &model.fields[1];
        let relation = author.relation.as_ref().unwrap();
        assert!(!relation.one_to_one);
        assert_eq!(text(&relation.target), "Author");
        assert_eq!(author.on_delete, Some(OnDelete::SetNull));
        assert_eq!(author.related_name.as_deref(), Some("books"));
        let cover = model.fields[2].relation.as_ref().unwrap();
        assert!(cover.one_to_one);
        assert_eq!(text(&cover.target), "Image");
        assert_eq!(model.fields[2].on_delete, None);
        let [shelves, tags] = model.many_to_many.as_slice() else {
            panic!("two many-to-many fields")
        };
        assert_eq!(
            (shelves.ident.to_string(), text(&shelves.target)),
            ("shelves".into(), "Shelf".into())
        );
        assert_eq!(
            shelves.through.as_ref().map(text).as_deref(),
            Some("Shelving")
        );
        assert_eq!(
            (tags.ident.to_string(), tags.through.is_none()),
            ("tags".into(), true)
        );
        assert_eq!(model.state_field.unwrap(), "state");
    }

    #[test]
    fn the_primary_key_is_the_marked_field_else_an_auto_incrementing_id() {
        let model = parse(syn::parse_quote! {
            struct Book {
                title: String,
                id: i64,
            }
        });
        assert_eq!((model.pk.index, model.pk.auto), (1, true));
        assert_eq!(model.pk_field().ident, "id");
        let model = parse(syn::parse_quote! {
            struct Book {
                id: i64,
                #[field(primary_key)]
                isbn: String,
            }
        });
        assert_eq!((model.pk.index, model.pk.auto), (1, false));
        assert!(model.fields[1].primary_key && !model.fields[0].primary_key);
    }

    #[test]
    fn every_on_delete_name_is_read() {
        let names = [
            "cascade",
            "protect",
            "restrict",
            "set_null",
            "set_default",
            "do_nothing",
        ];
        let read: Vec<_> = names.iter().map(|name| OnDelete::from_name(name)).collect();
        use OnDelete::*;
        let expected = [Cascade, Protect, Restrict, SetNull, SetDefault, DoNothing];
        assert_eq!(read, expected.map(Some));
        assert_eq!(OnDelete::from_name("Cascade"), None);
    }
}

mod messages {
    use proc_macro2::TokenStream;
    use quote::quote;
    use syn::DeriveInput;

    use crate::errors::{keys_named, Message};
    use crate::model::parse::*;

    /// Each option parses, and the message for an unknown key names it (it once missed
    /// `check`, `default`, `on_delete` and `related_name`), and no key the parser lacks.
    fn assert_named(
        message: Message,
        options: &[TokenStream],
        input: impl Fn(&TokenStream) -> DeriveInput,
    ) {
        for option in options {
            if let Err(err) = ModelDesc::parse(&input(option)) {
                panic!("{option}: {err}");
            }
        }
        let key = |option: &TokenStream| option.clone().into_iter().next().unwrap().to_string();
        let mut keys: Vec<String> = options.iter().map(key).collect();
        let mut named = keys_named(message);
        keys.sort();
        named.sort();
        assert_eq!(named, keys, "{message}");
    }

    #[test]
    fn the_unknown_struct_option_message_names_every_struct_option() {
        let options = [
            quote!(table = "books"),
            quote!(app = "library"),
            quote!(name = "Volume"),
            quote!(crate = canter_orm),
            quote!(validate = rules::check),
            quote!(check(name = "pages_positive", sql = "pages > 0")),
            quote!(index(fields = ["id"], name = "book_id_idx")),
            quote!(unique(fields = ["id"], condition = "id > 0")),
        ];
        assert_named(Message::ModelOption, &options, |option| {
            syn::parse_quote!(
                #[model(#option)]
                struct Book {
                    id: i64,
                }
            )
        });
    }

    #[test]
    fn the_unknown_field_option_message_names_every_field_option() {
        let options = [
            quote!(primary_key),
            quote!(unique),
            quote!(db_index),
            quote!(max_length = 10),
            quote!(default = 1),
            quote!(db_column = "author"),
            quote!(choices = ["a", "b"]),
            quote!(blank),
            quote!(on_delete = "protect"),
            quote!(related_name = "books"),
        ];
        assert_named(Message::FieldOption, &options, |option| {
            // A foreign key is no primary key type: that option goes on an integer.
            let ty: syn::Type = match option.to_string().as_str() {
                "primary_key" => syn::parse_quote!(i64),
                _ => syn::parse_quote!(ForeignKey<Author>),
            };
            syn::parse_quote!(
                struct Book {
                    id: i64,
                    #[field(#option)]
                    author: #ty,
                }
            )
        });
    }

    #[test]
    fn the_unknown_on_delete_message_names_every_behaviour() {
        let text = Message::UnknownOnDelete.to_string();
        let names = text
            .strip_prefix("on_delete must be one of ")
            .unwrap()
            .split(", ");
        let read: Vec<_> = names.map(OnDelete::from_name).collect();
        assert_eq!(read.len(), 6);
        assert!(read.iter().all(Option::is_some), "{text}");
    }
}
