//! Many-to-many fields in the add and change forms (Django's `ModelMultipleChoiceField`): a
//! multiple select of the target's rows, checked against them, set after the row is saved.

use std::collections::HashMap;

use canter_orm::{Model, OrmError};
use canter_pages::forms::FormData;

use crate::access::Cx;
use crate::display::field_label;
use crate::forms::{Choice, Errors, Fieldset, FormField};
use crate::options::ModelAdmin;

/// The selected keys of each many-to-many field.
pub(crate) type Selected = HashMap<String, Vec<String>>;

/// How many rows a multiple select offers at most.
const MAX_OPTIONS: u64 = 1000;

/// What a saved row links to now.
pub(crate) async fn current<M: Model>(
    options: &ModelAdmin<M>,
    row: &M,
) -> Result<Selected, OrmError> {
    let mut selected = Selected::new();
    for many in &options.many {
        selected.insert(many.name.clone(), (many.current)(row).await?);
    }
    Ok(selected)
}

/// What a submission selected (every value of each field's name).
pub(crate) fn submitted<M>(options: &ModelAdmin<M>, data: &FormData) -> Selected {
    options
        .many
        .iter()
        .map(|many| {
            let mut keys: Vec<String> = data
                .get_all(&many.name)
                .into_iter()
                .map(str::to_owned)
                .collect();
            keys.sort();
            keys.dedup();
            (many.name.clone(), keys)
        })
        .collect()
}

/// Django's "Select a valid choice" for keys naming no row of the target.
pub(crate) async fn check<M: Model>(
    cx: &Cx,
    options: &ModelAdmin<M>,
    selected: &Selected,
    errors: &mut Errors,
) {
    for many in &options.many {
        let keys = selected.get(&many.name).cloned().unwrap_or_default();
        if keys.is_empty() {
            continue;
        }
        let Some(entry) = cx.site.entry_of((many.target)()).cloned() else {
            continue;
        };
        let found = entry.labels(keys.clone()).await.unwrap_or_default();
        if let Some(missing) = keys.iter().find(|k| !found.contains_key(*k)) {
            errors.entry(many.name.clone()).or_default().push(format!(
                "Select a valid choice. {missing} is not one of the available choices."
            ));
        }
    }
}

/// Links the saved row as selected; the labels of the fields that changed.
pub(crate) async fn save<M: Model>(
    options: &ModelAdmin<M>,
    row: &M,
    selected: Selected,
) -> Result<Vec<String>, OrmError> {
    let before = current(options, row).await?;
    let mut changed = Vec::new();
    for many in &options.many {
        let Some(keys) = selected.get(&many.name) else {
            continue;
        };
        let mut old = before.get(&many.name).cloned().unwrap_or_default();
        old.sort();
        if &old != keys {
            (many.set)(row, keys.clone()).await?;
            changed.push(field_label(&many.name));
        }
    }
    Ok(changed)
}

/// The fieldset of the many-to-many fields whose targets are in the admin.
pub(crate) async fn fieldset<M: Model>(
    cx: &Cx,
    options: &ModelAdmin<M>,
    selected: &Selected,
    errors: &Errors,
    view_only: bool,
) -> Option<Fieldset> {
    let mut fields = Vec::new();
    for many in &options.many {
        let Some(entry) = cx.site.entry_of((many.target)()).cloned() else {
            continue;
        };
        let keys = selected.get(&many.name).cloned().unwrap_or_default();
        let rows = entry.options(MAX_OPTIONS).await.unwrap_or_default();
        let choices: Vec<Choice> = rows
            .into_iter()
            .map(|(value, label)| Choice {
                selected: keys.contains(&value),
                value,
                label,
            })
            .collect();
        let shown: Vec<String> = choices
            .iter()
            .filter(|c| c.selected)
            .map(|c| c.label.clone())
            .collect();
        fields.push(FormField {
            name: many.name.clone(),
            label: field_label(&many.name),
            widget: if view_only {
                "readonly"
            } else {
                "select_multiple"
            },
            value: shown.join(", "),
            checked: false,
            required: false,
            errors: errors.get(&many.name).cloned().unwrap_or_default(),
            choices,
            maxlength: None,
            step: None,
            related_label: None,
        });
    }
    (!fields.is_empty()).then_some(Fieldset {
        title: None,
        fields,
    })
}
