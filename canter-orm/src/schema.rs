//! The schema editor (Django's `BaseDatabaseSchemaEditor`): SQL that creates, alters and drops
//! tables and columns from model states. Each backend's `schema` module spells column types;
//! what SQLite's `ALTER TABLE` cannot do is done by rebuilding the table (create a new one,
//! copy the rows, drop the old, rename), inside the migration's transaction.

use crate::backends::Vendor;
use crate::db::database;
use crate::error::OrmError;
use crate::migrations::state::{json_to_value, FieldState, ModelState, References};
use crate::model::Model;

/// Quotes an identifier (both backends use double quotes; embedded quotes are doubled).
pub fn quote_name(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// A value as an SQL literal (for DEFAULT clauses, which take no parameters).
pub fn literal(vendor: Vendor, value: &sea_query::Value) -> String {
    use sea_query::QueryBuilder;
    let text = match vendor {
        Vendor::Sqlite => sea_query::SqliteQueryBuilder.value_to_string(value),
        Vendor::Postgres => sea_query::PostgresQueryBuilder.value_to_string(value),
    };
    // A DEFAULT must be a constant expression: parenthesize anything but a plain literal.
    let plain = text.starts_with('\'')
        || text
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == '-')
        || matches!(text.as_str(), "TRUE" | "FALSE" | "NULL");
    if plain {
        text
    } else {
        format!("({text})")
    }
}

fn column_type(vendor: Vendor, field: &FieldState) -> String {
    match vendor {
        #[cfg(feature = "sqlite")]
        Vendor::Sqlite => {
            crate::backends::sqlite::schema::column_type(field.sql_type, field.max_length)
        }
        #[cfg(feature = "postgres")]
        Vendor::Postgres => {
            crate::backends::postgres::schema::column_type(field.sql_type, field.max_length)
        }
        #[allow(unreachable_patterns)]
        _ => "text".into(),
    }
}

fn default_literal(vendor: Vendor, field: &FieldState) -> Option<String> {
    let json = field.default.as_ref()?;
    json_to_value(json, field.sql_type).map(|v| literal(vendor, &v))
}

/// `"col" type [NOT] NULL [DEFAULT x] [PRIMARY KEY | UNIQUE]`.
pub fn column_definition(vendor: Vendor, field: &FieldState) -> String {
    let name = quote_name(&field.column);
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
    let mut out = format!("{name} {}", column_type(vendor, field));
    out.push_str(if field.null { " NULL" } else { " NOT NULL" });
    if let Some(default) = default_literal(vendor, field) {
        out.push_str(" DEFAULT ");
        out.push_str(&default);
    }
    if field.primary_key {
        out.push_str(" PRIMARY KEY");
    } else if field.unique {
        out.push_str(" UNIQUE");
    }
    if let Some(target) = &field.references {
        out.push_str(&format!(
            " REFERENCES {} ({}) {}",
            quote_name(&target.table),
            quote_name(&target.column),
            target.on_delete.sql()
        ));
    }
    out
}

fn index_name(table: &str, column: &str) -> String {
    format!("{table}_{column}_idx")
}

fn create_index(model: &ModelState, field: &FieldState, if_not_exists: bool) -> String {
    let exists = if if_not_exists { "IF NOT EXISTS " } else { "" };
    format!(
        "CREATE INDEX {exists}{} ON {} ({})",
        quote_name(&index_name(&model.table, &field.column)),
        quote_name(&model.table),
        quote_name(&field.column)
    )
}

fn wants_index(field: &FieldState) -> bool {
    field.db_index && !field.unique && !field.primary_key
}

/// Column definitions, then `CONSTRAINT "name" CHECK (...)` for each check.
fn table_body(vendor: Vendor, model: &ModelState) -> String {
    let mut parts: Vec<String> = model
        .fields
        .iter()
        .map(|f| column_definition(vendor, f))
        .collect();
    for (name, sql) in &model.checks {
        parts.push(format!("CONSTRAINT {} CHECK ({sql})", quote_name(name)));
    }
    parts.join(", ")
}

