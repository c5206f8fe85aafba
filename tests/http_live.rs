//! End to end: `sluice run --http-addr` as a child process capturing a
//! private MariaDB; rows inserted appear on the HTTP change stream,
//! `/status` reports the capture with its lag in bytes, and a group's
//! offset survives a restart of `sluice run`; the status page at `/`
//! renders the live source, a group and its charts in headless Chromium.

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

async fn get_json(url: &str) -> Option<Value> {
    get_json_with(url, None).await
}

async fn get_json_with(url: &str, token: Option<&str>) -> Option<Value> {
    let mut req = reqwest::Client::new().get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.ok()?.json().await.ok()
}

/// Starts `sluice run --http-addr` on a free port, capturing database
/// `db_name` only, and waits until its capture streams.
async fn start_run(
    db: &MariaDb,
    data: &std::path::Path,
    server_id: u32,
    db_name: &str,
) -> (Killed, String) {
    start_run_with(db, data, server_id, db_name, None).await
}

/// [`start_run`] with `--http-token` when `token` is given.
async fn start_run_with(
    db: &MariaDb,
    data: &std::path::Path,
    server_id: u32,
    db_name: &str,
    token: Option<&str>,
) -> (Killed, String) {
    let port = sluice_testkit::free_port();
    let addr = format!("127.0.0.1:{port}");
    let include = format!(r"{db_name}\..*");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sluice"));
    cmd.args([
        "run",
        "--source",
        &db.url(),
        "--data",
        data.to_str().unwrap(),
        "--name",
        "live",
        "--server-id",
        &server_id.to_string(),
        "--start",
        "current",
        "--fsync",
        "always",
        "--include",
        &include,
        "--http-addr",
        &addr,
    ]);
    if let Some(t) = token {
        cmd.args(["--http-token", t]);
    }
    let child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let child = Killed(child);
    let base = format!("http://{addr}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(s) = get_json_with(&format!("{base}/status"), token).await {
            if s["sources"][0]["capture"]["state"] == "streaming" {
                break;
            }
        }
        assert!(Instant::now() < deadline, "capture never started streaming");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (child, base)
}

