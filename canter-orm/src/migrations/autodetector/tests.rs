//! The autodetector's cases: each kind of change, renames never guessed, and the order of
//! created and deleted models.

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
            indexes: Vec::new(),
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
        blank: false,
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
        indexes: &[],
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
        indexes: &[],
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
