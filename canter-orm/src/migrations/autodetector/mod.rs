//! The autodetector (Django's `MigrationAutodetector`): compares the state the migration files
//! describe with the compiled models and lists the operations that turn one into the other.
//! It never guesses a rename: a field (or model) that disappeared while a similar one appeared
//! is reported, and a `--rename` hint (or `--no-rename`) decides, so no data is dropped silently.

use super::operations::Operation;
use super::state::{FieldState, IndexState, ProjectState};
use super::MigrationError;

/// A rename the user confirmed: `Model.old=new` or (`model`) `Old=New`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RenameHint {
    Field {
        model: String,
        old: String,
        new: String,
    },
    Model {
        old: String,
        new: String,
    },
}

impl RenameHint {
    /// Parses `Model.old=new` (a field) or `Old=New` (a model).
    pub fn parse(text: &str) -> Result<Self, MigrationError> {
        let bad = || {
            MigrationError::Invalid(format!(
                "--rename {text:?}: expected Model.old_field=new_field or OldModel=NewModel"
            ))
        };
        let (left, new) = text.split_once('=').ok_or_else(bad)?;
        match left.split_once('.') {
            Some((model, old)) if !model.is_empty() && !old.is_empty() && !new.is_empty() => {
                Ok(RenameHint::Field {
                    model: model.into(),
                    old: old.into(),
                    new: new.into(),
                })
            }
            None if !left.is_empty() && !new.is_empty() => Ok(RenameHint::Model {
                old: left.into(),
                new: new.into(),
            }),
            _ => Err(bad()),
        }
    }
}

/// The operations that bring app `app` from `from` to `to`.
///
/// In Django's order: model renames, created models (referenced ones first), then for each
/// kept model its table rename, field renames, added, altered and check changes; removed
/// fields after every model's additions, and deleted models last (referencing ones first).
pub fn changes(
    app: &str,
    from: &ProjectState,
    to: &ProjectState,
    hints: &[RenameHint],
    no_rename: bool,
) -> Result<Vec<Operation>, MigrationError> {
    let mut detector = Detector {
        app,
        from,
        to,
        hints,
        no_rename,
        ops: Vec::new(),
        renamed_models: Vec::new(),
    };
    let old_models: Vec<String> = from.app_models(app).map(|m| m.name.clone()).collect();
    let new_models: Vec<String> = to.app_models(app).map(|m| m.name.clone()).collect();
    detector.generate_renamed_models(&old_models, &new_models)?;
    let (deleted, created) = detector.deleted_and_created(&old_models, &new_models)?;
    detector.generate_created_models(created.clone());
    let mut removals = Vec::new();
    for new_name in new_models.iter().filter(|m| !created.contains(m)) {
        removals.extend(detector.generate_model_changes(new_name)?);
    }
    detector.ops.extend(removals);
    detector.generate_deleted_models(deleted);
    Ok(detector.ops)
}

/// One app's comparison in progress: the operations found so far, and the model renames
/// (after which an old model is known by its new name).
struct Detector<'a> {
    app: &'a str,
    from: &'a ProjectState,
    to: &'a ProjectState,
    hints: &'a [RenameHint],
    no_rename: bool,
    ops: Vec<Operation>,
    renamed_models: Vec<(String, String)>,
}

/// A kept model's fields: those only in the old state, and those only in the new one.
struct FieldDiff<'s> {
    gone: Vec<&'s FieldState>,
    added: Vec<&'s FieldState>,
}

impl<'a> Detector<'a> {
    /// Model renames first, each confirmed by a hint (`--rename Old=New`).
    fn generate_renamed_models(
        &mut self,
        old_models: &[String],
        new_models: &[String],
    ) -> Result<(), MigrationError> {
        let app = self.app;
        for hint in self.hints {
            let RenameHint::Model { old, new } = hint else {
                continue;
            };
            // A hint about another app's models (make_migrations checks it matched somewhere).
            if !old_models.contains(old) && !new_models.contains(new) {
                continue;
            }
            if !(old_models.contains(old) && new_models.contains(new) && !old_models.contains(new))
            {
                return Err(MigrationError::Invalid(format!("--rename {old}={new}: no model {old} went away while {new} appeared in app {app}")));
            }
            let table = self.to.model(app, new).expect("listed").table.clone();
            self.ops.push(Operation::RenameModel {
                old: old.clone(),
                new: new.clone(),
                table,
            });
            self.renamed_models.push((old.clone(), new.clone()));
        }
        Ok(())
    }

