//! Migration operations (Django's `migrations.operations`): each changes the project state and
//! the database schema, forwards and (where it can) backwards.

use serde::{Deserialize, Serialize};

use super::state::{FieldState, IndexState, ModelState, ProjectState};
use super::MigrationError;
use crate::schema::SchemaEditor;

/// One step of a migration, as written in the migration file (`"op": "add_field"`, …). A key
/// an operation does not know is an error (a misspelt `"backwards"` would otherwise make a
/// reversible `run_sql` irreversible without a word).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Operation {
    CreateModel {
        name: String,
        table: String,
        fields: Vec<FieldState>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        unique_together: Vec<Vec<String>>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        checks: Vec<(String, String)>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        indexes: Vec<IndexState>,
    },
    /// Django's `AddIndex`, and `AddConstraint` with a `UniqueConstraint` (`index.unique`).
    AddIndex {
        model: String,
        index: IndexState,
    },
    /// Django's `RemoveIndex` / `RemoveConstraint`: the index is known by name.
    RemoveIndex {
        model: String,
        name: String,
    },
    /// Django's `AddConstraint` with a `CheckConstraint`.
    AddCheck {
        model: String,
        name: String,
        sql: String,
    },
    RemoveCheck {
        model: String,
        name: String,
    },
    DeleteModel {
        name: String,
    },
    RenameModel {
        old: String,
        new: String,
        table: String,
    },
    AddField {
        model: String,
        field: FieldState,
    },
    RemoveField {
        model: String,
        name: String,
    },
    AlterField {
        model: String,
        field: FieldState,
    },
    RenameField {
        model: String,
        old: String,
        new: String,
    },
    /// Data migration in SQL; without `backward` it cannot be unapplied.
    RunSql {
        forward: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        backward: Option<Vec<String>>,
    },
    /// Data migration in Rust: names of functions registered with
    /// [`Orm::rust_migration`](crate::Orm::rust_migration).
    RunRust {
        forward: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        backward: Option<String>,
    },
}

/// What running an operation does to the database.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Sql(String),
    Rust(String),
}

fn missing(what: &str) -> MigrationError {
    MigrationError::Invalid(format!(
        "{what} does not exist at this point of the migration history"
    ))
}

impl Operation {
    /// A short description (for names, `showmigrations --plan`, logs).
    pub fn describe(&self) -> String {
        match self {
            Operation::CreateModel { name, .. } => format!("create model {name}"),
            Operation::DeleteModel { name } => format!("delete model {name}"),
            Operation::RenameModel { old, new, .. } => format!("rename model {old} to {new}"),
            Operation::AddField { model, field } => format!("add field {} to {model}", field.name),
            Operation::RemoveField { model, name } => format!("remove field {name} from {model}"),
            Operation::AlterField { model, field } => {
                format!("alter field {} on {model}", field.name)
            }
            Operation::RenameField { model, old, new } => {
                format!("rename field {old} on {model} to {new}")
            }
            Operation::AddCheck { model, name, .. } => format!("add check {name} to {model}"),
            Operation::RemoveCheck { model, name } => format!("remove check {name} from {model}"),
            Operation::AddIndex { model, index } => {
                let kind = if index.unique { "unique" } else { "index" };
                format!("add {kind} {} to {model}", index.name)
            }
            Operation::RemoveIndex { model, name } => format!("remove index {name} from {model}"),
            Operation::RunSql { .. } => "raw SQL".into(),
            Operation::RunRust { forward, .. } => format!("Rust function {forward}"),
        }
    }

    /// A fragment for the migration's file name (`add_mymodel_slug`).
    pub fn name_fragment(&self) -> String {
        let lower = |s: &str| s.to_lowercase();
        match self {
            Operation::CreateModel { name, .. } => lower(name),
            Operation::DeleteModel { name } => format!("delete_{}", lower(name)),
            Operation::RenameModel { old, new, .. } => {
                format!("rename_{}_{}", lower(old), lower(new))
            }
            Operation::AddField { model, field } => format!("{}_{}", lower(model), field.name),
            Operation::RemoveField { model, name } => format!("remove_{}_{name}", lower(model)),
            Operation::AlterField { model, field } => {
                format!("alter_{}_{}", lower(model), field.name)
            }
            Operation::RenameField { model, old, new } => {
                format!("rename_{}_{old}_{new}", lower(model))
            }
            Operation::AddCheck { model, name, .. } => format!("{}_{name}", lower(model)),
            Operation::RemoveCheck { model, name } => format!("remove_{}_{name}", lower(model)),
            Operation::AddIndex { model, index } => format!("{}_{}", lower(model), index.name),
            Operation::RemoveIndex { model, name } => format!("remove_{}_{name}", lower(model)),
            Operation::RunSql { .. } | Operation::RunRust { .. } => "data".into(),
        }
    }

