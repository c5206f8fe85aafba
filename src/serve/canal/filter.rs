//! Subscription filters in Canal's syntax.
//!
//! A filter is a comma-separated list of regular expressions, each matched
//! case-insensitively against the whole `schema.table` name:
//! `.*\..*` (everything), `shop\..*` (one schema), `shop\.orders,crm\.user_.*`.
//! An empty filter matches everything, as in Canal. Each subscription has
//! its own filter; the log itself is never filtered.

use regex::{Regex, RegexBuilder};

/// A compiled subscription filter.
#[derive(Debug, Clone)]
pub struct Filter {
    text: String,
    regex: Option<Regex>,
}

/// A filter that does not compile.
#[derive(Debug, thiserror::Error)]
#[error("bad subscription filter {text:?}: {reason}")]
pub struct FilterError {
    pub text: String,
    pub reason: String,
}

impl Filter {
    /// Matches every table.
    pub fn all() -> Self {
        Filter {
            text: String::new(),
            regex: None,
        }
    }

    /// Compiles Canal's filter syntax.
    pub fn parse(text: &str) -> Result<Self, FilterError> {
        let parts: Vec<&str> = text
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect();
        if parts.is_empty() {
            return Ok(Filter::all());
        }
        let joined = parts
            .iter()
            .map(|p| format!("(?:{p})"))
            .collect::<Vec<_>>()
            .join("|");
        let regex = RegexBuilder::new(&format!("^(?:{joined})$"))
            .case_insensitive(true)
            .size_limit(1 << 20)
            .build()
            .map_err(|e| FilterError {
                text: text.to_string(),
                reason: e.to_string(),
            })?;
        Ok(Filter {
            text: text.to_string(),
            regex: Some(regex),
        })
    }

    /// The filter as the client sent it.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether changes of `schema.table` pass.
    pub fn matches(&self, schema: &str, table: &str) -> bool {
        match &self.regex {
            None => true,
            Some(re) => {
                let mut name = String::with_capacity(schema.len() + table.len() + 1);
                name.push_str(schema);
                name.push('.');
                name.push_str(table);
                re.is_match(&name)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canal_patterns() {
        let f = Filter::parse(r".*\..*").unwrap();
        assert!(f.matches("a", "b"));
        let f = Filter::parse(r"shop\.orders, crm\.user_.*").unwrap();
        assert!(f.matches("shop", "orders"));
        assert!(f.matches("SHOP", "Orders"));
        assert!(f.matches("crm", "user_x"));
        assert!(!f.matches("shop", "orders2"));
        assert!(!f.matches("crm", "users"));
        assert!(!f.matches("xshop", "orders"));
        let f = Filter::parse(r"shop\..*").unwrap();
        assert!(f.matches("shop", "anything"));
        assert!(!f.matches("shopping", "x"));
    }

    #[test]
    fn empty_filter_matches_everything() {
        assert!(Filter::parse("").unwrap().matches("x", "y"));
        assert!(Filter::parse(" , ").unwrap().matches("x", "y"));
    }

    #[test]
    fn bad_regex_is_a_clear_error() {
        let e = Filter::parse("shop\\.(orders").unwrap_err();
        assert!(e.to_string().contains("bad subscription filter"), "{e}");
    }
}
