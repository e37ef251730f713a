//! Creating and dropping a model's table from its definition (the migrations part builds on
//! this). Each backend's `schema` module spells the column types.

use crate::backends::Vendor;
use crate::db::database;
use crate::error::OrmError;
use crate::fields::FieldMeta;
use crate::model::{Model, ModelMeta};

/// Quotes an identifier (both backends use double quotes; embedded quotes are doubled).
pub fn quote_name(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn column_definition(vendor: Vendor, field: &FieldMeta) -> String {
    let name = quote_name(field.column);
    if field.auto_increment {
        let definition = match vendor {
            #[cfg(feature = "sqlite")]
            Vendor::Sqlite => crate::backends::sqlite::schema::auto_pk_definition(),
            #[cfg(feature = "postgres")]
            Vendor::Postgres => crate::backends::postgres::schema::auto_pk_definition(),
            #[allow(unreachable_patterns)]
            _ => "bigint PRIMARY KEY",
        };
        return format!("{name} {definition}");
    }
    let column_type = match vendor {
        #[cfg(feature = "sqlite")]
        Vendor::Sqlite => crate::backends::sqlite::schema::column_type(field),
        #[cfg(feature = "postgres")]
        Vendor::Postgres => crate::backends::postgres::schema::column_type(field),
        #[allow(unreachable_patterns)]
        _ => "text".into(),
    };
    let mut out = format!("{name} {column_type}");
    out.push_str(if field.nullable { " NULL" } else { " NOT NULL" });
    if let Some(default) = field.default {
        out.push_str(" DEFAULT ");
        out.push_str(&literal(vendor, &default()));
    }
    if field.primary_key {
        out.push_str(" PRIMARY KEY");
    } else if field.unique {
        out.push_str(" UNIQUE");
    }
    out
}

/// A value as an SQL literal (for DEFAULT clauses, which take no parameters).
pub fn literal(vendor: Vendor, value: &sea_query::Value) -> String {
    use sea_query::QueryBuilder;
    let text = match vendor {
        Vendor::Sqlite => sea_query::SqliteQueryBuilder.value_to_string(value),
        Vendor::Postgres => sea_query::PostgresQueryBuilder.value_to_string(value),
    };
    // A literal in DEFAULT must be a constant expression: parenthesize anything else.
    if text.starts_with('\'')
        || text
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == '-')
        || text == "TRUE"
        || text == "FALSE"
        || text == "NULL"
    {
        text
    } else {
        format!("({text})")
    }
}

/// The statements that create `meta`'s table and its indexes.
pub fn create_table_sql(meta: &ModelMeta, vendor: Vendor, if_not_exists: bool) -> Vec<String> {
    let columns: Vec<String> = meta
        .fields
        .iter()
        .map(|f| column_definition(vendor, f))
        .collect();
    let exists = if if_not_exists { "IF NOT EXISTS " } else { "" };
    let mut statements = vec![format!(
        "CREATE TABLE {exists}{} ({})",
        quote_name(meta.table),
        columns.join(", ")
    )];
    for field in meta
        .fields
        .iter()
        .filter(|f| f.db_index && !f.unique && !f.primary_key)
    {
        let index = format!("{}_{}_idx", meta.table, field.column);
        statements.push(format!(
            "CREATE INDEX {exists}{} ON {} ({})",
            quote_name(&index),
            quote_name(meta.table),
            quote_name(field.column)
        ));
    }
    statements
}

/// Creates `M`'s table on database `alias` if it does not exist.
pub async fn create_table<M: Model>(alias: &str) -> Result<(), OrmError> {
    let db = database(alias)?;
    for statement in create_table_sql(M::meta(), db.vendor, true) {
        db.execute(&statement, sea_query::Values(Vec::new()))
            .await?;
    }
    Ok(())
}

/// Drops `M`'s table on database `alias` if it exists.
pub async fn drop_table<M: Model>(alias: &str) -> Result<(), OrmError> {
    let db = database(alias)?;
    db.execute(
        &format!("DROP TABLE IF EXISTS {}", quote_name(M::meta().table)),
        sea_query::Values(Vec::new()),
    )
    .await?;
    Ok(())
}
