//! The HTTP API over a real socket: token, status, groups and seek,
//! long-poll and follow streams with commits, metrics, bad requests.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::canal::insert;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sluice::proto::Record;
use sluice::serve::canal::MemoryDestination;
use sluice::serve::http::{AppState, HttpConfig, HttpServer, RecordFormatter};
use tokio::sync::oneshot;

/// A small formatter: one line per record with its offset, GTID and ids.
struct Lines;

impl RecordFormatter for Lines {
    fn check(&self, format: &str) -> Result<(), String> {
        if format == "json" {
            Ok(())
        } else {
            Err(format!("unknown format {format:?} (json)"))
        }
    }

    fn write(&self, _format: &str, record: &Record, offset: u64, out: &mut Vec<u8>) {
        let ids: Vec<String> = record
            .changes
            .iter()
            .flat_map(|c| &c.rows)
            .filter_map(|r| r.after.as_ref())
            .filter_map(|i| match i.values.first().and_then(|v| v.kind.as_ref()) {
                Some(sluice::proto::value::Kind::Int(v)) => Some(v.to_string()),
                _ => None,
            })
            .collect();
        let line = json!({ "offset": offset, "gtid": record.gtid, "ids": ids });
        out.extend_from_slice(line.to_string().as_bytes());
        out.push(b'\n');
    }
}

struct Api {
    base: String,
    http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

const TOKEN: &str = "t0ken";

async fn start(log: &Arc<MemoryDestination>, metrics: bool) -> Api {
    let config = HttpConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        token: Some(TOKEN.into()),
        ..Default::default()
    };
    let mut state = AppState::new(&config, Arc::new(Lines));
    state.add_source(log.clone(), None);
    if metrics {
        state.metrics = Some(recorder());
    }
    let server = HttpServer::bind(&config, state).await.unwrap();
    let base = format!("http://{}", server.local_addr().unwrap());
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async move {
        let _ = rx.await;
    }));
    Api {
        base,
        http: reqwest::Client::new(),
        stop: Some(tx),
        task,
    }
}

fn recorder() -> metrics_exporter_prometheus::PrometheusHandle {
    static HANDLE: std::sync::OnceLock<metrics_exporter_prometheus::PrometheusHandle> =
        std::sync::OnceLock::new();
    HANDLE
        .get_or_init(|| {
            metrics_exporter_prometheus::PrometheusBuilder::new()
                .install_recorder()
                .unwrap()
        })
        .clone()
}

impl Api {
    fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .get(format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
    }
    fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.http
            .post(format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
    }
    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("http server did not stop")
            .unwrap()
            .unwrap();
    }
}

