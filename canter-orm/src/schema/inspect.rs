//! `inspectdb` (Django's): canter models written from an existing database's tables, read
//! through the backend's introspection. The output is a starting point to read over, as
//! Django's is: foreign keys get `on_delete = "do_nothing"`, a table without a single-column
//! primary key gets a comment saying what to add, an unknown column type becomes a `String`
//! with a comment naming it. Unique constraints and indexes come back as `unique` / `db_index`
//! on a field or `#[model(unique(..))]` / `#[model(index(..))]` over several (a partial one as
//! a comment: its condition is not read back); a many-to-many join table is a model with its
//! two foreign keys and their unique pair, as Django writes it, with a comment saying so.

use std::fmt::Write as _;
use std::sync::Arc;

use canter_kernel::management::{CommandContext, CommandError, ManagementCommand};
use clap::{Arg, ArgMatches};
use futures_util::future::BoxFuture;
use sea_query::Values;

use crate::backends::Database;
use crate::db::{database, DEFAULT_DB_ALIAS};
use crate::error::OrmError;

/// One column as the database describes it.
struct Column {
    name: String,
    /// The database's type name, lower case (`bigint`, `character varying`, `varchar(40)`).
    db_type: String,
    nullable: bool,
    primary_key: bool,
    max_length: Option<u32>,
    /// The table it points at, for a foreign key.
    references: Option<String>,
    /// A unique constraint (or unique index) on this column alone.
    unique: bool,
    /// An index on this column alone (not a foreign key's own).
    db_index: bool,
}

/// An index or unique constraint as the database describes it.
struct Index {
    name: String,
    unique: bool,
    /// With a condition (not read back).
    partial: bool,
    columns: Vec<String>,
}

/// The models of `tables` (every table but the ORM's own when empty) of database `alias`, as
/// Rust source, in app `app`.
pub async fn inspect_tables(alias: &str, tables: &[String], app: &str) -> Result<String, OrmError> {
    let db = database(alias)?;
    let names = if tables.is_empty() {
        let rows = db
            .fetch_all(db.backend().table_names_sql(), Values(Vec::new()))
            .await?;
        let mut names = Vec::new();
        for row in rows {
            let name: String = row.get(0)?;
            // The migration recorder's tables are the ORM's, no model of the user's.
            if !name.starts_with("canter_migration") {
                names.push(name);
            }
        }
        names
    } else {
        tables.to_vec()
    };
    let mut out = String::from(
        "// Written by `inspectdb`: read it over (keys, lengths, on_delete) before using it.\n\
         use canter::orm::{ForeignKey, Model};\n",
    );
    for table in &names {
        let mut columns = read_columns(&db, table).await?;
        if columns.is_empty() {
            return Err(OrmError::InvalidLookup(format!(
                "no table {table:?} in database {alias:?}"
            )));
        }
        let indexes = read_indexes(&db, table).await?;
        let model_options = index_options(&mut columns, &indexes);
        out.push('\n');
        out.push_str(&model_source(table, &columns, &model_options, app));
    }
    Ok(out)
}

async fn read_columns(db: &Arc<Database>, table: &str) -> Result<Vec<Column>, OrmError> {
    let bound = || Values(vec![sea_query::Value::String(Some(table.to_owned()))]);
    let mut columns = Vec::new();
    // SQLite (the embedded database)'s integers are 64-bit whatever they are declared as; its
    // UUIDs are `char(32)` (Django's, and the ORM's).
    let sqlite = db.backend().features().embedded;
    for row in db.fetch_all(db.backend().columns_sql(), bound()).await? {
        let text = |i: usize| row.get::<String>(i);
        let db_type = text(1)?.to_lowercase();
        columns.push(Column {
            name: text(0)?,
            db_type: match db_type.as_str() {
                "integer" | "int" if sqlite => "bigint".into(),
                "char(32)" if sqlite => "uuid".into(),
                _ => db_type,
            },
            nullable: text(2)? == "1",
            primary_key: text(3)? == "1",
            max_length: text(4)?.parse().ok(),
            references: None,
            unique: false,
            db_index: false,
        });
    }
    for row in db
        .fetch_all(db.backend().foreign_keys_of_table_sql(), bound())
        .await?
    {
        let (column, target): (String, String) = (row.get(0)?, row.get(1)?);
        if let Some(c) = columns.iter_mut().find(|c| c.name == column) {
            c.references = Some(target);
        }
    }
    Ok(columns)
}

/// The table's indexes, each with its columns in order.
async fn read_indexes(db: &Arc<Database>, table: &str) -> Result<Vec<Index>, OrmError> {
    let bound = Values(vec![sea_query::Value::String(Some(table.to_owned()))]);
    let mut indexes: Vec<Index> = Vec::new();
    for row in db.fetch_all(db.backend().indexes_sql(), bound).await? {
        let (name, column): (String, String) = (row.get(0)?, row.get(2)?);
        match indexes.last_mut() {
            Some(last) if last.name == name => last.columns.push(column),
            _ => indexes.push(Index {
                name,
                unique: row.get::<String>(1)? == "1",
                partial: row.get::<String>(3)? == "1",
                columns: vec![column],
            }),
        }
    }
    Ok(indexes)
}

