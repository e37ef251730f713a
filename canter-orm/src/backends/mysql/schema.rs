//! MariaDB's schema editor: its column types, tables in `utf8mb4_nopad_bin`, foreign keys as
//! named table constraints (MySQL ignores an inline `REFERENCES`), and columns changed with
//! `MODIFY COLUMN`. DDL is not transactional here: each statement commits on its own.

use super::{MysqlBackend, TABLE_OPTIONS};
use crate::fields::SqlType;
use crate::schema::{
    quote_name, wants_index, FieldState, IndexState, ModelState, References, SchemaEditor,
};

impl SchemaEditor for MysqlBackend {
    fn column_type(&self, field: &FieldState) -> String {
        match field.sql_type {
            SqlType::Integer => "integer".into(),
            SqlType::BigInteger => "bigint".into(),
            SqlType::Boolean => "bool".into(),
            SqlType::Double => "double precision".into(),
            SqlType::Text => match field.max_length {
                Some(n) => format!("varchar({n})"),
                // An index needs a bounded length: a keyed text column without one gets
                // MySQL's longest indexable varchar in utf8mb4.
                None if field.unique || field.primary_key || field.db_index => {
                    "varchar(191)".into()
                }
                None => "longtext".into(),
            },
            SqlType::Bytes => "longblob".into(),
            SqlType::Date => "date".into(),
            SqlType::Time => "time(6)".into(),
            SqlType::DateTime => "datetime(6)".into(),
            // sqlx binds a UUID as its 16 bytes.
            SqlType::Uuid => "binary(16)".into(),
            // rust_decimal's widest scale, within MySQL's 65 digits.
            SqlType::Decimal => "decimal(65, 28)".into(),
            SqlType::Json => "json".into(),
        }
    }

    fn auto_pk_definition(&self, field: &FieldState) -> String {
        format!(
            "{} NOT NULL PRIMARY KEY AUTO_INCREMENT",
            self.column_type(field)
        )
    }

    fn inline_references(&self) -> bool {
        false
    }

    fn table_options(&self) -> &'static str {
        TABLE_OPTIONS
    }

    /// MySQL has no partial indexes (Django skips such constraints there with a warning;
    /// refusing says so before anything is applied).
    fn refuse_index(&self, model: &ModelState, index: &IndexState) -> Option<String> {
        index.condition.as_ref().map(|condition| {
            format!(
                "{} of {}.{} has a condition ({condition}): MariaDB and MySQL have no partial \
                 indexes; drop the condition or keep this constraint to PostgreSQL and SQLite",
                index.name, model.app, model.name
            )
        })
    }

    /// InnoDB parses `ON DELETE SET DEFAULT` and then refuses every delete it should apply to
    /// (it has no such action); refusing the field says so before anything is applied.
    fn refuse_field(&self, model: &ModelState, field: &FieldState) -> Option<String> {
        let references = field.references.as_ref()?;
        (references.on_delete == crate::relations::OnDelete::SetDefault).then(|| {
            format!(
                "{}.{}.{} has on_delete = \"set_default\": MariaDB's and MySQL's InnoDB have no \
                 ON DELETE SET DEFAULT (it would refuse the delete); use set_null, cascade or \
                 protect, or keep this model to PostgreSQL and SQLite",
                model.app, model.name, field.name
            )
        })
    }

    fn drop_model_index_sql(&self, table: &str, name: &str) -> String {
        format!(
            "DROP INDEX IF EXISTS {} ON {}",
            quote_name(name),
            quote_name(table)
        )
    }

    fn drop_index_sql(&self, table: &str, column: &str) -> String {
        format!(
            "DROP INDEX IF EXISTS {} ON {}",
            quote_name(&crate::schema::index_name(table, column)),
            quote_name(table)
        )
    }

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
        if let Some(target) = &field.references {
            statements.push(self.add_foreign_key_sql(&after.table, &field.column, target));
        }
        if wants_index(field) {
            statements.push(self.create_index_sql(after, field, false));
        }
        statements
    }

    fn remove_field_sql(
        &self,
        before: &ModelState,
        _after: &ModelState,
        field: &FieldState,
    ) -> Vec<String> {
        let table = quote_name(&before.table);
        let mut statements = Vec::new();
        if field.references.is_some() {
            // A column a foreign key uses cannot be dropped before the key.
            statements.push(self.drop_foreign_key_sql(&before.table, &field.column));
        }
        statements.push(format!(
            "ALTER TABLE {table} DROP COLUMN {}",
            quote_name(&field.column)
        ));
        statements
    }

    fn alter_field_sql(
        &self,
        before: &ModelState,
        after: &ModelState,
        old: &FieldState,
        new: &FieldState,
    ) -> Vec<String> {
        let table = &after.table;
        let mut statements = Vec::new();
        let references_change = match (&old.references, &new.references) {
            (Some(a), Some(b)) => {
                (&a.table, &a.column, a.on_delete) != (&b.table, &b.column, b.on_delete)
            }
            (None, None) => false,
            _ => true,
        };
        if references_change && old.references.is_some() {
            statements.push(self.drop_foreign_key_sql(&before.table, &old.column));
        }
        if old.column != new.column {
            statements.extend(self.rename_column_sql(table, &old.column, &new.column));
        }
        statements.extend(self.modify_column_sql(table, old, new));
        statements.extend(self.alter_unique_sql(table, old, new));
        if wants_index(old) && !wants_index(new) {
            statements.push(self.drop_index_sql(table, &old.column));
        }
        if !wants_index(old) && wants_index(new) {
            statements.push(self.create_index_sql(after, new, true));
        }
        if let (true, Some(target)) = (references_change, &new.references) {
            statements.push(self.add_foreign_key_sql(table, &new.column, target));
        }
        statements
    }
}

