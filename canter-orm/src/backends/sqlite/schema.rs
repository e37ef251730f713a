//! SQLite's schema editor: its column types, and the table rebuild for what its `ALTER TABLE`
//! cannot do (create a new table, copy the rows, drop the old, rename), inside the migration's
//! transaction.

use super::SqliteBackend;
use crate::fields::SqlType;
use crate::schema::{quote_name, wants_index, FieldState, ModelState, SchemaEditor};

impl SchemaEditor for SqliteBackend {
    fn column_type(&self, field: &FieldState) -> String {
        match field.sql_type {
            SqlType::Integer | SqlType::BigInteger => "integer".into(),
            SqlType::Boolean => "bool".into(),
            SqlType::Double => "real".into(),
            SqlType::Text => match field.max_length {
                Some(n) => format!("varchar({n})"),
                None => "text".into(),
            },
            SqlType::Bytes => "blob".into(),
            SqlType::Date => "date".into(),
            SqlType::Time => "time".into(),
            SqlType::DateTime => "datetime".into(),
            SqlType::Uuid => "char(32)".into(),
            SqlType::Decimal => "decimal".into(),
            SqlType::Json => "text".into(),
        }
    }

    fn auto_pk_definition(&self, _field: &FieldState) -> String {
        "integer NOT NULL PRIMARY KEY AUTOINCREMENT".into()
    }

    fn add_field_sql(
        &self,
        before: &ModelState,
        after: &ModelState,
        field: &FieldState,
    ) -> Vec<String> {
        if field.unique || field.primary_key || field.references.is_some() {
            // SQLite cannot ADD COLUMN ... UNIQUE, nor a REFERENCES column with a default.
            return self.rebuild_sql(before, after, &[]);
        }
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

    /// SQLite's DROP COLUMN refuses indexed and unique columns; a rebuild always works.
    fn remove_field_sql(
        &self,
        before: &ModelState,
        after: &ModelState,
        _field: &FieldState,
    ) -> Vec<String> {
        self.rebuild_sql(before, after, &[])
    }

    fn alter_field_sql(
        &self,
        before: &ModelState,
        after: &ModelState,
        _old: &FieldState,
        _new: &FieldState,
    ) -> Vec<String> {
        self.rebuild_sql(before, after, &[])
    }

    fn alter_checks_sql(&self, before: &ModelState, after: &ModelState) -> Vec<String> {
        self.rebuild_sql(before, after, &[])
    }
}

impl SqliteBackend {
    /// A new table with `after`'s shape, filled from `before`'s rows (columns matched by field
    /// name; `renamed` maps new → old names), then swapped in. New NOT NULL columns take their
    /// default.
    pub(crate) fn rebuild_sql(
        &self,
        before: &ModelState,
        after: &ModelState,
        renamed: &[(String, String)],
    ) -> Vec<String> {
        let temp = format!("new__{}", after.table);
        let mut statements = vec![format!(
            "CREATE TABLE {} ({})",
            quote_name(&temp),
            self.table_body(after)
        )];
        let (targets, sources) = self.copied_columns(before, after, renamed);
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
        statements.extend(self.rename_table_sql(&temp, &after.table));
        for field in after.fields.iter().filter(|f| wants_index(f)) {
            statements.push(self.create_index_sql(after, field, false));
        }
        statements.extend(self.unique_together_sql(after, false));
        // The table's own indexes went with the old table.
        statements
            .extend((after.indexes.iter()).map(|index| self.model_index_sql(after, index, false)));
        statements
    }

    /// The columns a rebuild fills (quoted) and what fills each: the old column (cast to a new
    /// type, or NULLs replaced by the default), or the default of a new column.
    fn copied_columns(
        &self,
        before: &ModelState,
        after: &ModelState,
        renamed: &[(String, String)],
    ) -> (Vec<String>, Vec<String>) {
        let mut targets = Vec::new();
        let mut sources = Vec::new();
        for field in &after.fields {
            let old_name = renamed
                .iter()
                .find(|(new, _)| *new == field.name)
                .map(|(_, old)| old.as_str())
                .unwrap_or(&field.name);
            let Some(old) = before.field(old_name) else {
                if let Some(d) = self.default_literal(field) {
                    targets.push(quote_name(&field.column));
                    sources.push(d);
                }
                continue;
            };
            targets.push(quote_name(&field.column));
            let source = quote_name(&old.column);
            let default = self.default_literal(field);
            sources.push(match default {
                _ if old.sql_type != field.sql_type => {
                    format!("CAST({source} AS {})", self.column_type(field))
                }
                Some(d) if old.null && !field.null => format!("COALESCE({source}, {d})"),
                _ => source,
            });
        }
        (targets, sources)
    }
}