/// Marks the one-column uniques and indexes on their columns; returns the lines that go
/// before the struct for the others (`#[model(unique(..))]`, `#[model(index(..))]`, comments).
fn index_options(columns: &mut [Column], indexes: &[Index]) -> Vec<String> {
    let mut lines = Vec::new();
    for index in indexes {
        let kind = if index.unique { "unique" } else { "index" };
        if index.partial {
            lines.push(format!(
                "// {}: a partial {kind} on ({}); add it with its condition.",
                index.name,
                index.columns.join(", ")
            ));
            continue;
        }
        if let [one] = index.columns.as_slice() {
            let Some(column) = columns.iter_mut().find(|c| &c.name == one) else {
                continue;
            };
            if index.unique && !column.primary_key {
                column.unique = true;
            } else if !index.unique && column.references.is_none() {
                // (A foreign key's column is indexed with it.)
                column.db_index = true;
            }
            continue;
        }
        let fields: Vec<String> = (index.columns.iter())
            .map(|name| match columns.iter().find(|c| &c.name == name) {
                Some(column) => format!("{:?}", field_name(column)),
                None => format!("{name:?}"),
            })
            .collect();
        // SQLite names a UNIQUE of its table itself; the ORM will name it again.
        let name = if index.name.starts_with("sqlite_autoindex_") {
            String::new()
        } else {
            format!(", name = {:?}", index.name)
        };
        lines.push(format!(
            "#[model({kind}(fields = [{}]{name}))]",
            fields.join(", ")
        ));
    }
    if let Some(comment) = join_table_comment(columns, indexes) {
        lines.insert(0, comment);
    }
    lines
}

/// A table of a key, two foreign keys and a unique over the pair: a many-to-many's.
fn join_table_comment(columns: &[Column], indexes: &[Index]) -> Option<String> {
    let keys: Vec<&Column> = columns.iter().filter(|c| c.references.is_some()).collect();
    let ([from, to], true) = (keys.as_slice(), columns.len() == 3) else {
        return None;
    };
    let pair = |i: &Index| {
        i.unique
            && !i.partial
            && i.columns.len() == 2
            && i.columns.contains(&from.name)
            && i.columns.contains(&to.name)
    };
    indexes.iter().any(pair).then(|| {
        let (owner, target) = (
            struct_name(from.references.as_deref()?),
            struct_name(to.references.as_deref()?),
        );
        Some(format!(
            "// A many-to-many join table ({owner} ↔ {target}), written as Django's inspectdb \
             does: a model of its own. `#[field(through = \"…\")] ManyToMany<{target}>` on \
             {owner} can use it."
        ))
    })?
}

