//! `#[derive(Model)]`'s input read into a [`ModelDesc`]. Every attribute is checked here, so the
//! generators read plain data and cannot fail.

use syn::meta::ParseNestedMeta;
use syn::{Attribute, Data, DeriveInput, Field, Fields, Ident, LitStr, Path, Type};

use crate::errors::Message;
use crate::types::{absolute, first_type_argument, last_segment};

/// A model: its options, its columns, its many-to-many fields and its primary key.
pub(crate) struct ModelDesc {
    /// The struct's name.
    pub ident: Ident,
    /// The model's name: `#[model(name = "...")]`, else the struct's.
    pub name: String,
    pub options: ModelOptions,
    /// The fields that are columns, in the struct's order: a field's index is its column's.
    pub fields: Vec<FieldDesc>,
    pub many_to_many: Vec<ManyToManyDesc>,
    /// The `ModelState` field, which is no column.
    pub state_field: Option<Ident>,
    pub pk: PrimaryKey,
}

/// `#[model(...)]` on the struct.
pub(crate) struct ModelOptions {
    /// The ORM crate the generated code names: `crate = path`, else `::canter::orm`.
    pub krate: Path,
    pub table: Option<String>,
    pub app: Option<String>,
    /// `name = "..."`: the model's name when it is not the struct's.
    pub name: Option<String>,
    /// `validate = path::to::fn`, in order.
    pub validators: Vec<Path>,
    /// `check(name = "...", sql = "...")`, in order.
    pub checks: Vec<CheckDesc>,
    /// `index(...)` and `unique(...)`, in order.
    pub indexes: Vec<IndexDesc>,
}

/// `index(fields = [...], name = "...")` or `unique(fields = [...], name = "...",
/// condition = "...")`.
pub(crate) struct IndexDesc {
    pub fields: Vec<LitStr>,
    pub name: Option<String>,
    pub unique: bool,
    pub condition: Option<String>,
}

/// A check constraint.
pub(crate) struct CheckDesc {
    pub name: String,
    pub sql: String,
}

/// A field that is a column, with its `#[field(...)]` options.
pub(crate) struct FieldDesc {
    pub ident: Ident,
    pub ty: Type,
    pub column: String,
    /// Marked `primary_key` (an `id` field is the primary key without it).
    pub primary_key: bool,
    pub unique: bool,
    pub db_index: bool,
    pub max_length: Option<u32>,
    pub choices: Vec<String>,
    /// `blank`: a form may leave it empty (Django's `blank=True`).
    pub blank: bool,
    pub default: Option<syn::Expr>,
    pub on_delete: Option<OnDelete>,
    pub related_name: Option<String>,
    /// For a `ForeignKey<T>` or `OneToOne<T>` (possibly in an `Option`).
    pub relation: Option<Relation>,
}

/// Where a `ForeignKey` or `OneToOne` field points.
pub(crate) struct Relation {
    pub one_to_one: bool,
    /// The `T` of `ForeignKey<T>`.
    pub target: Type,
}

/// A `ManyToMany<T>` field: no column, a join table.
pub(crate) struct ManyToManyDesc {
    pub ident: Ident,
    /// The `T` of `ManyToMany<T>`.
    pub target: Type,
    /// `through = "Model"`: the join table is that model's.
    pub through: Option<Type>,
}

/// Which field is the primary key.
pub(crate) struct PrimaryKey {
    /// Its index in [`ModelDesc::fields`].
    pub index: usize,
    /// An `id` field not marked `primary_key`: the database numbers the rows.
    pub auto: bool,
}

/// Django's `on_delete` behaviours; each variant is named as `canter::orm::relations::OnDelete`'s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnDelete {
    Cascade,
    Protect,
    Restrict,
    SetNull,
    SetDefault,
    DoNothing,
}