/// Brings the checks of `before` to those of `after` (PostgreSQL: ALTER; SQLite: a rebuild).
pub fn alter_checks_sql(vendor: Vendor, before: &ModelState, after: &ModelState) -> Vec<String> {
    if vendor == Vendor::Sqlite {
        return rebuild_sql(vendor, before, after, &[]);
    }
    let table = quote_name(&after.table);
    let mut statements = Vec::new();
    for (name, sql) in &before.checks {
        if !after.checks.iter().any(|(n, q)| n == name && q == sql) {
            statements.push(format!(
                "ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {}",
                quote_name(name)
            ));
        }
    }
    for (name, sql) in &after.checks {
        if !before.checks.iter().any(|(n, q)| n == name && q == sql) {
            statements.push(format!(
                "ALTER TABLE {table} ADD CONSTRAINT {} CHECK ({sql})",
                quote_name(name)
            ));
        }
    }
    statements
}

/// CREATE TABLE (columns and checks) and its indexes.
pub fn create_table_sql(vendor: Vendor, model: &ModelState, if_not_exists: bool) -> Vec<String> {
    let exists = if if_not_exists { "IF NOT EXISTS " } else { "" };
    let mut statements = vec![format!(
        "CREATE TABLE {exists}{} ({})",
        quote_name(&model.table),
        table_body(vendor, model)
    )];
    for field in model.fields.iter().filter(|f| wants_index(f)) {
        statements.push(create_index(model, field, if_not_exists));
    }
    statements.extend(unique_together_sql(model, if_not_exists));
    statements
}

fn unique_together_sql(model: &ModelState, if_not_exists: bool) -> Vec<String> {
    let exists = if if_not_exists { "IF NOT EXISTS " } else { "" };
    model
        .unique_together
        .iter()
        .map(|names| {
            let columns: Vec<String> = names
                .iter()
                .map(|n| quote_name(model.field(n).map(|f| f.column.as_str()).unwrap_or(n)))
                .collect();
            format!(
                "CREATE UNIQUE INDEX {exists}{} ON {} ({})",
                quote_name(&format!("{}_{}_uniq", model.table, names.join("_"))),
                quote_name(&model.table),
                columns.join(", ")
            )
        })
        .collect()
}

pub fn drop_table_sql(model: &ModelState) -> Vec<String> {
    vec![format!("DROP TABLE {}", quote_name(&model.table))]
}

pub fn rename_table_sql(old_table: &str, new_table: &str) -> Vec<String> {
    vec![format!(
        "ALTER TABLE {} RENAME TO {}",
        quote_name(old_table),
        quote_name(new_table)
    )]
}

pub fn rename_column_sql(table: &str, old: &str, new: &str) -> Vec<String> {
    vec![format!(
        "ALTER TABLE {} RENAME COLUMN {} TO {}",
        quote_name(table),
        quote_name(old),
        quote_name(new)
    )]
}

/// Adds `field` to `model` (whose state already includes it).
pub fn add_field_sql(
    vendor: Vendor,
    before: &ModelState,
    after: &ModelState,
    field: &FieldState,
) -> Vec<String> {
    if vendor == Vendor::Sqlite && (field.unique || field.primary_key || field.references.is_some())
    {
        // SQLite cannot ADD COLUMN ... UNIQUE, nor a REFERENCES column with a default.
        return rebuild_sql(vendor, before, after, &[]);
    }
    let mut statements = vec![format!(
        "ALTER TABLE {} ADD COLUMN {}",
        quote_name(&after.table),
        column_definition(vendor, field)
    )];
    if wants_index(field) {
        statements.push(create_index(after, field, false));
    }
    statements
}

/// Removes `field` from `before`.
pub fn remove_field_sql(
    vendor: Vendor,
    before: &ModelState,
    after: &ModelState,
    field: &FieldState,
) -> Vec<String> {
    match vendor {
        Vendor::Postgres => {
            vec![format!(
                "ALTER TABLE {} DROP COLUMN {}",
                quote_name(&before.table),
                quote_name(&field.column)
            )]
        }
        // SQLite's DROP COLUMN refuses indexed and unique columns; a rebuild always works.
        Vendor::Sqlite => rebuild_sql(vendor, before, after, &[]),
    }
}

