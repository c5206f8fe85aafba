//! Eight consumer groups read one source concurrently over HTTP, each at
//! its own pace with its own commits, while records are being appended:
//! each sees every record exactly once, in order.

mod http_support;

use http_support::*;
use serde_json::json;
use std::time::Duration;

const TOTAL: u64 = 300;

async fn consume(
    srv_changes: String,
    groups: String,
    group: String,
    max: usize,
    pause_ms: u64,
) -> Vec<u64> {
    let c = client();
    let mut seen = Vec::new();
    while (seen.len() as u64) < TOTAL {
        let r = c
            .get(&srv_changes)
            .query(&[
                ("group", group.as_str()),
                ("max", &max.to_string()),
                ("wait_ms", "5000"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let next = next_offset(&r);
        let got = offsets(&r.text().await.unwrap());
        seen.extend(&got);
        if !got.is_empty() {
            let r = c
                .post(format!("{groups}/{group}/commit"))
                .json(&json!({ "offset": next }))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
        }
        tokio::time::sleep(Duration::from_millis(pause_ms)).await;
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_groups_each_see_every_record_once_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let log = open_log(dir.path());
    append(&log, 0, 50, 2);
    let srv = Server::start(&log, None).await;
    let writer = log.clone();
    let w = std::thread::spawn(move || {
        let mut i = 50;
        while i < TOTAL {
            let n = (i % 7 + 1).min(TOTAL - i);
            append(&writer, i, i + n, 2);
            i += n;
            std::thread::sleep(Duration::from_millis(3));
        }
    });
    let mut tasks = Vec::new();
    for k in 0..8u64 {
        let max = [2, 3, 7, 16, 50, 100, 333, 1000][k as usize];
        tasks.push(tokio::spawn(consume(
            srv.changes(),
            srv.groups(),
            format!("g{k}"),
            max,
            k * 2,
        )));
    }
    for (k, t) in tasks.into_iter().enumerate() {
        let seen = t.await.unwrap();
        assert_eq!(seen, (0..TOTAL).collect::<Vec<_>>(), "group g{k}");
    }
    w.join().unwrap();
    for k in 0..8 {
        let g = log.groups().get(&format!("g{k}")).unwrap().unwrap();
        assert_eq!(g.offset, TOTAL);
    }
}