    pub fn reversible(&self) -> bool {
        match self {
            Operation::RunSql { backward, .. } => backward.is_some(),
            Operation::RunRust { backward, .. } => backward.is_some(),
            _ => true,
        }
    }

    /// Applies this operation to the state of app `app`.
    pub fn state_forwards(
        &self,
        app: &str,
        state: &mut ProjectState,
    ) -> Result<(), MigrationError> {
        match self {
            Operation::CreateModel {
                name,
                table,
                fields,
                unique_together,
                checks,
                indexes,
            } => {
                let model = ModelState {
                    app: app.into(),
                    name: name.clone(),
                    table: table.clone(),
                    fields: fields.clone(),
                    unique_together: unique_together.clone(),
                    checks: checks.clone(),
                    indexes: indexes.clone(),
                };
                if state.models.insert(model.key(), model).is_some() {
                    return Err(MigrationError::Invalid(format!(
                        "model {app}.{name} is created twice"
                    )));
                }
            }
            Operation::DeleteModel { name } => {
                state
                    .models
                    .remove(&format!("{app}.{name}"))
                    .ok_or_else(|| missing(&format!("model {app}.{name}")))?;
            }
            Operation::RenameModel { old, new, table } => {
                rename_model_state(state, app, old, new, table)?
            }
            Operation::AddField { .. }
            | Operation::RemoveField { .. }
            | Operation::AlterField { .. }
            | Operation::RenameField { .. } => self.field_state_forwards(app, state)?,
            Operation::AddCheck { model, name, sql } => {
                let m = model_in(state, app, model)?;
                m.checks.retain(|(n, _)| n != name);
                m.checks.push((name.clone(), sql.clone()));
            }
            Operation::RemoveCheck { model, name } => {
                let m = model_in(state, app, model)?;
                let before = m.checks.len();
                m.checks.retain(|(n, _)| n != name);
                if m.checks.len() == before {
                    return Err(missing(&format!("check {name} of {app}.{model}")));
                }
            }
            Operation::AddIndex { model, index } => {
                let m = model_in(state, app, model)?;
                m.indexes.retain(|i| i.name != index.name);
                m.indexes.push(index.clone());
            }
            Operation::RemoveIndex { model, name } => {
                let m = model_in(state, app, model)?;
                let before = m.indexes.len();
                m.indexes.retain(|i| i.name != *name);
                if m.indexes.len() == before {
                    return Err(missing(&format!("index {name} of {app}.{model}")));
                }
            }
            Operation::RunSql { .. } | Operation::RunRust { .. } => {}
        }
        Ok(())
    }

    /// `state_forwards` of the four field operations.
    fn field_state_forwards(
        &self,
        app: &str,
        state: &mut ProjectState,
    ) -> Result<(), MigrationError> {
        match self {
            Operation::AddField { model, field } => {
                let m = model_in(state, app, model)?;
                if m.field(&field.name).is_some() {
                    return Err(MigrationError::Invalid(format!(
                        "field {} of {app}.{model} is added twice",
                        field.name
                    )));
                }
                m.fields.push(field.clone());
            }
            Operation::RemoveField { model, name } => {
                let m = model_in(state, app, model)?;
                let before = m.fields.len();
                m.fields.retain(|f| f.name != *name);
                if m.fields.len() == before {
                    return Err(missing(&format!("field {name} of {app}.{model}")));
                }
            }
            Operation::AlterField { model, field } => {
                let slot = field_in(state, app, model, &field.name)?;
                *slot = field.clone();
            }
            Operation::RenameField { model, old, new } => {
                let slot = field_in(state, app, model, old)?;
                // The column follows the field's name unless it was set explicitly.
                if slot.column == *old {
                    slot.column = new.clone();
                }
                slot.name = new.clone();
                // The indexes over it name it by its new name.
                let m = model_in(state, app, model)?;
                for index in &mut m.indexes {
                    for name in index.fields.iter_mut().filter(|f| *f == old) {
                        name.clone_from(new);
                    }
                }
            }
            _ => unreachable!("not a field operation"),
        }
        Ok(())
    }