/// Changes `old` into `new` (same name; type, null, default, unique, index may differ).
pub fn alter_field_sql(
    vendor: Vendor,
    before: &ModelState,
    after: &ModelState,
    old: &FieldState,
    new: &FieldState,
) -> Vec<String> {
    if vendor == Vendor::Sqlite {
        return rebuild_sql(vendor, before, after, &[]);
    }
    let change = FieldChange {
        vendor,
        table: &after.table,
        old,
        new,
    };
    let mut statements = Vec::new();
    // A foreign key that changes (its target, its on_delete, or none before or after): the old
    // constraint goes first (before any type change), the new one comes last.
    let references_change = change.references_change();
    if references_change && old.references.is_some() {
        statements.push(drop_foreign_key_sql(&before.table, &old.column));
    }
    if old.column != new.column {
        statements.extend(rename_column_sql(&after.table, &old.column, &new.column));
    }
    statements.extend(change.type_sql());
    statements.extend(change.default_sql());
    statements.extend(change.null_sql());
    statements.extend(change.unique_sql());
    statements.extend(change.index_sql(after));
    if references_change {
        statements.extend(change.add_foreign_key_sql());
    }
    statements
}

/// One column changing from `old` to `new` on `table`, with ALTER TABLE (PostgreSQL).
struct FieldChange<'a> {
    vendor: Vendor,
    table: &'a str,
    old: &'a FieldState,
    new: &'a FieldState,
}

impl FieldChange<'_> {
    fn alter_column(&self, action: &str) -> String {
        format!(
            "ALTER TABLE {} ALTER COLUMN {} {action}",
            quote_name(self.table),
            quote_name(&self.new.column)
        )
    }

    fn references_change(&self) -> bool {
        let same_target = |a: &References, b: &References| {
            (&a.table, &a.column, a.on_delete) == (&b.table, &b.column, b.on_delete)
        };
        match (&self.old.references, &self.new.references) {
            (Some(a), Some(b)) => !same_target(a, b),
            (None, None) => false,
            _ => true,
        }
    }

    fn type_sql(&self) -> Option<String> {
        let (old, new) = (self.old, self.new);
        let ty = column_type(self.vendor, new);
        if old.sql_type != new.sql_type {
            let column = quote_name(&new.column);
            Some(self.alter_column(&format!("TYPE {ty} USING {column}::{ty}")))
        } else if old.max_length != new.max_length {
            // No USING cast: an explicit cast would cut longer values silently; without it
            // PostgreSQL refuses ("value too long") and the migration rolls back whole.
            Some(self.alter_column(&format!("TYPE {ty}")))
        } else {
            None
        }
    }

    fn default_sql(&self) -> Option<String> {
        if self.old.default == self.new.default {
            return None;
        }
        Some(match default_literal(self.vendor, self.new) {
            Some(d) => self.alter_column(&format!("SET DEFAULT {d}")),
            None => self.alter_column("DROP DEFAULT"),
        })
    }

    fn null_sql(&self) -> Vec<String> {
        let (old, new) = (self.old, self.new);
        if old.null == new.null {
            return Vec::new();
        }
        let mut statements = Vec::new();
        if !new.null {
            // Rows holding NULL get the default first, as Django does when a field loses null=True.
            if let Some(d) = default_literal(self.vendor, new) {
                let (table, column) = (quote_name(self.table), quote_name(&new.column));
                statements.push(format!(
                    "UPDATE {table} SET {column} = {d} WHERE {column} IS NULL"
                ));
            }
        }
        statements.push(self.alter_column(if new.null {
            "DROP NOT NULL"
        } else {
            "SET NOT NULL"
        }));
        statements
    }

    fn unique_sql(&self) -> Vec<String> {
        let (old, new) = (self.old, self.new);
        let table = quote_name(self.table);
        let constraint = quote_name(&format!("{}_{}_uniq", self.table, new.column));
        let mut statements = Vec::new();
        if old.unique && !new.unique {
            // The inline UNIQUE of CREATE TABLE is named <table>_<column>_key by PostgreSQL.
            let implicit = quote_name(&format!("{}_{}_key", self.table, old.column));
            statements.push(format!(
                "ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {implicit}"
            ));
            statements.push(format!(
                "ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {constraint}"
            ));
        }
        if !old.unique && new.unique {
            statements.push(format!(
                "ALTER TABLE {table} ADD CONSTRAINT {constraint} UNIQUE ({})",
                quote_name(&new.column)
            ));
        }
        statements
    }

    fn index_sql(&self, after: &ModelState) -> Option<String> {
        let (old, new) = (self.old, self.new);
        if wants_index(old) && !wants_index(new) {
            Some(format!(
                "DROP INDEX IF EXISTS {}",
                quote_name(&index_name(self.table, &old.column))
            ))
        } else if !wants_index(old) && wants_index(new) {
            Some(create_index(after, new, true))
        } else {
            None
        }
    }

    fn add_foreign_key_sql(&self) -> Option<String> {
        let target = self.new.references.as_ref()?;
        Some(format!(
            "ALTER TABLE {} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({}) {}",
            quote_name(self.table),
            quote_name(&format!("{}_{}_fkey", self.table, self.new.column)),
            quote_name(&self.new.column),
            quote_name(&target.table),
            quote_name(&target.column),
            target.on_delete.sql()
        ))
    }
}

