//! Which server the log's newest records came from, so a reconnect knows
//! whether the last record's binlog file and position mean anything on
//! the server it reached (they only do on the server that wrote them).
//!
//! File `DATA/NAME/origin`, UTF-8 text, one line:
//!
//! ```text
//! IDENTITY \t FROM_OFFSET \n
//! ```
//!
//! IDENTITY is [`crate::source::failover::identity`] (`mariadb
//! server_id=2`, `mysql uuid=…`); records at FROM_OFFSET and after were
//! captured from it. It is written (to a temporary file, fsynced, renamed)
//! before the first record from a new server is appended, so a crash in
//! between leaves a FROM_OFFSET beyond the last record: its position is
//! then not trusted and the next start resumes by GTID again. A log
//! without the file (made before it existed) counts as captured from the
//! server it reaches first.

use std::io::Write as _;
use std::path::{Path, PathBuf};

const FILE: &str = "origin";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    pub server: String,
    pub from_offset: u64,
}

impl Origin {
    fn path(dir: &Path) -> PathBuf {
        dir.join(FILE)
    }

    /// The origin stored in `dir`, `None` when there is none.
    pub fn load(dir: &Path) -> Result<Option<Origin>, String> {
        let path = Origin::path(dir);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("reading {}: {e}", path.display())),
        };
        let bad = || {
            format!(
                "{} is not `IDENTITY<tab>OFFSET`: {text:?}; delete it to trust the log's positions on the next server reached",
                path.display()
            )
        };
        let line = text.strip_suffix('\n').ok_or_else(bad)?;
        let (server, offset) = line.split_once('\t').ok_or_else(bad)?;
        let from_offset = offset.parse().map_err(|_| bad())?;
        Ok(Some(Origin {
            server: server.to_string(),
            from_offset,
        }))
    }

    pub fn store(&self, dir: &Path) -> Result<(), String> {
        let path = Origin::path(dir);
        let tmp = dir.join(format!("{FILE}.tmp"));
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(format!("{}\t{}\n", self.server, self.from_offset).as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            std::fs::File::open(dir)?.sync_all()
        };
        write().map_err(|e| format!("writing {}: {e}", path.display()))
    }

    /// Whether the position of the log's last record (offset `last`, or
    /// none) belongs to `server`.
    pub fn positions_belong_to(&self, server: &str, last: Option<u64>) -> bool {
        self.server == server && last.is_none_or(|l| l >= self.from_offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_garbage() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Origin::load(dir.path()).unwrap(), None);
        let o = Origin {
            server: "mariadb server_id=2".into(),
            from_offset: 42,
        };
        o.store(dir.path()).unwrap();
        assert_eq!(Origin::load(dir.path()).unwrap(), Some(o.clone()));
        assert!(o.positions_belong_to("mariadb server_id=2", Some(42)));
        assert!(!o.positions_belong_to("mariadb server_id=2", Some(41)));
        assert!(!o.positions_belong_to("mariadb server_id=1", Some(50)));
        for garbage in ["", "x", "a\tb\n", "a\t1", "\u{0}"] {
            std::fs::write(dir.path().join(FILE), garbage).unwrap();
            let e = Origin::load(dir.path()).unwrap_err();
            assert!(e.contains("delete it"), "{e}");
        }
    }
}
