//! A full disk under the log. Capture must pause with `state:
//! "disk_full"` in `/status` (proved mid-way: the server holds rows the
//! log does not), keep serving over HTTP what the log held before, then
//! resume on its own once there is room, and the log must hold every row
//! of the table exactly once, equal to the server's `SELECT`.
//!
//! - Writes: `sluice run` writes its data folder on a small tmpfs (a real
//!   file system that answers `ENOSPC`), a ballast file leaves it little
//!   room, and a load fills it; the ballast is deleted.
//! - Fsyncs: a tmpfs never fails one, so the storage crate's fault point
//!   (`SLUICE_FAULT_FSYNC_ENOSPC`) makes every fsync fail with `ENOSPC`
//!   while a trigger file exists; the file is deleted.

use serde_json::Value;
use sluice_testkit::MariaDb;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A tmpfs mounted for the test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(at).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .output()
            .ok()?;
        if out.status.success() {
            Some(Tmpfs(at.to_path_buf()))
        } else {
            let why = String::from_utf8_lossy(&out.stderr).into_owned();
            assert!(
                !sluice_testkit::in_ci(),
                "cannot mount a tmpfs (the test needs root): {why}"
            );
            eprintln!("SKIPPED: cannot mount a tmpfs (run as root): {why}");
            None
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// `sluice run` of source `df` into `data`, HTTP on `port`, no
/// compression, its log in `log`; `fsync_trigger`: fsyncs fail with
/// `ENOSPC` while that file exists.
fn start_run(
    db: &MariaDb,
    data: &Path,
    port: u16,
    (segment_bytes, fsync): (&str, &str),
    log: &Path,
    fsync_trigger: Option<&Path>,
) -> Killed {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sluice"));
    cmd.args(["run", "--name", "df", "--source", &db.url()])
        .arg("--data")
        .arg(data)
        .args(["--server-id", "4931", "--fsync", fsync])
        .args(["--segment-bytes", segment_bytes])
        .args(["--compression", "none", "--http-addr"])
        .arg(format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap());
    if let Some(trigger) = fsync_trigger {
        cmd.env(sluice_storage::fault::FSYNC_ENV, trigger);
    }
    Killed(cmd.spawn().unwrap())
}

fn get(url: &str) -> Option<Value> {
    reqwest::blocking::get(url).ok()?.json().ok()
}

fn wait_for<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn capture(base: &str) -> Option<Value> {
    get(&format!("{base}/status"))?["sources"][0]
        .get("capture")
        .cloned()
}

/// Every inserted row in the log: id → times seen.
fn ids_in_log(data: &Path) -> BTreeMap<i64, u32> {
    ids_in(&tail_log(data))
}

/// The log as NDJSON (`sluice tail`, json format).
fn tail_log(data: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(["tail", "--data"])
        .arg(data)
        .args(["--name", "df", "--no-follow", "--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sluice tail: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The ids the HTTP API serves from the start of the log (no group).
fn ids_served(base: &str) -> BTreeMap<i64, u32> {
    let url = format!("{base}/v1/sources/df/changes?max=100000&wait_ms=0&format=json");
    let resp = reqwest::blocking::get(url).unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    ids_in(&resp.text().unwrap())
}

/// Served during a pause: ids `0..n` each once (the load inserts in id
/// order), `0 < n < total` (mid-way). Returns `n`.
fn served_prefix(base: &str, total: i64) -> i64 {
    let served = ids_served(base);
    let n = served.len() as i64;
    let prefix: Vec<_> = served.iter().map(|(id, times)| (*id, *times)).collect();
    assert!(
        prefix == (0..n).map(|i| (i, 1)).collect::<Vec<_>>(),
        "not a prefix: {:?}",
        &prefix[..prefix.len().min(20)]
    );
    assert!(0 < n && n < total, "served {n} of {total} rows");
    n
}

/// Row ids of NDJSON change events: id → times seen.
fn ids_in(ndjson: &str) -> BTreeMap<i64, u32> {
    let mut seen = BTreeMap::new();
    for after in after_images(ndjson) {
        let id = after["id"]
            .as_i64()
            .unwrap_or_else(|| panic!("a row without its named id: {after}"));
        *seen.entry(id).or_insert(0) += 1;
    }
    seen
}

/// The after images of NDJSON change events' rows.
fn after_images(ndjson: &str) -> Vec<Value> {
    let mut images = Vec::new();
    for line in ndjson.lines() {
        let rec: Value = serde_json::from_str(line).unwrap();
        for c in rec["changes"].as_array().into_iter().flatten() {
            for row in c["rows"].as_array().into_iter().flatten() {
                images.push(row["after"].clone());
            }
        }
    }
    images
}

#[test]
fn capture_pauses_on_a_full_disk_and_resumes_exactly() {
    let Some(db) = MariaDb::start_default() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let Some(fs) = Tmpfs::mount(&dir.path().join("mnt"), "6m") else {
        return;
    };
    db.sql("CREATE DATABASE df; CREATE TABLE df.t (id INT PRIMARY KEY, pad VARCHAR(1000))");
    let data = fs.0.join("data");
    let port = sluice_testkit::free_port();
    let base = format!("http://127.0.0.1:{port}");
    // Uncompressed: the load's bytes are what fills the disk.
    let run = start_run(
        &db,
        &data,
        port,
        ("1MiB", "always"),
        &dir.path().join("run.log"),
        None,
    );
    let run_log = || std::fs::read_to_string(dir.path().join("run.log")).unwrap_or_default();
    wait_for("capture streaming", Duration::from_secs(60), || {
        (capture(&base)?["state"] == "streaming").then_some(())
    });
    // Leave about 400 KB free: the load below needs about 2 MB.
    let ballast = fs.0.join("ballast");
    let free = {
        let out = Command::new("df")
            .args(["-B1", "--output=avail"])
            .arg(&fs.0)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.lines().nth(1).unwrap().trim().parse::<u64>().unwrap()
    };
    std::fs::write(&ballast, vec![1u8; (free - 400 * 1024) as usize]).unwrap();

    insert(&db, 0, 2000);
    let paused = wait_for(
        "capture to pause on the full disk",
        Duration::from_secs(60),
        || {
            let c = capture(&base)?;
            (c["state"] == "disk_full").then_some(c)
        },
    );
    let error = paused["last_error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        error.contains("No space left") || error.contains("disk is full"),
        "{paused}"
    );
    assert!(
        run_log().contains("the log's disk is full: capture paused"),
        "{}",
        run_log()
    );
    // Mid-way: the log stops short of the server.
    let captured = paused["rows"].as_u64().unwrap();
    assert!(captured < 2000, "capture was not interrupted: {paused}");
    // Readers are served what the log held before the pause.
    let served = served_prefix(&base, 2000);
    assert_eq!(served as u64, captured, "{paused}");
    // More writes while paused, then space comes back.
    insert(&db, 2000, 2200);
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(capture(&base).unwrap()["state"], "disk_full");
    assert_eq!(served_prefix(&base, 2200), served);
    std::fs::remove_file(&ballast).unwrap();

    caught_up_and_exact(&db, &base, &data, run);
}

/// Capture reaches the server's binlog end; then (sluice stopped) the log
/// holds every row of `df.t` once, equal to the server's `SELECT`.
fn caught_up_and_exact(db: &MariaDb, base: &str, data: &Path, run: Killed) {
    let master = db.sql("SHOW MASTER STATUS");
    let pos: u64 = master.split('\t').nth(1).unwrap().parse().unwrap();
    wait_for(
        "capture to resume and catch up",
        Duration::from_secs(90),
        || {
            let c = capture(base)?;
            (c["state"] == "streaming" && c["position"].as_u64() == Some(pos)).then_some(())
        },
    );
    drop(run);

    let seen = ids_in_log(data);
    let twice: Vec<_> = seen
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(id, _)| *id)
        .collect();
    assert!(
        twice.is_empty(),
        "rows in the log twice: {:?}",
        &twice[..twice.len().min(10)]
    );
    let server: Vec<i64> = db
        .sql("SELECT id FROM df.t ORDER BY id")
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    let logged: Vec<i64> = seen.keys().copied().collect();
    assert_eq!(logged.len(), server.len(), "rows in the log vs the table");
    assert!(logged == server, "the log's rows differ from the table's");
}

/// Inserts ids `from..to` into `df.t`, ten rows per transaction.
fn insert(db: &MariaDb, from: i64, to: i64) {
    let pad = "d".repeat(900);
    for start in (from..to).step_by(10) {
        let rows: Vec<String> = (start..start + 10)
            .map(|i| format!("({i}, '{pad}')"))
            .collect();
        db.sql(&format!(
            "INSERT INTO df.t (id, pad) VALUES {}",
            rows.join(", ")
        ));
    }
}

#[test]
fn fsync_failing_with_enospc_pauses_capture_and_it_resumes_exactly() {
    fsync_enospc_mid_way("always");
}

/// The fsync thread meets the full disk, not the append: the next append
/// hears of the records dropped.
#[test]
fn fsync_failing_with_enospc_under_interval_pauses_and_resumes_exactly() {
    fsync_enospc_mid_way("interval:50");
}

fn fsync_enospc_mid_way(fsync: &str) {
    let Some(db) = MariaDb::start_default() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    db.sql("CREATE DATABASE df; CREATE TABLE df.t (id INT PRIMARY KEY, pad VARCHAR(1000))");
    let data = dir.path().join("data");
    let trigger = dir.path().join("fsync-full");
    let port = sluice_testkit::free_port();
    let base = format!("http://127.0.0.1:{port}");
    // Small segments: the load rolls a few, so sealing meets the failing
    // fsyncs too.
    let run = start_run(
        &db,
        &data,
        port,
        ("64KiB", fsync),
        &dir.path().join("run.log"),
        Some(&trigger),
    );
    let run_log = || std::fs::read_to_string(dir.path().join("run.log")).unwrap_or_default();
    wait_for("capture streaming", Duration::from_secs(60), || {
        (capture(&base)?["state"] == "streaming").then_some(())
    });
    insert(&db, 0, 300);
    wait_for("the first rows captured", Duration::from_secs(60), || {
        (ids_served(&base).len() == 300).then_some(())
    });
    let group = format!("{base}/v1/sources/df/groups/reader");
    let http = reqwest::blocking::Client::new();
    let created = http
        .post(format!("{base}/v1/sources/df/groups"))
        .json(&serde_json::json!({"name": "reader", "start": "earliest"}))
        .send()
        .unwrap();
    assert_eq!(created.status(), 201);

    std::fs::write(&trigger, b"").unwrap();
    // Capture follows this load while fsyncs fail: what it appends is
    // dropped, pulled again, and dropped again, until they succeed. The
    // DDL in it is dropped too: the schema history must not keep it (a
    // column added twice would be read from the server, which by then
    // has dropped it again).
    insert(&db, 300, 800);
    db.sql("ALTER TABLE df.t ADD COLUMN extra INT NOT NULL DEFAULT 7");
    insert(&db, 800, 1200);
    db.sql("ALTER TABLE df.t DROP COLUMN extra");
    insert(&db, 1200, 1500);
    let paused = wait_for(
        "capture to pause on failing fsyncs",
        Duration::from_secs(60),
        || {
            let c = capture(&base)?;
            (c["state"] == "disk_full").then_some(c)
        },
    );
    let error = paused["last_error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    // The fsync's error, or the next retry's.
    assert!(error.contains("No space left on device"), "{paused}");
    insert(&db, 1500, 1700);
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(capture(&base).unwrap()["state"], "disk_full");
    // Mid-way, and readers still get exactly what was durable before:
    // without a group, and through a group, whose commit waits for room.
    assert_eq!(served_prefix(&base, 1700), 300);
    let url = format!("{base}/v1/sources/df/changes?group=reader&max=100000&wait_ms=0");
    let read = http.get(url).send().unwrap();
    let next = read.headers()["Sluice-Next-Offset"]
        .to_str()
        .unwrap()
        .to_string();
    let ids = ids_in(&read.text().unwrap());
    assert!(ids.keys().copied().eq(0..300), "{ids:?}");
    let next: u64 = next.parse().unwrap();
    let commit = || {
        http.post(format!("{group}/commit"))
            .json(&serde_json::json!({"offset": next}))
            .send()
            .unwrap()
    };
    let refused = commit();
    assert_eq!(refused.status(), 507, "{}", refused.text().unwrap());
    let stored = || get(&group).unwrap()["offset"].as_u64().unwrap();
    assert_eq!(stored(), 0);
    let log = run_log();
    assert!(
        log.contains("the log's disk is full: capture paused"),
        "{log}"
    );
    assert!(log.contains("were not durable and are dropped"), "{log}");
    let metrics = reqwest::blocking::get(format!("{base}/metrics"))
        .unwrap()
        .text()
        .unwrap();
    let pauses: f64 = metrics
        .lines()
        .find(|l| l.starts_with("sluice_disk_full_total{"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    assert!(pauses >= 1.0, "{metrics}");

    std::fs::remove_file(&trigger).unwrap();
    assert!(commit().status().is_success());
    assert_eq!(stored(), next);
    caught_up_and_exact(&db, &base, &data, run);
    // The history followed each DDL once: rows between them have
    // `extra = 7`, the others no `extra`, as the server wrote them.
    for after in after_images(&tail_log(&data)) {
        let id = after["id"].as_i64().unwrap();
        let between = (800..1200).contains(&id);
        assert_eq!(after["extra"].as_i64(), between.then_some(7), "{after}");
        assert_eq!(after.as_object().unwrap().len(), 2 + usize::from(between));
    }
}

/// A restart on a full disk: opening the log (recovery, the settings
/// file) meets failing fsyncs. `sluice run` waits for room instead of
/// exiting, then starts capture where the log ends.
#[test]
fn a_full_disk_at_start_up_is_waited_out() {
    let Some(db) = MariaDb::start_default() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    db.sql("CREATE DATABASE df; CREATE TABLE df.t (id INT PRIMARY KEY, pad VARCHAR(1000))");
    let data = dir.path().join("data");
    let trigger = dir.path().join("fsync-full");
    let port = sluice_testkit::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let settings = ("64KiB", "always");
    let first = start_run(
        &db,
        &data,
        port,
        settings,
        &dir.path().join("first.log"),
        Some(&trigger),
    );
    wait_for("capture streaming", Duration::from_secs(60), || {
        (capture(&base)?["state"] == "streaming").then_some(())
    });
    insert(&db, 0, 100);
    wait_for("the first rows captured", Duration::from_secs(60), || {
        (ids_served(&base).len() == 100).then_some(())
    });
    drop(first);

    std::fs::write(&trigger, b"").unwrap();
    let log_path = dir.path().join("second.log");
    let mut second = start_run(&db, &data, port, settings, &log_path, Some(&trigger));
    insert(&db, 100, 300);
    let waiting = wait_for(
        "the open to meet the full disk",
        Duration::from_secs(30),
        || {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            log.contains("cannot open the log").then_some(log)
        },
    );
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        second.0.try_wait().unwrap().is_none(),
        "sluice run exited on a full disk at start-up:\n{waiting}"
    );
    std::fs::remove_file(&trigger).unwrap();
    caught_up_and_exact(&db, &base, &data, second);
}
