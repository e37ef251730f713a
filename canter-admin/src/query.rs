//! The change list's query string: read once, then copied with one parameter changed for
//! every link (a filter, a column's sort, a page), as Django's `get_query_string`.

/// The change list's own parameters (everything else is a filter).
pub(crate) const SEARCH: &str = "q";
pub(crate) const ORDER: &str = "o";
pub(crate) const PAGE: &str = "p";
pub(crate) const ALL: &str = "all";

/// The parameters of a change list's URL, in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    pub fn parse(query: Option<&str>) -> Params {
        Params {
            pairs: form_urlencoded::parse(query.unwrap_or_default().as_bytes())
                .into_owned()
                .collect(),
        }
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The filters: every pair but the change list's own and `_`-prefixed ones (Django's
    /// `IGNORED_PARAMS`: popups, preserved filters).
    pub fn filters(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs
            .iter()
            .filter(|(k, _)| ![SEARCH, ORDER, PAGE, ALL, "e"].contains(&k.as_str()))
            .filter(|(k, _)| !k.starts_with('_'))
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// A copy with `set` replacing (or adding) parameters and every parameter starting with
    /// one of `remove` left out; the page goes back to the first unless set.
    pub fn with(&self, set: &[(&str, String)], remove: &[&str]) -> Params {
        let mut pairs: Vec<(String, String)> = self
            .pairs
            .iter()
            .filter(|(k, _)| k != PAGE)
            .filter(|(k, _)| !set.iter().any(|(s, _)| s == k))
            .filter(|(k, _)| {
                !remove
                    .iter()
                    .any(|r| k == r || k.starts_with(&format!("{r}__")))
            })
            .cloned()
            .collect();
        pairs.extend(set.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
        Params { pairs }
    }

    /// `?a=1&b=2` (or `?` alone, which keeps a link's target the bare change list).
    pub fn to_query(&self) -> String {
        let mut out = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.pairs {
            out.append_pair(k, v);
        }
        format!("?{}", out.finish())
    }

    /// The pairs (hidden inputs that carry the filters along with a search).
    pub fn pairs_owned(&self) -> Vec<(String, String)> {
        self.pairs.clone()
    }

    /// Whether every pair of `other` is here (a filter choice is the selected one).
    pub fn contains_all(&self, other: &[(&str, String)]) -> bool {
        other
            .iter()
            .all(|(k, v)| self.pairs.iter().any(|(pk, pv)| pk == k && pv == v))
    }

    /// Whether any parameter starts with `field` (`field`, `field__…`).
    pub fn mentions(&self, field: &str) -> bool {
        self.pairs
            .iter()
            .any(|(k, _)| k == field || k.starts_with(&format!("{field}__")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_change_one_parameter() {
        let params = Params::parse(Some("q=a+b&active__exact=1&p=3&o=2"));
        assert_eq!(params.get("q"), Some("a b"));
        assert_eq!(
            params.filters().collect::<Vec<_>>(),
            [("active__exact", "1")]
        );
        let sorted = params.with(&[("o", "-1".into())], &[]);
        assert_eq!(sorted.to_query(), "?q=a+b&active__exact=1&o=-1");
        let unfiltered = params.with(&[], &["active"]);
        assert_eq!(unfiltered.to_query(), "?q=a+b&o=2");
        assert!(params.contains_all(&[("active__exact", "1".into())]));
        assert!(params.mentions("active"));
        assert!(!params.mentions("act"));
    }
}
