//! Helpers for the capture tests: the real `sluice` binary as a child
//! process, the log read back (`sluice tail`) and the server's binlog
//! decoded offline (`sluice decode`), both reduced to a canonical list of
//! transactions that can be compared exactly, and a concurrent write load
//! through real client connections.

#![allow(dead_code)]

pub mod load;
pub mod mariadb_binlog;

use serde_json::Value as Json;
use sluice_testkit::MariaDb;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_sluice")
}

/// A unique replica server id per `sluice run` in this test binary (the
/// server drops an older dump when a replica with the same id connects).
pub fn server_id() -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(7000);
    let base = std::process::id() % 1000 * 100;
    (base + NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)).to_string()
}

/// `sluice run` children of one log, with their stderr kept in the data
/// folder for the failure messages.
pub struct Runner {
    pub data: PathBuf,
    pub name: String,
    pub args: Vec<String>,
    runs: u32,
    pub child: Option<Child>,
}

impl Runner {
    /// `args` come after `run --data DATA --name NAME`.
    pub fn new(data: &Path, name: &str, args: &[String]) -> Runner {
        Runner {
            data: data.to_path_buf(),
            name: name.to_string(),
            args: args.to_vec(),
            runs: 0,
            child: None,
        }
    }

    fn command(&mut self, extra: &[&str]) -> Command {
        self.runs += 1;
        let log = std::fs::File::create(self.data.join(format!("run-{}.log", self.runs)))
            .expect("create run log");
        let mut c = Command::new(bin());
        c.arg("run")
            .arg("--data")
            .arg(&self.data)
            .arg("--name")
            .arg(&self.name)
            .args(&self.args)
            .args(extra)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        c
    }

    /// Start `sluice run` in the background.
    pub fn spawn(&mut self) {
        std::fs::create_dir_all(&self.data).unwrap();
        let child = self.command(&[]).spawn().expect("spawn sluice run");
        self.child = Some(child);
    }

    /// SIGKILL the running child.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().ok();
            c.wait().ok();
        }
    }

    /// SIGTERM the running child and wait for a clean exit.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            Command::new("kill")
                .arg("-TERM")
                .arg(c.id().to_string())
                .status()
                .unwrap();
            let status = wait_timeout(&mut c, Duration::from_secs(60));
            assert!(
                status.is_some_and(|s| s.success()),
                "sluice run did not stop cleanly on SIGTERM ({status:?}):\n{}",
                self.last_log()
            );
        }
    }

    /// `sluice run ... --until current` to completion; panics unless it
    /// exits 0.
    pub fn until_current(&mut self) {
        std::fs::create_dir_all(&self.data).unwrap();
        let mut child = self
            .command(&["--until", "current"])
            .spawn()
            .expect("spawn sluice run");
        let status = wait_timeout(&mut child, Duration::from_secs(240));
        assert!(
            status.is_some_and(|s| s.success()),
            "sluice run --until current failed ({status:?}):\n{}",
            self.last_log()
        );
    }

    /// The stderr of the latest run.
    pub fn last_log(&self) -> String {
        std::fs::read_to_string(self.data.join(format!("run-{}.log", self.runs)))
            .unwrap_or_default()
    }

    /// Every run's stderr, concatenated.
    pub fn all_logs(&self) -> String {
        (1..=self.runs)
            .map(|i| {
                std::fs::read_to_string(self.data.join(format!("run-{i}.log"))).unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join("\n----\n")
    }

    pub fn log_dir(&self) -> PathBuf {
        self.data.join(&self.name).join("log")
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Wait for a child at most `limit`; kill it after that.
pub fn wait_timeout(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(Some(s)) = child.try_wait() {
            return Some(s);
        }
        if Instant::now() > deadline {
            child.kill().ok();
            child.wait().ok();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Run `sluice ARGS` to completion: (exit status, stdout, stderr).
pub fn sluice(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run sluice");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json_lines(text: &str, what: &str) -> Vec<Json> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("{what}: bad JSON line {e}: {l}"))
        })
        .collect()
}

/// The log read back with `sluice tail --no-follow --format json`.
pub fn tail(data: &Path, name: &str) -> Vec<Json> {
    tail_format(data, name, "json")
}

/// The log read back with `sluice tail --no-follow --format FORMAT`.
pub fn tail_format(data: &Path, name: &str, format: &str) -> Vec<Json> {
    let (code, out, err) = sluice(&[
        "tail",
        "--data",
        data.to_str().unwrap(),
        "--name",
        name,
        "--no-follow",
        "--format",
        format,
    ]);
    assert_eq!(code, 0, "sluice tail failed: {err}");
    json_lines(&out, "sluice tail")
}

/// The server's own binlog files decoded offline with `sluice decode`.
pub fn offline(db: &MariaDb) -> Vec<Json> {
    let files: Vec<String> = db
        .binlog_files()
        .iter()
        .map(|p| p.to_str().unwrap().to_string())
        .collect();
    let mut args = vec!["decode", "--format", "json"];
    args.extend(files.iter().map(|s| s.as_str()));
    let (code, out, err) = sluice(&args);
    // The active file may end in the middle of nothing: only errors count.
    assert_eq!(code, 0, "sluice decode failed: {err}");
    json_lines(&out, "sluice decode")
}

/// A row image by column position.
pub type Image = Vec<Json>;

/// One row event (adjacent events of the same table and kind merged: the
/// server cuts a statement's rows into several events, and sluice cuts a
/// large transaction between rows).
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    pub schema: String,
    pub table: String,
    pub kind: String,
    pub names_known: bool,
    pub names: Vec<String>,
    pub rows: Vec<(Option<Image>, Option<Image>)>,
}

/// One transaction (or DDL), its parts joined.
#[derive(Clone, Debug, PartialEq)]
pub struct Txn {
    pub file: String,
    pub start: u64,
    pub next: u64,
    pub gtid: String,
    pub ddl: Option<String>,
    pub changes: Vec<Change>,
    pub parts: u32,
}

/// A row change by position: (before, after).
pub type RowImages = (Option<Image>, Option<Image>);
/// (schema, table, kind, rows) of one change.
pub type ChangeKey<'a> = (&'a str, &'a str, &'a str, &'a [RowImages]);

/// What must be equal between the log and the offline decode: all but
/// column names (absent from a MINIMAL-metadata binlog) and part counts.
#[derive(Debug, PartialEq)]
pub struct Key<'a> {
    pub file: &'a str,
    pub start: u64,
    pub next: u64,
    pub gtid: &'a str,
    pub ddl: Option<&'a str>,
    pub changes: Vec<ChangeKey<'a>>,
}

impl Txn {
    pub fn key(&self) -> Key<'_> {
        Key {
            file: &self.file,
            start: self.start,
            next: self.next,
            gtid: &self.gtid,
            ddl: self.ddl.as_deref(),
            changes: self
                .changes
                .iter()
                .map(|c| {
                    (
                        c.schema.as_str(),
                        c.table.as_str(),
                        c.kind.as_str(),
                        &c.rows[..],
                    )
                })
                .collect(),
        }
    }

    pub fn rows(&self) -> usize {
        self.changes.iter().map(|c| c.rows.len()).sum()
    }
}