impl OnDelete {
    /// `"set_null"` → `SetNull`.
    pub(super) fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "cascade" => OnDelete::Cascade,
            "protect" => OnDelete::Protect,
            "restrict" => OnDelete::Restrict,
            "set_null" => OnDelete::SetNull,
            "set_default" => OnDelete::SetDefault,
            "do_nothing" => OnDelete::DoNothing,
            _ => return None,
        })
    }
}

impl ModelDesc {
    pub(crate) fn parse(input: &DeriveInput) -> syn::Result<Self> {
        let options = ModelOptions::parse(&input.attrs)?;
        let (mut fields, mut many_to_many, mut state_field) = (Vec::new(), Vec::new(), None);
        for field in named_fields(input)? {
            let ident = field.ident.clone().expect("a named field has a name");
            if is_model_state(&field.ty) {
                if state_field.is_some() {
                    return Err(Message::SecondModelState.spanned(&field.ty));
                }
                state_field = Some(ident);
            } else if let Some(target) = many_to_many_target(&field.ty) {
                many_to_many.push(ManyToManyDesc::parse(field, ident, target)?);
            } else {
                fields.push(FieldDesc::parse(field, ident)?);
            }
        }
        for field in &fields {
            field.check_relation_options()?;
        }
        for index in &options.indexes {
            index.check_fields(&fields)?;
        }
        let pk = PrimaryKey::find(&input.ident, &fields)?;
        Ok(ModelDesc {
            ident: input.ident.clone(),
            name: (options.name.clone()).unwrap_or_else(|| input.ident.to_string()),
            options,
            fields,
            many_to_many,
            state_field,
            pk,
        })
    }

    /// The primary key's field.
    pub(crate) fn pk_field(&self) -> &FieldDesc {
        &self.fields[self.pk.index]
    }
}

/// The struct's named fields, or the error for an enum, a union or a tuple struct.
fn named_fields(input: &DeriveInput) -> syn::Result<impl Iterator<Item = &Field>> {
    let Data::Struct(data) = &input.data else {
        return Err(Message::ModelNotStruct.spanned(input));
    };
    let Fields::Named(named) = &data.fields else {
        return Err(Message::ModelFieldsNotNamed.spanned(input));
    };
    Ok(named.named.iter())
}

impl ModelOptions {
    fn parse(attrs: &[Attribute]) -> syn::Result<Self> {
        let mut options = ModelOptions {
            krate: syn::parse_quote!(::canter::orm),
            table: None,
            app: None,
            name: None,
            validators: Vec::new(),
            checks: Vec::new(),
            indexes: Vec::new(),
        };
        for attr in attrs.iter().filter(|a| a.path().is_ident("model")) {
            attr.parse_nested_meta(|meta| options.option(meta))?;
        }
        Ok(options)
    }

    /// One `key = value` of `#[model(...)]`.
    fn option(&mut self, meta: ParseNestedMeta) -> syn::Result<()> {
        if meta.path.is_ident("table") {
            self.table = Some(string_value(&meta)?);
        } else if meta.path.is_ident("app") {
            self.app = Some(string_value(&meta)?);
        } else if meta.path.is_ident("crate") {
            self.krate = absolute(meta.value()?.parse()?);
        } else if meta.path.is_ident("check") {
            self.checks.push(CheckDesc::parse(&meta)?);
        } else if meta.path.is_ident("name") {
            self.name = Some(string_value(&meta)?);
        } else if meta.path.is_ident("validate") {
            self.validators.push(meta.value()?.parse()?);
        } else if meta.path.is_ident("index") || meta.path.is_ident("unique") {
            self.indexes.push(IndexDesc::parse(&meta)?);
        } else {
            return Err(meta.error(Message::ModelOption));
        }
        Ok(())
    }
}

