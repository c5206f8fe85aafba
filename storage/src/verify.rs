//! Verification and inspection of a log directory straight from its files
//! (no writer lock needed), for `sluice-inspect` and tests. It uses the
//! crate's own decoders — the same code the log reads with — and checks
//! everything that can be checked: every header, body, footer, trailer,
//! index and group checksum; offsets contiguous within and across
//! segments; source positions never going backwards; each footer against
//! the body it describes; each index entry against the batch it points at;
//! and that the bytes that should be zero (after the data of the active
//! segment, between a footer and its trailer) are zero.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;

use crate::batch::{self, BatchHeader, HeaderProblem, HEADER_LEN};
use crate::gtid::GtidSet;
use crate::index::Index;
use crate::record::{Record, RecordKeys, SourcePos};
use crate::segment::{self, SegmentInfo, TRAILER_LEN};
use crate::{os, StorageError};

/// One problem (or note), with where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The file.
    pub path: PathBuf,
    /// Byte offset in the file.
    pub pos: u64,
    /// What is wrong.
    pub what: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} at byte {}: {}",
            self.path.display(),
            self.pos,
            self.what
        )
    }
}

/// What [`verify_dir`] found.
#[derive(Clone, Debug, Default)]
pub struct VerifyReport {
    /// Segments checked.
    pub segments: u64,
    /// Batches checked.
    pub batches: u64,
    /// Records checked.
    pub records: u64,
    /// Bytes of segment data checked.
    pub bytes: u64,
    /// Damage: the log is not sound when this is not empty.
    pub problems: Vec<Finding>,
    /// Observations that are not damage (a missing index, which is rebuilt
    /// on use; commit times going backwards; the active segment).
    pub notes: Vec<Finding>,
}

impl VerifyReport {
    /// True when no problem was found.
    pub fn is_sound(&self) -> bool {
        self.problems.is_empty()
    }
}

/// A segment file opened for inspection.
pub struct SegmentFile {
    /// The file.
    pub path: PathBuf,
    /// Base offset from the header.
    pub base_offset: u64,
    /// Where batches start.
    pub data_start: u64,
    /// The GTID set before the segment (from the header).
    pub gtid_before: GtidSet,
    /// The last record before the segment (from the header).
    pub prev: Option<RecordKeys>,
    /// The footer, if the segment is sealed; an error if it is damaged.
    pub footer: Result<Option<SegmentInfo>, StorageError>,
    map: Bytes,
}

/// One batch as found in a segment file.
#[derive(Clone, Debug)]
pub struct BatchDump {
    /// Byte position of the batch.
    pub pos: u64,
    /// The header, if it checks out.
    pub header: Option<BatchHeader>,
    /// The records, if the body checks out.
    pub records: Vec<Record>,
    /// What is wrong with the batch, if anything.
    pub problem: Option<String>,
}

impl SegmentFile {
    /// Opens and maps a segment file; fails if its header is damaged.
    pub fn open(path: &Path) -> Result<SegmentFile, StorageError> {
        let file = std::fs::File::open(path).map_err(|e| StorageError::io("open", path, e))?;
        let map = os::map_file(&file, path, Arc::new(()))?;
        let h = segment::parse_header(&map)
            .map_err(|e| StorageError::corrupt(path, e.at as u64, e.what))?;
        let footer = segment::read_footer(&map, path);
        Ok(SegmentFile {
            path: path.to_path_buf(),
            base_offset: h.base,
            data_start: h.data_start,
            gtid_before: h.gtid_before,
            prev: h.prev,
            footer,
            map,
        })
    }

    /// The file's length.
    pub fn file_len(&self) -> u64 {
        self.map.len() as u64
    }

    /// Where the batches end: the footer's `data_end` when sealed, else the
    /// end of the file.
    fn limit(&self) -> u64 {
        match &self.footer {
            Ok(Some(f)) => f.data_end,
            _ => self.file_len(),
        }
    }