    /// What the database must do to go from `before` to `after` (forwards), or back.
    pub fn database_steps(
        &self,
        editor: &dyn SchemaEditor,
        app: &str,
        before: &ProjectState,
        after: &ProjectState,
        forwards: bool,
    ) -> Result<Vec<Step>, MigrationError> {
        // Backwards runs the mirror operation from `after` to `before`.
        let (from, to) = if forwards {
            (before, after)
        } else {
            (after, before)
        };
        let change = Change {
            editor,
            app,
            from,
            to,
            forwards,
        };
        match self {
            Operation::CreateModel { .. }
            | Operation::DeleteModel { .. }
            | Operation::RenameModel { .. } => self.model_steps(&change),
            Operation::AddField { .. }
            | Operation::RemoveField { .. }
            | Operation::AlterField { .. }
            | Operation::RenameField { .. } => self.field_steps(&change),
            Operation::AddCheck { model: name, .. }
            | Operation::RemoveCheck { model: name, .. } => {
                let (a, b) = (change.model_before(name)?, change.model_after(name)?);
                sql(editor.alter_checks_sql(&a, &b))
            }
            Operation::AddIndex { model: name, .. }
            | Operation::RemoveIndex { model: name, .. } => {
                let (a, b) = (change.model_before(name)?, change.model_after(name)?);
                refuse_unsupported(editor, &b)?;
                sql(editor.alter_indexes_sql(&a, &b))
            }
            Operation::RunSql { .. } | Operation::RunRust { .. } => self.data_steps(forwards),
        }
    }

    /// `database_steps` of the operations on whole models.
    fn model_steps(&self, change: &Change) -> Result<Vec<Step>, MigrationError> {
        match self {
            Operation::CreateModel { name, .. } | Operation::DeleteModel { name } => {
                let creating = matches!(self, Operation::CreateModel { .. }) == change.forwards;
                if creating {
                    let model = change.model_after(name)?;
                    refuse_unsupported(change.editor, &model)?;
                    sql(change.editor.create_table_sql(&model, false))
                } else {
                    sql(change.editor.drop_table_sql(&change.model_before(name)?))
                }
            }
            Operation::RenameModel { old, new, .. } => {
                let (a, b) = if change.forwards {
                    (change.model_before(old)?, change.model_after(new)?)
                } else {
                    (change.model_before(new)?, change.model_after(old)?)
                };
                if a.table == b.table {
                    Ok(Vec::new())
                } else {
                    sql(change.editor.rename_table_sql(&a.table, &b.table))
                }
            }
            _ => unreachable!("not a model operation"),
        }
    }

    /// `database_steps` of the four field operations.
    fn field_steps(&self, change: &Change) -> Result<Vec<Step>, MigrationError> {
        let forwards = change.forwards;
        match self {
            Operation::AddField { model, field } => {
                if forwards {
                    refuse_unsupported(change.editor, &change.model_after(model)?)?;
                }
                add_or_remove(change, model, &field.name, forwards)
            }
            Operation::RemoveField { model, name } => add_or_remove(change, model, name, !forwards),
            Operation::AlterField { model: name, field } => {
                let (a, b) = (change.model_before(name)?, change.model_after(name)?);
                let old = field_of(&a, &field.name)?;
                let new = field_of(&b, &field.name)?;
                if let Some(reason) = change.editor.refuse_field(&b, new) {
                    return Err(MigrationError::Invalid(reason));
                }
                sql(change.editor.alter_field_sql(&a, &b, old, new))
            }
            Operation::RenameField {
                model: name,
                old,
                new,
            } => {
                let (a, b) = (change.model_before(name)?, change.model_after(name)?);
                let (old, new) = if forwards { (old, new) } else { (new, old) };
                let (old_field, new_field) = (field_of(&a, old)?, field_of(&b, new)?);
                if old_field.column == new_field.column {
                    return Ok(Vec::new());
                }
                sql(change
                    .editor
                    .rename_column_sql(&a.table, &old_field.column, &new_field.column))
            }
            _ => unreachable!("not a field operation"),
        }
    }