impl CheckDesc {
    /// `check(name = "...", sql = "...")`.
    fn parse(meta: &ParseNestedMeta) -> syn::Result<Self> {
        let (mut name, mut sql) = (None, None);
        meta.parse_nested_meta(|inner| {
            if inner.path.is_ident("name") {
                name = Some(string_value(&inner)?);
            } else if inner.path.is_ident("sql") {
                sql = Some(string_value(&inner)?);
            } else {
                return Err(inner.error(Message::CheckOption));
            }
            Ok(())
        })?;
        match (name, sql) {
            (Some(name), Some(sql)) => Ok(CheckDesc { name, sql }),
            _ => Err(meta.error(Message::CheckIncomplete)),
        }
    }
}

impl IndexDesc {
    /// `index(...)` or `unique(...)`: `fields` is required, `condition` is for `unique`.
    fn parse(meta: &ParseNestedMeta) -> syn::Result<Self> {
        let unique = meta.path.is_ident("unique");
        let mut index = IndexDesc {
            fields: Vec::new(),
            name: None,
            unique,
            condition: None,
        };
        meta.parse_nested_meta(|inner| {
            if inner.path.is_ident("fields") {
                let value = inner.value()?;
                let content;
                syn::bracketed!(content in value);
                let names =
                    syn::punctuated::Punctuated::<LitStr, syn::Token![,]>::parse_terminated(
                        &content,
                    )?;
                index.fields = names.into_iter().collect();
            } else if inner.path.is_ident("name") {
                index.name = Some(string_value(&inner)?);
            } else if unique && inner.path.is_ident("condition") {
                index.condition = Some(string_value(&inner)?);
            } else {
                return Err(inner.error(Message::IndexOption));
            }
            Ok(())
        })?;
        if index.fields.is_empty() {
            return Err(meta.error(Message::IndexWithoutFields));
        }
        Ok(index)
    }

    /// Each name in `fields` is a column field of the model.
    fn check_fields(&self, fields: &[FieldDesc]) -> syn::Result<()> {
        match (self.fields.iter()).find(|name| !fields.iter().any(|f| f.ident == name.value())) {
            Some(unknown) => Err(Message::IndexUnknownField.spanned(unknown)),
            None => Ok(()),
        }
    }
}

impl FieldDesc {
    fn parse(field: &Field, ident: Ident) -> syn::Result<Self> {
        let relation = Relation::of(&field.ty);
        // Django's column for a foreign key `author` is `author_id`.
        let column = match relation {
            Some(_) => format!("{ident}_id"),
            None => ident.to_string(),
        };
        let mut desc = FieldDesc {
            ident,
            ty: field.ty.clone(),
            column,
            primary_key: false,
            unique: false,
            db_index: false,
            max_length: None,
            choices: Vec::new(),
            blank: false,
            default: None,
            on_delete: None,
            related_name: None,
            relation,
        };
        for attr in field_attributes(&field.attrs) {
            attr.parse_nested_meta(|meta| desc.option(meta))?;
        }
        Ok(desc)
    }

    /// One `key` or `key = value` of `#[field(...)]`.
    fn option(&mut self, meta: ParseNestedMeta) -> syn::Result<()> {
        if meta.path.is_ident("primary_key") {
            self.primary_key = true;
        } else if meta.path.is_ident("unique") {
            self.unique = true;
        } else if meta.path.is_ident("db_index") {
            self.db_index = true;
        } else if meta.path.is_ident("blank") {
            self.blank = true;
        } else if meta.path.is_ident("max_length") {
            self.max_length = Some(meta.value()?.parse::<syn::LitInt>()?.base10_parse()?);
        } else if meta.path.is_ident("on_delete") {
            let name: LitStr = meta.value()?.parse()?;
            let on_delete = OnDelete::from_name(&name.value());
            self.on_delete =
                Some(on_delete.ok_or_else(|| Message::UnknownOnDelete.spanned(&name))?);
        } else if meta.path.is_ident("related_name") {
            self.related_name = Some(string_value(&meta)?);
        } else if meta.path.is_ident("default") {
            self.default = Some(meta.value()?.parse()?);
        } else if meta.path.is_ident("db_column") {
            self.column = string_value(&meta)?;
        } else if meta.path.is_ident("choices") {
            let value = meta.value()?;
            let content;
            syn::bracketed!(content in value);
            let list = content.parse_terminated(|p| p.parse::<LitStr>(), syn::Token![,])?;
            self.choices = list.iter().map(LitStr::value).collect();
        } else {
            return Err(meta.error(Message::FieldOption));
        }
        Ok(())
    }

