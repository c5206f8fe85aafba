//! Row decoding speed on a sysbench-style binlog of 100+ MB, beside
//! `mariadb-binlog -v --base64-output=decode-rows` and `mysql_common`'s
//! own row decoding on the same file, in the same run.
//!
//! The binlog comes from a private MariaDB (a 10-column table; bulk
//! inserts from `seq_1_to_N`, updates and deletes), written once to
//! `target/bench-data/sysbench.binlog` and reused; set
//! `SLUICE_BENCH_BINLOG=FILE` to measure another file.
//!
//! Run: `cargo bench --bench decode_rows`

#[path = "../tests/common/walker.rs"]
mod walker;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sluice::decode::rows;
use sluice::decode::table_map::TableMap;
use sluice::proto;
use sluice_testkit::{MariaDb, MariaDbOptions};

const INSERT_ROWS: u64 = 200_000;
const UPDATE_ROWS: u64 = 150_000;

fn generate(path: &Path) {
    eprintln!("generating {} from a private MariaDB ...", path.display());
    let db = MariaDb::start(MariaDbOptions {
        row_image: Some("FULL".into()),
        extra_args: vec!["--max-binlog-size=1073741824".into()],
        ..Default::default()
    })
    .expect("MariaDB is needed to generate the benchmark binlog");
    let groups = |n: usize, mul: u32| {
        let parts: Vec<String> = (0..n)
            .map(|i| format!("LPAD(seq * {} % 99999999999, 11, '0')", mul + i as u32))
            .collect();
        format!("CONCAT_WS('-', {})", parts.join(", "))
    };
    db.sql(&format!(
        "CREATE DATABASE sb; USE sb;
         CREATE TABLE sbtest1 (
           id INT NOT NULL PRIMARY KEY, k INT NOT NULL, c CHAR(120) NOT NULL,
           pad CHAR(60) NOT NULL, k2 BIGINT NOT NULL, price DECIMAL(12,2) NOT NULL,
           created DATETIME(6) NOT NULL, flag TINYINT NOT NULL, note VARCHAR(64),
           amount DOUBLE) CHARACTER SET utf8mb4;
         INSERT INTO sbtest1 SELECT seq, seq * 7 % 100000, {c}, {pad}, seq * 1000003,
           seq / 100, '2024-01-01 00:00:00' + INTERVAL seq SECOND, seq % 2,
           IF(seq % 10 = 0, NULL, CONCAT('note ', seq)), seq / 7
           FROM seq_1_to_{INSERT_ROWS};
         UPDATE sbtest1 SET k = k + 1, c = REVERSE(c), amount = amount * 2 WHERE id <= {UPDATE_ROWS};
         DELETE FROM sbtest1 WHERE id % 3 = 0;
         FLUSH BINARY LOGS;",
        c = groups(10, 13),
        pad = groups(5, 31),
    ));
    let biggest = db
        .binlog_files()
        .into_iter()
        .max_by_key(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0))
        .expect("a binlog file");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::copy(&biggest, path).expect("copy binlog");
}

fn binlog() -> PathBuf {
    if let Ok(p) = std::env::var("SLUICE_BENCH_BINLOG") {
        return PathBuf::from(p);
    }
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let path = Path::new(&target)
        .join("bench-data")
        .join("sysbench.binlog");
    if !path.exists() {
        generate(&path);
    }
    path
}

/// sluice: walk, verify CRC32, parse TABLE_MAPs, decode every rows event
/// to typed values. Returns the number of row images.
fn sluice_decode(data: &[u8]) -> u64 {
    let mut maps: HashMap<u64, TableMap> = HashMap::new();
    let mut images = 0u64;
    let mut change = proto::TableChange::default();
    walker::walk_opts(data, true, |ev, fmt| {
        if ev.type_code == 19 {
            let t = TableMap::parse(ev.body, fmt.table_id_size()).expect("TABLE_MAP");
            maps.insert(t.table_id, t);
        } else if sluice::decode::event_type::is_rows(ev.type_code) {
            let phl = fmt.post_header_len(ev.type_code);
            let id = rows::table_id(ev.body, fmt.table_id_size()).expect("table id");
            let t = &maps[&id];
            change.rows.clear();
            rows::decode_rows_into(ev.type_code, ev.body, phl, t, &mut change).expect("rows");
            for r in &change.rows {
                images += u64::from(r.before.is_some()) + u64::from(r.after.is_some());
            }
        }
    })
    .expect("walk");
    images
}

/// mysql_common: its event reader (which verifies CRC32) and its row
/// iterator, which decodes every value.
fn mysql_common_decode(data: &[u8]) -> u64 {
    use mysql_common::binlog::consts::BinlogVersion;
    use mysql_common::binlog::events::EventData;
    use mysql_common::binlog::BinlogFile;
    let mut file = BinlogFile::new(BinlogVersion::Version4, data).expect("binlog header");
    let mut images = 0u64;
    while let Some(ev) = file.next() {
        let Ok(ev) = ev else { continue };
        let Ok(Some(EventData::RowsEvent(re))) = ev.read_data() else {
            continue;
        };
        let Some(tme) = file.reader().get_tme(re.table_id()) else {
            continue;
        };
        for row in re.rows(tme) {
            let (b, a) = row.expect("mysql_common row");
            images += u64::from(b.is_some()) + u64::from(a.is_some());
        }
    }
    images
}

fn mariadb_binlog(path: &Path) -> Option<Duration> {
    let devnull = std::fs::File::create("/dev/null").ok()?;
    let start = Instant::now();
    let status = Command::new("mariadb-binlog")
        .args(["-v", "--base64-output=decode-rows"])
        .arg(path)
        .stdout(Stdio::from(devnull))
        .status()
        .ok()?;
    status.success().then(|| start.elapsed())
}

fn best_of<T>(n: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut out = None;
    for _ in 0..n {
        let start = Instant::now();
        let v = f();
        best = best.min(start.elapsed());
        out = Some(v);
    }
    (best, out.expect("at least one run"))
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not run
    // the measurement.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let path = binlog();
    let data = std::fs::read(&path).expect("read binlog");
    let mb = data.len() as f64 / 1e6;
    println!("binlog: {} ({mb:.1} MB)", path.display());

    let (ours, images) = best_of(5, || sluice_decode(&data));
    let (theirs, mc_images) = best_of(1, || mysql_common_decode(&data));
    assert_eq!(
        images, mc_images,
        "sluice and mysql_common count different row images"
    );
    let maria = mariadb_binlog(&path);

    let rate = |d: Duration| images as f64 / d.as_secs_f64();
    println!("row images: {images}");
    println!(
        "sluice        {:>8.3} s  {:>12.0} row images/s  {:>7.1} MB/s",
        ours.as_secs_f64(),
        rate(ours),
        mb / ours.as_secs_f64()
    );
    println!(
        "mysql_common  {:>8.3} s  {:>12.0} row images/s   sluice is {:.1}x",
        theirs.as_secs_f64(),
        rate(theirs),
        theirs.as_secs_f64() / ours.as_secs_f64()
    );
    match maria {
        Some(m) => println!(
            "mariadb-binlog{:>8.3} s  {:>12.0} row images/s   sluice is {:.1}x",
            m.as_secs_f64(),
            rate(m),
            m.as_secs_f64() / ours.as_secs_f64()
        ),
        None => println!("mariadb-binlog: not available"),
    }
}
