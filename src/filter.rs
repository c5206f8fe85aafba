//! Table filters with Canal's semantics (`canal.instance.filter.regex` and
//! `canal.instance.filter.black.regex`).
//!
//! A filter is a comma-separated list of regular expressions, each matched
//! against the whole of `schema.table`, ignoring case. An empty include list
//! takes every table; an empty exclude list drops none. A table is captured
//! when it matches the include list and not the exclude list.
//!
//! Examples: `.*\..*` (everything), `shop\..*` (one schema),
//! `shop.orders,shop.items` (two tables; an unescaped `.` matches any
//! character, as in Canal).

use regex::{Regex, RegexBuilder};

#[derive(Clone, Debug)]
pub struct TableFilter {
    include: Option<Regex>,
    exclude: Option<Regex>,
}

#[derive(Debug, thiserror::Error)]
#[error("bad {which} filter {pattern:?}: {}", reason(cause))]
pub struct FilterError {
    which: &'static str,
    pattern: String,
    // Not a `#[source]`: its text quotes the compiled alternation over
    // several lines; `reason` keeps the one line that says what is wrong.
    cause: regex::Error,
}

/// The last line of a regex error ("unclosed group"), without the
/// excerpt of the wrapped pattern the lines above show.
fn reason(e: &regex::Error) -> String {
    let text = e.to_string();
    let last = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    last.trim().trim_start_matches("error: ").to_string()
}

impl TableFilter {
    /// Everything passes.
    pub fn all() -> TableFilter {
        TableFilter {
            include: None,
            exclude: None,
        }
    }

    pub fn new(include: &str, exclude: &str) -> Result<TableFilter, FilterError> {
        Ok(TableFilter {
            include: compile("include", include)?,
            exclude: compile("exclude", exclude)?,
        })
    }

    pub fn matches(&self, schema: &str, table: &str) -> bool {
        if self.include.is_none() && self.exclude.is_none() {
            return true;
        }
        let name = format!("{schema}.{table}");
        let included = self.include.as_ref().is_none_or(|re| re.is_match(&name));
        let excluded = self.exclude.as_ref().is_some_and(|re| re.is_match(&name));
        included && !excluded
    }
}

/// One anchored, case-insensitive alternation of the comma-separated
/// patterns, or `None` when the list is empty.
fn compile(which: &'static str, list: &str) -> Result<Option<Regex>, FilterError> {
    let parts: Vec<&str> = list
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    if parts.is_empty() {
        return Ok(None);
    }
    let alternation = parts
        .iter()
        .map(|p| format!("(?:{p})"))
        .collect::<Vec<_>>()
        .join("|");
    RegexBuilder::new(&format!("^(?:{alternation})$"))
        .case_insensitive(true)
        .size_limit(1 << 20)
        .build()
        .map(Some)
        .map_err(|cause| FilterError {
            which,
            pattern: list.to_string(),
            cause,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn empty_lists_take_everything() {
        let f = TableFilter::new("", "").unwrap();
        assert!(f.matches("a", "b"));
    }

    #[test]
    fn include_is_a_whole_match_ignoring_case() {
        let f = TableFilter::new(r"shop\..*", "").unwrap();
        assert!(f.matches("shop", "orders"));
        assert!(f.matches("SHOP", "Orders"));
        assert!(!f.matches("shopping", "orders"));
        assert!(!f.matches("myshop", "orders"));
    }

    #[test]
    fn list_is_comma_separated_and_exclude_wins() {
        let f = TableFilter::new(r"shop\.orders, shop\.items", r"shop\.items").unwrap();
        assert!(f.matches("shop", "orders"));
        assert!(!f.matches("shop", "items"));
        assert!(!f.matches("shop", "users"));
    }

    #[test]
    fn exclude_alone_drops_only_what_it_names() {
        let f = TableFilter::new("", r"mysql\..*,.*\.tmp_.*").unwrap();
        assert!(!f.matches("mysql", "user"));
        assert!(!f.matches("app", "tmp_x"));
        assert!(f.matches("app", "users"));
    }

    #[test]
    fn a_bad_pattern_is_an_error_naming_it() {
        let err = TableFilter::new("shop\\.(", "").unwrap_err().to_string();
        assert!(err.contains("include") && err.contains("shop"), "{err}");
    }

    proptest! {
        #[test]
        fn arbitrary_patterns_never_panic(include in ".{0,40}", exclude in ".{0,40}",
                                          schema in "[a-z]{0,8}", table in "[a-z]{0,8}") {
            if let Ok(f) = TableFilter::new(&include, &exclude) {
                let _ = f.matches(&schema, &table);
            }
        }
    }
}
