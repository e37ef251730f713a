//! The change list's date drill-down (Django's `date_hierarchy`): the years with rows, then a
//! year's months, then a month's days, as `__year` / `__month` / `__day` filters.

use canter_orm::aggregates::{Max, Min};
use canter_orm::chrono::NaiveDate;
use canter_orm::expressions::Column;
use canter_orm::{Model, OrmError, QuerySet};
use serde::Serialize;

use crate::query::Params;

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

#[derive(Serialize, Debug, PartialEq)]
pub(crate) struct Link {
    label: String,
    url: String,
}

/// The drill-down: a link back up (when below the years) and the choices at this level.
#[derive(Serialize, Debug, PartialEq)]
pub(crate) struct Hierarchy {
    back: Option<Link>,
    current: Option<String>,
    choices: Vec<Link>,
}

/// The drill-down of `field` over the rows `qs` selects (one query, for the years' range).
/// Long because it is one arm per level (years, a year's months, a month's days).
pub(crate) async fn links<M: Model>(
    field: &str,
    params: &Params,
    qs: QuerySet<M>,
) -> Result<Hierarchy, OrmError> {
    let (year_key, month_key, day_key) = (
        format!("{field}__year"),
        format!("{field}__month"),
        format!("{field}__day"),
    );
    let number = |key: &str| params.get(key).and_then(|v| v.parse::<i32>().ok());
    let link = |label: String, set: &[(&str, String)]| Link {
        label,
        url: params.with(set, &[field]).to_query(),
    };
    let (year, month, day) = (number(&year_key), number(&month_key), number(&day_key));
    let month_name = |m: i32| MONTHS.get((m - 1) as usize).copied().unwrap_or("?");
    Ok(match (year, month) {
        (None, _) => {
            let index = M::meta().field(field).map(|(i, _)| i).unwrap_or(0);
            let column = Column::<M, (), _>::new(index);
            let range = qs
                .aggregate([
                    Min::of(column).named("first"),
                    Max::of(column).named("last"),
                ])
                .await?;
            let year_of = |key: &str| {
                range
                    .get(key)
                    .and_then(|v| v.as_str())
                    .and_then(|s| s.get(..4))
                    .and_then(|y| y.parse::<i32>().ok())
            };
            let choices = match (year_of("first"), year_of("last")) {
                // At most a century of links.
                (Some(first), Some(last)) => (first.max(last - 99)..=last)
                    .map(|y| link(y.to_string(), &[(&year_key, y.to_string())]))
                    .collect(),
                _ => Vec::new(),
            };
            Hierarchy {
                back: None,
                current: None,
                choices,
            }
        }
        (Some(year), None) => Hierarchy {
            back: Some(link("‹ All dates".into(), &[])),
            current: Some(year.to_string()),
            choices: (1..=12)
                .map(|m| {
                    let set = [
                        (year_key.as_str(), year.to_string()),
                        (month_key.as_str(), m.to_string()),
                    ];
                    link(format!("{} {year}", month_name(m)), &set)
                })
                .collect(),
        },
        (Some(year), Some(month)) => {
            let back = [(year_key.as_str(), year.to_string())];
            let days = days_in(year, month);
            Hierarchy {
                back: Some(link(format!("‹ {year}"), &back)),
                current: Some(match day {
                    Some(d) => format!("{} {d}, {year}", month_name(month)),
                    None => format!("{} {year}", month_name(month)),
                }),
                choices: (1..=days)
                    .map(|d| {
                        let set = [
                            (year_key.as_str(), year.to_string()),
                            (month_key.as_str(), month.to_string()),
                            (day_key.as_str(), d.to_string()),
                        ];
                        link(format!("{} {d}", month_name(month)), &set)
                    })
                    .collect(),
            }
        }
    })
}

/// How many days month `month` of `year` has (0 for a month that does not exist).
fn days_in(year: i32, month: i32) -> u32 {
    let Ok(month) = u32::try_from(month) else {
        return 0;
    };
    let first = NaiveDate::from_ymd_opt(year, month, 1);
    let next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)
    };
    match (first, next) {
        (Some(a), Some(b)) => (b - a).num_days() as u32,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_have_their_days() {
        assert_eq!(days_in(2024, 2), 29);
        assert_eq!(days_in(2026, 2), 28);
        assert_eq!(days_in(2026, 12), 31);
        assert_eq!(days_in(2026, 13), 0);
        assert_eq!(days_in(2026, -1), 0);
    }
}
