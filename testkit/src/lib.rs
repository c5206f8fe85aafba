//! Test helpers that start real servers: a private MariaDB with binary
//! logging on, and a private `nats-server -js`.
//!
//! Every server lives in its own temporary directory on a free loopback
//! port and is stopped (by the pid we started, never by name) when its
//! handle drops, when the test binary exits, and — through a watchdog
//! process — even when the test binary is killed. Tests never touch the
//! machine's own MariaDB on 3306 or NATS on 4222.
//!
//! When a server binary is missing, [`MariaDb::start`] fails with the
//! command that installs it when `CI` is set; elsewhere it prints
//! `SKIPPED` and returns `None`, so a developer without MariaDB still gets
//! the rest of the suite; [`note_skip`] also writes the test's name to the
//! file `SLUICE_SKIP_LOG` names, which `tools/test.sh` counts at the end.

mod mariadb;
mod nats;
mod process;

pub use mariadb::{MariaDb, MariaDbOptions, Tls};
pub use nats::NatsServer;

/// The folder of real binlog files (`../shared/binlogs` beside the
/// checkout), overridable with `SLUICE_BINLOGS`. In CI its absence fails
/// the test; elsewhere the caller gets `None` after a printed skip.
pub fn binlog_corpus() -> Option<std::path::PathBuf> {
    let dir = match std::env::var_os("SLUICE_BINLOGS") {
        Some(dir) => std::path::PathBuf::from(dir),
        None => std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/binlogs"),
    };
    if dir.join("MANIFEST.tsv").is_file() {
        return Some(dir);
    }
    missing(&format!(
        "binlog corpus not found at {} (set SLUICE_BINLOGS to its folder)",
        dir.display()
    ));
    None
}

/// True when running under CI (`CI` set to anything but `false`/`0`).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// A required outside part is missing: a failure in CI, a printed skip
/// elsewhere (also counted in `tools/test.sh`'s closing summary).
pub fn missing(what: &str) {
    if in_ci() {
        panic!("{what}");
    }
    eprintln!("SKIPPED (not in CI): {what}");
    note_skip(what);
}

/// Appends `TEST<tab>why` to the file `SLUICE_SKIP_LOG` names (set by
/// `tools/test.sh`), so that a skip is counted at the end of the run, not
/// only printed among thousands of lines. TEST is the test binary's name
/// and the test's (libtest names the thread of a test after it).
pub fn note_skip(why: &str) {
    let Some(log) = std::env::var_os("SLUICE_SKIP_LOG") else {
        return;
    };
    let binary = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .map(|s| match s.rsplit_once('-') {
            Some((name, _hash)) => name.to_string(),
            None => s,
        })
        .unwrap_or_default();
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("main");
    let line = format!("{binary}::{test}\t{}\n", why.replace(['\n', '\t'], " "));
    // O_APPEND: test threads and binaries write whole lines concurrently.
    let written = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(&log)
        .and_then(|mut f| std::io::Write::write_all(&mut f, line.as_bytes()));
    if let Err(e) = written {
        eprintln!("cannot record the skip in {}: {e}", log.to_string_lossy());
    }
}

/// A free TCP port on 127.0.0.1 (bound, then released for the server).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}