/// The struct of one table, after the lines `index_options` made.
fn model_source(table: &str, columns: &[Column], model_options: &[String], app: &str) -> String {
    let mut out = String::new();
    for comment in model_options.iter().filter(|l| l.starts_with("//")) {
        let _ = writeln!(out, "{comment}");
    }
    let keys = columns.iter().filter(|c| c.primary_key).count();
    if keys != 1 {
        let _ = writeln!(
            out,
            "// {table}: {} — mark one field #[field(primary_key)] or add `id: i64`.",
            if keys == 0 {
                "no primary key"
            } else {
                "a primary key over several columns (unsupported)"
            }
        );
    }
    let _ = writeln!(out, "#[derive(Model, Debug, Clone)]");
    let _ = writeln!(out, "#[model(app = {app:?}, table = {table:?})]");
    for line in model_options.iter().filter(|l| l.starts_with('#')) {
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(out, "pub struct {} {{", struct_name(table));
    for column in columns {
        out.push_str(&field_source(column, keys == 1));
    }
    out.push_str("}\n");
    out
}

/// One field: its attributes, its name (`author` for the key column `author_id`) and type.
fn field_source(column: &Column, single_key: bool) -> String {
    let mut options: Vec<String> = Vec::new();
    let (ty, comment) = match &column.references {
        Some(target) => (format!("ForeignKey<{}>", struct_name(target)), None),
        None => rust_type(&column.db_type),
    };
    if column.references.is_some() {
        options.push("on_delete = \"do_nothing\"".into());
    }
    let name = rust_ident(&field_name(column));
    if column.primary_key && single_key {
        // An integer `id` is taken for the database's numbering; any other key is marked.
        let auto_id = name == "id" && (ty == "i64" || ty == "i32");
        if !auto_id {
            options.insert(0, "primary_key".into());
        }
    }
    if let (Some(n), "String") = (column.max_length, ty.as_str()) {
        options.push(format!("max_length = {n}"));
    }
    if column.unique {
        options.push("unique".into());
    }
    if column.db_index {
        options.push("db_index".into());
    }
    let default_column = match &column.references {
        Some(_) => format!("{name}_id"),
        None => name.clone(),
    };
    if default_column != column.name {
        options.push(format!("db_column = {:?}", column.name));
    }
    let mut out = String::new();
    if let Some(comment) = comment {
        let _ = writeln!(out, "    // {comment}");
    }
    if !options.is_empty() {
        let _ = writeln!(out, "    #[field({})]", options.join(", "));
    }
    let ty = if column.nullable && !column.primary_key {
        format!("Option<{ty}>")
    } else {
        ty
    };
    let _ = writeln!(out, "    pub {name}: {ty},");
    out
}

/// The field's name: the column's in lower case, a foreign key's without `_id`.
fn field_name(column: &Column) -> String {
    let name = column.name.to_lowercase();
    match column.references {
        Some(_) => name.strip_suffix("_id").map(str::to_owned).unwrap_or(name),
        None => name,
    }
}

/// The Rust type of a database type, and a comment when it is a guess.
fn rust_type(db_type: &str) -> (String, Option<String>) {
    let base = db_type.split('(').next().unwrap_or(db_type).trim();
    let ty = match base {
        "bigint" | "int8" | "bigserial" => "i64",
        "integer" | "int" | "int4" | "mediumint" | "smallint" | "int2" | "serial" => "i32",
        "boolean" | "bool" | "tinyint" => "bool",
        "real" | "double" | "double precision" | "float" | "float8" | "float4" => "f64",
        "numeric" | "decimal" => "canter::orm::rust_decimal::Decimal",
        "text" | "varchar" | "character varying" | "char" | "character" | "longtext"
        | "mediumtext" | "tinytext" | "clob" => "String",
        "date" => "canter::orm::chrono::NaiveDate",
        "time" | "time without time zone" => "canter::orm::chrono::NaiveTime",
        "timestamp" | "timestamp with time zone" | "timestamptz" | "datetime" => {
            "canter::orm::chrono::DateTime<canter::orm::chrono::Utc>"
        }
        "uuid" => "canter::orm::uuid::Uuid",
        "blob" | "bytea" | "longblob" | "binary" | "varbinary" => "Vec<u8>",
        "json" | "jsonb" => "serde_json::Value",
        _ => {
            return (
                "String".into(),
                Some(format!("unknown database type {db_type:?}")),
            )
        }
    };
    (ty.into(), None)
}

/// `blog_post` → `BlogPost`.
fn struct_name(table: &str) -> String {
    let name: String = table
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            let first = chars
                .next()
                .map(|c| c.to_ascii_uppercase())
                .unwrap_or_default();
            first.to_string() + &chars.as_str().to_lowercase()
        })
        .collect();
    match name.chars().next() {
        Some(c) if c.is_ascii_alphabetic() => name,
        _ => format!("Table{name}"),
    }
}

/// A column name as a Rust field name: other characters become `_`, keywords get `r#`.
fn rust_ident(name: &str) -> String {
    let mut ident: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if ident.is_empty() || ident.starts_with(|c: char| c.is_ascii_digit()) {
        ident.insert(0, '_');
    }
    const KEYWORDS: &[&str] = &[
        "as", "async", "await", "box", "break", "const", "continue", "dyn", "else", "enum",
        "extern", "false", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move",
        "mut", "pub", "ref", "return", "static", "struct", "trait", "true", "type", "unsafe",
        "use", "where", "while", "yield",
    ];
    if KEYWORDS.contains(&ident.as_str()) {
        ident.insert_str(0, "r#");
    }
    ident
}

/// `inspectdb [tables] [--database alias] [--app name]`.
pub(crate) struct InspectDb;

impl ManagementCommand for InspectDb {
    fn name(&self) -> &'static str {
        "inspectdb"
    }
    fn command(&self) -> clap::Command {
        clap::Command::new("inspectdb")
            .about("Prints models for the tables of an existing database")
            .arg(Arg::new("tables").num_args(0..).help("Only these tables"))
            .arg(
                Arg::new("database")
                    .long("database")
                    .default_value(DEFAULT_DB_ALIAS),
            )
            .arg(
                Arg::new("app")
                    .long("app")
                    .default_value("inspected")
                    .help("The app the models belong to"),
            )
    }
    /// Schema work: no broker or channel layer is connected for it.
    fn needs_services(&self) -> bool {
        false
    }
    fn run<'a>(
        &'a self,
        _ctx: &'a CommandContext,
        args: &'a ArgMatches,
    ) -> BoxFuture<'a, Result<(), CommandError>> {
        Box::pin(async move {
            let tables: Vec<String> = args
                .get_many::<String>("tables")
                .into_iter()
                .flatten()
                .cloned()
                .collect();
            let alias = args.get_one::<String>("database").expect("default");
            let app = args.get_one::<String>("app").expect("default");
            print!("{}", inspect_tables(alias, &tables, app).await?);
            Ok(())
        })
    }
}