    /// Every batch, in file order, stopping at zeros (the end of data) or
    /// at a header that does not check out. A batch whose body is damaged
    /// is reported and skipped (its header gives its length).
    pub fn batches(&self) -> impl Iterator<Item = BatchDump> + '_ {
        let limit = self.limit();
        let mut pos = self.data_start;
        let mut done = false;
        std::iter::from_fn(move || {
            if done || pos >= limit {
                return None;
            }
            let avail = self
                .map
                .get(pos as usize..limit as usize)
                .unwrap_or_default();
            let header = match batch::parse_header(avail) {
                Ok(h) => h,
                Err(HeaderProblem::End) => return None,
                Err(HeaderProblem::Bad(what)) => {
                    done = true;
                    return Some(BatchDump {
                        pos,
                        header: None,
                        records: Vec::new(),
                        problem: Some(what),
                    });
                }
            };
            let here = pos;
            let end = pos + header.total_len();
            pos = end;
            if end > limit {
                done = true;
                return Some(BatchDump {
                    pos: here,
                    header: Some(header),
                    records: Vec::new(),
                    problem: Some(format!("batch runs past the end of data ({limit})")),
                });
            }
            let stored = self.map.slice(here as usize + HEADER_LEN..end as usize);
            let mut records = Vec::new();
            let problem = match batch::open_body(&header, stored) {
                Err(what) => Some(what),
                Ok(raw) => {
                    let r = batch::walk(&raw, header.record_count, |i, r, _| {
                        records.push(batch::to_record(&raw, header.base_offset + i as u64, r));
                    });
                    r.err().map(|e| format!("batch body: {e}"))
                }
            };
            if problem.is_some() {
                records.clear();
            }
            Some(BatchDump {
                pos: here,
                header: Some(header),
                records,
                problem,
            })
        })
    }

    /// The whole mapped file.
    fn bytes(&self) -> &[u8] {
        &self.map
    }
}

/// The segment files of a log directory, ascending by base offset.
pub fn segment_paths(dir: &Path) -> Result<Vec<PathBuf>, StorageError> {
    crate::locate::require_log(dir)?;
    Ok(crate::recovery::list_segments(dir)?
        .into_iter()
        .map(|b| dir.join(segment::segment_name(b)))
        .collect())
}

struct Running {
    next_offset: u64,
    max_time: Option<i64>,
    max_pos: SourcePos,
    first_pos: Option<SourcePos>,
    time_range: Option<(i64, i64)>,
    gtid: GtidSet,
}