impl MysqlBackend {
    fn add_foreign_key_sql(&self, table: &str, column: &str, target: &References) -> String {
        format!(
            "ALTER TABLE {} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({}) {}",
            quote_name(table),
            quote_name(&self.foreign_key_name(table, column)),
            quote_name(column),
            quote_name(&target.table),
            quote_name(&target.column),
            target.on_delete.sql()
        )
    }

    /// Drops the foreign key of `table.column` by the name this editor gave it.
    fn drop_foreign_key_sql(&self, table: &str, column: &str) -> String {
        format!(
            "ALTER TABLE {} DROP FOREIGN KEY IF EXISTS {}",
            quote_name(table),
            quote_name(&self.foreign_key_name(table, column))
        )
    }

    /// `MODIFY COLUMN` with the new type, null and default, when one of them changed (rows
    /// holding NULL get the default first when the column loses null, as Django does).
    fn modify_column_sql(&self, table: &str, old: &FieldState, new: &FieldState) -> Vec<String> {
        let changed = old.sql_type != new.sql_type
            || old.max_length != new.max_length
            || old.null != new.null
            || old.default != new.default;
        if !changed || new.auto_increment {
            return Vec::new();
        }
        let (quoted_table, column) = (quote_name(table), quote_name(&new.column));
        let mut statements = Vec::new();
        if old.null && !new.null {
            if let Some(d) = self.default_literal(new) {
                statements.push(format!(
                    "UPDATE {quoted_table} SET {column} = {d} WHERE {column} IS NULL"
                ));
            }
        }
        let mut definition = format!("{column} {}", self.column_type(new));
        definition.push_str(if new.null { " NULL" } else { " NOT NULL" });
        if let Some(d) = self.default_literal(new) {
            definition.push_str(&format!(" DEFAULT {d}"));
        }
        statements.push(format!(
            "ALTER TABLE {quoted_table} MODIFY COLUMN {definition}"
        ));
        statements
    }

    /// A column's uniqueness on or off. An inline `UNIQUE` made an index named after the
    /// column; one added later is `<table>_<column>_uniq`.
    fn alter_unique_sql(&self, table: &str, old: &FieldState, new: &FieldState) -> Vec<String> {
        let quoted_table = quote_name(table);
        let constraint = quote_name(&format!("{table}_{}_uniq", new.column));
        let mut statements = Vec::new();
        if old.unique && !new.unique {
            statements.push(format!(
                "ALTER TABLE {quoted_table} DROP INDEX IF EXISTS {}",
                quote_name(&old.column)
            ));
            statements.push(format!(
                "ALTER TABLE {quoted_table} DROP INDEX IF EXISTS {constraint}"
            ));
        }
        if !old.unique && new.unique {
            statements.push(format!(
                "ALTER TABLE {quoted_table} ADD CONSTRAINT {constraint} UNIQUE ({})",
                quote_name(&new.column)
            ));
        }
        statements
    }
}