/// Reads group e2e (auto-commit) until `n` inserted ids of `db_name.t`
/// arrived.
async fn read_ids(base: &str, db_name: &str, n: usize) -> Vec<String> {
    let c = reqwest::Client::new();
    let mut ids = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while ids.len() < n {
        assert!(Instant::now() < deadline, "rows never arrived: {ids:?}");
        let r = c
            .get(format!("{base}/v1/sources/live/changes"))
            .query(&[
                ("group", "e2e"),
                ("wait_ms", "2000"),
                ("auto_commit", "true"),
                ("format", "canal-json"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        for line in r.text().await.unwrap().lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            if v["database"] == db_name && v["table"] == "t" && v["type"] == "INSERT" {
                for row in v["data"].as_array().unwrap() {
                    ids.push(row["id"].as_str().unwrap().to_string());
                }
            }
        }
    }
    ids
}

#[tokio::test]
async fn rows_inserted_appear_on_the_change_stream() {
    let Some(db) = MariaDb::shared() else { return };
    db.sql("CREATE DATABASE IF NOT EXISTS http_live");
    let data = tempfile::tempdir().unwrap();
    let (_child, base) = start_run(db, data.path(), 4711, "http_live").await;
    db.sql(
        "CREATE TABLE http_live.t (id INT PRIMARY KEY, v VARCHAR(20));
         INSERT INTO http_live.t VALUES (1, 'one'), (2, 'two');
         INSERT INTO http_live.t VALUES (3, 'three');",
    );
    let ids = read_ids(&base, "http_live", 3).await;
    assert_eq!(ids, ["1", "2", "3"]);

    // Status: the group and the capture, with the server's binlog end
    // polled beside it.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let s = get_json(&format!("{base}/status")).await.unwrap();
        let src = &s["sources"][0];
        assert_eq!(src["name"], "live");
        assert!(src["capture"]["transactions"].as_u64().unwrap() >= 2);
        assert_eq!(src["groups"][0]["name"], "e2e");
        if src["capture"]["lag_bytes"].is_u64() {
            assert!(!src["capture"]["server_file"].as_str().unwrap().is_empty());
            break;
        }
        assert!(Instant::now() < deadline, "no lag_bytes: {s}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let metrics = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("sluice_rows_captured_total{source=\"live\"} 3"),
        "{metrics}"
    );
    assert!(
        metrics.contains("sluice_append_seconds_bucket"),
        "{metrics}"
    );
}

/// The group's offset survives a restart of `sluice run`: after it, the
/// group gets only the rows inserted since, none twice.
#[tokio::test]
async fn group_offset_survives_a_restart_of_run() {
    // Its own server: writes of the other tests would reach this capture
    // in the moment after its restart that the test looks at.
    let Some(db) = MariaDb::start_default() else {
        return;
    };
    let db = &db;
    db.sql("CREATE DATABASE IF NOT EXISTS http_restart");
    let data = tempfile::tempdir().unwrap();
    let (child, base) = start_run(db, data.path(), 4712, "http_restart").await;
    db.sql(
        "CREATE TABLE http_restart.t (id INT PRIMARY KEY);
         INSERT INTO http_restart.t VALUES (1), (2);",
    );
    assert_eq!(read_ids(&base, "http_restart", 2).await, ["1", "2"]);
    drop(child);
    let (child, base) = start_run(db, data.path(), 4712, "http_restart").await;
    // Before anything new arrives, the status shows where capture resumed.
    let s = get_json(&format!("{base}/status")).await.unwrap();
    let capture = &s["sources"][0]["capture"];
    assert_eq!(capture["transactions"], 0, "{s}");
    assert!(
        capture["file"].as_str().unwrap().starts_with("mysql-bin."),
        "{s}"
    );
    assert!(capture["position"].as_u64().unwrap() > 4, "{s}");
    drop(child);
    db.sql("INSERT INTO http_restart.t VALUES (3);");
    let (_child, base) = start_run(db, data.path(), 4712, "http_restart").await;
    db.sql("INSERT INTO http_restart.t VALUES (4);");
    assert_eq!(read_ids(&base, "http_restart", 2).await, ["3", "4"]);
}

/// Chromium from Debian's `chromium` package (or another name for it).
fn chromium() -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|b| {
            std::env::split_paths(&path)
                .map(|d| d.join(b))
                .find(|f| f.is_file())
        })
}