/// A string literal (for names PostgreSQL looks up at run time).
fn string_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// PostgreSQL: drops the foreign-key constraint(s) on `table.column`, whatever they are called
/// (an inline `REFERENCES` gets a name PostgreSQL picks, and keeps it through renames).
fn drop_foreign_key_sql(table: &str, column: &str) -> String {
    let table = string_literal(&quote_name(table));
    format!(
        "DO $canter$ DECLARE r record; BEGIN \
         FOR r IN SELECT c.conname FROM pg_constraint c \
         JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey) \
         WHERE c.contype = 'f' AND c.conrelid = {table}::regclass AND a.attname = {} \
         LOOP EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', {table}, r.conname); END LOOP; \
         END $canter$",
        string_literal(column)
    )
}

/// SQLite's way for what ALTER TABLE cannot do: a new table with `after`'s shape, filled from
/// `before`'s rows (columns matched by field name; `renamed` maps new → old names), then swapped
/// in. New NOT NULL columns take their default.
pub fn rebuild_sql(
    vendor: Vendor,
    before: &ModelState,
    after: &ModelState,
    renamed: &[(String, String)],
) -> Vec<String> {
    let temp = format!("new__{}", after.table);
    let mut temp_model = after.clone();
    temp_model.table = temp.clone();
    let mut statements = vec![format!(
        "CREATE TABLE {} ({})",
        quote_name(&temp),
        table_body(vendor, after)
    )];
    let mut targets = Vec::new();
    let mut sources = Vec::new();
    for field in &after.fields {
        let old_name = renamed
            .iter()
            .find(|(new, _)| *new == field.name)
            .map(|(_, old)| old.as_str())
            .unwrap_or(&field.name);
        match before.field(old_name) {
            Some(old) => {
                targets.push(quote_name(&field.column));
                let source = quote_name(&old.column);
                if old.sql_type != field.sql_type {
                    sources.push(format!("CAST({source} AS {})", column_type(vendor, field)));
                } else if old.null && !field.null {
                    match default_literal(vendor, field) {
                        Some(d) => sources.push(format!("COALESCE({source}, {d})")),
                        None => sources.push(source),
                    }
                } else {
                    sources.push(source);
                }
            }
            None => {
                if let Some(d) = default_literal(vendor, field) {
                    targets.push(quote_name(&field.column));
                    sources.push(d);
                }
            }
        }
    }
    if !targets.is_empty() {
        statements.push(format!(
            "INSERT INTO {} ({}) SELECT {} FROM {}",
            quote_name(&temp),
            targets.join(", "),
            sources.join(", "),
            quote_name(&before.table)
        ));
    }
    statements.push(format!("DROP TABLE {}", quote_name(&before.table)));
    statements.extend(rename_table_sql(&temp, &after.table));
    for field in after.fields.iter().filter(|f| wants_index(f)) {
        statements.push(create_index(after, field, false));
    }
    statements.extend(unique_together_sql(after, false));
    statements
}

/// Creates `M`'s table (and its many-to-many join tables) on database `alias` if missing
/// (without migrations; the migrations part does this from migration files).
pub async fn create_table<M: Model>(alias: &str) -> Result<(), OrmError> {
    let db = database(alias)?;
    let mut models = vec![ModelState::from_meta(M::meta())];
    models.extend(ModelState::join_models(M::meta()));
    // One transaction: another pooled SQLite connection must never load a schema holding the
    // table without its indexes (an upsert prepared against it fails: "ON CONFLICT clause does
    // not match any PRIMARY KEY or UNIQUE constraint", and SQLite does not re-prepare on that).
    crate::transaction::atomic_using(alias, async {
        for model in models {
            for statement in create_table_sql(db.vendor, &model, true) {
                db.execute(&statement, sea_query::Values(Vec::new()))
                    .await?;
            }
        }
        Ok::<(), OrmError>(())
    })
    .await
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
