//! `sluice-inspect` run as a process over a real log: output, JSON and
//! exit codes, and `verify` catching a corrupted byte.

use std::os::unix::fs::FileExt;
use std::path::Path;
use std::process::Command;

use sluice_storage::{
    Compression, FsyncPolicy, GtidSet, Log, LogConfig, NewRecord, ResetPolicy, SourcePos,
};

fn build(dir: &Path) {
    let log = Log::open(
        dir,
        LogConfig {
            segment_bytes: 2048,
            segment_age: None,
            fsync: FsyncPolicy::Never,
            index_interval_bytes: 256,
            retention_bytes: None,
            retention_age: None,
            retention_max_bytes: None,
            compression: Compression::None,
        },
    )
    .unwrap();
    for i in 0..100u64 {
        let p = vec![b'x'; 50];
        log.append(&[NewRecord {
            payload: &p,
            commit_time_ms: 1_000 + i as i64,
            position: SourcePos::new(7, 100 + i * 10),
            gtid: GtidSet::single(&[0x11; 16], i + 1),
        }])
        .unwrap();
    }
    log.groups().create("g", ResetPolicy::None).unwrap();
    log.groups().commit("g", 60).unwrap();
}

fn run(args: &[&str]) -> (i32, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_sluice-inspect"))
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn commands_on_a_sound_log() {
    let d = tempfile::tempdir().unwrap();
    build(d.path());
    let dir = d.path().to_str().unwrap();

    let (code, out, _) = run(&["verify", dir]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("sound:"), "{out}");

    let (code, out, _) = run(&["segments", dir, "--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let segs = v["segments"].as_array().unwrap();
    assert!(segs.len() > 2);
    assert_eq!(segs[0]["base_offset"], 0);
    assert_eq!(v["end_offset"], 100);
    let total: u64 = segs.iter().map(|s| s["records"].as_u64().unwrap()).sum();
    assert_eq!(total, 100);

    let (code, out, _) = run(&["find", dir, "--time", "1042", "--json"]);
    assert_eq!(code, 0, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["offset"], 42);
    let (_, out, _) = run(&["find", dir, "--position", "7:205", "--json"]);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&out).unwrap()["offset"],
        11
    );
    let gtid = format!("{}:1-30", "11".repeat(16));
    let (_, out, _) = run(&["find", dir, "--gtid", &gtid, "--json"]);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&out).unwrap()["offset"],
        30
    );
    let (code, _, err) = run(&["find", dir, "--position", "nonsense"]);
    assert_eq!(code, 2);
    assert!(err.contains("FILE_NO:POS"), "{err}");

    let (code, out, _) = run(&["dump", dir, "--from", "95", "--json"]);
    assert_eq!(code, 0);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let offs: Vec<u64> = lines
        .iter()
        .flat_map(|b| b["record_headers"].as_array().unwrap().clone())
        .map(|r| r["offset"].as_u64().unwrap())
        .collect();
    assert_eq!(offs, (95..100).collect::<Vec<_>>());

    let (code, out, _) = run(&["groups", dir, "--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["name"], "g");
    assert_eq!(v[0]["offset"], 60);
    assert_eq!(v[0]["lag_records"], 40);

    let (code, _, err) = run(&["segments", "/nonexistent/log"]);
    assert_eq!(code, 2);
    assert!(err.contains("/nonexistent/log"), "{err}");
}

#[test]
fn verify_reports_a_corrupted_byte_with_file_and_offset() {
    let d = tempfile::tempdir().unwrap();
    build(d.path());
    let seg = d.path().join("00000000000000000000.log");
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&seg)
        .unwrap();
    // A byte inside the payload of a batch in the middle of the sealed segment.
    let at = 600;
    let mut b = [0u8];
    f.read_exact_at(&mut b, at).unwrap();
    f.write_all_at(&[b[0] ^ 0x40], at).unwrap();
    drop(f);
    let dir = d.path().to_str().unwrap();
    let (code, out, _) = run(&["verify", dir]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("PROBLEM"), "{out}");
    assert!(out.contains("00000000000000000000.log at byte"), "{out}");
    assert!(out.contains("checksum mismatch"), "{out}");
    let (code, out, _) = run(&["verify", dir, "--json"]);
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["sound"], false);
    let p = &v["problems"][0];
    assert!(p["file"]
        .as_str()
        .unwrap()
        .ends_with("00000000000000000000.log"));
    let byte = p["byte"].as_u64().unwrap();
    assert!(
        byte <= at && at - byte < 200,
        "problem at the damaged batch, got {byte}"
    );
    // dump shows the damaged batch and fails too.
    let (code, out, _) = run(&["dump", dir]);
    assert_eq!(code, 1);
    assert!(out.contains("checksum mismatch"), "{out}");
}

/// Every command, given a folder that is not a log: exit 2, one line on
/// stderr naming what was wrong (and the logs below a data folder),
/// nothing on stdout, no backtrace even with RUST_BACKTRACE=1.
#[test]
fn every_command_refuses_a_folder_without_a_log() {
    let d = tempfile::tempdir().unwrap();
    let data = d.path().join("data");
    let shop = data.join("shop").join("log");
    build(&shop);
    std::fs::create_dir_all(data.join("empty")).unwrap();
    let gone = d.path().join("gone");
    let (data_s, gone_s) = (data.to_str().unwrap(), gone.to_str().unwrap());
    let empty = data.join("empty");
    let empty_s = empty.to_str().unwrap();
    let commands: [&[&str]; 5] = [
        &["segments"],
        &["dump"],
        &["verify"],
        &["find", "--offset", "0"],
        &["groups"],
    ];
    let cases = [
        (
            vec![data_s],
            format!(
                "error: no log in {data_s}; logs found: shop ({})",
                shop.display()
            ),
        ),
        (vec![gone_s], format!("error: no such folder: {gone_s}")),
        (
            vec![empty_s],
            format!(
                "error: no log in {empty_s} (a log folder holds segment files \
                 NNNNNNNNNNNNNNNNNNNN.log; none here or in the two levels below)"
            ),
        ),
        (
            vec!["--data", data_s, "--name", "shp"],
            format!(
                "error: no log for source \"shp\" in {data_s}; logs found: shop ({})",
                shop.display()
            ),
        ),
        (
            vec!["--data", data_s],
            format!(
                "error: no log for source \"main\" in {data_s}; logs found: shop ({})",
                shop.display()
            ),
        ),
    ];
    for cmd in commands {
        for (dir, want) in &cases {
            let args: Vec<&str> = cmd.iter().chain(dir.iter()).copied().collect();
            let o = Command::new(env!("CARGO_BIN_EXE_sluice-inspect"))
                .args(&args)
                .env("RUST_BACKTRACE", "1")
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&o.stderr);
            assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
            assert_eq!(err.trim_end(), want, "{args:?}");
            assert!(o.stdout.is_empty(), "{args:?}");
        }
        // --data DIR --name NAME reaches the same log as its folder.
        let args: Vec<&str> = cmd
            .iter()
            .copied()
            .chain(["--data", data_s, "--name", "shop"])
            .collect();
        let (code, out, err) = run(&args);
        let (code_dir, out_dir, _) = run(&cmd
            .iter()
            .copied()
            .chain([shop.to_str().unwrap()])
            .collect::<Vec<_>>());
        assert_eq!((code, &out), (code_dir, &out_dir), "{args:?}: {err}");
        assert_eq!(code, 0, "{args:?}: {err}");
    }
}