fn image(names: &[String], v: Option<&Json>) -> Option<Image> {
    let obj = v?.as_object()?;
    Some(
        names
            .iter()
            .map(|n| {
                obj.get(n)
                    .cloned()
                    .unwrap_or(Json::String("<absent>".into()))
            })
            .collect(),
    )
}

fn change(c: &Json) -> Change {
    let names: Vec<String> = c["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|col| col["name"].as_str().unwrap().to_string())
        .collect();
    let rows = c["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                image(&names, r.get("before")),
                image(&names, r.get("after")),
            )
        })
        .collect();
    Change {
        schema: c["schema"].as_str().unwrap().into(),
        table: c["table"].as_str().unwrap().into(),
        kind: c["kind"].as_str().unwrap().into(),
        names_known: c["names_known"].as_bool().unwrap(),
        names,
        rows,
    }
}

fn push_change(changes: &mut Vec<Change>, c: Change) {
    if let Some(last) = changes.last_mut() {
        if last.schema == c.schema
            && last.table == c.table
            && last.kind == c.kind
            && last.names == c.names
        {
            last.rows.extend(c.rows);
            return;
        }
    }
    changes.push(c);
}

/// Reduce JSON records to transactions: parts joined (and checked: numbered
/// 0.. in order, only the final one flagged last), changes kept where
/// `keep(schema, table)`, DDL kept where `keep_ddl(statement)`, records
/// left with nothing dropped.
pub fn canonical(
    records: &[Json],
    keep: &dyn Fn(&str, &str) -> bool,
    keep_ddl: &dyn Fn(&str) -> bool,
) -> Vec<Txn> {
    let mut out: Vec<Txn> = Vec::new();
    let mut open: Option<Txn> = None;
    for r in records {
        let part = r["part"].as_u64().unwrap() as u32;
        let last = r["last_part"].as_bool().unwrap();
        let file = r["file"].as_str().unwrap().to_string();
        let start = r["start"].as_u64().unwrap();
        let mut txn = match open.take() {
            Some(t) => {
                assert_eq!(
                    (t.file.as_str(), t.start, t.parts),
                    (file.as_str(), start, part),
                    "a split transaction's parts are not consecutive at {r}"
                );
                t
            }
            None => {
                assert_eq!(part, 0, "a transaction's part {part} without part 0: {r}");
                Txn {
                    file,
                    start,
                    next: r["next"].as_u64().unwrap(),
                    gtid: r["gtid"].as_str().unwrap().into(),
                    ddl: None,
                    changes: Vec::new(),
                    parts: 0,
                }
            }
        };
        txn.parts += 1;
        if let Some(ddl) = r.get("ddl") {
            let text = ddl["statement"].as_str().unwrap();
            if keep_ddl(text) {
                txn.ddl = Some(text.to_string());
            }
        }
        for c in r["changes"].as_array().unwrap() {
            let c = change(c);
            if keep(&c.schema, &c.table) {
                push_change(&mut txn.changes, c);
            }
        }
        if last {
            if txn.ddl.is_some() || !txn.changes.is_empty() {
                out.push(txn);
            }
        } else {
            open = Some(txn);
        }
    }
    assert!(
        open.is_none(),
        "the log ends inside a split transaction: {open:?}"
    );
    out
}

