//! `sluice-inspect`: look inside a sluice segment log — list segments, dump
//! batches and records, verify every checksum and index entry, find where
//! an offset / time / source position / GTID set lands, and show consumer
//! groups with their lag. It only wires the command line to the
//! `sluice-storage` crate, whose own decoders and checks do the work.
//!
//! Exit status: 0 when the log is sound (or the lookup succeeded), 1 when a
//! problem was found (damage, a failed lookup), 2 when the log could not be
//! opened or the command line is wrong.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serde_json::{json, Value};
use sluice_storage::verify::{segment_paths, verify_dir, Finding, SegmentFile};
use sluice_storage::{GtidSet, Log, SegmentInfo, SourcePos};

#[derive(Parser)]
#[command(
    name = "sluice-inspect",
    version,
    about = "Inspect, verify and search a sluice segment log"
)]
struct Cli {
    /// On an error, print its full debug form (and a backtrace when
    /// RUST_BACKTRACE=1).
    #[arg(long, global = true)]
    debug: bool,
    #[command(subcommand)]
    cmd: Cmd,
}

/// Which log: its folder, or the data folder and source name given to
/// `sluice run` (the log is then `DATA/NAME/log`).
#[derive(clap::Args)]
struct LogArg {
    /// The log folder (`DATA/NAME/log` of `sluice run`).
    #[arg(required_unless_present = "data", conflicts_with = "data")]
    dir: Option<PathBuf>,
    /// The data folder given to `sluice run` (with --name).
    #[arg(long)]
    data: Option<PathBuf>,
    /// The source name, with --data [default: main].
    #[arg(long, requires = "data")]
    name: Option<String>,
}

impl LogArg {
    /// The log folder, checked to hold a log.
    fn dir(&self) -> Result<PathBuf, sluice_storage::StorageError> {
        match (&self.dir, &self.data) {
            (Some(dir), _) => {
                sluice_storage::locate::require_log(dir)?;
                Ok(dir.clone())
            }
            (None, Some(data)) => sluice_storage::locate::require_source_log(
                data,
                self.name.as_deref().unwrap_or("main"),
            ),
            // clap requires one of the two.
            (None, None) => Err(sluice_storage::StorageError::NoFolder(PathBuf::new())),
        }
    }
}

