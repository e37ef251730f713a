//! The schema editor (Django's `BaseDatabaseSchemaEditor`): SQL that creates, alters and drops
//! tables and columns from model states. The standard SQL is here, as the trait's provided
//! methods; each backend's `schema` module spells its column types and overrides what it does
//! differently (SQLite rebuilds a table for what its `ALTER TABLE` cannot do, PostgreSQL alters
//! columns in place).

use super::state::{json_to_value, FieldState, IndexState, ModelState};
use crate::backends::Operations;

/// Quotes an identifier with double quotes, an embedded quote doubled (every backend accepts
/// this form: MariaDB's connections run with `ANSI_QUOTES`).
pub fn quote_name(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The name of the index a `db_index` field gets.
pub fn index_name(table: &str, column: &str) -> String {
    format!("{table}_{column}_idx")
}

/// Whether a field wants an index of its own (a unique or primary key column has one already).
pub fn wants_index(field: &FieldState) -> bool {
    field.db_index && !field.unique && !field.primary_key
}

/// SQL that changes a database's schema, from model states.
pub trait SchemaEditor: Operations {
    /// The column type of a field (`varchar(40)`, `bigint`, …).
    fn column_type(&self, field: &FieldState) -> String;

    /// The definition of an auto-incrementing primary key column, after its name.
    fn auto_pk_definition(&self, field: &FieldState) -> String;

    /// Whether a column's definition carries its `REFERENCES` clause (else the table has a
    /// `FOREIGN KEY` constraint per reference: MySQL ignores the inline form).
    fn inline_references(&self) -> bool {
        true
    }

    /// What follows a `CREATE TABLE`'s parentheses (its character set, …).
    fn table_options(&self) -> &'static str {
        ""
    }

    /// The name of the foreign-key constraint of `table.column`, where the editor names them.
    fn foreign_key_name(&self, table: &str, column: &str) -> String {
        format!("{table}_{column}_fk")
    }

    /// A value as an SQL literal (for DEFAULT clauses, which take no parameters).
    fn literal(&self, value: &sea_query::Value) -> String {
        let text = self.value_literal(value);
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

    /// A field's default as an SQL literal, if it has one.
    fn default_literal(&self, field: &FieldState) -> Option<String> {
        let json = field.default.as_ref()?;
        json_to_value(json, field.sql_type).map(|v| self.literal(&v))
    }

    /// `"col" type [NOT] NULL [DEFAULT x] [PRIMARY KEY | UNIQUE] [REFERENCES …]`.
    fn column_definition(&self, field: &FieldState) -> String {
        let name = quote_name(&field.column);
        if field.auto_increment {
            return format!("{name} {}", self.auto_pk_definition(field));
        }
        let mut out = format!("{name} {}", self.column_type(field));
        out.push_str(if field.null { " NULL" } else { " NOT NULL" });
        if let Some(default) = self.default_literal(field) {
            out.push_str(" DEFAULT ");
            out.push_str(&default);
        }
        if field.primary_key {
            out.push_str(" PRIMARY KEY");
        } else if field.unique {
            out.push_str(" UNIQUE");
        }
        if let (Some(target), true) = (&field.references, self.inline_references()) {
            out.push_str(&format!(
                " REFERENCES {} ({}) {}",
                quote_name(&target.table),
                quote_name(&target.column),
                target.on_delete.sql()
            ));
        }
        out
    }

    /// Column definitions, then `CONSTRAINT "name" CHECK (...)` for each check.
    fn table_body(&self, model: &ModelState) -> String {
        let mut parts: Vec<String> = model
            .fields
            .iter()
            .map(|f| self.column_definition(f))
            .collect();
        if !self.inline_references() {
            for field in &model.fields {
                if let Some(target) = &field.references {
                    parts.push(format!(
                        "CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({}) {}",
                        quote_name(&self.foreign_key_name(&model.table, &field.column)),
                        quote_name(&field.column),
                        quote_name(&target.table),
                        quote_name(&target.column),
                        target.on_delete.sql()
                    ));
                }
            }
        }
        for (name, sql) in &model.checks {
            parts.push(format!("CONSTRAINT {} CHECK ({sql})", quote_name(name)));
        }
        parts.join(", ")
    }

    /// `CREATE INDEX` for a field's `db_index`.
    fn create_index_sql(
        &self,
        model: &ModelState,
        field: &FieldState,
        if_not_exists: bool,
    ) -> String {
        let exists = if if_not_exists { "IF NOT EXISTS " } else { "" };
        format!(
            "CREATE INDEX {exists}{} ON {} ({})",
            quote_name(&index_name(&model.table, &field.column)),
            quote_name(&model.table),
            quote_name(&field.column)
        )
    }

    /// `DROP INDEX` of a field's `db_index`.
    fn drop_index_sql(&self, table: &str, column: &str) -> String {
        format!(
            "DROP INDEX IF EXISTS {}",
            quote_name(&index_name(table, column))
        )
    }

    /// One unique index per `unique_together` set.
    fn unique_together_sql(&self, model: &ModelState, if_not_exists: bool) -> Vec<String> {
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

    /// Why this database cannot make `index` of `model`, if it cannot.
    fn refuse_index(&self, _model: &ModelState, _index: &IndexState) -> Option<String> {
        None
    }

    /// Why this database cannot make `field` of `model` as it is declared, if it cannot.
    fn refuse_field(&self, _model: &ModelState, _field: &FieldState) -> Option<String> {
        None
    }

    /// The first field or index of `model` this database cannot make, as why.
    fn refuse_model(&self, model: &ModelState) -> Option<String> {
        (model.fields.iter())
            .find_map(|f| self.refuse_field(model, f))
            .or_else(|| (model.indexes.iter()).find_map(|i| self.refuse_index(model, i)))
    }

    /// `CREATE [UNIQUE] INDEX name ON table (columns) [WHERE condition]`.
    fn model_index_sql(
        &self,
        model: &ModelState,
        index: &IndexState,
        if_not_exists: bool,
    ) -> String {
        let exists = if if_not_exists { "IF NOT EXISTS " } else { "" };
        let columns: Vec<String> = (index.fields.iter())
            .map(|n| quote_name(model.field(n).map_or(n.as_str(), |f| f.column.as_str())))
            .collect();
        let mut statement = format!(
            "CREATE {}INDEX {exists}{} ON {} ({})",
            if index.unique { "UNIQUE " } else { "" },
            quote_name(&index.name),
            quote_name(&model.table),
            columns.join(", ")
        );
        if let Some(condition) = &index.condition {
            statement.push_str(&format!(" WHERE {condition}"));
        }
        statement
    }

    /// Drops index `name` of `table`.
    fn drop_model_index_sql(&self, _table: &str, name: &str) -> String {
        format!("DROP INDEX IF EXISTS {}", quote_name(name))
    }

    /// Brings the indexes of `before` to those of `after`: drops the ones gone or changed,
    /// makes the new or changed ones.
    fn alter_indexes_sql(&self, before: &ModelState, after: &ModelState) -> Vec<String> {
        let mut statements: Vec<String> = (before.indexes.iter())
            .filter(|index| !after.indexes.contains(index))
            .map(|index| self.drop_model_index_sql(&before.table, &index.name))
            .collect();
        statements.extend(
            (after.indexes.iter())
                .filter(|index| !before.indexes.contains(index))
                .map(|index| self.model_index_sql(after, index, false)),
        );
        statements
    }

    /// CREATE TABLE (columns and checks) and its indexes.
    fn create_table_sql(&self, model: &ModelState, if_not_exists: bool) -> Vec<String> {
        let exists = if if_not_exists { "IF NOT EXISTS " } else { "" };
        let mut statements = vec![format!(
            "CREATE TABLE {exists}{} ({}){}",
            quote_name(&model.table),
            self.table_body(model),
            self.table_options()
        )];
        for field in model.fields.iter().filter(|f| wants_index(f)) {
            statements.push(self.create_index_sql(model, field, if_not_exists));
        }
        statements.extend(self.unique_together_sql(model, if_not_exists));
        statements.extend(
            (model.indexes.iter()).map(|index| self.model_index_sql(model, index, if_not_exists)),
        );
        statements
    }

    fn drop_table_sql(&self, model: &ModelState) -> Vec<String> {
        vec![format!("DROP TABLE {}", quote_name(&model.table))]
    }

    fn rename_table_sql(&self, old_table: &str, new_table: &str) -> Vec<String> {
        vec![format!(
            "ALTER TABLE {} RENAME TO {}",
            quote_name(old_table),
            quote_name(new_table)
        )]
    }

    fn rename_column_sql(&self, table: &str, old: &str, new: &str) -> Vec<String> {
        vec![format!(
            "ALTER TABLE {} RENAME COLUMN {} TO {}",
            quote_name(table),
            quote_name(old),
            quote_name(new)
        )]
    }

    /// Adds `field` to `before`, giving `after`.
    fn add_field_sql(
        &self,
        _before: &ModelState,
        after: &ModelState,
        field: &FieldState,
    ) -> Vec<String> {
        let mut statements = vec![format!(
            "ALTER TABLE {} ADD COLUMN {}",
            quote_name(&after.table),
            self.column_definition(field)
        )];
        if wants_index(field) {
            statements.push(self.create_index_sql(after, field, false));
        }
        statements
    }

    /// Removes `field` from `before`, giving `after`.
    fn remove_field_sql(
        &self,
        before: &ModelState,
        _after: &ModelState,
        field: &FieldState,
    ) -> Vec<String> {
        vec![format!(
            "ALTER TABLE {} DROP COLUMN {}",
            quote_name(&before.table),
            quote_name(&field.column)
        )]
    }

    /// Changes `old` into `new` (the same field; its column, type, null, default, unique,
    /// index or reference may differ), `before` becoming `after`.
    fn alter_field_sql(
        &self,
        before: &ModelState,
        after: &ModelState,
        old: &FieldState,
        new: &FieldState,
    ) -> Vec<String>;

    /// Brings the checks of `before` to those of `after`.
    fn alter_checks_sql(&self, before: &ModelState, after: &ModelState) -> Vec<String> {
        let table = quote_name(&after.table);
        let mut statements = Vec::new();
        for (name, sql) in &before.checks {
            if !after.checks.iter().any(|(n, q)| n == name && q == sql) {
                statements.push(self.drop_check_sql(&table, name));
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

    /// Drops check `name` of the (quoted) table.
    fn drop_check_sql(&self, quoted_table: &str, name: &str) -> String {
        format!(
            "ALTER TABLE {quoted_table} DROP CONSTRAINT IF EXISTS {}",
            quote_name(name)
        )
    }
}