    /// The models that went away and those that appeared, neither renamed; both at once
    /// without `--no-rename` may be a rename, which is never guessed.
    fn deleted_and_created(
        &self,
        old_models: &'a [String],
        new_models: &'a [String],
    ) -> Result<(Vec<&'a String>, Vec<&'a String>), MigrationError> {
        let renamed = &self.renamed_models;
        let deleted: Vec<&String> = old_models
            .iter()
            .filter(|m| !new_models.contains(m) && !renamed.iter().any(|(o, _)| o == *m))
            .collect();
        let created: Vec<&String> = new_models
            .iter()
            .filter(|m| !old_models.contains(m) && !renamed.iter().any(|(_, n)| n == *m))
            .collect();
        if !self.no_rename && !deleted.is_empty() && !created.is_empty() {
            return Err(MigrationError::Ambiguous(format!(
                "in app {}, model(s) {} went away and {} appeared: if that is a rename, pass --rename {}={}; to drop and create, pass --no-rename",
                self.app,
                list(&deleted),
                list(&created),
                deleted[0],
                created[0]
            )));
        }
        Ok((deleted, created))
    }

    /// Created models come after the models of this app they reference, so their foreign
    /// keys can be made.
    fn generate_created_models(&mut self, mut pending: Vec<&String>) {
        let (app, to) = (self.app, self.to);
        while !pending.is_empty() {
            let ready = |name: &String| {
                to.model(app, name)
                    .expect("listed")
                    .fields
                    .iter()
                    .filter_map(|f| f.references.as_ref())
                    .all(|r| {
                        let (target_app, target) = r.model.split_once('.').unwrap_or(("", ""));
                        target_app != app
                            || target == name.as_str()
                            || !pending.iter().any(|p| p.as_str() == target)
                    })
            };
            let position = pending.iter().position(|n| ready(n)).unwrap_or(0);
            let model = to.model(app, pending.remove(position)).expect("listed");
            self.ops.push(Operation::CreateModel {
                name: model.name.clone(),
                table: model.table.clone(),
                fields: model.fields.clone(),
                unique_together: model.unique_together.clone(),
                checks: model.checks.clone(),
                indexes: model.indexes.clone(),
            });
        }
    }

    /// Everything that changed on a kept model. Its removed fields are returned, not pushed:
    /// they go after every model's additions.
    fn generate_model_changes(&mut self, new_name: &str) -> Result<Vec<Operation>, MigrationError> {
        let old_name = self
            .renamed_models
            .iter()
            .find(|(_, n)| n == new_name)
            .map_or(new_name, |(o, _)| o.as_str());
        let old = self
            .from
            .model(self.app, old_name)
            .expect("an existing model");
        let new = self.to.model(self.app, new_name).expect("listed");
        if old.table != new.table && old_name == new_name {
            self.ops.push(Operation::RenameModel {
                old: new_name.to_owned(),
                new: new_name.to_owned(),
                table: new.table.clone(),
            });
        }
        let mut diff = FieldDiff {
            gone: old
                .fields
                .iter()
                .filter(|f| new.field(&f.name).is_none())
                .collect(),
            added: new
                .fields
                .iter()
                .filter(|f| old.field(&f.name).is_none())
                .collect(),
        };
        self.generate_renamed_fields(new_name, &mut diff)?;
        self.generate_added_fields(new_name, &diff.added)?;
        self.generate_altered_fields(new_name, &old.fields, &new.fields)?;
        self.generate_check_changes(new_name, &old.checks, &new.checks);
        self.generate_index_changes(new_name, &old.indexes, &new.indexes);
        Ok(diff
            .gone
            .iter()
            .map(|field| Operation::RemoveField {
                model: new_name.to_owned(),
                name: field.name.clone(),
            })
            .collect())
    }

    /// Field renames confirmed by hints (`--rename Model.old=new`), each with an AlterField
    /// if the field changed beside its name; any other field both gone and added is refused.
    fn generate_renamed_fields(
        &mut self,
        new_name: &str,
        diff: &mut FieldDiff<'_>,
    ) -> Result<(), MigrationError> {
        for hint in self.hints {
            let RenameHint::Field {
                model,
                old: old_field,
                new: new_field,
            } = hint
            else {
                continue;
            };
            if model != new_name {
                continue;
            }
            let (Some(g), Some(a)) = (
                diff.gone.iter().position(|f| f.name == *old_field),
                diff.added.iter().position(|f| f.name == *new_field),
            ) else {
                return Err(MigrationError::Invalid(format!("--rename {model}.{old_field}={new_field}: no field {old_field} went away while {new_field} appeared")));
            };
            let (was, now) = (diff.gone.remove(g), diff.added.remove(a));
            self.ops.push(Operation::RenameField {
                model: new_name.to_owned(),
                old: was.name.clone(),
                new: now.name.clone(),
            });
            let mut renamed = was.clone();
            renamed.name = now.name.clone();
            if renamed.column == was.name {
                renamed.column = now.name.clone();
            }
            if renamed != *now {
                self.ops.push(Operation::AlterField {
                    model: new_name.to_owned(),
                    field: now.clone(),
                });
            }
        }
        if !self.no_rename && !diff.gone.is_empty() && !diff.added.is_empty() {
            let g: Vec<&String> = diff.gone.iter().map(|f| &f.name).collect();
            let a: Vec<&String> = diff.added.iter().map(|f| &f.name).collect();
            return Err(MigrationError::Ambiguous(format!(
                "on {}.{new_name}, field(s) {} went away and {} appeared: if that is a rename, pass --rename {new_name}.{}={}; to drop the old column and its data, pass --no-rename",
                self.app,
                list(&g),
                list(&a),
                g[0],
                a[0]
            )));
        }
        Ok(())
    }