/// Loads `url` in headless Chromium, lets its scripts run for `budget_ms`
/// of virtual time (timers and polls), and returns the rendered DOM.
fn render(
    browser: &std::path::Path,
    profile: &std::path::Path,
    url: &str,
    budget_ms: u32,
    shot: Option<&std::path::Path>,
) -> String {
    let mut cmd = Command::new(browser);
    cmd.args([
        "--headless",
        "--disable-gpu",
        "--no-sandbox",
        "--no-first-run",
        "--hide-scrollbars",
        "--window-size=1200,1600",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    .arg(format!("--virtual-time-budget={budget_ms}"));
    match shot {
        Some(p) => cmd.arg(format!("--screenshot={}", p.display())),
        None => cmd.arg("--dump-dom"),
    };
    let out = cmd.arg(url).stderr(Stdio::null()).output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The numbers of points of every chart path in `dom`.
fn chart_points(dom: &str) -> Vec<usize> {
    dom.split("<path class=\"line\" d=\"")
        .skip(1)
        .map(|rest| {
            let d = &rest[..rest.find('"').unwrap_or(0)];
            d.split(['M', 'L']).filter(|p| !p.trim().is_empty()).count()
        })
        .collect()
}

/// The page at `/` against a live `sluice run` with a token, in headless
/// Chromium: without the token it asks for it and shows nothing; with
/// `?token=` it shows the source streaming at its binlog position, the
/// consumer group with its offset, and charts that have points.
#[tokio::test]
async fn the_status_page_renders_in_chromium() {
    // A server of its own: its DDL would reach the other tests' captures
    // (DDL is logged whatever the table filter) and their counts.
    let Some(db) = MariaDb::start_default() else {
        return;
    };
    let db = &db;
    let Some(browser) = chromium() else {
        sluice_testkit::missing(
            "chromium not found: `apt-get install -y chromium` (tools/test.sh installs it)",
        );
        return;
    };
    db.sql("CREATE DATABASE IF NOT EXISTS status_page");
    let data = tempfile::tempdir().unwrap();
    let token = "page-token";
    let (_child, base) = start_run_with(db, data.path(), 4713, "status_page", Some(token)).await;
    let c = reqwest::Client::new();
    let r = c
        .post(format!("{base}/v1/sources/live/groups"))
        .bearer_auth(token)
        .json(&serde_json::json!({"name": "dashboard", "start": "earliest"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{:?}", r.text().await);
    db.sql(
        "CREATE TABLE status_page.t (id INT PRIMARY KEY);
         INSERT INTO status_page.t VALUES (1), (2), (3);
         INSERT INTO status_page.t VALUES (4);",
    );
    // What the page must show, from the API (the page reads the same).
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        let s = get_json_with(&format!("{base}/status"), Some(token))
            .await
            .unwrap();
        if s["sources"][0]["capture"]["rows"].as_u64() == Some(4) {
            break s;
        }
        assert!(Instant::now() < deadline, "rows not captured: {s}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let file = status["sources"][0]["capture"]["file"]
        .as_str()
        .unwrap()
        .to_string();

    // Served without the token, self-contained: no URL but the SVG
    // namespace, which names and fetches nothing.
    let html = reqwest::get(format!("{base}/")).await.unwrap();
    assert_eq!(html.status(), 200);
    let html = html.text().await.unwrap();
    let urls = html.matches("http://").count() + html.matches("https://").count();
    assert_eq!(
        urls,
        html.matches("http://www.w3.org/2000/svg").count(),
        "{html}"
    );
    assert!(
        !html.contains("src=\"") && !html.contains("href=\""),
        "{html}"
    );

    let shots = tempfile::Builder::new()
        .prefix("sluice-page-")
        .tempdir()
        .unwrap();
    let profile = shots.path().join("profile");
    let page = format!("{base}/?every=1000&token={token}");
    let b = browser.clone();
    let (p, u) = (profile.clone(), base.clone());
    let locked = tokio::task::spawn_blocking(move || render(&b, &p, &format!("{u}/"), 5000, None))
        .await
        .unwrap();
    let (b, p, u) = (browser.clone(), profile.clone(), page.clone());
    let dom = tokio::task::spawn_blocking(move || render(&b, &p, &u, 8000, None))
        .await
        .unwrap();

    let points = chart_points(&dom);
    let checks = [
        (
            "asks for the token",
            locked.contains("id=\"login\" class=\"card\" style=\"display: block;\""),
        ),
        ("shows nothing without it", !locked.contains("data-source=")),
        (
            "names the live source",
            dom.contains("data-source=\"live\""),
        ),
        (
            "shows the capture streaming",
            dom.contains("state-streaming\">streaming<"),
        ),
        ("shows the binlog file", dom.contains(&file)),
        ("shows the group", dom.contains("data-group=\"dashboard\"")),
        ("draws charts", points.len() >= 4),
        (
            "with points",
            points.iter().filter(|&&n| n >= 2).count() >= 3,
        ),
    ];
    let failed: Vec<&str> = checks.iter().filter(|c| !c.1).map(|c| c.0).collect();
    if !failed.is_empty() {
        let shot = shots.path().join("status-page.png");
        let (b, p, u, s) = (browser, profile, page, shot.clone());
        tokio::task::spawn_blocking(move || render(&b, &p, &u, 8000, Some(&s)))
            .await
            .unwrap();
        let kept = shots.keep();
        panic!(
            "status page: {failed:?} (chart points {points:?}); screenshot {} (folder {} kept)\nDOM without token:\n{locked}\nDOM:\n{dom}",
            shot.display(),
            kept.display()
        );
    }
}
