//! The change list's queryset from its query string: filters (only on `list_filter` fields,
//! parsed by the ORM, so nothing from the URL reaches SQL but as a bound value), search
//! (Django's `get_search_results`), and ordering (`o=1.-2`, Django's column indexes).

use canter_orm::{Model, OrmError, QuerySet, SqlType, Q};

use crate::options::ModelAdmin;
use crate::query::Params;

/// Why a change list's query string was refused (a 400).
#[derive(Debug, PartialEq)]
pub(crate) struct BadQuery(pub String);

/// Applies the URL's filters. Each key must start with a `list_filter` field (Django's
/// `lookup_allowed`); the ORM checks the rest of the lookup and the value.
pub(crate) fn apply_filters<M: Model>(
    qs: QuerySet<M>,
    options: &ModelAdmin<M>,
    params: &Params,
) -> Result<QuerySet<M>, BadQuery> {
    let mut pairs = Vec::new();
    for (key, value) in params.filters() {
        let field = key.split("__").next().unwrap_or_default();
        let hierarchy = options.date_hierarchy.as_deref() == Some(field);
        if !hierarchy && !options.list_filter.iter().any(|f| f == field) {
            return Err(BadQuery(format!("filtering on {key:?} is not allowed")));
        }
        // A pattern is work the database does for the client: not from a URL.
        if key.ends_with("__regex") || key.ends_with("__iregex") {
            return Err(BadQuery(format!(
                "{key:?}: regular expressions are not allowed"
            )));
        }
        pairs.push((key, value));
    }
    qs.filter_params(pairs).map_err(|e| match e {
        OrmError::InvalidLookup(message) => BadQuery(message),
        other => BadQuery(other.to_string()),
    })
}

/// The words of a search, quoted phrases kept whole (Django's `smart_split`).
pub(crate) fn search_terms(query: &str) -> Vec<String> {
    let mut terms = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    for c in query.chars() {
        match quote {
            Some(q) if c == q => {
                quote = None;
                terms.push(std::mem::take(&mut current));
            }
            Some(_) => current.push(c),
            None if c == '"' || c == '\'' => {
                if !current.is_empty() {
                    terms.push(std::mem::take(&mut current));
                }
                quote = Some(c);
            }
            None if c.is_whitespace() => {
                if !current.is_empty() {
                    terms.push(std::mem::take(&mut current));
                }
            }
            None => current.push(c),
        }
    }
    if !current.is_empty() {
        terms.push(current);
    }
    terms.retain(|t| !t.is_empty());
    // A search is at most so many words: the query's size is not the client's to choose.
    terms.truncate(16);
    terms
}

/// The lookup of a search field: `^f` starts with, `=f` equals, `@f` and `f` contain (all
/// case-insensitive).
fn search_lookup(field: &str) -> String {
    if let Some(f) = field.strip_prefix('^') {
        format!("{f}__istartswith")
    } else if let Some(f) = field.strip_prefix('=') {
        format!("{f}__iexact")
    } else if let Some(f) = field.strip_prefix('@') {
        format!("{f}__icontains")
    } else {
        format!("{field}__icontains")
    }
}

/// Every word must match one of the search fields (Django's `get_search_results`). A field a
/// word cannot apply to (a number field with `=` and a word) is skipped for that word; a
/// word no field can take matches nothing.
pub(crate) fn search_q<M: Model>(fields: &[String], query: &str) -> Option<Q<M>> {
    let terms = search_terms(query);
    if fields.is_empty() || terms.is_empty() {
        return None;
    }
    let mut all = Q::all();
    for term in terms {
        let mut any: Option<Q<M>> = None;
        for field in fields {
            let lookup = if is_text_path::<M>(field) {
                search_lookup(field)
            } else {
                // Non-text fields match whole values only (Django: `=id`).
                format!("{}__exact", field.trim_start_matches(['^', '=', '@']))
            };
            if let Ok(q) = Q::<M>::parse(&lookup, &term) {
                any = Some(match any {
                    Some(previous) => previous | q,
                    None => q,
                });
            }
        }
        // No field can hold this word: no row matches (a key is never NULL).
        let matched = any.unwrap_or_else(|| {
            let pk = M::meta().pk_field().name;
            Q::parse(&format!("{pk}__isnull"), "true").unwrap_or_else(|_| !Q::all())
        });
        all = all & matched;
    }
    Some(all)
}

