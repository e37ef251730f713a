//! The autodetector (Django's `MigrationAutodetector`): compares the state the migration files
//! describe with the compiled models and lists the operations that turn one into the other.
//! It never guesses a rename: a field (or model) that disappeared while a similar one appeared
//! is reported, and a `--rename` hint (or `--no-rename`) decides, so no data is dropped silently.

use super::operations::Operation;
use super::state::{FieldState, ProjectState};
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
pub fn changes(
    app: &str,
    from: &ProjectState,
    to: &ProjectState,
    hints: &[RenameHint],
    no_rename: bool,
) -> Result<Vec<Operation>, MigrationError> {
    let mut ops = Vec::new();
    let old_models: Vec<String> = from.app_models(app).map(|m| m.name.clone()).collect();
    let new_models: Vec<String> = to.app_models(app).map(|m| m.name.clone()).collect();

    // Model renames first; afterwards the old model is known by its new name.
    let mut renamed_models: Vec<(String, String)> = Vec::new();
    for hint in hints {
        if let RenameHint::Model { old, new } = hint {
            // A hint about another app's models (make_migrations checks it matched somewhere).
            if !old_models.contains(old) && !new_models.contains(new) {
                continue;
            }
            if old_models.contains(old) && new_models.contains(new) && !old_models.contains(new) {
                let table = to.model(app, new).expect("listed").table.clone();
                ops.push(Operation::RenameModel {
                    old: old.clone(),
                    new: new.clone(),
                    table,
                });
                renamed_models.push((old.clone(), new.clone()));
            } else {
                return Err(MigrationError::Invalid(format!("--rename {old}={new}: no model {old} went away while {new} appeared in app {app}")));
            }
        }
    }
    let old_name_of = |new: &str| {
        renamed_models
            .iter()
            .find(|(_, n)| n == new)
            .map(|(o, _)| o.clone())
            .unwrap_or_else(|| new.to_owned())
    };
    let deleted: Vec<&String> = old_models
        .iter()
        .filter(|m| !new_models.contains(m) && !renamed_models.iter().any(|(o, _)| o == *m))
        .collect();
    let created: Vec<&String> = new_models
        .iter()
        .filter(|m| !old_models.contains(m) && !renamed_models.iter().any(|(_, n)| n == *m))
        .collect();
    if !no_rename && !deleted.is_empty() && !created.is_empty() {
        return Err(MigrationError::Ambiguous(format!(
            "in app {app}, model(s) {} went away and {} appeared: if that is a rename, pass --rename {}={}; to drop and create, pass --no-rename",
            list(&deleted),
            list(&created),
            deleted[0],
            created[0]
        )));
    }
    // Created models come after the models of this app they reference, so their foreign
    // keys can be made.
    let mut pending: Vec<&String> = created.clone();
    while !pending.is_empty() {
        let ready = |name: &String| {
            let model = to.model(app, name).expect("listed");
            model
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
        let name = pending.remove(position);
        let model = to.model(app, name).expect("listed");
        ops.push(Operation::CreateModel {
            name: model.name.clone(),
            table: model.table.clone(),
            fields: model.fields.clone(),
            unique_together: model.unique_together.clone(),
            checks: model.checks.clone(),
        });
    }

    let mut removals = Vec::new();
    for new_name in &new_models {
        if created.contains(&new_name) {
            continue;
        }
        let old = from
            .model(app, &old_name_of(new_name))
            .expect("an existing model");
        let new = to.model(app, new_name).expect("listed");
        if old.table != new.table && !renamed_models.iter().any(|(_, n)| n == new_name) {
            ops.push(Operation::RenameModel {
                old: new_name.clone(),
                new: new_name.clone(),
                table: new.table.clone(),
            });
        }
        let mut gone: Vec<&FieldState> = old
            .fields
            .iter()
            .filter(|f| new.field(&f.name).is_none())
            .collect();
        let mut added: Vec<&FieldState> = new
            .fields
            .iter()
            .filter(|f| old.field(&f.name).is_none())
            .collect();
        for hint in hints {
            if let RenameHint::Field {
                model,
                old: old_field,
                new: new_field,
            } = hint
            {
                if model != new_name {
                    continue;
                }
                let (Some(g), Some(a)) = (
                    gone.iter().position(|f| f.name == *old_field),
                    added.iter().position(|f| f.name == *new_field),
                ) else {
                    return Err(MigrationError::Invalid(format!("--rename {model}.{old_field}={new_field}: no field {old_field} went away while {new_field} appeared")));
                };
                let (was, now) = (gone.remove(g), added.remove(a));
                ops.push(Operation::RenameField {
                    model: new_name.clone(),
                    old: was.name.clone(),
                    new: now.name.clone(),
                });
                let mut renamed = was.clone();
                renamed.name = now.name.clone();
                if renamed.column == was.name {
                    renamed.column = now.name.clone();
                }
                if renamed != *now {
                    ops.push(Operation::AlterField {
                        model: new_name.clone(),
                        field: now.clone(),
                    });
                }
            }
        }
        if !no_rename && !gone.is_empty() && !added.is_empty() {
            let g: Vec<&String> = gone.iter().map(|f| &f.name).collect();
            let a: Vec<&String> = added.iter().map(|f| &f.name).collect();
            return Err(MigrationError::Ambiguous(format!(
                "on {app}.{new_name}, field(s) {} went away and {} appeared: if that is a rename, pass --rename {new_name}.{}={}; to drop the old column and its data, pass --no-rename",
                list(&g),
                list(&a),
                g[0],
                a[0]
            )));
        }
        for field in added {
            if !field.null && field.default.is_none() && !field.auto_increment {
                return Err(MigrationError::NeedsDefault(format!(
                    "{app}.{new_name}.{} is NOT NULL and has no default, so existing rows would have no value: give it #[field(default = ...)] or make it an Option",
                    field.name
                )));
            }
            ops.push(Operation::AddField {
                model: new_name.clone(),
                field: field.clone(),
            });
        }
        for field in &new.fields {
            if let Some(before) = old.field(&field.name) {
                if before != field {
                    if before.null && !field.null && field.default.is_none() {
                        return Err(MigrationError::NeedsDefault(format!(
                            "{app}.{new_name}.{} becomes NOT NULL without a default: rows holding NULL would have no value; give it #[field(default = ...)]",
                            field.name
                        )));
                    }
                    ops.push(Operation::AlterField {
                        model: new_name.clone(),
                        field: field.clone(),
                    });
                }
            }
        }
        for (check, sql) in &new.checks {
            if !old.checks.iter().any(|(n, q)| n == check && q == sql) {
                ops.push(Operation::AddCheck {
                    model: new_name.clone(),
                    name: check.clone(),
                    sql: sql.clone(),
                });
            }
        }
        for (check, _) in &old.checks {
            if !new.checks.iter().any(|(n, _)| n == check) {
                ops.push(Operation::RemoveCheck {
                    model: new_name.clone(),
                    name: check.clone(),
                });
            }
        }
        for field in gone {
            removals.push(Operation::RemoveField {
                model: new_name.clone(),
                name: field.name.clone(),
            });
        }
    }
    ops.extend(removals);
    // Deleted models go after the models of this app that reference them (a join table before
    // its model), so no table is dropped while another still points at it; backwards, the
    // reverse order creates referenced tables first.
    let mut pending: Vec<&String> = deleted.clone();
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
        ops.push(Operation::DeleteModel { name: name.clone() });
    }
    Ok(ops)
}

