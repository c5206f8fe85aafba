//! `sluice decode` as a user runs it: the real binary on real binlog
//! files — output lines, formats, errors on stderr with file and offset,
//! exit status, a closed pipe.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn sluice() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sluice"))
}

fn corpus_file(name: &str) -> Option<PathBuf> {
    Some(sluice_testkit::binlog_corpus()?.join(name))
}

fn lines(out: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[test]
fn decodes_a_file_into_one_json_record_per_transaction() {
    let Some(f) = corpus_file("kingbus__mysql_bin.000011") else {
        return;
    };
    let out = sluice().arg("decode").arg(&f).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let recs = lines(&out.stdout);
    // 11 GTIDs: one CREATE TABLE, ten row transactions.
    assert_eq!(recs.len(), 11);
    assert_eq!(
        recs[0]["gtid"],
        "214eb71f-96ec-11e8-ab4f-fa163e72d4ae:11790"
    );
    assert_eq!(recs[0]["start"], 194);
    assert_eq!(recs[0]["next"], 475);
    assert!(recs[0]["ddl"]["statement"]
        .as_str()
        .unwrap()
        .starts_with("create table stu"));
    assert_eq!(recs[1]["changes"][0]["table"], "stu");
    assert_eq!(recs[1]["changes"][0]["kind"], "insert");
    for (i, r) in recs.iter().enumerate() {
        assert_eq!(r["offset"], i as u64);
        assert_eq!(r["file"], "kingbus__mysql_bin.000011");
    }
}

#[test]
fn canal_and_debezium_formats() {
    let Some(f) = corpus_file("MyFlash__haha.000008") else {
        return;
    };
    let out = sluice()
        .args(["decode", "--format", "canal-json"])
        .arg(&f)
        .output()
        .unwrap();
    assert!(out.status.success());
    let msgs = lines(&out.stdout);
    assert_eq!(msgs.len(), 1);
    let m = &msgs[0];
    assert_eq!(m["type"], "UPDATE");
    assert_eq!(m["database"], "test");
    assert_eq!(m["table"], "test4");
    assert_eq!(m["isDdl"], false);
    assert_eq!(m["data"], serde_json::json!([{"@1": "13"}]));
    assert_eq!(m["old"], serde_json::json!([{"@1": "3"}]));
    assert_eq!(m["sqlType"], serde_json::json!({"@1": 4}));
    assert_eq!(m["es"], 1_504_547_994_000i64);

    let out = sluice()
        .args(["decode", "--format", "debezium-json"])
        .arg(&f)
        .output()
        .unwrap();
    let env = lines(&out.stdout);
    assert_eq!(env.len(), 1);
    assert_eq!(env[0]["op"], "u");
    assert_eq!(env[0]["before"], serde_json::json!({"@1": 3}));
    assert_eq!(env[0]["after"], serde_json::json!({"@1": 13}));
    assert_eq!(env[0]["source"]["file"], "MyFlash__haha.000008");
    assert_eq!(env[0]["source"]["table"], "test4");

    let bad = sluice()
        .args(["decode", "--format", "xml"])
        .arg(&f)
        .output()
        .unwrap();
    assert!(!bad.status.success());
}

#[test]
fn errors_name_file_and_offset_and_set_the_exit_status() {
    let Some(good) = corpus_file("MyFlash__haha.000008") else {
        return;
    };
    let truncated =
        corpus_file("rust_mysql_common__binlog_truncated_prev_gtid_event.000001").unwrap();
    let out = sluice()
        .arg("decode")
        .arg(&truncated)
        .arg(&good)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    // An `error:` line, as every sluice command prints its errors.
    assert!(
        err.lines().any(|l| l.starts_with("error: rust_mysql_common__binlog_truncated_prev_gtid_event.000001 at byte 120: truncated event header")),
        "{err}"
    );
    // The good file after it still decodes.
    assert_eq!(lines(&out.stdout).len(), 1);

    // A flipped bit inside an event: its CRC32 no longer matches.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("flipped.000001");
    let mut bytes = std::fs::read(&good).unwrap();
    // The UPDATE_ROWS event of this file starts at 339; flip a byte of its body.
    bytes[339 + 25] ^= 0x40;
    std::fs::write(&copy, &bytes).unwrap();
    let out = sluice().arg("decode").arg(&copy).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("error: flipped.000001 at byte 339: checksum mismatch"),
        "{err}"
    );
    assert!(
        lines(&out.stdout).is_empty(),
        "a corrupt transaction must not be emitted"
    );

    // A file that cannot be opened is named whole; the next one decodes.
    let missing = dir.path().join("missing");
    let out = sluice()
        .arg("decode")
        .arg(&missing)
        .arg(&good)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "error: cannot open binlog file {}: No such file or directory (os error 2)\n",
            missing.display()
        )
    );
    assert_eq!(lines(&out.stdout).len(), 1);
}

#[test]
fn a_closed_pipe_is_not_an_error() {
    let Some(f) = corpus_file("mariadb-poc__domain_id_0_mariadb-repl-bin.000002") else {
        return;
    };
    let mut child = sluice()
        .arg("decode")
        .arg(&f)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    reader.read_line(&mut first).unwrap();
    assert!(first.starts_with("{\"offset\":0"));
    drop(reader);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "exit {:?}", out.status);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