/// Whether a search field (`^author__name`) ends on a text field.
fn is_text_path<M: Model>(field: &str) -> bool {
    let plain = field.trim_start_matches(['^', '=', '@']);
    let mut meta = M::meta();
    let parts: Vec<&str> = plain.split("__").collect();
    for (i, part) in parts.iter().enumerate() {
        let Some((_, f)) = meta.field(part) else {
            return false;
        };
        if i + 1 == parts.len() {
            return f.sql_type == SqlType::Text && f.related.is_none();
        }
        match f.related {
            Some(target) => meta = target(),
            None => return false,
        }
    }
    false
}

/// One sorted column: its index in `list_display` and direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sorted {
    pub column: usize,
    pub desc: bool,
}

/// The `o` parameter (`"2.-1"`: column 2 ascending, then column 1 descending; 1-based) into
/// sorted columns; parts naming no sortable column are ignored.
pub(crate) fn parse_order(o: Option<&str>, sortable: &[bool]) -> Vec<Sorted> {
    let mut sorted: Vec<Sorted> = Vec::new();
    for part in o.unwrap_or_default().split('.') {
        let (desc, number) = match part.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, part),
        };
        let Ok(n) = number.parse::<usize>() else {
            continue;
        };
        let Some(column) = n.checked_sub(1) else {
            continue;
        };
        if sortable.get(column) == Some(&true) && !sorted.iter().any(|s| s.column == column) {
            sorted.push(Sorted { column, desc });
        }
    }
    sorted
}

/// `o`'s text for a list of sorted columns.
pub(crate) fn order_param(sorted: &[Sorted]) -> String {
    sorted
        .iter()
        .map(|s| format!("{}{}", if s.desc { "-" } else { "" }, s.column + 1))
        .collect::<Vec<_>>()
        .join(".")
}

/// The ORM's ordering: the sorted columns, else the options' `ordering`, else newest first;
/// the primary key last, so pages never share or skip a row.
pub(crate) fn ordering<M: Model>(
    options: &ModelAdmin<M>,
    columns: &[String],
    sorted: &[Sorted],
) -> Vec<String> {
    let pk = M::meta().pk_field().name;
    let mut names: Vec<String> = if sorted.is_empty() {
        options.ordering.clone()
    } else {
        sorted
            .iter()
            .map(|s| format!("{}{}", if s.desc { "-" } else { "" }, columns[s.column]))
            .collect()
    };
    if names.is_empty() {
        names.push(format!("-{pk}"));
    }
    if !names.iter().any(|n| n.trim_start_matches('-') == pk) {
        names.push(format!("-{pk}"));
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_words_keep_quoted_phrases() {
        assert_eq!(search_terms("a  b"), ["a", "b"]);
        assert_eq!(search_terms("\"big red\" dog"), ["big red", "dog"]);
        assert_eq!(search_terms("  "), Vec::<String>::new());
        assert_eq!(search_terms(&"w ".repeat(100)).len(), 16);
    }

    #[test]
    fn lookups_follow_djangos_prefixes() {
        assert_eq!(search_lookup("^name"), "name__istartswith");
        assert_eq!(search_lookup("=email"), "email__iexact");
        assert_eq!(search_lookup("@bio"), "bio__icontains");
        assert_eq!(search_lookup("author__name"), "author__name__icontains");
    }

    #[test]
    fn order_parameter_names_sortable_columns() {
        let sortable = [true, false, true];
        assert_eq!(
            parse_order(Some("3.-1"), &sortable),
            [
                Sorted {
                    column: 2,
                    desc: false
                },
                Sorted {
                    column: 0,
                    desc: true
                }
            ]
        );
        // Unsortable, out of range, zero, repeated and junk parts are ignored.
        assert_eq!(
            parse_order(Some("2.9.0.x.1.1;drop"), &sortable),
            [Sorted {
                column: 0,
                desc: false
            }]
        );
        assert_eq!(order_param(&parse_order(Some("-3.1"), &sortable)), "-3.1");
    }
}