fn lines(body: &str) -> Vec<Value> {
    body.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn token_status_groups_and_seek() {
    let log = MemoryDestination::new("shop");
    for id in 1..=5 {
        log.append(&insert("shop", "orders", id));
    }
    let api = start(&log, false).await;

    // /health is open; everything else needs the token.
    let r = api
        .http
        .get(format!("{}/health", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = api
        .http
        .get(format!("{}/status", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = api
        .http
        .get(format!("{}/status", api.base))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(r.text().await.unwrap().contains("bad bearer token"));

    // Groups: create, conflict, list.
    let r = api
        .post("/v1/sources/shop/groups")
        .json(&json!({"name": "search", "reset": "earliest"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let g: Value = r.json().await.unwrap();
    assert_eq!(
        (g["offset"].as_u64(), g["lag"].as_u64()),
        (Some(0), Some(5))
    );
    let r = api
        .post("/v1/sources/shop/groups")
        .json(&json!({"name": "search"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let r = api
        .post("/v1/sources/shop/groups")
        .json(&json!({"name": "x", "reset": "sometimes"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    // Seek by each kind of target.
    let seek = |body: Value| {
        let req = api.post("/v1/sources/shop/groups/search/seek").json(&body);
        async move {
            let r = req.send().await.unwrap();
            let status = r.status();
            (status, r.json::<Value>().await.unwrap())
        }
    };
    let (s, g) = seek(json!({"offset": 4})).await;
    assert_eq!((s, g["offset"].as_u64()), (StatusCode::OK, Some(4)));
    let (_, g) = seek(json!({"time": 1_700_000_000_003i64})).await;
    assert_eq!(
        g["offset"].as_u64(),
        Some(2),
        "first commit at or after the time"
    );
    let (_, g) = seek(json!({"time": "2023-11-14T22:13:20.004Z"})).await;
    assert_eq!(g["offset"].as_u64(), Some(3), "RFC 3339 time");
    let (_, g) = seek(json!({"binlog": "mysql-bin.000001:304"})).await;
    assert_eq!(
        g["offset"].as_u64(),
        Some(2),
        "the transaction after the position"
    );
    let (_, g) = seek(json!({"gtid": "0-1-3"})).await;
    assert_eq!(
        g["offset"].as_u64(),
        Some(3),
        "the first transaction not in the set"
    );
    let (s, e) = seek(json!({"offset": 99})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    let (s, _) = seek(json!({"offset": 1, "gtid": "0-1-1"})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, e) = seek(json!({"binlog": "nocolon"})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{e}");
    let r = api
        .post("/v1/sources/shop/groups/nobody/seek")
        .json(&json!({"offset": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // Status shows the log and the group.
    let st: Value = api
        .get("/status")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let src = &st["sources"][0];
    assert_eq!(src["name"], "shop");
    assert_eq!(src["log"]["end_offset"], 5);
    assert_eq!(src["groups"][0]["name"], "search");
    assert_eq!(src["groups"][0]["offset"], 3);
    assert_eq!(src["groups"][0]["lag"], 2);
    assert!(src["capture"].is_null());

    // Unknown source, delete twice.
    let r = api.get("/v1/sources/nope/groups").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("unknown source \\\"nope\\\""));
    let del = || {
        api.http
            .delete(format!("{}/v1/sources/shop/groups/search", api.base))
            .bearer_auth(TOKEN)
    };
    assert_eq!(del().send().await.unwrap().status(), StatusCode::NO_CONTENT);
    assert_eq!(del().send().await.unwrap().status(), StatusCode::NOT_FOUND);
    api.stop().await;
}

#[tokio::test]
async fn long_poll_commit_and_follow() {
    let log = MemoryDestination::new("shop");
    for id in 1..=3 {
        log.append(&insert("shop", "orders", id));
    }
    let api = start(&log, true).await;

    let r = api
        .get("/v1/sources/shop/changes?group=g&max=2")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["x-sluice-next-offset"], "2");
    let got = lines(&r.text().await.unwrap());
    assert_eq!(
        got.iter()
            .map(|l| l["offset"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        vec![0, 1]
    );
    // Not committed: the same again.
    let again = api
        .get("/v1/sources/shop/changes?group=g&max=2")
        .send()
        .await
        .unwrap();
    assert_eq!(lines(&again.text().await.unwrap()).len(), 2);
    // Commit, then the rest.
    let r = api
        .post("/v1/sources/shop/commit?group=g&offset=2")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let rest = api
        .get("/v1/sources/shop/changes?group=g")
        .send()
        .await
        .unwrap();
    let rest = lines(&rest.text().await.unwrap());
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0]["ids"], json!(["3"]));
    // A commit beyond the end is refused.
    let r = api
        .post("/v1/sources/shop/commit?group=g&offset=99")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    // Long-poll wakes when a record arrives; auto_commit moves the group.
    let waiter = api
        .get("/v1/sources/shop/changes?group=g&wait_ms=10000&auto_commit=true&from=3")
        .send();
    let writer = {
        let log = log.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            log.append(&insert("shop", "orders", 4));
        })
    };
    let r = waiter.await.unwrap();
    writer.await.unwrap();
    assert_eq!(r.headers()["x-sluice-records"], "1");
    assert_eq!(lines(&r.text().await.unwrap())[0]["ids"], json!(["4"]));
    assert_eq!(log.committed("g"), Some(4));
    // Nothing new: an empty answer after the wait.
    let r = api
        .get("/v1/sources/shop/changes?group=g&wait_ms=50")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-sluice-records"], "0");

    // Bad requests.
    let r = api
        .get("/v1/sources/shop/changes?group=g&format=xml")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.text().await.unwrap().contains("unknown format"));
    let r = api.get("/v1/sources/shop/changes").send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let r = api
        .get("/v1/sources/shop/changes?group=g&bogus=1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);

    // Follow: records as they come, auto-committed chunk by chunk.
    let mut r = api
        .get("/v1/sources/shop/changes?group=f&follow=true&auto_commit=true")
        .send()
        .await
        .unwrap();
    let mut buf = String::new();
    let mut seen = Vec::new();
    let mut next_id = 5;
    while seen.len() < 6 {
        let chunk = tokio::time::timeout(Duration::from_secs(10), r.chunk())
            .await
            .expect("follow stalled")
            .unwrap()
            .expect("stream ended early");
        buf.push_str(std::str::from_utf8(&chunk).unwrap());
        while let Some(i) = buf.find('\n') {
            let line: Value = serde_json::from_str(&buf[..i]).unwrap();
            seen.push(line["offset"].as_u64().unwrap());
            buf.drain(..=i);
        }
        if seen.len() >= 4 && next_id <= 6 {
            log.append(&insert("shop", "orders", next_id));
            next_id += 1;
        }
    }
    assert_eq!(seen, vec![0, 1, 2, 3, 4, 5]);
    assert!(log.committed("f").unwrap() >= 4, "earlier chunks committed");

    // Metrics: per-group lag of this source.
    let m = api
        .get("/metrics")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        m.lines().any(|l| l.starts_with("sluice_group_lag_records{")
            && l.contains("group=\"g\"")
            && l.contains("source=\"shop\"")),
        "{m}"
    );
    // Shutdown ends the follow stream.
    api.stop().await;
    let end = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match r.chunk().await {
                Ok(Some(_)) => continue,
                other => return other.map(|_| ()),
            }
        }
    })
    .await;
    assert!(end.is_ok(), "follow stream did not end at shutdown");
}

#[tokio::test]
async fn standard_formats_serve_canal_json_and_debezium() {
    let log = MemoryDestination::new("shop");
    log.append(&insert("shop", "orders", 1));
    let config = HttpConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        ..Default::default()
    };
    let mut state = AppState::new(&config, Arc::new(sluice::serve::http::StandardFormats));
    state.add_source(log.clone(), None);
    let server = HttpServer::bind(&config, state).await.unwrap();
    let base = format!("http://{}", server.local_addr().unwrap());
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async move {
        let _ = rx.await;
    }));
    let get = |format: &str| {
        reqwest::get(format!(
            "{base}/v1/sources/shop/changes?from=0&format={format}"
        ))
    };
    let canal = lines(&get("canal-json").await.unwrap().text().await.unwrap());
    assert_eq!(canal[0]["type"], "INSERT");
    assert_eq!(canal[0]["table"], "orders");
    assert_eq!(canal[0]["data"][0]["name"], "name-1");
    let dbz = lines(&get("debezium-json").await.unwrap().text().await.unwrap());
    assert_eq!(dbz[0]["op"], "c");
    let native = get("json").await.unwrap();
    assert_eq!(native.status(), StatusCode::OK);
    assert_eq!(get("xml").await.unwrap().status(), StatusCode::BAD_REQUEST);
    tx.send(()).unwrap();
    task.await.unwrap().unwrap();
}
