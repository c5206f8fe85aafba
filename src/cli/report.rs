//! How `sluice` reports an error that ends a command: one `error:` line,
//! `caused by:` lines only for causes that add to it, a `hint:` line when
//! the error says what to do about it, and no backtrace (`--debug` prints
//! the error's debug form, with a backtrace under `RUST_BACKTRACE=1`).
//!
//! Exit status 2 for a folder that holds no log (a usage error, as clap's
//! are), 1 for everything else.

use crate::source::SourceError;
use std::process::ExitCode;

/// Prints `err` to stderr and returns the exit status.
pub fn report(err: &anyhow::Error, debug: bool) -> ExitCode {
    if debug {
        eprintln!("error: {err:?}");
    } else {
        for line in sluice_storage::report::error_lines(err.as_ref()) {
            eprintln!("{line}");
        }
    }
    if let Some(h) = hint(err) {
        eprintln!("hint: {h}");
    }
    if sluice_storage::report::is_wrong_folder(err.as_ref()) {
        ExitCode::from(2)
    } else {
        ExitCode::from(1)
    }
}

/// The first hint a cause of `err` carries.
fn hint(err: &anyhow::Error) -> Option<String> {
    err.chain().find_map(|e| {
        let source = e
            .downcast_ref::<SourceError>()
            .or_else(|| e.downcast_ref::<Box<SourceError>>().map(|b| b.as_ref()))?;
        source.hint()
    })
}