fn list(names: &[&String]) -> String {
    names
        .iter()
        .map(|n| n.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fields::SqlType;
    use crate::migrations::state::ModelState;

    fn field(name: &str, sql_type: SqlType) -> FieldState {
        FieldState {
            name: name.into(),
            column: name.into(),
            sql_type,
            null: false,
            primary_key: false,
            auto_increment: false,
            unique: false,
            db_index: false,
            max_length: None,
            default: None,
            references: None,
        }
    }

    fn id() -> FieldState {
        FieldState {
            primary_key: true,
            auto_increment: true,
            ..field("id", SqlType::BigInteger)
        }
    }

    fn state(models: &[(&str, Vec<FieldState>)]) -> ProjectState {
        let mut s = ProjectState::default();
        for (name, fields) in models {
            let m = ModelState {
                app: "a".into(),
                name: (*name).into(),
                table: format!("a_{}", name.to_lowercase()),
                fields: fields.clone(),
                unique_together: Vec::new(),
                checks: Vec::new(),
            };
            s.models.insert(m.key(), m);
        }
        s
    }

    fn ops(
        from: &ProjectState,
        to: &ProjectState,
        hints: &[&str],
    ) -> Result<Vec<Operation>, MigrationError> {
        let hints: Vec<RenameHint> = hints
            .iter()
            .map(|h| RenameHint::parse(h).unwrap())
            .collect();
        changes("a", from, to, &hints, false)
    }

    #[test]
    fn create_and_delete_model() {
        let empty = state(&[]);
        let one = state(&[("Post", vec![id(), field("title", SqlType::Text)])]);
        assert!(
            matches!(&ops(&empty, &one, &[]).unwrap()[..], [Operation::CreateModel { name, .. }] if name == "Post")
        );
        assert!(
            matches!(&ops(&one, &empty, &[]).unwrap()[..], [Operation::DeleteModel { name }] if name == "Post")
        );
        assert!(ops(&one, &one, &[]).unwrap().is_empty());
    }

    #[test]
    fn add_field_needs_a_default_or_null() {
        let v1 = state(&[("Post", vec![id()])]);
        let v2 = state(&[("Post", vec![id(), field("views", SqlType::BigInteger)])]);
        assert!(matches!(
            ops(&v1, &v2, &[]),
            Err(MigrationError::NeedsDefault(_))
        ));
        let v2 = state(&[(
            "Post",
            vec![
                id(),
                FieldState {
                    default: Some(serde_json::json!(0)),
                    ..field("views", SqlType::BigInteger)
                },
            ],
        )]);
        assert!(
            matches!(&ops(&v1, &v2, &[]).unwrap()[..], [Operation::AddField { field, .. }] if field.name == "views")
        );
        let v2 = state(&[(
            "Post",
            vec![
                id(),
                FieldState {
                    null: true,
                    ..field("views", SqlType::BigInteger)
                },
            ],
        )]);
        assert_eq!(ops(&v1, &v2, &[]).unwrap().len(), 1);
    }

    #[test]
    fn remove_and_alter_field() {
        let v1 = state(&[("Post", vec![id(), field("a", SqlType::Text)])]);
        let v2 = state(&[("Post", vec![id()])]);
        assert!(
            matches!(&ops(&v1, &v2, &[]).unwrap()[..], [Operation::RemoveField { name, .. }] if name == "a")
        );
        let v3 = state(&[(
            "Post",
            vec![
                id(),
                FieldState {
                    max_length: Some(10),
                    ..field("a", SqlType::Text)
                },
            ],
        )]);
        assert!(
            matches!(&ops(&v1, &v3, &[]).unwrap()[..], [Operation::AlterField { field, .. }] if field.max_length == Some(10))
        );
        let v4 = state(&[("Post", vec![id(), field("a", SqlType::BigInteger)])]);
        assert!(matches!(
            &ops(&v1, &v4, &[]).unwrap()[..],
            [Operation::AlterField { .. }]
        ));
        let v5 = state(&[(
            "Post",
            vec![
                id(),
                FieldState {
                    db_index: true,
                    unique: true,
                    ..field("a", SqlType::Text)
                },
            ],
        )]);
        assert!(matches!(
            &ops(&v1, &v5, &[]).unwrap()[..],
            [Operation::AlterField { .. }]
        ));
    }

    #[test]
    fn renames_are_never_guessed() {
        let v1 = state(&[("Post", vec![id(), field("title", SqlType::Text)])]);
        let v2 = state(&[("Post", vec![id(), field("headline", SqlType::Text)])]);
        let err = ops(&v1, &v2, &[]).unwrap_err().to_string();
        assert!(err.contains("--rename Post.title=headline"), "{err}");
        let renamed = ops(&v1, &v2, &["Post.title=headline"]).unwrap();
        assert!(
            matches!(&renamed[..], [Operation::RenameField { old, new, .. }] if old == "title" && new == "headline")
        );
        // --no-rename: drop and add, which needs a default for the new NOT NULL column.
        assert!(matches!(
            changes("a", &v1, &v2, &[], true),
            Err(MigrationError::NeedsDefault(_))
        ));
        assert!(ops(&v1, &v2, &["Post.nope=headline"]).is_err());
    }

    #[test]
    fn model_renames_take_a_hint() {
        let v1 = state(&[("Post", vec![id()])]);
        let v2 = state(&[("Article", vec![id()])]);
        assert!(matches!(
            ops(&v1, &v2, &[]),
            Err(MigrationError::Ambiguous(_))
        ));
        let renamed = ops(&v1, &v2, &["Post=Article"]).unwrap();
        assert!(
            matches!(&renamed[..], [Operation::RenameModel { old, new, table }] if old == "Post" && new == "Article" && table == "a_article")
        );
    }

    #[test]
    fn check_constraints_are_added_and_removed() {
        let v1 = state(&[("Post", vec![id(), field("n", SqlType::BigInteger)])]);
        let mut v2 = v1.clone();
        v2.models
            .get_mut("a.Post")
            .unwrap()
            .checks
            .push(("n_positive".into(), "n > 0".into()));
        assert!(
            matches!(&ops(&v1, &v2, &[]).unwrap()[..], [Operation::AddCheck { name, sql, .. }] if name == "n_positive" && sql == "n > 0")
        );
        assert!(
            matches!(&ops(&v2, &v1, &[]).unwrap()[..], [Operation::RemoveCheck { name, .. }] if name == "n_positive")
        );
    }

    fn fk(name: &str, target: &str, on_delete: crate::relations::OnDelete) -> FieldState {
        FieldState {
            db_index: true,
            references: Some(crate::migrations::state::References {
                model: format!("a.{target}"),
                table: format!("a_{}", target.to_lowercase()),
                column: "id".into(),
                on_delete,
            }),
            ..field(name, SqlType::BigInteger)
        }
    }

    /// The one AlterField of `from` → `to`, with the field it sets.
    fn altered(from: &ProjectState, to: &ProjectState) -> FieldState {
        match &ops(from, to, &[]).unwrap()[..] {
            [Operation::AlterField { model, field }] if model == "Post" => field.clone(),
            other => panic!("expected one AlterField, got {other:?}"),
        }
    }

    #[test]
    fn alter_null_alone() {
        let v1 = state(&[("Post", vec![id(), field("a", SqlType::Text)])]);
        let nullable = FieldState {
            null: true,
            ..field("a", SqlType::Text)
        };
        let v2 = state(&[("Post", vec![id(), nullable.clone()])]);
        assert_eq!(altered(&v1, &v2), nullable);
        // Back to NOT NULL needs a default for the rows holding NULL.
        assert!(matches!(
            ops(&v2, &v1, &[]),
            Err(MigrationError::NeedsDefault(_))
        ));
        let with_default = FieldState {
            default: Some(serde_json::json!("")),
            ..field("a", SqlType::Text)
        };
        let v3 = state(&[("Post", vec![id(), with_default.clone()])]);
        assert_eq!(altered(&v2, &v3), with_default);
    }

    #[test]
    fn alter_default_alone() {
        let v1 = state(&[("Post", vec![id(), field("n", SqlType::BigInteger)])]);
        let with_default = FieldState {
            default: Some(serde_json::json!(5)),
            ..field("n", SqlType::BigInteger)
        };
        let v2 = state(&[("Post", vec![id(), with_default.clone()])]);
        assert_eq!(altered(&v1, &v2), with_default);
        assert_eq!(altered(&v2, &v1), field("n", SqlType::BigInteger));
        let other_default = FieldState {
            default: Some(serde_json::json!(6)),
            ..field("n", SqlType::BigInteger)
        };
        let v3 = state(&[("Post", vec![id(), other_default.clone()])]);
        assert_eq!(altered(&v2, &v3), other_default);
    }

    #[test]
    fn add_and_remove_index_alone() {
        let v1 = state(&[("Post", vec![id(), field("a", SqlType::Text)])]);
        let indexed = FieldState {
            db_index: true,
            ..field("a", SqlType::Text)
        };
        let v2 = state(&[("Post", vec![id(), indexed.clone()])]);
        assert_eq!(altered(&v1, &v2), indexed);
        assert!(!altered(&v2, &v1).db_index);
    }

    #[test]
    fn foreign_key_on_delete_change() {
        use crate::relations::OnDelete;
        let v1 = state(&[
            ("Author", vec![id()]),
            (
                "Post",
                vec![id(), fk("author", "Author", OnDelete::Protect)],
            ),
        ]);
        let v2 = state(&[
            ("Author", vec![id()]),
            (
                "Post",
                vec![id(), fk("author", "Author", OnDelete::Cascade)],
            ),
        ]);
        let changed = altered(&v1, &v2);
        assert_eq!(changed.references.unwrap().on_delete, OnDelete::Cascade);
        // A plain integer becoming a key (and back) is an AlterField too, never a drop.
        let plain = state(&[
            ("Author", vec![id()]),
            ("Post", vec![id(), field("author", SqlType::BigInteger)]),
        ]);
        assert!(altered(&plain, &v1).references.is_some());
        assert!(altered(&v1, &plain).references.is_none());
    }

    #[test]
    fn many_to_many_join_table_is_created_after_both_sides() {
        use crate::fields::FieldMeta;
        use crate::model::ModelMeta;
        use crate::relations::{ManyToManyMeta, OnDelete};
        const PK: FieldMeta = FieldMeta {
            name: "id",
            column: "id",
            sql_type: SqlType::BigInteger,
            nullable: false,
            primary_key: true,
            auto_increment: true,
            unique: true,
            db_index: false,
            max_length: None,
            choices: &[],
            default: None,
            related: None,
            on_delete: OnDelete::Cascade,
            related_name: None,
        };
        static PKS: [FieldMeta; 1] = [PK];
        static TAG: ModelMeta = ModelMeta {
            app: "a",
            name: "Tag",
            table: "a_tag",
            fields: &PKS,
            pk: 0,
            many_to_many: &[],
            checks: &[],
        };
        static TAGS: [ManyToManyMeta; 1] = [ManyToManyMeta {
            name: "tags",
            owner: || &POST,
            target: || &TAG,
            through: None,
            table: "a_post_tags",
            from_column: "post_id",
            to_column: "tag_id",
        }];
        static POST: ModelMeta = ModelMeta {
            app: "a",
            name: "Post",
            table: "a_post",
            fields: &PKS,
            pk: 0,
            many_to_many: &TAGS,
            checks: &[],
        };
        let to = crate::migrations::state_of(&[&POST, &TAG]);
        let made = ops(&ProjectState::default(), &to, &[]).unwrap();
        let created: Vec<&str> = made
            .iter()
            .map(|op| match op {
                Operation::CreateModel { name, .. } => name.as_str(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(created, ["Post", "Tag", "Post_tags"], "the join table last");
        let Operation::CreateModel {
            table,
            fields,
            unique_together,
            ..
        } = &made[2]
        else {
            unreachable!()
        };
        assert_eq!(table, "a_post_tags");
        let targets: Vec<(&str, &str, OnDelete)> = fields
            .iter()
            .filter_map(|f| {
                f.references
                    .as_ref()
                    .map(|r| (f.column.as_str(), r.model.as_str(), r.on_delete))
            })
            .collect();
        assert_eq!(
            targets,
            [
                ("post_id", "a.Post", OnDelete::Cascade),
                ("tag_id", "a.Tag", OnDelete::Cascade)
            ]
        );
        assert_eq!(
            unique_together,
            &[vec!["post_id".to_string(), "tag_id".into()]]
        );
        // Removing the many-to-many drops the join table alone.
        let without = crate::migrations::state_of(&[&TAG]);
        let mut only_post = without.clone();
        only_post
            .models
            .insert("a.Post".into(), to.models["a.Post"].clone());
        assert!(matches!(
            &ops(&to, &only_post, &[]).unwrap()[..],
            [Operation::DeleteModel { name }] if name == "Post_tags"
        ));
    }

    #[test]
    fn created_models_come_after_the_models_they_reference() {
        use crate::relations::OnDelete;
        // Alphabetically Book < Library < Shelf; by their keys Library, Shelf, Book.
        let to = state(&[
            ("Book", vec![id(), fk("shelf", "Shelf", OnDelete::Cascade)]),
            ("Library", vec![id()]),
            (
                "Shelf",
                vec![id(), fk("library", "Library", OnDelete::Cascade)],
            ),
        ]);
        let made = ops(&ProjectState::default(), &to, &[]).unwrap();
        let created: Vec<&str> = made
            .iter()
            .map(|op| match op {
                Operation::CreateModel { name, .. } => name.as_str(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(created, ["Library", "Shelf", "Book"]);
        // Deleted, in the reverse order: whatever references a model goes before it.
        let deleted: Vec<String> = ops(&to, &ProjectState::default(), &[])
            .unwrap()
            .into_iter()
            .map(|op| match op {
                Operation::DeleteModel { name } => name,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(deleted, ["Book", "Shelf", "Library"]);
    }

    #[test]
    fn hints_parse() {
        assert_eq!(
            RenameHint::parse("M.a=b").unwrap(),
            RenameHint::Field {
                model: "M".into(),
                old: "a".into(),
                new: "b".into()
            }
        );
        assert_eq!(
            RenameHint::parse("A=B").unwrap(),
            RenameHint::Model {
                old: "A".into(),
                new: "B".into()
            }
        );
        assert!(RenameHint::parse("nonsense").is_err());
        assert!(RenameHint::parse("M.=b").is_err());
    }
}
