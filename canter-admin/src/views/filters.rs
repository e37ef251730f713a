//! The change list's filter sidebar (Django's `ListFilter`s): for each `list_filter` field,
//! its choices as links that set the field's parameters and keep the others.

use canter_orm::chrono::{Datelike, Duration, NaiveDate, Utc};
use canter_orm::{FieldMeta, Model, OrmError, SqlType};
use serde::Serialize;

use crate::access::Cx;
use crate::display::field_label;
use crate::options::ModelAdmin;
use crate::query::Params;

/// How many choices a foreign-key or plain-values filter lists at most.
const MAX_CHOICES: u64 = 100;

#[derive(Serialize)]
pub(crate) struct Choice {
    label: String,
    url: String,
    selected: bool,
}

#[derive(Serialize)]
pub(crate) struct Block {
    title: String,
    choices: Vec<Choice>,
}

/// One filter's choices: a label and the parameters it sets (none: "All").
type Options = Vec<(String, Vec<(String, String)>)>;

/// The sidebar's blocks, in `list_filter`'s order.
pub(crate) async fn blocks<M: Model>(
    cx: &Cx,
    options: &ModelAdmin<M>,
    params: &Params,
) -> Result<Vec<Block>, OrmError> {
    let meta = M::meta();
    let mut blocks = Vec::new();
    for name in &options.list_filter {
        let Some((_, field)) = meta.field(name) else {
            continue;
        };
        let choices = choices_of::<M>(cx, field).await?;
        let all_label = if is_date(field) { "Any date" } else { "All" };
        let mut out = vec![Choice {
            label: all_label.into(),
            url: params.with(&[], &[field.name]).to_query(),
            selected: !params.mentions(field.name),
        }];
        for (label, set) in choices {
            let set: Vec<(&str, String)> =
                set.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
            out.push(Choice {
                label,
                url: params.with(&set, &[field.name]).to_query(),
                selected: params.contains_all(&set),
            });
        }
        blocks.push(Block {
            title: format!("By {}", field_label(field.name).to_lowercase()),
            choices: out,
        });
    }
    Ok(blocks)
}

fn is_date(field: &FieldMeta) -> bool {
    matches!(field.sql_type, SqlType::Date | SqlType::DateTime)
}

/// A filter's choices by the field's kind.
async fn choices_of<M: Model>(cx: &Cx, field: &FieldMeta) -> Result<Options, OrmError> {
    let name = field.name;
    let exact = format!("{name}__exact");
    let mut choices: Options = if let Some(target) = field.related {
        let target = target();
        let key = format!("{name}__{}__exact", target.pk_field().name);
        let rows = match cx.site.entry_of(target) {
            Some(entry) => entry.clone().options(MAX_CHOICES).await?,
            None => Vec::new(),
        };
        rows.into_iter()
            .map(|(value, label)| (label, vec![(key.clone(), value)]))
            .collect()
    } else if field.sql_type == SqlType::Boolean {
        vec![
            ("Yes".into(), vec![(exact.clone(), "1".into())]),
            ("No".into(), vec![(exact.clone(), "0".into())]),
        ]
    } else if !field.choices.is_empty() {
        field
            .choices
            .iter()
            .map(|c| ((*c).to_owned(), vec![(exact.clone(), (*c).to_owned())]))
            .collect()
    } else if is_date(field) {
        date_choices(field, Utc::now().date_naive())
    } else {
        distinct_values::<M>(field).await?
    };
    if field.nullable {
        let isnull = format!("{name}__isnull");
        let (empty, full) = if is_date(field) {
            ("No date", "Has date")
        } else {
            ("Unknown", "")
        };
        choices.push((empty.into(), vec![(isnull.clone(), "True".into())]));
        if !full.is_empty() {
            choices.push((full.into(), vec![(isnull, "False".into())]));
        }
    }
    Ok(choices)
}

/// Django's `DateFieldListFilter`: today, the past 7 days, this month, this year, each a
/// `__gte` / `__lt` pair.
pub(crate) fn date_choices(field: &FieldMeta, today: NaiveDate) -> Options {
    let text = |day: NaiveDate| match field.sql_type {
        SqlType::DateTime => format!("{}T00:00:00+00:00", day.format("%Y-%m-%d")),
        _ => day.format("%Y-%m-%d").to_string(),
    };
    let tomorrow = today + Duration::days(1);
    let month_start = today.with_day(1).unwrap_or(today);
    let next_month = if today.month() == 12 {
        NaiveDate::from_ymd_opt(today.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(today.year(), today.month() + 1, 1)
    }
    .unwrap_or(tomorrow);
    let year_start = NaiveDate::from_ymd_opt(today.year(), 1, 1).unwrap_or(today);
    let next_year = NaiveDate::from_ymd_opt(today.year() + 1, 1, 1).unwrap_or(tomorrow);
    let (gte, lt) = (
        format!("{}__gte", field.name),
        format!("{}__lt", field.name),
    );
    let range = |label: &str, from: NaiveDate, to: NaiveDate| {
        (
            label.to_owned(),
            vec![(gte.clone(), text(from)), (lt.clone(), text(to))],
        )
    };
    vec![
        range("Today", today, tomorrow),
        range("Past 7 days", today - Duration::days(7), tomorrow),
        range("This month", month_start, next_month),
        range("This year", year_start, next_year),
    ]
}

/// Django's `AllValuesFieldListFilter`: the field's distinct values (the first hundred).
async fn distinct_values<M: Model>(field: &FieldMeta) -> Result<Options, OrmError> {
    let rows = M::objects()
        .limit(MAX_CHOICES)
        .annotate_values(&[field.name], [])
        .await?;
    let exact = format!("{}__exact", field.name);
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            let value = row.get(field.name)?;
            let text = match value {
                serde_json::Value::Null => return None,
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            Some((text.clone(), vec![(exact.clone(), text)]))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_ranges_are_half_open() {
        let field = FieldMeta {
            name: "created",
            column: "created",
            sql_type: SqlType::Date,
            nullable: false,
            primary_key: false,
            auto_increment: false,
            unique: false,
            db_index: false,
            max_length: None,
            choices: &[],
            blank: false,
            default: None,
            related: None,
            on_delete: canter_orm::OnDelete::Cascade,
            related_name: None,
        };
        let day = NaiveDate::from_ymd_opt(2026, 12, 31).unwrap();
        let choices = date_choices(&field, day);
        assert_eq!(
            choices[0].1[0],
            ("created__gte".into(), "2026-12-31".into())
        );
        assert_eq!(choices[0].1[1], ("created__lt".into(), "2027-01-01".into()));
        assert_eq!(
            choices[2].1[1].1, "2027-01-01",
            "December's month ends with the year"
        );
        assert_eq!(choices[3].1[0].1, "2026-01-01");
    }
}
