//! Canal's Python client (`canal-python` from PyPI), unchanged, against
//! sluice's Canal server. `tools/test.sh` installs it; elsewhere the test
//! is skipped (and counted) when it is missing, in CI it fails. `SLUICE_CANAL_PYTHON` names
//! the interpreter that has it (default `python3`).

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::canal::*;
use sluice::serve::canal::{CanalConfig, Credentials, MemoryDestination, TimeZone};

fn python() -> Option<String> {
    let py = std::env::var("SLUICE_CANAL_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = std::process::Command::new(&py)
        .args([
            "-c",
            "import canal.client, canal.protocol.EntryProtocol_pb2",
        ])
        .env("PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION", "python")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if ok {
        return Some(py);
    }
    sluice_testkit::missing(&format!(
        "canal-python not importable by {py} (tools/test.sh installs it in a venv and sets SLUICE_CANAL_PYTHON)"
    ));
    None
}

#[tokio::test]
async fn canal_python_client_reads_acks_and_rolls_back() {
    let Some(py) = python() else { return };
    let log = MemoryDestination::new("example");
    for id in 1..=5 {
        let table = if id == 3 { "skipped" } else { "orders" };
        log.append(&insert("shop", table, id));
    }
    let server = TestServer::start(
        CanalConfig {
            credentials: Some(Credentials::from_plain("canal", "canal")),
            time_zone: TimeZone::Utc,
            ..Default::default()
        },
        std::slice::from_ref(&log),
    )
    .await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/canal_python_client.py");
    let child = tokio::process::Command::new(&py)
        .arg(script)
        .arg("127.0.0.1")
        .arg(server.addr.port().to_string())
        .args(["example", "1001", r"shop\.orders", "canal", "canal", "4"])
        .env("PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION", "python")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("starting python");
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("python client hung")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "python failed:\n{stdout}\n{stderr}");
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .unwrap_or_else(|| panic!("no RESULT line:\n{stdout}\n{stderr}"));
    let r: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(r["first_id"], 1);
    assert_eq!(
        r["again_id"], 2,
        "the rolled-back batch comes again under a new id"
    );
    assert_eq!(r["redelivered_same"], true);
    assert_eq!(r["after_reconnect"], 0, "acks were committed");
    let rows: Vec<&serde_json::Value> = r["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|row| row[0] == "ROWDATA")
        .collect();
    let ids: Vec<&str> = rows
        .iter()
        .map(|row| row[4]["id"][0].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["1", "2", "4", "5"], "filter drops shop.skipped");
    let first = rows[0];
    assert_eq!(first[1], "shop");
    assert_eq!(first[2], "orders");
    assert_eq!(first[3], "INSERT");
    // [value, sqlType, mysqlType, isKey, updated]
    assert_eq!(
        first[4]["id"],
        serde_json::json!(["1", 4, "int(11)", true, true])
    );
    assert_eq!(
        first[4]["name"],
        serde_json::json!(["name-1", 12, "varchar(32)", false, true])
    );
    // Every transaction is BEGIN, ROWDATA, END.
    let kinds: Vec<&str> = r["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row[0].as_str().unwrap())
        .collect();
    for chunk in kinds.chunks(3) {
        assert_eq!(chunk, ["TRANSACTIONBEGIN", "ROWDATA", "TRANSACTIONEND"]);
    }
    server.shutdown().await;
}
