//! Error text for a person at a terminal, shared by the command-line tools
//! of the workspace (`sluice`, `sluice-inspect`; both depend on this crate).
//!
//! An error chain is printed as one `error:` line, then one `caused by:`
//! line per cause that adds something: a cause whose text the lines
//! before already hold (an I/O error whose message embeds its source, a
//! context repeating its cause) is left out. No backtrace: that is for a
//! `--debug` run, which prints the error's `Debug` form instead.

use std::error::Error;

/// The lines to print for `err`: `error: …` and `caused by: …`.
pub fn error_lines(err: &(dyn Error + 'static)) -> Vec<String> {
    let mut shown = err.to_string();
    let mut lines = vec![format!("error: {shown}")];
    let mut cause = err.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !text.is_empty() && !shown.contains(&text) {
            lines.push(format!("caused by: {text}"));
            shown.push('\n');
            shown.push_str(&text);
        }
        cause = c.source();
    }
    lines
}

/// Whether the chain holds a [`crate::StorageError`] saying the folder
/// given is not a log (missing, a file, no segment files): a usage error,
/// which the tools report with exit status 2.
pub fn is_wrong_folder(err: &(dyn Error + 'static)) -> bool {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if let Some(s) = e.downcast_ref::<crate::StorageError>() {
            if s.is_wrong_folder() {
                return true;
            }
        }
        cur = e.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StorageError;

    #[test]
    fn a_cause_already_in_the_message_is_not_repeated() {
        let io = std::io::Error::from(std::io::ErrorKind::NotFound);
        let e = StorageError::io("list", "/no/such/dir", io);
        let lines = error_lines(&e);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].starts_with("error: list /no/such/dir: "),
            "{lines:?}"
        );
    }

    #[test]
    fn a_cause_with_new_text_gets_its_line() {
        #[derive(Debug, thiserror::Error)]
        #[error("cannot read the config")]
        struct Outer(#[source] std::io::Error);
        let e = Outer(std::io::Error::other("disk on fire"));
        assert_eq!(
            error_lines(&e),
            ["error: cannot read the config", "caused by: disk on fire"]
        );
        assert!(!is_wrong_folder(&e));
        assert!(is_wrong_folder(&StorageError::NoFolder("/x".into())));
    }
}
