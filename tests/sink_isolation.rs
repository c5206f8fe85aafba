//! Sinks fail alone: `sluice run` (the real binary) captures a private
//! MariaDB and feeds two sinks, a MySQL mirror into a second MariaDB and a
//! NATS JetStream stream. Account statements on the source are not
//! replayed on the target. The mirror's target restarts (the sink retries
//! and catches up), then loses a column the source still writes: the
//! mirror is `failed` in `/status` with the error and its offset, while
//! capture, the HTTP API and the NATS sink carry on. After the column is
//! back, `POST /v1/sinks/mirror/restart` makes the mirror catch up from its
//! committed offset, and `CHECKSUM TABLE` agrees with the source.

use serde_json::Value;
use sluice_testkit::{MariaDb, MariaDbOptions, NatsServer};
use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn get_json(url: &str) -> Option<Value> {
    reqwest::get(url).await.ok()?.json().await.ok()
}

/// Polls `f` every 100 ms for up to a minute.
async fn wait_for<T>(what: &str, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn sink_status(base: &str, name: &str) -> Option<Value> {
    let s = get_json(&format!("{base}/status")).await?;
    s["sinks"]
        .as_array()?
        .iter()
        .find(|k| k["name"] == name)
        .cloned()
}

fn count(db: &MariaDb) -> Option<u64> {
    db.try_sql("SELECT COUNT(*) FROM iso.t")
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn checksum(db: &MariaDb) -> String {
    db.sql("CHECKSUM TABLE iso.t")
        .split('\t')
        .nth(1)
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// The ids of `iso.t` rows inserted, as the JetStream stream holds them
/// (canal-json messages), with how often each arrived.
async fn nats_ids(url: &str) -> BTreeMap<u64, u32> {
    let client = async_nats::connect(url).await.unwrap();
    let js = async_nats::jetstream::new(client);
    let mut ids = BTreeMap::new();
    let Ok(mut stream) = js.get_stream("SLUICE").await else {
        return ids;
    };
    let messages = stream.info().await.unwrap().state.messages;
    for seq in 1..=messages {
        let m = stream.get_raw_message(seq).await.unwrap();
        let v: Value = serde_json::from_slice(&m.payload).unwrap();
        if v["table"] != "t" || v["type"] != "INSERT" {
            continue;
        }
        for row in v["data"].as_array().unwrap() {
            let id: u64 = row["id"].as_str().unwrap().parse().unwrap();
            *ids.entry(id).or_default() += 1;
        }
    }
    ids
}

fn insert(db: &MariaDb, ids: std::ops::RangeInclusive<u64>, with_n: bool) {
    let mut sql = String::new();
    for id in ids {
        let n = if with_n {
            id.to_string()
        } else {
            "NULL".into()
        };
        sql.push_str(&format!("INSERT INTO iso.t VALUES ({id}, 'v{id}', {n});\n"));
    }
    db.sql(&sql);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_sink_stops_alone_and_restarts_on_request() {
    let Some(src) = MariaDb::start_default() else {
        return;
    };
    let Some(mut dst) = MariaDb::start(MariaDbOptions {
        server_id: 2,
        ..Default::default()
    }) else {
        return;
    };
    let Some(nats) = NatsServer::start() else {
        return;
    };
    let data = tempfile::tempdir().unwrap();
    let port = sluice_testkit::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let config = data.path().join("sluice.toml");
    std::fs::write(
        &config,
        format!(
            r#"data = "{data}"
fsync = "always"
http_addr = "127.0.0.1:{port}"

[[source]]
name = "src"
url = "{src}"
server_id = 4801
start = "current"
include = 'iso\..*'

[[sink]]
name = "mirror"
source = "src"
kind = "mysql"
url = "{dst}"

[[sink]]
name = "events"
source = "src"
kind = "nats"
url = "{nats}"
format = "canal-json"
"#,
            data = data.path().join("data").display(),
            src = src.url(),
            dst = dst.url(),
            nats = nats.url(),
        ),
    )
    .unwrap();
    let mut child = Killed(
        Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args(["run", "--config", config.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    wait_for("capture streaming", async || {
        let s = get_json(&format!("{base}/status")).await?;
        (s["sources"][0]["capture"]["state"] == "streaming").then_some(())
    })
    .await;

    src.sql(
        "CREATE DATABASE iso;
         CREATE TABLE iso.t (id INT PRIMARY KEY, v VARCHAR(20), n INT);",
    );
    insert(&src, 1..=30, false);
    // Account statements mid-stream: the mirror applies the rows around
    // them and leaves the target's accounts alone.
    src.sql(
        "CREATE USER 'app'@'%' IDENTIFIED BY 'app-pw';
         GRANT SELECT ON iso.* TO 'app'@'%';
         FLUSH PRIVILEGES;",
    );
    insert(&src, 31..=40, false);
    wait_for("the mirror to copy rows 1..=40", async || {
        (count(&dst) == Some(40)).then_some(())
    })
    .await;
    assert_eq!(
        dst.sql("SELECT COUNT(*) FROM mysql.user WHERE User = 'app'")
            .trim(),
        "0",
        "the mirror created the source's account on the target"
    );

    // A target restart is transient: the mirror retries and catches up.
    dst.restart();
    insert(&src, 41..=50, false);
    wait_for(
        "the mirror to catch up after its target restarted",
        async || (count(&dst) == Some(50)).then_some(()),
    )
    .await;
    assert_eq!(checksum(&dst), checksum(&src));

    // The target loses a column the source still writes: a definite error.
    dst.sql("ALTER TABLE iso.t DROP COLUMN n");
    insert(&src, 51..=60, true);
    let failed = wait_for("the mirror to be failed", async || {
        let s = sink_status(&base, "mirror").await?;
        (s["state"] == "failed").then_some(s)
    })
    .await;
    let error = failed["error"].as_str().unwrap();
    assert!(error.contains("Unknown column"), "{error}");
    let at = failed["offset"].as_u64().expect("failed at an offset");
    assert!(at > 0, "{failed}");
    let metrics = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("sluice_sink_failed{sink=\"mirror\"} 1"),
        "{metrics}"
    );
    // This output has every kind of series (capture, log, groups, sinks
    // and a failed one): the Grafana dashboard is checked against it.
    check_dashboard(&metrics);

    // Capture, serving and the other sink go on.
    insert(&src, 61..=80, true);
    let ids = wait_for("NATS to hold rows 1..=80", async || {
        let ids = nats_ids(&nats.url()).await;
        (ids.len() == 80).then_some(ids)
    })
    .await;
    assert_eq!(
        ids.keys().copied().collect::<Vec<_>>(),
        (1..=80).collect::<Vec<_>>()
    );
    assert!(ids.values().all(|&n| n == 1), "a row twice: {ids:?}");
    assert!(child.0.try_wait().unwrap().is_none(), "sluice run exited");
    let status = get_json(&format!("{base}/status")).await.unwrap();
    assert_eq!(status["sources"][0]["capture"]["state"], "streaming");
    assert_eq!(
        sink_status(&base, "mirror").await.unwrap()["state"],
        "failed"
    );
    assert_eq!(
        count(&dst),
        Some(50),
        "the failed mirror applied nothing more"
    );

    let c = reqwest::Client::new();
    let restart = |name: &str| c.post(format!("{base}/v1/sinks/{name}/restart")).send();
    assert_eq!(
        restart("events").await.unwrap().status(),
        409,
        "a running sink"
    );
    assert_eq!(restart("nope").await.unwrap().status(), 404);

    // Mended target, restart by request: the mirror resumes where it stopped.
    dst.sql("ALTER TABLE iso.t ADD COLUMN n INT");
    assert_eq!(restart("mirror").await.unwrap().status(), 200);
    wait_for("the mirror to catch up after its restart", async || {
        (count(&dst) == Some(80)).then_some(())
    })
    .await;
    assert_eq!(checksum(&dst), checksum(&src));
    let mirror = sink_status(&base, "mirror").await.unwrap();
    assert_eq!(mirror["restarts"], 1, "{mirror}");
    assert_ne!(mirror["state"], "failed", "{mirror}");
}

/// `docs/grafana/sluice.json` against a live `/metrics`: every metric a
/// panel queries is exposed, every label a legend names is on that
/// metric's series, and every metric family exposed is charted.
fn check_dashboard(metrics: &str) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/grafana/sluice.json");
    let dash: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let name = regex::Regex::new(r"\bsluice_[a-z_]+").unwrap();
    let label = regex::Regex::new(r"\{\{(\w+)\}\}").unwrap();
    // The series lines of a metric: `NAME{labels} value` or `NAME value`.
    let series = |m: &str| -> Vec<&str> {
        metrics
            .lines()
            .filter(|l| {
                l.strip_prefix(m)
                    .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
            })
            .collect()
    };
    let mut queried = std::collections::BTreeSet::new();
    for panel in dash["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().unwrap();
            let names: Vec<&str> = name.find_iter(expr).map(|m| m.as_str()).collect();
            assert!(!names.is_empty(), "{}: no metric in {expr}", panel["title"]);
            for n in &names {
                assert!(
                    !series(n).is_empty(),
                    "{}: {n} is not in /metrics:\n{metrics}",
                    panel["title"]
                );
                queried.insert(n.to_string());
            }
            let legend = target["legendFormat"].as_str().unwrap_or("");
            for l in label.captures_iter(legend) {
                let l = &l[1];
                assert!(
                    names
                        .iter()
                        .any(|n| series(n).iter().any(|s| s.contains(&format!("{l}=\"")))),
                    "{}: legend label {l} is on none of {names:?}",
                    panel["title"]
                );
            }
        }
    }
    for line in metrics.lines() {
        let Some(family) = line
            .strip_prefix("# TYPE ")
            .and_then(|t| t.split_whitespace().next())
        else {
            continue;
        };
        assert!(
            queried.iter().any(|q| q == family
                || q.strip_prefix(family)
                    .is_some_and(|s| ["_bucket", "_sum", "_count"].contains(&s))),
            "{family} is exposed but no panel of {path} charts it"
        );
    }
    // The source variable is read from a label the log gauges carry.
    let var = dash["templating"]["list"][1]["definition"]
        .as_str()
        .unwrap();
    assert_eq!(var, "label_values(sluice_log_end_offset, source)");
    assert!(series("sluice_log_end_offset")[0].contains("source=\""));
}