/// Offline transactions at or after `(file, pos)`.
pub fn from_position(txns: Vec<Txn>, file: &str, pos: u64) -> Vec<Txn> {
    let key = |f: &str, p: u64| (f.rsplit('.').next().unwrap().parse::<u64>().unwrap(), p);
    txns.into_iter()
        .filter(|t| key(&t.file, t.start) >= key(file, pos))
        .collect()
}

/// Assert two transaction lists are equal (all but names), with a useful
/// message at the first difference: the test of "no duplicate, no gap".
pub fn assert_same(log: &[Txn], offline: &[Txn], context: &str) {
    for (i, (a, b)) in log.iter().zip(offline).enumerate() {
        if a.key() != b.key() {
            let brief = |t: &Txn| {
                format!(
                    "{}:{}-{} gtid {} rows {} ddl {:?}",
                    t.file,
                    t.start,
                    t.next,
                    t.gtid,
                    t.rows(),
                    t.ddl
                )
            };
            panic!(
                "{context}: transaction {i} differs\n log:     {}\n offline: {}\n(log has {} transactions, offline {})\n log full: {:?}\n offline full: {:?}",
                brief(a), brief(b), log.len(), offline.len(), a, b
            );
        }
    }
    if log.len() != offline.len() {
        let extra = if log.len() > offline.len() {
            format!("log has extra {:?}", &log[offline.len()])
        } else {
            format!("log misses {:?}", &offline[log.len()])
        };
        panic!(
            "{context}: log has {} transactions, offline decode {}: {extra}",
            log.len(),
            offline.len()
        );
    }
}

/// `SHOW MASTER STATUS` as (file, position).
pub fn master_status(db: &MariaDb) -> (String, u64) {
    let out = db.sql("SHOW MASTER STATUS");
    let f: Vec<&str> = out
        .lines()
        .next()
        .expect("binlog is on")
        .split('\t')
        .collect();
    (f[0].to_string(), f[1].parse().unwrap())
}

/// Poll the log until `done(record)` holds for some record, or panic after
/// `limit` with the runner's log.
pub fn wait_for_record(
    runner: &Runner,
    limit: Duration,
    done: &dyn Fn(&sluice::proto::Record) -> bool,
) -> sluice::proto::Record {
    use prost::Message;
    let deadline = Instant::now() + limit;
    let mut from = 0u64;
    while Instant::now() < deadline {
        if let Ok(log) = sluice_storage::Log::open_read_only(&runner.log_dir()) {
            if let Ok(mut reader) = log.read_from(from.max(log.start_offset())) {
                while let Ok(Some(rec)) = reader.next() {
                    from = rec.offset + 1;
                    let r = sluice::proto::Record::decode(rec.payload().as_ref()).unwrap();
                    if done(&r) {
                        return r;
                    }
                }
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!(
        "the log did not reach the expected record in {limit:?}:\n{}",
        runner.all_logs()
    );
}

/// Wait for the log's first record (the start snapshot); its position.
pub fn wait_for_start(runner: &Runner) -> (String, u64) {
    let r = wait_for_record(runner, Duration::from_secs(60), &|r| r.snapshot.is_some());
    let p = r.position.unwrap();
    (p.file, p.start)
}

/// Does the record hold an insert into `schema.table`?
pub fn inserts_into(r: &sluice::proto::Record, schema: &str, table: &str) -> bool {
    r.changes.iter().any(|c| {
        c.schema == schema && c.table == table && c.kind == sluice::proto::ChangeKind::Insert as i32
    })
}