    /// `on_delete` and `related_name` only on relations.
    fn check_relation_options(&self) -> syn::Result<()> {
        if self.relation.is_some() {
            return Ok(());
        }
        if self.on_delete.is_some() {
            return Err(Message::OnDeleteWithoutRelation.spanned(&self.ident));
        }
        if self.related_name.is_some() {
            return Err(Message::RelatedNameWithoutRelation.spanned(&self.ident));
        }
        Ok(())
    }
}

impl Relation {
    /// `ForeignKey<T>`, `OneToOne<T>`, or either inside `Option<...>`.
    fn of(ty: &Type) -> Option<Self> {
        let segment = last_segment(ty)?;
        let argument = first_type_argument(segment);
        let one_to_one = match segment.ident.to_string().as_str() {
            "ForeignKey" => false,
            "OneToOne" => true,
            "Option" => return Relation::of(argument?),
            _ => return None,
        };
        Some(Relation {
            one_to_one,
            target: argument?.clone(),
        })
    }
}

impl ManyToManyDesc {
    fn parse(field: &Field, ident: Ident, target: Type) -> syn::Result<Self> {
        let mut through = None;
        for attr in field_attributes(&field.attrs) {
            attr.parse_nested_meta(|meta| {
                if !meta.path.is_ident("through") {
                    return Err(meta.error(Message::ManyToManyOption));
                }
                through = Some(syn::parse_str(&string_value(&meta)?)?);
                Ok(())
            })?;
        }
        Ok(ManyToManyDesc {
            ident,
            target,
            through,
        })
    }
}

impl PrimaryKey {
    /// The field marked `primary_key`, else `id` (auto-incrementing).
    fn find(model: &Ident, fields: &[FieldDesc]) -> syn::Result<Self> {
        let mut marked = (fields.iter().enumerate()).filter(|(_, field)| field.primary_key);
        let key = match (marked.next(), marked.next()) {
            (Some((index, _)), None) => PrimaryKey { index, auto: false },
            (Some(_), Some((_, second))) => {
                return Err(Message::SecondPrimaryKey.spanned(&second.ident))
            }
            (None, _) => match fields.iter().position(|field| field.ident == "id") {
                Some(index) => PrimaryKey { index, auto: true },
                None => return Err(Message::NoPrimaryKey.spanned(model)),
            },
        };
        let ty = &fields[key.index].ty;
        let supported: &[&str] = if key.auto {
            &["i64", "i32"]
        } else {
            &["i64", "i32", "String", "Uuid"]
        };
        // Read from the type as written (a type alias is refused too): the error then points at
        // the field instead of at a trait bound in generated code.
        match last_segment(ty) {
            Some(last)
                if last.arguments.is_empty() && supported.iter().any(|s| last.ident == s) =>
            {
                Ok(key)
            }
            _ => Err(Message::PrimaryKeyType.spanned(ty)),
        }
    }
}

fn field_attributes(attrs: &[Attribute]) -> impl Iterator<Item = &Attribute> {
    attrs.iter().filter(|a| a.path().is_ident("field"))
}

fn string_value(meta: &ParseNestedMeta) -> syn::Result<String> {
    Ok(meta.value()?.parse::<LitStr>()?.value())
}

/// `ModelState`: the instance's state, no column.
fn is_model_state(ty: &Type) -> bool {
    last_segment(ty).is_some_and(|last| last.ident == "ModelState" && last.arguments.is_empty())
}

/// `T` of `ManyToMany<T>`.
fn many_to_many_target(ty: &Type) -> Option<Type> {
    let last = last_segment(ty).filter(|last| last.ident == "ManyToMany")?;
    first_type_argument(last).cloned()
}
