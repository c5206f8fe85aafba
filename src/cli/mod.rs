//! The commands of the `sluice` binary that need more than one call into
//! the library: their flags (clap) and the wiring. `main.rs` dispatches.

pub mod client;
pub mod groups;
pub mod history;
pub mod report;
pub mod run;
pub mod snapshot;
pub mod tail;

/// Opens the log of source `name` in data folder `data` read-only; a
/// folder without that log is refused with the logs it does hold.
pub fn open_log(data: &std::path::Path, name: &str) -> anyhow::Result<sluice_storage::Log> {
    let dir = sluice_storage::locate::require_source_log(data, name)?;
    Ok(sluice_storage::Log::open_read_only(&dir)?)
}

/// Log to stderr with `tracing`; `RUST_LOG` overrides the level.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