    /// `database_steps` of the data migrations (SQL or Rust, one way or the other).
    fn data_steps(&self, forwards: bool) -> Result<Vec<Step>, MigrationError> {
        let irreversible = || MigrationError::Irreversible(self.describe());
        match self {
            Operation::RunSql { forward, backward } => {
                let statements = if forwards {
                    Some(forward.clone())
                } else {
                    backward.clone()
                };
                sql(statements.ok_or_else(irreversible)?)
            }
            Operation::RunRust { forward, backward } => {
                let name = if forwards {
                    Some(forward.clone())
                } else {
                    backward.clone()
                };
                Ok(vec![Step::Rust(name.ok_or_else(irreversible)?)])
            }
            _ => unreachable!("not a data operation"),
        }
    }
}

/// One operation's way through the states of app `app`: from `from` to `to` (already mirrored
/// when unapplying), in the SQL of `editor`'s database.
struct Change<'a> {
    editor: &'a dyn SchemaEditor,
    app: &'a str,
    from: &'a ProjectState,
    to: &'a ProjectState,
    forwards: bool,
}

impl Change<'_> {
    fn model_before(&self, name: &str) -> Result<ModelState, MigrationError> {
        model_of(self.from, self.app, name)
    }

    fn model_after(&self, name: &str) -> Result<ModelState, MigrationError> {
        model_of(self.to, self.app, name)
    }
}

/// A field or index of `model` the database cannot make (a partial unique, or a foreign key
/// with `on_delete = "set_default"`, on MariaDB), as an error naming it, before any statement
/// runs.
fn refuse_unsupported(editor: &dyn SchemaEditor, model: &ModelState) -> Result<(), MigrationError> {
    match editor.refuse_model(model) {
        Some(reason) => Err(MigrationError::Invalid(reason)),
        None => Ok(()),
    }
}

fn sql(statements: Vec<String>) -> Result<Vec<Step>, MigrationError> {
    Ok(statements.into_iter().map(Step::Sql).collect())
}

fn model_of(state: &ProjectState, app: &str, name: &str) -> Result<ModelState, MigrationError> {
    state
        .model(app, name)
        .cloned()
        .ok_or_else(|| missing(&format!("model {app}.{name}")))
}

fn field_of<'m>(model: &'m ModelState, name: &str) -> Result<&'m FieldState, MigrationError> {
    model
        .field(name)
        .ok_or_else(|| missing(&format!("field {name}")))
}

fn model_in<'s>(
    state: &'s mut ProjectState,
    app: &str,
    model: &str,
) -> Result<&'s mut ModelState, MigrationError> {
    state
        .model_mut(app, model)
        .ok_or_else(|| missing(&format!("model {app}.{model}")))
}

fn field_in<'s>(
    state: &'s mut ProjectState,
    app: &str,
    model: &str,
    field: &str,
) -> Result<&'s mut FieldState, MigrationError> {
    model_in(state, app, model)?
        .fields
        .iter_mut()
        .find(|f| f.name == field)
        .ok_or_else(|| missing(&format!("field {field} of {app}.{model}")))
}

fn rename_model_state(
    state: &mut ProjectState,
    app: &str,
    old: &str,
    new: &str,
    table: &str,
) -> Result<(), MigrationError> {
    let mut model = state
        .models
        .remove(&format!("{app}.{old}"))
        .ok_or_else(|| missing(&format!("model {app}.{old}")))?;
    model.name = new.to_owned();
    model.table = table.to_owned();
    state.models.insert(model.key(), model);
    // The keys pointing at it follow it (to its new table): a later operation on such a model
    // (an SQLite rebuild, a PostgreSQL constraint) must name the table as it is now.
    state.rename_references(&format!("{app}.{old}"), &format!("{app}.{new}"), table);
    Ok(())
}

/// Adds (`adding`) or removes the field `field_name` of model `model` on the way of `change`.
fn add_or_remove(
    change: &Change,
    model: &str,
    field_name: &str,
    adding: bool,
) -> Result<Vec<Step>, MigrationError> {
    let (a, b) = (change.model_before(model)?, change.model_after(model)?);
    let statements = if adding {
        change
            .editor
            .add_field_sql(&a, &b, field_of(&b, field_name)?)
    } else {
        change
            .editor
            .remove_field_sql(&a, &b, field_of(&a, field_name)?)
    };
    sql(statements)
}
