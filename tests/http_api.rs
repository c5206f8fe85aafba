//! The HTTP API against a real server on a free loopback port, with a log
//! of known change events built through the storage API: health, status,
//! metrics, groups, seeks, commits, long-poll and follow streams,
//! retention errors, auth and bad input.

mod http_support;

use http_support::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

#[tokio::test]
async fn health_status_and_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let log = open_log(dir.path());
    append(&log, 0, 20, 2);
    let status = sluice::pipeline::StatusHandle::new("main");
    status.captured("mysql-bin.000001", 2004, "0-1-20", commit_time(19), 40, 1);
    status.server_end("mysql-bin.000001", 2504);
    log.groups()
        .create("search", sluice_storage::ResetPolicy::None)
        .unwrap();
    log.groups().commit("search", 5).unwrap();
    let srv = Server::start_with(&log, Some(status), None).await;
    let c = client();

    let h: Value = c
        .get(format!("{}/health", srv.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(h["status"], "ok");

    let s: Value = c
        .get(format!("{}/status", srv.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let src = &s["sources"][0];
    assert_eq!(src["name"], "main");
    assert_eq!(src["log"]["start_offset"], 0);
    assert_eq!(src["log"]["end_offset"], 20);
    assert!(src["log"]["bytes"].as_u64().unwrap() > 0);
    assert_eq!(src["capture"]["position"], 2004);
    assert_eq!(src["capture"]["gtid"], "0-1-20");
    assert_eq!(src["capture"]["lag_bytes"], 500);
    assert!(src["capture"]["lag_seconds"].as_f64().unwrap() > 0.0);
    assert_eq!(src["groups"][0]["name"], "search");
    assert_eq!(src["groups"][0]["offset"], 5);
    assert_eq!(src["groups"][0]["lag_records"], 15);

    let resp = c.get(format!("{}/metrics", srv.url)).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    for needle in [
        "sluice_rows_captured_total{source=\"main\"}",
        "sluice_transactions_captured_total{source=\"main\"}",
        "sluice_capture_lag_seconds{source=\"main\"}",
        "sluice_log_end_offset{source=\"main\"} 20",
        "sluice_group_lag_records{source=\"main\",group=\"search\"} 15",
        "sluice_capture_lag_bytes{source=\"main\"} 500",
    ] {
        assert!(text.contains(needle), "{needle} not in metrics:\n{text}");
    }
}

#[tokio::test]
async fn groups_crud() {
    let dir = tempfile::tempdir().unwrap();
    let log = open_log(dir.path());
    append(&log, 0, 10, 1);
    let srv = Server::start(&log, None).await;
    let c = client();

    let r = c
        .post(srv.groups())
        .json(&json!({"name": "a"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let g: Value = r.json().await.unwrap();
    assert_eq!(
        (g["offset"].as_u64(), g["reset"].as_str()),
        (Some(0), Some("none"))
    );

    let r = c
        .post(srv.groups())
        .json(&json!({"name": "b", "start": "latest", "reset": "earliest"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let g: Value = r.json().await.unwrap();
    assert_eq!(
        (g["offset"].as_u64(), g["reset"].as_str()),
        (Some(10), Some("earliest"))
    );

    let r = c
        .post(srv.groups())
        .json(&json!({"name": "a"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"], "group_exists");

    let list: Vec<Value> = c
        .get(srv.groups())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = list.iter().map(|g| g["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["a", "b"]);
    assert_eq!(list[0]["lag_records"], 10);

    let g: Value = c
        .get(format!("{}/b", srv.groups()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(g["offset"], 10);

    let r = c
        .delete(format!("{}/a", srv.groups()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = c
        .delete(format!("{}/a", srv.groups()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = c.get(format!("{}/a", srv.groups())).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "group_not_found");
    let list: Vec<Value> = c
        .get(srv.groups())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list.len(), 1);
}

/// The first record a group reads after a seek.
async fn first_after_seek(srv: &Server, body: Value) -> u64 {
    let c = client();
    let r = c
        .post(format!("{}/g/seek", srv.groups()))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{body}: {}", r.text().await.unwrap());
    let r = c
        .get(srv.changes())
        .query(&[("group", "g"), ("max", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    offsets(&r.text().await.unwrap())[0]
}

#[tokio::test]
async fn seek_by_offset_time_position_and_gtid() {
    let dir = tempfile::tempdir().unwrap();
    let log = open_log(dir.path());
    append(&log, 0, 500, 3);
    let srv = Server::start(&log, None).await;
    client()
        .post(srv.groups())
        .json(&json!({"name": "g"}))
        .send()
        .await
        .unwrap();

    assert_eq!(first_after_seek(&srv, json!({"offset": 123})).await, 123);
    assert_eq!(first_after_seek(&srv, json!({"to": "77"})).await, 77);
    // Record 321 was committed at T0 + 321 s.
    let t = chrono::DateTime::from_timestamp_millis(commit_time(321))
        .unwrap()
        .to_rfc3339();
    assert_eq!(first_after_seek(&srv, json!({"time": t})).await, 321);
    // Half a second later: the next record.
    let ms = (commit_time(321) + 500).to_string();
    assert_eq!(
        first_after_seek(&srv, json!({"to": format!("time:{ms}")})).await,
        322
    );
    // The transaction starting at binlog position start_pos(250).
    let p = format!("mysql-bin.000001:{}", start_pos(250));
    assert_eq!(first_after_seek(&srv, json!({"position": p})).await, 250);
    // GTIDs 0-1-1 .. 0-1-400 are records 0..400: the next one is 400.
    assert_eq!(
        first_after_seek(&srv, json!({"gtid": "0-1-400"})).await,
        400
    );
    assert_eq!(first_after_seek(&srv, json!({"to": "earliest"})).await, 0);

    // A seek beyond the end is refused.
    let r = client()
        .post(format!("{}/g/seek", srv.groups()))
        .json(&json!({"offset": 501}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 409);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "beyond_log_end");
}

#[tokio::test]
async fn long_poll_reads_commits_and_auto_commits() {
    let dir = tempfile::tempdir().unwrap();
    let log = open_log(dir.path());
    append(&log, 0, 30, 1);
    let srv = Server::start(&log, None).await;
    let c = client();
    // A group created by the read, starting at offset 5.
    let r = c
        .get(srv.changes())
        .query(&[("group", "x"), ("from", "5"), ("max", "10")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/x-ndjson");
    let next = next_offset(&r);
    assert_eq!(next, 15);
    assert_eq!(
        offsets(&r.text().await.unwrap()),
        (5..15).collect::<Vec<_>>()
    );
    // Not committed yet: the same records again.
    let r = c
        .get(srv.changes())
        .query(&[("group", "x"), ("max", "10")])
        .send()
        .await
        .unwrap();
    assert_eq!(offsets(&r.text().await.unwrap())[0], 5);
    let r = c
        .post(format!("{}/x/commit", srv.groups()))
        .json(&json!({"offset": next}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = c
        .get(srv.changes())
        .query(&[("group", "x"), ("max", "10"), ("auto_commit", "true")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        offsets(&r.text().await.unwrap()),
        (15..25).collect::<Vec<_>>()
    );
    let g: Value = c
        .get(format!("{}/x", srv.groups()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(g["offset"], 25);
    // Other formats.
    for (format, key) in [("canal-json", "isDdl"), ("debezium-json", "op")] {
        let r = c
            .get(srv.changes())
            .query(&[("from", "3"), ("max", "1"), ("format", format)])
            .send()
            .await
            .unwrap();
        let body = r.text().await.unwrap();
        let v: Value = serde_json::from_str(body.lines().next().unwrap()).unwrap();
        assert!(v.get(key).is_some(), "{format}: {body}");
    }
}

#[tokio::test]
async fn long_poll_wakes_when_a_record_is_appended() {
    let dir = tempfile::tempdir().unwrap();
    let log = open_log(dir.path());
    append(&log, 0, 3, 1);
    let srv = Server::start(&log, None).await;
    // At the end: an immediate poll answers empty.
    let r = client()
        .get(srv.changes())
        .query(&[("from", "3")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(next_offset(&r), 3);
    assert!(r.text().await.unwrap().is_empty());

    let writer = log.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        append(&writer, 3, 4, 1);
    });
    let started = Instant::now();
    let r = client()
        .get(srv.changes())
        .query(&[("from", "3"), ("wait_ms", "20000")])
        .send()
        .await
        .unwrap();
    assert_eq!(offsets(&r.text().await.unwrap()), vec![3]);
    // Woken by the append, not by the 20 s timeout.
    assert!(started.elapsed() < Duration::from_secs(10));

    // With nothing appended the wait ends empty after wait_ms.
    let r = client()
        .get(srv.changes())
        .query(&[("from", "4"), ("wait_ms", "200")])
        .send()
        .await
        .unwrap();
    assert!(r.text().await.unwrap().is_empty());
}

#[tokio::test]
async fn follow_streams_new_records_until_the_client_closes() {
    use futures::StreamExt;
    let dir = tempfile::tempdir().unwrap();
    let log = open_log(dir.path());
    append(&log, 0, 5, 1);
    let srv = Server::start(&log, None).await;
    let r = client()
        .get(srv.changes())
        .query(&[("group", "f"), ("follow", "true"), ("auto_commit", "true")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let writer = log.clone();
    std::thread::spawn(move || {
        for i in 5..12 {
            std::thread::sleep(Duration::from_millis(30));
            append(&writer, i, i + 1, 1);
        }
    });
    let mut stream = r.bytes_stream();
    let mut text = String::new();
    while offsets(&text).len() < 12 {
        let chunk = tokio::time::timeout(Duration::from_secs(20), stream.next())
            .await
            .expect("stream stalled")
            .unwrap()
            .unwrap();
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    assert_eq!(offsets(&text), (0..12).collect::<Vec<_>>());
    drop(stream);
    // The auto-commit follows each chunk handed to the connection.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let g: Value = client()
            .get(format!("{}/f", srv.groups()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if g["offset"] == 12 {
            break;
        }
        assert!(Instant::now() < deadline, "group stuck at {}", g["offset"]);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn group_behind_retention_gets_410_unless_it_has_a_reset_policy() {
    let dir = tempfile::tempdir().unwrap();
    let log = open_log(dir.path());
    append(&log, 0, 200, 2);
    log.groups()
        .create("strict", sluice_storage::ResetPolicy::None)
        .unwrap();
    log.groups()
        .create("lenient", sluice_storage::ResetPolicy::Earliest)
        .unwrap();
    let start = log.delete_before(100).unwrap();
    assert!(start > 0, "nothing deleted");
    let srv = Server::start(&log, None).await;
    let r = client()
        .get(srv.changes())
        .query(&[("group", "strict")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 410);
    let e: Value = r.json().await.unwrap();
    assert_eq!(e["error"], "group_out_of_range");
    assert_eq!(e["log_start"], start);
    assert_eq!(e["offset"], 0);
    assert_eq!(e["lost"], serde_json::json!([0, start]));
    assert!(e["detail"].as_str().unwrap().contains("retention"));
    // Both groups are marked with what they lost.
    let g: Value = client()
        .get(format!("{}/lenient", srv.groups()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(g["lost_records"], start, "{g}");
    assert_eq!(g["lost"], serde_json::json!([0, start]));

    let r = client()
        .get(srv.changes())
        .query(&[("group", "lenient"), ("max", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(offsets(&r.text().await.unwrap()), vec![start]);

    // A read below the start without a group: 410 too.
    let r = client()
        .get(srv.changes())
        .query(&[("from", "0")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 410);
    assert_eq!(r.json::<Value>().await.unwrap()["log_start"], start);
}

#[tokio::test]
async fn bearer_token_is_required_when_configured() {
    let dir = tempfile::tempdir().unwrap();
    let log = open_log(dir.path());
    append(&log, 0, 2, 1);
    let srv = Server::start(&log, Some("s3cret")).await;
    let c = client();
    assert_eq!(
        c.get(format!("{}/health", srv.url))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    for req in [
        c.get(format!("{}/status", srv.url)),
        c.get(format!("{}/status", srv.url)).bearer_auth("wrong"),
        c.get(srv.changes()).bearer_auth("s3cre"),
        c.get(srv.groups())
            .header("authorization", "Basic czNjcmV0"),
    ] {
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), 401);
        assert_eq!(r.headers()["www-authenticate"], "Bearer");
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["error"], "unauthorized");
    }
    let r = c
        .get(srv.changes())
        .bearer_auth("s3cret")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(offsets(&r.text().await.unwrap()), vec![0, 1]);
}

#[tokio::test]
async fn garbage_input_gets_400_json_errors() {
    let dir = tempfile::tempdir().unwrap();
    let log = open_log(dir.path());
    append(&log, 0, 5, 1);
    let srv = Server::start(&log, None).await;
    let c = client();
    let bad_queries: &[&[(&str, &str)]] = &[
        &[("max", "abc")],
        &[("max", "0")],
        &[("max", "-1")],
        &[("wait_ms", "999999999999")],
        &[("format", "xml")],
        &[("from", "yesterday")],
        &[("follow", "perhaps")],
        &[("bogus", "1")],
        &[("auto_commit", "true")],
        &[("group", "g"), ("reset", "sometimes")],
    ];
    for q in bad_queries {
        let r = c.get(srv.changes()).query(q).send().await.unwrap();
        assert_eq!(r.status(), 400, "{q:?}");
        let e: Value = r.json().await.unwrap();
        assert_eq!(e["error"], "bad_request", "{q:?}");
        assert!(!e["detail"].as_str().unwrap().is_empty());
    }
    let bad_bodies = [
        (srv.groups(), "not json"),
        (srv.groups(), r#"{"nme": "x"}"#),
        (srv.groups(), r#"{"name": "x", "start": "tomorrow"}"#),
        (
            format!("{}/x/seek", srv.groups()),
            r#"{"offset": 1, "gtid": "0-1-1"}"#,
        ),
        (
            format!("{}/x/seek", srv.groups()),
            r#"{"position": "nofile"}"#,
        ),
        (
            format!("{}/x/commit", srv.groups()),
            r#"{"offset": "three"}"#,
        ),
    ];
    for (url, body) in bad_bodies {
        let r = c
            .post(&url)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{url} {body}");
        assert_eq!(r.json::<Value>().await.unwrap()["error"], "bad_request");
    }
    let r = c
        .get(format!("{}/v1/sources/nope/changes", srv.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "unknown_source");
    let r = c
        .get(format!("{}/nothing/here", srv.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "not_found");
    // The server still serves after all that.
    let r = c.get(srv.changes()).send().await.unwrap();
    assert_eq!(
        offsets(&r.text().await.unwrap()),
        (0..5).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn group_offset_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = open_log(dir.path());
        append(&log, 0, 50, 1);
        let srv = Server::start(&log, None).await;
        let r = client()
            .get(srv.changes())
            .query(&[("group", "keep"), ("max", "17"), ("auto_commit", "true")])
            .send()
            .await
            .unwrap();
        assert_eq!(offsets(&r.text().await.unwrap()).len(), 17);
        srv.stop().await;
    }
    let log = open_log(dir.path());
    let srv = Server::start(&log, None).await;
    let r = client()
        .get(srv.changes())
        .query(&[("group", "keep"), ("max", "1")])
        .send()
        .await
        .unwrap();
    assert_eq!(offsets(&r.text().await.unwrap()), vec![17]);
}
