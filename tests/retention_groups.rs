//! Retention and consumer groups, with the real `sluice run`: a MySQL
//! mirror whose target is down. Its group (protected, as every sink
//! group) holds retention back past `retention_bytes`, while an
//! unprotected group created over HTTP is left behind and marked lost.
//! Past `retention_max_bytes` the mirror's group is marked lost too; when
//! the target is back the mirror stops with that error instead of skipping
//! the hole, and the target holds a gap-free prefix of the source's rows.

use serde_json::Value;
use sluice_testkit::MariaDb;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
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

fn source_status(base: &str) -> Option<Value> {
    get(&format!("{base}/status"))?["sources"].get(0).cloned()
}

fn group(status: &Value, name: &str) -> Value {
    status["groups"]
        .as_array()
        .and_then(|g| g.iter().find(|g| g["name"] == name).cloned())
        .unwrap_or(Value::Null)
}

/// Rows `from..from + n` of `rg.t`, 20 per transaction, ~600 bytes each.
fn insert(db: &MariaDb, from: u64, n: u64) {
    let pad = "r".repeat(600);
    for start in (from..from + n).step_by(20) {
        let rows: Vec<String> = (start..(start + 20).min(from + n))
            .map(|i| format!("({i}, '{pad}')"))
            .collect();
        db.sql(&format!("INSERT INTO rg.t VALUES {}", rows.join(", ")));
    }
}

/// Waits until capture has reached the server's binlog end.
fn caught_up(base: &str, db: &MariaDb) {
    let status = db.sql("SHOW MASTER STATUS");
    let mut cols = status.split('\t');
    let file = cols.next().unwrap().to_string();
    let pos: u64 = cols.next().unwrap().parse().unwrap();
    wait_for(
        "capture to reach the binlog end",
        Duration::from_secs(60),
        || {
            let s = source_status(base)?;
            let c = &s["capture"];
            (c["file"] == file.as_str() && c["position"].as_u64() == Some(pos)).then_some(())
        },
    );
}

fn count_max(db: &MariaDb) -> (u64, u64) {
    let out = db.sql("SELECT COUNT(*), COALESCE(MAX(id), 0) FROM rg.t");
    let mut it = out.split_whitespace().map(|v| v.parse::<u64>().unwrap());
    (it.next().unwrap(), it.next().unwrap())
}

