//! Raw binlog pull speed: sluice's `BinlogStream` against
//! `mariadb-binlog --read-from-remote-server --raw` pulling the same binlog
//! from the same private MariaDB, in the same run. Prints MB/s, events/s
//! and the ratio (sluice time / mariadb-binlog time; < 1 is faster).
//!
//! `cargo bench --bench source_stream`. Workload: `SLUICE_BENCH_ROWS`
//! (default 500000) rows in transactions of 1000 (about 100 MB of binlog in
//! 8 KB row events), plus `SLUICE_BENCH_SMALL_TX` (default 50000)
//! single-row transactions (small events: the per-event cost).

use sluice::source::{Connection, DumpFrom, DumpOptions, SourceConfig};
use sluice_testkit::MariaDb;
use std::process::Command;
use std::time::{Duration, Instant};

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not run us.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let rows: u64 = std::env::var("SLUICE_BENCH_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500_000);
    let small: u64 = std::env::var("SLUICE_BENCH_SMALL_TX")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000);
    let Some(db) = MariaDb::start_default() else {
        return;
    };
    println!("generating {rows} rows in transactions of 1000, and {small} one-row transactions …");
    db.sql(&format!(
        "CREATE DATABASE sb;
         CREATE TABLE sb.t (id INT AUTO_INCREMENT PRIMARY KEY, k INT NOT NULL,
                            c CHAR(120) NOT NULL, pad CHAR(60) NOT NULL);
         DELIMITER //
         CREATE PROCEDURE sb.fill(n INT)
         BEGIN
           DECLARE i INT DEFAULT 0;
           WHILE i < n DO
             INSERT INTO sb.t (k, c, pad)
               SELECT seq, REPEAT(CHAR(97 + seq % 26), 120), REPEAT('p', 60) FROM seq_1_to_1000;
             SET i = i + 1;
           END WHILE;
         END//
         CREATE PROCEDURE sb.small(n INT)
         BEGIN
           DECLARE i INT DEFAULT 0;
           WHILE i < n DO
             INSERT INTO sb.t (k, c, pad) VALUES (i, 'small', 'p');
             SET i = i + 1;
           END WHILE;
         END//
         DELIMITER ;
         CALL sb.fill({});
         CALL sb.small({small});",
        rows.div_ceil(1000)
    ));
    let size: u64 = db
        .sql("SHOW BINARY LOGS")
        .lines()
        .filter_map(|l| l.split('\t').nth(1)?.parse::<u64>().ok())
        .sum();
    println!("binlog: {:.1} MB", size as f64 / 1e6);

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let config = SourceConfig::from_url(&db.url()).unwrap();
    let out = tempfile::tempdir().unwrap();
    let mut best_sluice = Duration::MAX;
    let mut best_ref = Duration::MAX;
    let mut events = 0u64;
    let mut bytes = 0u64;
    for _ in 0..3 {
        let started = Instant::now();
        (events, bytes) = rt.block_on(pull(&config));
        best_sluice = best_sluice.min(started.elapsed());

        let started = Instant::now();
        let status = Command::new("mariadb-binlog")
            .args([
                "--no-defaults",
                "--read-from-remote-server",
                "--raw",
                "--to-last-log",
            ])
            .arg("--host=127.0.0.1")
            .arg(format!("--port={}", db.port()))
            .arg(format!("--user={}", db.user()))
            .arg(format!("--password={}", db.password()))
            .arg(format!("--result-file={}/", out.path().display()))
            .arg("mysql-bin.000001")
            .status()
            .expect("run mariadb-binlog");
        assert!(status.success());
        best_ref = best_ref.min(started.elapsed());
    }
    let mb = bytes as f64 / 1e6;
    println!(
        "sluice BinlogStream: {:.3} s, {:.0} MB/s, {:.0} events/s ({events} events)",
        best_sluice.as_secs_f64(),
        mb / best_sluice.as_secs_f64(),
        events as f64 / best_sluice.as_secs_f64()
    );
    println!(
        "mariadb-binlog --raw: {:.3} s, {:.0} MB/s",
        best_ref.as_secs_f64(),
        mb / best_ref.as_secs_f64()
    );
    println!(
        "ratio sluice / mariadb-binlog: {:.2}",
        best_sluice.as_secs_f64() / best_ref.as_secs_f64()
    );
}

async fn pull(config: &SourceConfig) -> (u64, u64) {
    let conn = Connection::connect(config).await.unwrap();
    let options = DumpOptions {
        non_blocking: true,
        annotate_rows: false,
    };
    let mut stream = conn
        .start_dump_with(&DumpFrom::file_pos("mysql-bin.000001", 4), options)
        .await
        .unwrap();
    let (mut events, mut bytes) = (0u64, 0u64);
    while let Some(e) = stream.next_event().await.unwrap() {
        events += 1;
        bytes += e.bytes.len() as u64;
    }
    (events, bytes)
}
