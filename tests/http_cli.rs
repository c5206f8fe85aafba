//! `sluice groups`, `sluice history` and `sluice tail --server` as a user
//! runs them: the real binary against a data folder or a real server.

mod http_support;

use http_support::*;
use serde_json::Value;
use std::process::Output;

async fn sluice(args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(args)
        .output()
        .await
        .unwrap()
}

fn lines(out: &Output) -> Vec<Value> {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// DATA/main/log, as `sluice run` lays it out.
fn data_log(data: &std::path::Path) -> sluice_storage::Log {
    open_log(&data.join("main").join("log"))
}

#[tokio::test]
async fn groups_in_a_data_folder() {
    let data = tempfile::tempdir().unwrap();
    let log = data_log(data.path());
    append(&log, 0, 40, 1);
    drop(log);
    let d = data.path().to_str().unwrap();

    let g = lines(&sluice(&["groups", "--data", d, "create", "a", "--start", "latest"]).await);
    assert_eq!(g[0]["offset"], 40);
    let g = lines(&sluice(&["groups", "--data", d, "create", "b", "--reset", "earliest"]).await);
    assert_eq!(
        (g[0]["offset"].as_u64(), g[0]["reset"].as_str()),
        (Some(0), Some("earliest"))
    );
    let t = commit_time(12).to_string();
    let g = lines(&sluice(&["groups", "--data", d, "seek", "a", &format!("time:{t}")]).await);
    assert_eq!(g[0]["offset"], 12);
    let p = format!("mysql-bin.000001:{}", start_pos(30));
    let g = lines(&sluice(&["groups", "--data", d, "seek", "b", &p]).await);
    assert_eq!(g[0]["offset"], 30);
    let g = lines(&sluice(&["groups", "--data", d, "seek", "b", "gtid:0-1-5"]).await);
    assert_eq!(g[0]["offset"], 5);
    let list = lines(&sluice(&["groups", "--data", d, "list"]).await);
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["lag_records"], 28);
    lines(&sluice(&["groups", "--data", d, "delete", "a"]).await);
    let list = lines(&sluice(&["groups", "--data", d, "list"]).await);
    assert_eq!(list.len(), 1);

    // Errors name the problem, with a failing exit status.
    for (args, needle) in [
        (vec!["seek", "b", "soon"], "bad start point"),
        (vec!["seek", "zz", "0"], "does not exist"),
        (vec!["delete", "a"], "does not exist"),
        (vec!["seek", "b", "999"], "beyond the log end"),
    ] {
        let mut all = vec!["groups", "--data", d];
        all.extend(args.iter());
        let out = sluice(&all).await;
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

#[tokio::test]
async fn groups_and_tail_against_a_server() {
    let data = tempfile::tempdir().unwrap();
    let log = data_log(data.path());
    append(&log, 0, 25, 1);
    let srv = Server::start(&log, Some("tok")).await;
    let url = srv.url.as_str();
    let server = ["--server", url, "--token", "tok"];
    let run = |extra: &[&str]| {
        let mut a = vec!["groups"];
        a.extend(server);
        a.extend(extra);
        a.iter().map(|s| s.to_string()).collect::<Vec<_>>()
    };
    let call = |a: Vec<String>| async move {
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        sluice(&refs).await
    };
    let g = lines(&call(run(&["create", "c", "--start", "10"])).await);
    assert_eq!(g[0]["offset"], 10);
    let g = lines(&call(run(&["seek", "c", "gtid:0-1-20"])).await);
    assert_eq!(g[0]["offset"], 20);
    let list = lines(&call(run(&["list"])).await);
    assert_eq!(list[0]["name"], "c");

    // tail as group c: records 20..25, then its offset is committed.
    let out = sluice(&[
        "tail",
        "--server",
        url,
        "--token",
        "tok",
        "--source",
        "main",
        "--group",
        "c",
        "--no-follow",
    ])
    .await;
    let got: Vec<u64> = lines(&out)
        .iter()
        .map(|v| v["offset"].as_u64().unwrap())
        .collect();
    assert_eq!(got, (20..25).collect::<Vec<_>>());
    assert_eq!(log.groups().get("c").unwrap().unwrap().offset, 25);
    // Again: nothing new.
    let out = sluice(&[
        "tail",
        "--server",
        url,
        "--token",
        "tok",
        "--group",
        "c",
        "--no-follow",
    ])
    .await;
    assert!(lines(&out).is_empty());
    // Without a group, from an offset, in another format.
    let out = sluice(&[
        "tail",
        "--server",
        url,
        "--token",
        "tok",
        "--from",
        "23",
        "--format",
        "debezium-json",
        "--no-follow",
    ])
    .await;
    let got = lines(&out);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0]["op"], "c");

    lines(&call(run(&["delete", "c"])).await);
    // A wrong token: a clear error.
    let out = sluice(&["groups", "--server", url, "--token", "bad", "list"]).await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("401"));
}

#[tokio::test]
async fn history_of_a_table_and_of_a_row() {
    let data = tempfile::tempdir().unwrap();
    let log = data_log(data.path());
    // Every third record is in shop.customers, the rest in shop.orders.
    append_with(&log, 0, 60, |i| {
        let mut e = event(i, 2);
        if i % 3 == 0 {
            e.changes[0].table = "customers".into();
        }
        e
    });
    drop(log);
    let d = data.path().to_str().unwrap();
    let since = chrono::DateTime::from_timestamp_millis(commit_time(10))
        .unwrap()
        .to_rfc3339();
    let until = commit_time(19).to_string();
    let out = sluice(&[
        "history",
        "--data",
        d,
        "--table",
        "shop.orders",
        "--since",
        &since,
        "--until",
        &until,
    ])
    .await;
    let got: Vec<u64> = lines(&out)
        .iter()
        .map(|v| v["offset"].as_u64().unwrap())
        .collect();
    let want: Vec<u64> = (10..=19).filter(|i| i % 3 != 0).collect();
    assert_eq!(got, want);

    // One row: id 2*i+r+1; id 30 is record 14, row 1.
    let out = sluice(&[
        "history",
        "--data",
        d,
        "--table",
        "shop.orders",
        "--where",
        "id=30",
    ])
    .await;
    let got = lines(&out);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["offset"], 14);
    assert_eq!(got[0]["changes"][0]["rows"].as_array().unwrap().len(), 1);
    assert_eq!(
        got[0]["changes"][0]["rows"][0]["after"]["note"],
        "order 14/1"
    );

    // canal-json, and a table that has no changes.
    let out = sluice(&[
        "history",
        "--data",
        d,
        "--table",
        "shop.customers",
        "--until",
        &commit_time(3).to_string(),
        "--format",
        "canal-json",
    ])
    .await;
    let got = lines(&out);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0]["table"], "customers");
    let out = sluice(&["history", "--data", d, "--table", "shop.none"]).await;
    assert!(lines(&out).is_empty());
    let out = sluice(&["history", "--data", d, "--table", "noschema"]).await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("DB.TABLE"));
}