#[test]
fn protected_sink_group_holds_retention_until_the_cap_then_stops_marked_lost() {
    let (Some(src), Some(mut dst)) = (MariaDb::start_default(), MariaDb::start_default()) else {
        return;
    };
    for db in [&src, &dst] {
        db.sql("CREATE DATABASE rg; CREATE TABLE rg.t (id BIGINT PRIMARY KEY, pad VARCHAR(700))");
    }
    let data = tempfile::tempdir().unwrap();
    let port = sluice_testkit::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let config = data.path().join("sluice.toml");
    std::fs::write(
        &config,
        format!(
            r#"data = "{data}"
fsync = "never"
http_addr = "127.0.0.1:{port}"
segment_bytes = "64KiB"
retention_bytes = "64KiB"
retention_age = "none"
retention_max_bytes = "1MiB"
compression = "none"

[[source]]
name = "rg"
url = "{src}"
server_id = 4901
include = 'rg\..*'

[[sink]]
name = "mirror"
source = "rg"
kind = "mysql"
url = "{dst}"
"#,
            data = data.path().join("data").display(),
            src = src.url(),
            dst = dst.url(),
        ),
    )
    .unwrap();
    let stderr = std::fs::File::create(data.path().join("run.log")).unwrap();
    let _run = Killed(
        Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args(["run", "--config", config.to_str().unwrap()])
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap(),
    );
    let run_log = || std::fs::read_to_string(data.path().join("run.log")).unwrap_or_default();
    wait_for("capture streaming", Duration::from_secs(60), || {
        (source_status(&base)?["capture"]["state"] == "streaming").then_some(())
    });
    let created = reqwest::blocking::Client::new()
        .post(format!("{base}/v1/sources/rg/groups"))
        .json(&serde_json::json!({"name": "reader", "reset": "earliest"}))
        .send()
        .unwrap();
    assert_eq!(created.status(), 201);

    insert(&src, 1, 100);
    wait_for(
        "the mirror to copy 100 rows",
        Duration::from_secs(60),
        || (count_max(&dst) == (100, 100)).then_some(()),
    );

    // The target goes down; ~300 KB more: past retention_bytes, under the cap.
    dst.stop();
    insert(&src, 101, 400);
    caught_up(&base, &src);
    let s = source_status(&base).unwrap();
    let mirror = group(&s, "sink-mirror");
    assert_eq!(mirror["protected"], true, "{mirror}");
    assert!(
        s["log"]["bytes"].as_u64().unwrap() > 3 * 65536,
        "retention should keep what the mirror has not delivered: {s}"
    );
    let start = s["log"]["start_offset"].as_u64().unwrap();
    assert!(start <= mirror["offset"].as_u64().unwrap(), "{s}");
    assert_eq!(mirror["lost_records"], 0, "{mirror}");
    // The unprotected group, still at the beginning, lost the records
    // retention deleted, and says which.
    let reader = group(&s, "reader");
    assert!(start > 0, "retention deleted nothing: {s}");
    assert_eq!(reader["protected"], false);
    assert_eq!(reader["lost_records"].as_u64(), Some(start), "{reader}");
    assert_eq!(reader["lost"], serde_json::json!([0, start]));

    // Past the cap, retention deletes what the mirror still needs.
    insert(&src, 501, 1600);
    caught_up(&base, &src);
    let s = source_status(&base).unwrap();
    let capped = s["log"]["start_offset"].as_u64().unwrap();
    let mirror = group(&s, "sink-mirror");
    let at = mirror["offset"].as_u64().unwrap();
    assert!(
        capped > at,
        "the cap should have deleted records past the mirror: {s}"
    );
    assert_eq!(
        mirror["lost_records"].as_u64(),
        Some(capped - at),
        "{mirror}"
    );
    // Several passes may each have deleted some; the last range ends at
    // the log start.
    assert_eq!(mirror["lost"][1].as_u64(), Some(capped), "{mirror}");
    assert!(
        run_log().contains("consumer group \"sink-mirror\" had not read"),
        "no error line naming the group:\n{}",
        run_log()
    );
    let metrics = reqwest::blocking::get(format!("{base}/metrics"))
        .unwrap()
        .text()
        .unwrap();
    let line = metrics
        .lines()
        .find(|l| {
            l.starts_with("sluice_group_lost_records_total") && l.contains("group=\"sink-mirror\"")
        })
        .unwrap_or_else(|| panic!("no lost-records metric for the mirror"));
    assert!(line.ends_with(&format!(" {}", capped - at)), "{line}");

    // The target is back: the mirror must stop on the hole, not skip it.
    dst.start_again();
    let failed = wait_for("the mirror to stop", Duration::from_secs(90), || {
        let s = get(&format!("{base}/status"))?;
        let m = s["sinks"]
            .as_array()?
            .iter()
            .find(|k| k["name"] == "mirror")?
            .clone();
        (m["state"] == "failed").then_some(m)
    });
    let error = failed["error"].as_str().unwrap_or_default();
    // It may first deliver what it had read before the deletion.
    let from: u64 = error
        .split("retention deleted records ")
        .nth(1)
        .and_then(|r| r.split("..").next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not the lost-records error: {failed}"));
    assert!(from >= at && from < capped, "{failed}");
    // What the target holds is a prefix of the source's rows, no gap.
    let (n, max) = count_max(&dst);
    assert_eq!(n, max, "the mirror skipped rows");
    assert!(n < 2100, "the mirror cannot have all rows: {n}");
}