/// Checks every file of the log in `dir`. `progress` is called with
/// (bytes checked, total bytes) as the check advances.
pub fn verify_dir(
    dir: &Path,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<VerifyReport, StorageError> {
    let mut rep = VerifyReport::default();
    let paths = segment_paths(dir)?;
    let total: u64 = paths
        .iter()
        .map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .sum();
    let start = match crate::log::read_start(dir) {
        Ok(s) => s,
        Err(e) => {
            rep.problems.push(finding_of(&e, &dir.join("log-start")));
            None
        }
    };
    let mut done = 0u64;
    let mut prev: Option<(u64, GtidSet)> = None;
    let count = paths.len();
    for (i, path) in paths.iter().enumerate() {
        rep.segments += 1;
        let last = i + 1 == count;
        let seg = match SegmentFile::open(path) {
            Ok(s) => s,
            Err(e) => {
                rep.problems.push(finding_of(&e, path));
                prev = None;
                continue;
            }
        };
        let name_base = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(segment::parse_segment_name);
        if name_base != Some(seg.base_offset) {
            rep.problems.push(Finding {
                path: path.clone(),
                pos: 8,
                what: "base offset in the header does not match the file name".into(),
            });
        }
        if let Some((next, gtid)) = &prev {
            if *next != seg.base_offset {
                rep.problems.push(Finding {
                    path: path.clone(),
                    pos: 8,
                    what: format!(
                        "segment starts at offset {}, the previous one ends at {next}",
                        seg.base_offset
                    ),
                });
            }
            if *gtid != seg.gtid_before {
                rep.problems.push(Finding {
                    path: path.clone(),
                    pos: 20,
                    what: "GTID set before the segment differs from the set after the previous one"
                        .into(),
                });
            }
        }
        let end = verify_segment(&seg, last, &mut rep, &mut |n| progress(done + n, total));
        done += seg.file_len();
        progress(done, total);
        prev = Some(end);
    }
    verify_groups(dir, start, prev.as_ref().map(|p| p.0), &mut rep);
    Ok(rep)
}

fn finding_of(e: &StorageError, path: &Path) -> Finding {
    match e {
        StorageError::Corrupt { path, pos, what } => Finding {
            path: path.clone(),
            pos: *pos,
            what: what.clone(),
        },
        other => Finding {
            path: path.to_path_buf(),
            pos: 0,
            what: other.to_string(),
        },
    }
}

/// Checks one segment; returns its next offset and GTID set after it.
fn verify_segment(
    seg: &SegmentFile,
    last: bool,
    rep: &mut VerifyReport,
    progress: &mut dyn FnMut(u64),
) -> (u64, GtidSet) {
    let path = &seg.path;
    let problem = |rep: &mut VerifyReport, pos: u64, what: String| {
        rep.problems.push(Finding {
            path: path.clone(),
            pos,
            what,
        })
    };
    let footer = match &seg.footer {
        Ok(f) => f.clone(),
        Err(e) => {
            rep.problems.push(finding_of(e, path));
            None
        }
    };
    if footer.is_none() && seg.footer.is_ok() {
        if last {
            rep.notes.push(Finding {
                path: path.clone(),
                pos: seg.file_len(),
                what: "active segment (not sealed)".into(),
            });
        } else {
            problem(
                rep,
                seg.file_len().saturating_sub(TRAILER_LEN),
                "segment is not the last but has no valid footer trailer".into(),
            );
        }
    }
    // The index of a sealed segment.
    let index_path = path.with_extension("index");
    let index = if footer.is_some() {
        match std::fs::read(&index_path) {
            Ok(b) => match Index::decode(&b, seg.base_offset, &index_path) {
                Ok(i) => Some(i),
                Err(e) => {
                    rep.problems.push(finding_of(&e, &index_path));
                    None
                }
            },
            Err(_) => {
                rep.notes.push(Finding {
                    path: index_path.clone(),
                    pos: 0,
                    what: "index missing (rebuilt on first use)".into(),
                });
                None
            }
        }
    } else {
        None
    };
    let mut entries = index.as_ref().map(|i| i.entries.iter().peekable());
    let mut run = Running {
        next_offset: seg.base_offset,
        max_time: None,
        max_pos: SourcePos::default(),
        first_pos: None,
        time_range: None,
        gtid: seg.gtid_before.clone(),
    };
    let mut batches = 0u64;
    let mut data_end = seg.data_start;
    let mut broken = false;
    for b in seg.batches() {
        progress(b.pos);
        if let Some(it) = entries.as_mut() {
            while let Some(e) = it.peek() {
                if e.file_pos > b.pos {
                    break;
                }
                if e.file_pos < b.pos {
                    problem(
                        rep,
                        e.file_pos,
                        format!(
                            "index entry for offset {} does not point at a batch start",
                            e.offset
                        ),
                    );
                } else if e.offset != run.next_offset
                    || e.max_time_before != run.max_time.unwrap_or(i64::MIN)
                    || e.max_pos_before != run.max_pos
                    || e.gtid_before != run.gtid
                {
                    problem(
                        rep,
                        b.pos,
                        format!(
                            "index entry for offset {} disagrees with the batch it points at",
                            e.offset
                        ),
                    );
                }
                it.next();
            }
        }
        let Some(h) = b.header else {
            problem(rep, b.pos, b.problem.unwrap_or_default());
            broken = true;
            break;
        };
        batches += 1;
        data_end = b.pos + h.total_len();
        if h.base_offset != run.next_offset {
            problem(
                rep,
                b.pos,
                format!(
                    "batch starts at offset {}, expected {}",
                    h.base_offset, run.next_offset
                ),
            );
        }
        run.next_offset = h.next_offset();
        if let Some(what) = b.problem {
            problem(rep, b.pos, what);
            continue;
        }
        rep.batches += 1;
        rep.bytes += h.total_len();
        for r in &b.records {
            rep.records += 1;
            if run.first_pos.is_none() {
                run.first_pos = Some(r.position);
            }
            if r.position < run.max_pos {
                problem(
                    rep,
                    b.pos,
                    format!(
                        "offset {}: source position {} goes back (after {})",
                        r.offset, r.position, run.max_pos
                    ),
                );
            }
            if run.max_time.is_some_and(|m| r.commit_time_ms < m) {
                rep.notes.push(Finding {
                    path: path.clone(),
                    pos: b.pos,
                    what: format!("offset {}: commit time goes back", r.offset),
                });
            }
            run.max_pos = run.max_pos.max(r.position);
            run.max_time = Some(
                run.max_time
                    .map_or(r.commit_time_ms, |m| m.max(r.commit_time_ms)),
            );
            run.time_range = Some(match run.time_range {
                None => (r.commit_time_ms, r.commit_time_ms),
                Some((a, z)) => (a.min(r.commit_time_ms), z.max(r.commit_time_ms)),
            });
            run.gtid.union_with(&r.gtid());
        }
    }
    if let Some(mut it) = entries {
        if let Some(e) = it.next() {
            problem(
                rep,
                e.file_pos,
                format!("index entry for offset {} points past the data", e.offset),
            );
        }
    }
    let bytes = seg.bytes();
    match &footer {
        Some(f) => {
            let checks: [(bool, &str); 8] = [
                (f.base_offset == seg.base_offset, "base offset"),
                (f.next_offset == run.next_offset, "next offset"),
                (f.data_start == seg.data_start, "data start"),
                (f.batch_count == batches, "batch count"),
                (f.time_range == run.time_range, "time range"),
                (f.first_position == run.first_pos, "first position"),
                (
                    f.max_position == run.first_pos.map(|_| run.max_pos),
                    "max position",
                ),
                (
                    f.gtid_after == run.gtid && f.gtid_before == seg.gtid_before,
                    "GTID sets",
                ),
            ];
            for (ok, what) in checks {
                if !ok && !broken {
                    problem(
                        rep,
                        f.data_end,
                        format!("footer {what} does not match the segment's batches"),
                    );
                }
            }
            if !broken && data_end != f.data_end {
                problem(
                    rep,
                    data_end,
                    format!("batches end at {data_end}, footer says {}", f.data_end),
                );
            }
            // Between the footer and the trailer: zeros.
            let flen = f.data_end as usize;
            let footer_end = bytes
                .get(flen..)
                .and_then(|_| footer_len(bytes))
                .map_or(flen, |l| flen + l);
            let hole_end = bytes.len().saturating_sub(TRAILER_LEN as usize);
            if let Some(i) = bytes
                .get(footer_end..hole_end)
                .and_then(crate::codec::first_nonzero)
            {
                problem(
                    rep,
                    (footer_end + i) as u64,
                    "non-zero byte between footer and trailer".into(),
                );
            }
        }
        None if !broken => {
            if let Some(i) = bytes
                .get(data_end as usize..)
                .and_then(crate::codec::first_nonzero)
            {
                problem(rep, data_end + i as u64, "non-zero bytes after the end of data (a torn tail, cut off when a writer opens the log)".into());
            }
        }
        None => {}
    }
    (run.next_offset, run.gtid)
}

/// The footer length from the trailer of a mapped segment.
fn footer_len(bytes: &[u8]) -> Option<usize> {
    let t = bytes.get(bytes.len().checked_sub(TRAILER_LEN as usize)?..)?;
    Some(crate::codec::le_u32(t, 16)? as usize)
}

fn verify_groups(dir: &Path, start: Option<u64>, end: Option<u64>, rep: &mut VerifyReport) {
    let gdir = crate::groups::groups_dir(dir);
    let Ok(rd) = std::fs::read_dir(&gdir) else {
        return;
    };
    for e in rd.flatten() {
        let path = e.path();
        if path.extension().is_none_or(|x| x != "group") {
            continue;
        }
        match std::fs::read(&path)
            .map_err(|err| StorageError::io("read", &path, err))
            .and_then(|b| crate::groups::decode(&b, &path))
        {
            Ok(g) => {
                if end.is_some_and(|end| g.offset > end) {
                    rep.problems.push(Finding {
                        path: path.clone(),
                        pos: 8,
                        what: format!(
                            "group {:?} is at offset {}, beyond the log end",
                            g.name, g.offset
                        ),
                    });
                }
                if start.is_some_and(|s| g.offset < s) {
                    rep.notes.push(Finding {
                        path: path.clone(),
                        pos: 8,
                        what: format!("group {:?} is below the log start (retention)", g.name),
                    });
                }
            }
            Err(err) => rep.problems.push(finding_of(&err, &path)),
        }
    }
}