#[derive(Subcommand)]
enum Cmd {
    /// One line per segment: offsets, bytes, time and position range, GTIDs, sealed or active.
    Segments {
        #[command(flatten)]
        log: LogArg,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Batch and record headers, payload sizes and checksum status.
    Dump {
        #[command(flatten)]
        log: LogArg,
        /// First offset to show.
        #[arg(long, default_value_t = 0)]
        from: u64,
        /// Show at most this many records.
        #[arg(long)]
        limit: Option<u64>,
        /// Print one JSON object per batch (NDJSON).
        #[arg(long)]
        json: bool,
    },
    /// Check every checksum, index entry, footer, offset and position.
    Verify {
        #[command(flatten)]
        log: LogArg,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Where an offset, a time, a source position or a GTID set lands.
    Find {
        #[command(flatten)]
        log: LogArg,
        /// A log offset.
        #[arg(long, group = "key")]
        offset: Option<u64>,
        /// A commit time, milliseconds since the Unix epoch: first record at or after it.
        #[arg(long, group = "key")]
        time: Option<i64>,
        /// FILE_NO:POS — first record whose position is after it.
        #[arg(long, group = "key")]
        position: Option<String>,
        /// A GTID set (HEX:1-5,HEX:7) — first record not contained in it.
        #[arg(long, group = "key")]
        gtid: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Each consumer group's offset and lag.
    Groups {
        #[command(flatten)]
        log: LogArg,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let debug = cli.debug;
    match run(cli.cmd) {
        Ok(code) => code,
        Err(e) => {
            if debug {
                eprintln!("error: {e:?}");
            } else {
                for line in sluice_storage::report::error_lines(e.as_ref()) {
                    eprintln!("{line}");
                }
            }
            ExitCode::from(2)
        }
    }
}

fn run(cmd: Cmd) -> anyhow::Result<ExitCode> {
    match cmd {
        Cmd::Segments { log, json } => segments(&log.dir()?, json),
        Cmd::Dump {
            log,
            from,
            limit,
            json,
        } => dump(&log.dir()?, from, limit, json),
        Cmd::Verify { log, json } => verify(&log.dir()?, json),
        Cmd::Find {
            log,
            offset,
            time,
            position,
            gtid,
            json,
        } => find(&log.dir()?, offset, time, position, gtid, json),
        Cmd::Groups { log, json } => groups(&log.dir()?, json),
    }
}

/// Writes a line to stdout; a closed pipe (`| head`) ends quietly.
fn out(line: &str) -> bool {
    let mut o = std::io::stdout().lock();
    writeln!(o, "{line}").is_ok()
}

fn sound(ok: bool) -> ExitCode {
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn segment_json(s: &SegmentInfo) -> Value {
    json!({
        "path": s.path.display().to_string(),
        "base_offset": s.base_offset,
        "last_offset": s.next_offset.checked_sub(1).filter(|_| s.records() > 0),
        "records": s.records(),
        "bytes": s.data_bytes(),
        "batches": s.batch_count,
        "time_range": s.time_range.map(|(a, b)| [a, b]),
        "first_position": s.first_position.map(|p| p.to_string()),
        "max_position": s.max_position.map(|p| p.to_string()),
        "gtid_before": s.gtid_before.to_string(),
        "gtid_after": s.gtid_after.to_string(),
        "sealed": s.sealed(),
        "sealed_at_ms": s.sealed_at_ms,
    })
}

fn segments(dir: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let log = Log::open_read_only(dir)?;
    let segs = log.segments();
    // `key = value` lines the writer left (absent in logs of old writers).
    let settings: Vec<(String, String)> = log
        .settings_text()
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once(" = "))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    if json {
        let v = json!({
            "start_offset": log.start_offset(),
            "end_offset": log.durable_end(),
            "settings": settings.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<serde_json::Map<_, _>>(),
            "segments": segs.iter().map(segment_json).collect::<Vec<_>>(),
        });
        out(&serde_json::to_string_pretty(&v)?);
    } else {
        out(&format!(
            "log {}: offsets {}..{}, {} segments",
            dir.display(),
            log.start_offset(),
            log.durable_end(),
            segs.len()
        ));
        if !settings.is_empty() {
            let text: Vec<String> = settings.iter().map(|(k, v)| format!("{k}={v}")).collect();
            out(&format!("settings: {}", text.join(" ")));
        }
        for s in &segs {
            let name = s
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let last = if s.records() > 0 {
                (s.next_offset - 1).to_string()
            } else {
                "-".into()
            };
            let time = s
                .time_range
                .map_or("-".into(), |(a, b)| format!("{a}..{b}"));
            let pos = match (s.first_position, s.max_position) {
                (Some(a), Some(b)) => format!("{a}..{b}"),
                _ => "-".into(),
            };
            if !out(&format!(
                "{name}  base {}  last {last}  {} records  {} bytes  time {time}  pos {pos}  gtid {}  {}",
                s.base_offset,
                s.records(),
                s.data_bytes(),
                if s.gtid_after.is_empty() { "-".into() } else { s.gtid_after.to_string() },
                if s.sealed() { "sealed" } else { "active" },
            )) {
                break;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn dump(dir: &Path, from: u64, limit: Option<u64>, json: bool) -> anyhow::Result<ExitCode> {
    let mut shown = 0u64;
    let mut ok = true;
    'segs: for path in segment_paths(dir)? {
        let seg = match SegmentFile::open(&path) {
            Ok(s) => s,
            Err(e) => {
                ok = false;
                eprintln!("{e}");
                continue;
            }
        };
        if let Err(e) = &seg.footer {
            ok = false;
            eprintln!("{e}");
        }
        for b in seg.batches() {
            if b.header.is_some_and(|h| h.next_offset() <= from) && b.problem.is_none() {
                continue;
            }
            ok &= b.problem.is_none();
            let status = b.problem.clone().unwrap_or_else(|| "ok".into());
            let recs: Vec<_> = b
                .records
                .iter()
                .filter(|r| r.offset >= from)
                .take(limit.map_or(usize::MAX, |l| (l - shown) as usize))
                .collect();
            let line = if json {
                json!({
                    "segment": path.display().to_string(),
                    "pos": b.pos,
                    "base_offset": b.header.map(|h| h.base_offset),
                    "records": b.header.map(|h| h.record_count),
                    "stored_bytes": b.header.map(|h| h.stored_len),
                    "raw_bytes": b.header.map(|h| h.raw_len),
                    "compressed": b.header.map(|h| h.compressed()),
                    "status": status,
                    "record_headers": recs.iter().map(|r| json!({
                        "offset": r.offset,
                        "commit_time_ms": r.commit_time_ms,
                        "position": r.position.to_string(),
                        "gtid": r.gtid().to_string(),
                        "payload_bytes": r.payload().len(),
                    })).collect::<Vec<_>>(),
                })
                .to_string()
            } else {
                let mut s = match b.header {
                    Some(h) => format!(
                        "batch {}@{} offsets {}..{} stored {} raw {}{} checksum {status}",
                        path.file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default(),
                        b.pos,
                        h.base_offset,
                        h.next_offset(),
                        h.stored_len,
                        h.raw_len,
                        if h.compressed() { " zstd" } else { "" },
                    ),
                    None => format!("batch {}@{}: {status}", path.display(), b.pos),
                };
                for r in &recs {
                    s.push_str(&format!(
                        "\n  offset {} time {} pos {} gtid {} payload {} bytes",
                        r.offset,
                        r.commit_time_ms,
                        r.position,
                        r.gtid(),
                        r.payload().len()
                    ));
                }
                s
            };
            if !out(&line) {
                break 'segs;
            }
            shown += recs.len() as u64;
            if limit.is_some_and(|l| shown >= l) {
                break 'segs;
            }
        }
    }
    Ok(sound(ok))
}

fn finding_json(f: &Finding) -> Value {
    json!({"file": f.path.display().to_string(), "byte": f.pos, "what": f.what})
}

fn verify(dir: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let bar = if std::io::stderr().is_terminal() {
        let b = indicatif::ProgressBar::new(0);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    } else {
        indicatif::ProgressBar::hidden()
    };
    let rep = verify_dir(dir, &mut |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    })?;
    bar.finish_and_clear();
    if json {
        let v = json!({
            "sound": rep.is_sound(),
            "segments": rep.segments,
            "batches": rep.batches,
            "records": rep.records,
            "bytes": rep.bytes,
            "problems": rep.problems.iter().map(finding_json).collect::<Vec<_>>(),
            "notes": rep.notes.iter().map(finding_json).collect::<Vec<_>>(),
        });
        out(&serde_json::to_string_pretty(&v)?);
    } else {
        for p in &rep.problems {
            out(&format!("PROBLEM {p}"));
        }
        for n in &rep.notes {
            out(&format!("note    {n}"));
        }
        out(&format!(
            "{}: {} segments, {} batches, {} records, {} bytes checked, {} problems",
            if rep.is_sound() { "sound" } else { "NOT SOUND" },
            rep.segments,
            rep.batches,
            rep.records,
            rep.bytes,
            rep.problems.len()
        ));
    }
    Ok(sound(rep.is_sound()))
}

fn find(
    dir: &Path,
    offset: Option<u64>,
    time: Option<i64>,
    position: Option<String>,
    gtid: Option<String>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let log = Log::open_read_only(dir)?;
    let (how, found) = if let Some(o) = offset {
        ("offset", o)
    } else if let Some(t) = time {
        ("time", log.find_time(t)?)
    } else if let Some(p) = position {
        let (f, pos) = p
            .split_once(':')
            .and_then(|(f, p)| {
                Some(SourcePos::new(f.parse().ok()?, p.parse().ok()?)).map(|s| (s.file_no, s.pos))
            })
            .ok_or_else(|| anyhow::anyhow!("--position wants FILE_NO:POS, got {p:?}"))?;
        ("position", log.find_position(SourcePos::new(f, pos))?)
    } else if let Some(g) = gtid {
        let set = GtidSet::parse(&g).map_err(|e| anyhow::anyhow!("--gtid: {e}"))?;
        ("gtid", log.find_gtid(&set)?)
    } else {
        anyhow::bail!("give one of --offset, --time, --position, --gtid");
    };
    let end = log.durable_end();
    if found >= end {
        if json {
            out(&json!({"by": how, "offset": found, "at_end": true}).to_string());
        } else {
            out(&format!(
                "{how}: no record yet; the log end is offset {end}"
            ));
        }
        return Ok(sound(how != "offset"));
    }
    let loc = log.locate(found)?;
    let rec = log.get(found)?;
    if json {
        out(&json!({
            "by": how,
            "offset": found,
            "segment": loc.segment.display().to_string(),
            "batch_pos": loc.batch_pos,
            "batch_offsets": [loc.batch_offsets.start, loc.batch_offsets.end],
            "commit_time_ms": rec.as_ref().map(|r| r.commit_time_ms),
            "position": rec.as_ref().map(|r| r.position.to_string()),
            "gtid": rec.as_ref().map(|r| r.gtid().to_string()),
            "payload_bytes": rec.as_ref().map(|r| r.payload().len()),
        })
        .to_string());
    } else {
        out(&format!(
            "{how}: offset {found} in {} batch at byte {} (offsets {}..{})",
            loc.segment.display(),
            loc.batch_pos,
            loc.batch_offsets.start,
            loc.batch_offsets.end
        ));
        if let Some(r) = rec {
            out(&format!(
                "  time {} pos {} gtid {} payload {} bytes",
                r.commit_time_ms,
                r.position,
                r.gtid(),
                r.payload().len()
            ));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn groups(dir: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let log = Log::open_read_only(dir)?;
    let g = log.groups();
    let mut rows = Vec::new();
    let mut ok = true;
    for info in g.list()? {
        let lag = g.lag(&info.name);
        let resume = g.resume_offset(&info.name);
        ok &= resume.is_ok();
        rows.push((info, lag, resume));
    }
    if json {
        let v: Vec<Value> = rows
            .iter()
            .map(|(i, lag, resume)| {
                json!({
                    "name": i.name,
                    "offset": i.offset,
                    "committed_at_ms": i.committed_at_ms,
                    "reset": format!("{:?}", i.reset).to_lowercase(),
                    "lag_records": lag.as_ref().ok().map(|l| l.records),
                    "lag_bytes": lag.as_ref().ok().map(|l| l.bytes),
                    "error": resume.as_ref().err().map(|e| e.to_string()),
                })
            })
            .collect();
        out(&serde_json::to_string_pretty(&v)?);
    } else {
        for (i, lag, resume) in &rows {
            let lag = match lag {
                Ok(l) => format!("lag {} records {} bytes", l.records, l.bytes),
                Err(e) => format!("lag unknown: {e}"),
            };
            let err = resume
                .as_ref()
                .err()
                .map(|e| format!("  ERROR {e}"))
                .unwrap_or_default();
            out(&format!(
                "{}  offset {}  {lag}  reset {:?}{err}",
                i.name, i.offset, i.reset
            ));
        }
    }
    Ok(sound(ok))
}
