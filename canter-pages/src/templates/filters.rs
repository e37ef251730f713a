//! The filters Django users reach for, beside minijinja's built-in ones (`escape`, `default`,
//! `length`, `join`, `upper`, `title`, `truncate`, …).

use minijinja::value::Value;
use minijinja::{Environment, Error, ErrorKind};

pub(super) fn register(environment: &mut Environment<'static>) {
    environment.add_filter("date", date);
    environment.add_filter("intcomma", intcomma);
    environment.add_filter("floatformat", floatformat);
    environment.add_filter("truncatechars", truncatechars);
    environment.add_filter("pluralize", pluralize);
}

/// `{{ when|date("%Y-%m-%d") }}`: a date, an RFC 3339 time or a Unix timestamp, formatted with
/// strftime's codes (default `%b %-d, %Y`, Django's `N j, Y`).
fn date(value: Value, format: Option<String>) -> Result<String, Error> {
    use chrono::{DateTime, NaiveDate, Utc};
    let format = format.as_deref().unwrap_or("%b %-d, %Y");
    let shown = if let Some(text) = value.as_str() {
        if let Ok(time) = DateTime::parse_from_rfc3339(text) {
            time.format(format).to_string()
        } else if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            day.format(format).to_string()
        } else {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("date: {text:?} is not a date (YYYY-MM-DD) or an RFC 3339 time"),
            ));
        }
    } else if let Ok(seconds) = f64::try_from(value.clone()) {
        let time =
            DateTime::<Utc>::from_timestamp_millis((seconds * 1000.0) as i64).ok_or_else(|| {
                Error::new(ErrorKind::InvalidOperation, "date: timestamp out of range")
            })?;
        time.format(format).to_string()
    } else {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            "date: expected a date, a time or a timestamp",
        ));
    };
    Ok(shown)
}

/// `{{ 1234567|intcomma }}` → `1,234,567`.
fn intcomma(value: Value) -> String {
    let text = value.to_string();
    let (sign, rest) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", text.as_str()),
    };
    let (whole, fraction) = match rest.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (rest, None),
    };
    if !whole.bytes().all(|b| b.is_ascii_digit()) {
        return text;
    }
    let mut grouped = String::new();
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    match fraction {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

/// `{{ 3.14159|floatformat(2) }}` → `3.14`; without digits, one decimal unless it is zero
/// (`34.0` → `34`), as Django's.
fn floatformat(value: Value, digits: Option<i32>) -> Result<String, Error> {
    let number = f64::try_from(value)
        .map_err(|_| Error::new(ErrorKind::InvalidOperation, "floatformat: not a number"))?;
    Ok(match digits {
        Some(d) => format!("{number:.*}", d.max(0) as usize),
        None if number.fract() == 0.0 => format!("{number:.0}"),
        None => format!("{number:.1}"),
    })
}

/// `{{ text|truncatechars(10) }}`: at most that many characters, the last one `…`.
fn truncatechars(text: String, length: usize) -> String {
    if text.chars().count() <= length {
        return text;
    }
    let kept: String = text.chars().take(length.saturating_sub(1)).collect();
    format!("{kept}…")
}

/// `{{ n }} item{{ n|pluralize }}`; `pluralize("y,ies")` for other endings.
fn pluralize(count: Value, suffixes: Option<String>) -> String {
    let one = f64::try_from(count.clone())
        .map(|n| n == 1.0)
        .unwrap_or_else(|_| count.len() == Some(1));
    let suffixes = suffixes.unwrap_or_else(|| "s".to_owned());
    let (singular, plural) = suffixes.split_once(',').unwrap_or(("", suffixes.as_str()));
    if one { singular } else { plural }.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_format_as_djangos_do() {
        assert_eq!(intcomma(Value::from(1234567)), "1,234,567");
        assert_eq!(intcomma(Value::from(-1000)), "-1,000");
        assert_eq!(intcomma(Value::from(999)), "999");
        assert_eq!(floatformat(Value::from(34.0), None).unwrap(), "34");
        assert_eq!(floatformat(Value::from(34.26), None).unwrap(), "34.3");
        assert_eq!(floatformat(Value::from(1.23456), Some(2)).unwrap(), "1.23");
        assert_eq!(truncatechars("hello world".into(), 6), "hello…");
        assert_eq!(pluralize(Value::from(1), None), "");
        assert_eq!(pluralize(Value::from(2), Some("y,ies".into())), "ies");
        assert_eq!(
            date(Value::from("2026-12-04"), None).unwrap(),
            "Dec 4, 2026"
        );
        assert_eq!(date(Value::from(0), Some("%Y".into())).unwrap(), "1970");
        assert!(date(Value::from("yesterday"), None).is_err());
    }
}
