//! Telling a log folder from any other folder a user may pass to a tool.
//!
//! A log folder holds at least one segment file (`NNNNNNNNNNNNNNNNNNNN.log`,
//! 20 digits): a writer creates the first one when it opens an empty
//! folder, and retention never deletes the last one. Readers refuse any
//! other folder instead of reporting an empty, sound log, and name the
//! logs found one or two levels below it (a data folder keeps each
//! source's log at `DATA/NAME/log`), so a user who gave the parent learns
//! which folder was meant.

use std::path::{Path, PathBuf};

use crate::segment::parse_segment_name;
use crate::StorageError;

/// A log found below a folder: its name (the path below the folder, without
/// a last `log` component: `shop` for `DATA/shop/log`) and its folder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FoundLog {
    /// `shop` for `DATA/shop/log`, `a/b` for `DIR/a/b`.
    pub name: String,
    /// The log folder.
    pub dir: PathBuf,
}

/// Whether `dir` holds a segment file. Unreadable folders hold none.
pub fn holds_log(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|e| {
        e.file_name()
            .to_str()
            .and_then(parse_segment_name)
            .is_some()
    })
}

/// The log folders one or two levels below `dir`, sorted by name.
pub fn logs_below(dir: &Path) -> Vec<FoundLog> {
    let mut found = Vec::new();
    for child in subfolders(dir) {
        if holds_log(&child) {
            found.push(child);
            continue;
        }
        found.extend(subfolders(&child).into_iter().filter(|g| holds_log(g)));
    }
    let mut logs: Vec<FoundLog> = found
        .into_iter()
        .map(|log_dir| {
            let below = log_dir.strip_prefix(dir).unwrap_or(&log_dir);
            let named = match below.file_name() {
                Some(last)
                    if last == "log" && below.parent().is_some_and(|p| p != Path::new("")) =>
                {
                    below.parent().unwrap_or(below)
                }
                _ => below,
            };
            FoundLog {
                name: named.to_string_lossy().into_owned(),
                dir: log_dir,
            }
        })
        .collect();
    logs.sort_by(|a, b| a.name.cmp(&b.name));
    logs
}

fn subfolders(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut dirs: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect();
    dirs.sort();
    dirs
}

/// `Ok` when `dir` is a log folder; otherwise [`StorageError::NoFolder`]
/// or [`StorageError::NoLog`] naming the logs below it.
pub fn require_log(dir: &Path) -> Result<(), StorageError> {
    match std::fs::metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(StorageError::NoFolder(dir.to_path_buf()))
        }
        Err(e) => return Err(StorageError::io("open", dir, e)),
        Ok(m) if !m.is_dir() => return Err(StorageError::NotAFolder(dir.to_path_buf())),
        Ok(_) => {}
    }
    if holds_log(dir) {
        return Ok(());
    }
    Err(StorageError::NoLog {
        dir: dir.to_path_buf(),
        found: logs_below(dir),
    })
}

/// The log folder of source `name` in data folder `data` (`sluice run
/// --data DATA --name NAME` writes it).
pub fn source_log_dir(data: &Path, name: &str) -> PathBuf {
    data.join(name).join("log")
}

/// The log folder of source `name` in `data` when it holds a log;
/// otherwise [`StorageError::NoFolder`] for a missing data folder or
/// [`StorageError::NoSourceLog`] naming the logs that are there.
pub fn require_source_log(data: &Path, name: &str) -> Result<PathBuf, StorageError> {
    let dir = source_log_dir(data, name);
    if holds_log(&dir) {
        return Ok(dir);
    }
    match std::fs::metadata(data) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(StorageError::NoFolder(data.to_path_buf()))
        }
        Err(e) => Err(StorageError::io("open", data, e)),
        Ok(m) if !m.is_dir() => Err(StorageError::NotAFolder(data.to_path_buf())),
        Ok(_) => Err(StorageError::NoSourceLog {
            name: name.to_string(),
            data: data.to_path_buf(),
            found: logs_below(data),
        }),
    }
}

/// The text after "no log in DIR" in [`StorageError::NoLog`].
pub(crate) fn found_text(found: &[FoundLog]) -> String {
    if found.is_empty() {
        return " (a log folder holds segment files NNNNNNNNNNNNNNNNNNNN.log; \
                none here or in the two levels below)"
            .into();
    }
    list(found)
}

/// The text after "no log for source NAME in DATA" in
/// [`StorageError::NoSourceLog`]: the logs there, or, when DATA is itself
/// a log folder, the flags that name it.
pub(crate) fn source_hint(data: &Path, found: &[FoundLog]) -> String {
    if holds_log(data) {
        let source = data
            .file_name()
            .filter(|l| *l == "log")
            .and(data.parent())
            .and_then(|p| Some((p.parent()?, p.file_name()?)));
        return match source {
            Some((above, name)) => format!(
                "; {} is the log of source {:?}: give --data {} --name {}",
                data.display(),
                name.to_string_lossy(),
                above.display(),
                name.to_string_lossy()
            ),
            None => format!(
                "; {} is itself a log folder, not a data folder",
                data.display()
            ),
        };
    }
    if found.is_empty() {
        return " (a data folder holds each source's log at DATA/NAME/log; none here)".into();
    }
    list(found)
}

fn list(found: &[FoundLog]) -> String {
    let list: Vec<String> = found
        .iter()
        .map(|f| format!("{} ({})", f.name, f.dir.display()))
        .collect();
    format!("; logs found: {}", list.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn touch_segment(dir: &Path) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("00000000000000000000.log"), b"").unwrap();
    }

    #[test]
    fn finds_data_folder_logs_by_source_name() {
        let d = tempfile::tempdir().unwrap();
        touch_segment(&d.path().join("shop/log"));
        touch_segment(&d.path().join("billing/log"));
        touch_segment(&d.path().join("plain"));
        std::fs::create_dir_all(d.path().join("empty/log")).unwrap();
        std::fs::write(d.path().join("x.log"), b"").unwrap();
        let names: Vec<String> = logs_below(d.path()).into_iter().map(|f| f.name).collect();
        assert_eq!(names, ["billing", "plain", "shop"]);
        let e = require_log(d.path()).unwrap_err().to_string();
        let shop = d.path().join("shop/log");
        assert!(e.ends_with(&format!("shop ({})", shop.display())), "{e}");
        assert!(
            e.starts_with(&format!(
                "no log in {}; logs found: billing (",
                d.path().display()
            )),
            "{e}"
        );
        assert!(require_log(&shop).is_ok());
        assert_eq!(require_source_log(d.path(), "shop").unwrap(), shop);
        let e = require_source_log(d.path(), "shp").unwrap_err().to_string();
        assert!(e.starts_with("no log for source \"shp\" in "), "{e}");
        assert!(e.contains("; logs found: billing ("), "{e}");
        let e = require_source_log(&shop, "shop").unwrap_err().to_string();
        assert!(
            e.ends_with(&format!(
                "is the log of source \"shop\": give --data {} --name shop",
                d.path().display()
            )),
            "{e}"
        );
    }

    #[test]
    fn missing_and_plain_folders() {
        let d = tempfile::tempdir().unwrap();
        let gone = d.path().join("gone");
        assert_eq!(
            require_log(&gone).unwrap_err().to_string(),
            format!("no such folder: {}", gone.display())
        );
        assert!(matches!(
            require_log(d.path()),
            Err(StorageError::NoLog { found, .. }) if found.is_empty()
        ));
        let file = d.path().join("f");
        std::fs::write(&file, b"").unwrap();
        assert!(matches!(
            require_log(&file),
            Err(StorageError::NotAFolder(_))
        ));
    }
}