    /// New fields; a NOT NULL one needs a default for the rows already there.
    fn generate_added_fields(
        &mut self,
        new_name: &str,
        added: &[&FieldState],
    ) -> Result<(), MigrationError> {
        for field in added {
            if !field.null && field.default.is_none() && !field.auto_increment {
                return Err(MigrationError::NeedsDefault(format!(
                    "{}.{new_name}.{} is NOT NULL and has no default, so existing rows would have no value: give it #[field(default = ...)] or make it an Option",
                    self.app, field.name
                )));
            }
            self.ops.push(Operation::AddField {
                model: new_name.to_owned(),
                field: (*field).clone(),
            });
        }
        Ok(())
    }

    /// Fields on both sides that differ; one becoming NOT NULL needs a default.
    fn generate_altered_fields(
        &mut self,
        new_name: &str,
        old_fields: &[FieldState],
        new_fields: &[FieldState],
    ) -> Result<(), MigrationError> {
        for field in new_fields {
            let Some(before) = old_fields.iter().find(|f| f.name == field.name) else {
                continue;
            };
            if before == field {
                continue;
            }
            if before.null && !field.null && field.default.is_none() {
                return Err(MigrationError::NeedsDefault(format!(
                    "{}.{new_name}.{} becomes NOT NULL without a default: rows holding NULL would have no value; give it #[field(default = ...)]",
                    self.app, field.name
                )));
            }
            self.ops.push(Operation::AlterField {
                model: new_name.to_owned(),
                field: field.clone(),
            });
        }
        Ok(())
    }

    /// Check constraints added (or changed: added anew) and removed.
    fn generate_check_changes(
        &mut self,
        new_name: &str,
        old_checks: &[(String, String)],
        new_checks: &[(String, String)],
    ) {
        for (check, sql) in new_checks {
            if !old_checks.iter().any(|(n, q)| n == check && q == sql) {
                self.ops.push(Operation::AddCheck {
                    model: new_name.to_owned(),
                    name: check.clone(),
                    sql: sql.clone(),
                });
            }
        }
        for (check, _) in old_checks {
            if !new_checks.iter().any(|(n, _)| n == check) {
                self.ops.push(Operation::RemoveCheck {
                    model: new_name.to_owned(),
                    name: check.clone(),
                });
            }
        }
    }

    /// Indexes removed or changed (removed first, by name), then added or changed. They come
    /// after the added fields they may cover, before the removed fields they may have covered.
    fn generate_index_changes(
        &mut self,
        new_name: &str,
        old_indexes: &[IndexState],
        new_indexes: &[IndexState],
    ) {
        for index in old_indexes {
            if !new_indexes.contains(index) {
                self.ops.push(Operation::RemoveIndex {
                    model: new_name.to_owned(),
                    name: index.name.clone(),
                });
            }
        }
        for index in new_indexes {
            if !old_indexes.contains(index) {
                self.ops.push(Operation::AddIndex {
                    model: new_name.to_owned(),
                    index: index.clone(),
                });
            }
        }
    }

    /// Deleted models go after the models of this app that reference them (a join table
    /// before its model), so no table is dropped while another still points at it;
    /// backwards, the reverse order creates referenced tables first.
    fn generate_deleted_models(&mut self, mut pending: Vec<&String>) {
        let (app, from) = (self.app, self.from);
        while !pending.is_empty() {
            let referenced = |name: &String| {
                pending.iter().any(|other| {
                    *other != name
                        && from
                            .model(app, other)
                            .expect("listed")
                            .fields
                            .iter()
                            .filter_map(|f| f.references.as_ref())
                            .any(|r| r.model == format!("{app}.{name}"))
                })
            };
            let position = pending.iter().position(|n| !referenced(n)).unwrap_or(0);
            let name = pending.remove(position);
            self.ops.push(Operation::DeleteModel { name: name.clone() });
        }
    }
}

fn list(names: &[&String]) -> String {
    names
        .iter()
        .map(|n| n.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests;
