//! Benchmarks of the segment log, each beside a reference measured in the
//! same run (plain `std::fs` writes and reads of the same bytes), printing
//! the ratio. A `harness = false` main so the figures print as a table.
//!
//! ```sh
//! cargo bench -p sluice-storage --bench log                 # 100 MB logs
//! SLUICE_BENCH_BIG=1 cargo bench -p sluice-storage --bench log   # adds 4 GB logs
//! ```
//!
//! Sections: append (200 B and 2 KiB records × fsync always / interval /
//! never, vs. write()+fdatasync or write() alone), replay (reader vs.
//! read() from the page cache), lookup p99 (time / position / GTID), and
//! reopen after `kill -9` in the middle of appending (a child process
//! fills the active segment to 64 MB, then appends a batch per millisecond
//! until killed; fsync `never` and `always`).

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sluice_storage::{Compression, FsyncPolicy, GtidSet, Log, LogConfig, NewRecord, SourcePos};

const STREAM: &[u8] = &[0x5a; 16];
const BATCH: usize = 32;

fn cfg(fsync: FsyncPolicy) -> LogConfig {
    LogConfig {
        segment_bytes: std::env::var("SLUICE_BENCH_SEGMENT_MB")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(128)
            << 20,
        segment_age: None,
        fsync,
        index_interval_bytes: 16 << 10,
        retention_bytes: None,
        retention_age: None,
        retention_max_bytes: None,
        compression: Compression::None,
    }
}

fn records(first: u64, n: usize, payload: &[u8]) -> Vec<NewRecord<'_>> {
    (0..n as u64)
        .map(|j| {
            let i = first + j;
            NewRecord {
                payload,
                commit_time_ms: 1_600_000_000_000 + i as i64,
                position: SourcePos::new(1 + (i >> 20) as u32, 4 + (i & 0xFFFFF) * 300),
                gtid: GtidSet::single(STREAM, i + 1),
            }
        })
        .collect()
}

/// Appends `total` records (built before the clock starts); returns
/// (seconds, bytes written to segments).
fn append_run(dir: &Path, fsync: FsyncPolicy, size: usize, total: u64) -> (f64, u64) {
    let log = Log::open(dir, cfg(fsync)).unwrap();
    let payload = vec![0xA5u8; size];
    let all = records(0, total as usize, &payload);
    let t = Instant::now();
    for batch in all.chunks(BATCH) {
        log.append(batch).unwrap();
    }
    log.flush().unwrap();
    let secs = t.elapsed().as_secs_f64();
    let bytes = log.segments().iter().map(|s| s.data_bytes()).sum();
    (secs, bytes)
}

/// Writes `bytes` in chunks of `chunk` with write(), fdatasync after each
/// chunk when `sync`, once at the end otherwise.
fn plain_write(dir: &Path, bytes: u64, chunk: usize, sync: bool) -> f64 {
    let path = dir.join("plain.dat");
    let mut f = File::create(&path).unwrap();
    let buf = vec![0xA5u8; chunk];
    let t = Instant::now();
    let mut done = 0;
    while done < bytes {
        let n = chunk.min((bytes - done) as usize);
        f.write_all(&buf[..n]).unwrap();
        if sync {
            f.sync_data().unwrap();
        }
        done += n as u64;
    }
    f.sync_data().unwrap();
    let secs = t.elapsed().as_secs_f64();
    std::fs::remove_file(path).unwrap();
    secs
}

fn bench_append() {
    println!("\n## append (batches of {BATCH} records)");
    println!("| record | fsync | records/s | MB/s | plain write MB/s | ratio |");
    println!("|---|---|---|---|---|---|");
    for size in [200usize, 2048] {
        for (name, policy) in [
            ("never", FsyncPolicy::Never),
            (
                "interval(100ms)",
                FsyncPolicy::Interval(Duration::from_millis(100)),
            ),
            ("always", FsyncPolicy::Always),
        ] {
            let target: u64 = if matches!(policy, FsyncPolicy::Always) {
                8 << 20
            } else {
                256 << 20
            };
            let total = target / (size as u64 + 70);
            let d = tempfile::tempdir_in(bench_dir()).unwrap();
            let (secs, bytes) = append_run(d.path(), policy, size, total);
            let chunk = (bytes / total.div_ceil(BATCH as u64)) as usize;
            let plain = plain_write(
                d.path(),
                bytes,
                chunk,
                matches!(policy, FsyncPolicy::Always),
            );
            let mbs = bytes as f64 / secs / 1e6;
            let pmbs = bytes as f64 / plain / 1e6;
            println!(
                "| {size} B | {name} | {:.0} | {mbs:.0} | {pmbs:.0} | {:.2} |",
                total as f64 / secs,
                mbs / pmbs
            );
        }
    }
}

fn build(dir: &Path, bytes: u64, size: usize) -> u64 {
    let total = bytes / (size as u64 + 70);
    append_run(dir, FsyncPolicy::Never, size, total);
    total
}

fn bench_replay() {
    println!("\n## replay from the page cache (2 KiB records)");
    let d = tempfile::tempdir_in(bench_dir()).unwrap();
    let total = build(d.path(), 512 << 20, 2048);
    let log = Log::open_read_only(d.path()).unwrap();
    let data: u64 = log.segments().iter().map(|s| s.data_bytes()).sum();
    let paths: Vec<_> = log
        .segments()
        .iter()
        .map(|s| (s.path.clone(), s.data_end))
        .collect();
    let plain = || {
        let t = Instant::now();
        let mut buf = vec![0u8; 1 << 20];
        let mut sum = 0u64;
        for (p, end) in &paths {
            let mut f = File::open(p).unwrap().take(*end);
            loop {
                let n = f.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                sum += buf[n - 1] as u64;
            }
        }
        std::hint::black_box(sum);
        t.elapsed().as_secs_f64()
    };
    let replay = || {
        let t = Instant::now();
        let mut r = log.read_from(0).unwrap();
        let mut n = 0u64;
        let mut sum = 0u64;
        while let Some(rec) = r.next().unwrap() {
            n += 1;
            sum += rec.payload().len() as u64 + rec.payload()[0] as u64;
        }
        assert_eq!(n, total);
        std::hint::black_box(sum);
        t.elapsed().as_secs_f64()
    };
    plain();
    replay();
    let p = (0..3).map(|_| plain()).fold(f64::MAX, f64::min);
    let r = (0..3).map(|_| replay()).fold(f64::MAX, f64::min);
    println!("| bytes | reader GB/s | records/s | plain read() GB/s | ratio |");
    println!("|---|---|---|---|---|");
    println!(
        "| {} MB | {:.2} | {:.0} | {:.2} | {:.2} |",
        data >> 20,
        data as f64 / r / 1e9,
        total as f64 / r,
        data as f64 / p / 1e9,
        p / r
    );
}

fn median(v: &[Duration]) -> Duration {
    let mut v = v.to_vec();
    v.sort();
    v[v.len() / 2]
}

fn p99(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[(v.len() * 99 / 100).min(v.len() - 1)]
}

fn bench_lookup(label: &str, bytes: u64) {
    let d = tempfile::tempdir_in(bench_dir()).unwrap();
    let total = build(d.path(), bytes, 2048);
    let log = Log::open(d.path(), cfg(FsyncPolicy::Never)).unwrap();
    let mut rng = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % total
    };
    let n = 2000;
    let targets: Vec<u64> = (0..n).map(|_| next()).collect();
    let position_of = |i: u64| SourcePos::new(1 + (i >> 20) as u32, 4 + (i & 0xFFFFF) * 300);
    // Cold: first touch of each segment loads its index file.
    let t = Instant::now();
    for &i in &targets {
        assert_eq!(log.find_time(1_600_000_000_000 + i as i64).unwrap(), i);
    }
    let cold = t.elapsed();
    // The position lookups land one record later, often in the next batch:
    // touch those pages once too, so the warm pass measures lookups, not
    // the first mapping of a page (which on the 4 GB log also allocates
    // page tables).
    for &i in &targets {
        assert_eq!(log.find_position(position_of(i)).unwrap(), i + 1);
    }
    let mut time = Vec::with_capacity(n);
    let mut pos = Vec::with_capacity(n);
    let mut gtid = Vec::with_capacity(n);
    for &i in &targets {
        let t = Instant::now();
        let o = log.find_time(1_600_000_000_000 + i as i64).unwrap();
        time.push(t.elapsed());
        assert_eq!(o, i);
        let t = Instant::now();
        let o = log.find_position(position_of(i)).unwrap();
        pos.push(t.elapsed());
        assert_eq!(o, i + 1);
        let mut s = GtidSet::new();
        s.insert_range(STREAM, 1, i);
        let t = Instant::now();
        let o = log.find_gtid(&s).unwrap();
        gtid.push(t.elapsed());
        assert_eq!(o, i);
    }
    if std::env::var_os("SLUICE_BENCH_DEBUG").is_some() {
        eprintln!(
            "medians: time {:?} position {:?} gtid {:?}",
            median(&time),
            median(&pos),
            median(&gtid)
        );
        let mut slowpos: Vec<(Duration, u64)> =
            pos.iter().cloned().zip(targets.iter().cloned()).collect();
        slowpos.sort();
        eprintln!(
            "slowest position lookups: {:?}",
            &slowpos[slowpos.len() - 25..]
        );
        let mut slow: Vec<(Duration, u64)> =
            gtid.iter().cloned().zip(targets.iter().cloned()).collect();
        slow.sort();
        eprintln!("slowest gtid lookups: {:?}", &slow[slow.len() - 10..]);
        eprintln!(
            "segments: {:?}",
            log.segments()
                .iter()
                .map(|s| s.base_offset)
                .collect::<Vec<_>>()
        );
    }
    println!(
        "| {label} | {} | {:?} | {:?} | {:?} | {:?} |",
        log.segments().len(),
        p99(time),
        p99(pos),
        p99(gtid),
        cold / n as u32
    );
}

fn policy_named(name: &str) -> FsyncPolicy {
    match name {
        "always" => FsyncPolicy::Always,
        _ => FsyncPolicy::Never,
    }
}

/// Fill of the active segment at which the child says it is ready.
const ACTIVE_FILL: u64 = 64 << 20;

/// Child mode: append at full speed until the active segment holds
/// `ACTIVE_FILL` bytes (rolling over first if it already holds more), so
/// every trial recovers the same amount of active segment; then keep
/// appending a batch every millisecond until killed.
fn child_writer(dir: &Path, policy: &str) {
    let log = Log::open(dir, cfg(policy_named(policy))).unwrap();
    let payload = vec![0x3Cu8; 2048];
    let mut i = log.durable_end();
    let fill = |log: &Log| log.segments().last().map_or(0, |s| s.data_bytes());
    let mut before = fill(&log);
    loop {
        log.append(&records(i, BATCH, &payload)).unwrap();
        i += BATCH as u64;
        let now = fill(&log);
        if before < ACTIVE_FILL && now >= ACTIVE_FILL {
            break;
        }
        before = now;
    }
    println!("ready");
    loop {
        log.append(&records(i, BATCH, &payload)).unwrap();
        i += BATCH as u64;
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// One kill -9 and reopen on a log of `bytes`. `settle`: let the kernel
/// write the killed writer's dirty pages back (`sync`) before the clock
/// starts, so the time is recovery's own work. Without it, recovery's
/// fsync after cutting the torn tail also pays that writeback (up to one
/// segment of data the writer never fsynced).
/// Returns (segments, records, active segment MB, open time, second open time).
fn reopen_once(dir: &Path, policy: &str, settle: bool) -> (usize, u64, u64, Duration, Duration) {
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .arg("__child_writer")
        .arg(dir)
        .arg(policy)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut ready = [0u8; 6];
    child.stdout.take().unwrap().read_exact(&mut ready).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    child.kill().unwrap(); // SIGKILL, mid-append
    child.wait().unwrap();
    if settle {
        Command::new("sync").status().unwrap();
    }
    let t = Instant::now();
    let log = Log::open(dir, cfg(policy_named(policy))).unwrap();
    let took = t.elapsed();
    let segs = log.segments();
    let active_mb = segs.last().map_or(0, |s| s.data_bytes() >> 20);
    let (segments, records) = (segs.len(), log.durable_end());
    drop(log);
    // Again, now that the files touched by recovery are in the page cache.
    let t = Instant::now();
    let log = Log::open(dir, cfg(policy_named(policy))).unwrap();
    let again = t.elapsed();
    drop(log);
    (segments, records, active_mb, took, again)
}

fn bench_reopen(label: &str, bytes: u64) {
    let d = tempfile::tempdir_in(bench_dir()).unwrap();
    build(d.path(), bytes, 2048);
    // The log was written long before the crash: on disk, not gigabytes of
    // dirty pages that recovery's fsync would queue behind.
    Command::new("sync").status().unwrap();
    const TRIALS: usize = 3;
    for policy in ["never", "always"] {
        let (mut with_wb, mut settled, mut again) = (Vec::new(), Vec::new(), Vec::new());
        let (mut segments, mut records, mut active) = (0, 0, Vec::new());
        for _ in 0..TRIALS {
            let (s, r, mb, took, a) = reopen_once(d.path(), policy, false);
            with_wb.push(took);
            again.push(a);
            let (s2, r2, mb2, took, _) = reopen_once(d.path(), policy, true);
            settled.push(took);
            (segments, records) = (s.max(s2), r.max(r2));
            active.extend([mb, mb2]);
        }
        active.sort_unstable();
        println!(
            "| {label} | {policy} | {segments} | {records} | {}–{} MB | {:?} | {:?} | {:?} |",
            active[0],
            active[active.len() - 1],
            median(&with_wb),
            median(&settled),
            median(&again)
        );
    }
}

fn bench_dir() -> std::path::PathBuf {
    std::env::var_os("SLUICE_BENCH_DIR")
        .map(Into::into)
        .unwrap_or_else(std::env::temp_dir)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("__child_writer") {
        child_writer(Path::new(&args[2]), &args[3]);
        return;
    }
    let big = std::env::var_os("SLUICE_BENCH_BIG").is_some();
    let only = std::env::var("SLUICE_BENCH_ONLY").unwrap_or_default();
    let want = |s: &str| only.is_empty() || only.split(',').any(|o| o == s);
    if want("append") {
        bench_append();
    }
    if want("replay") {
        bench_replay();
    }
    let sizes: Vec<(&str, u64)> = if big {
        vec![("100 MB", 100 << 20), ("4 GB", 4 << 30)]
    } else {
        vec![("100 MB", 100 << 20)]
    };
    if want("lookup") {
        println!("\n## lookup p99 (2000 random targets, 2 KiB records, warm)");
        println!(
            "| log | segments | time p99 | position p99 | GTID p99 | cold mean (first pass) |"
        );
        println!("|---|---|---|---|---|---|");
        for (l, b) in &sizes {
            bench_lookup(l, *b);
        }
    }
    if want("reopen") {
        // Recovery scans the active segment: give both logs the same
        // active-segment fill (the big one is 31 full segments plus the
        // small one), so the comparison shows what the sealed segments cost.
        let segment = cfg(FsyncPolicy::Never).segment_bytes;
        let reopen_sizes: Vec<(&str, u64)> = sizes
            .iter()
            .map(|&(l, b)| {
                if b > 1 << 30 {
                    ("4 GB", 31 * segment + (100 << 20))
                } else {
                    (l, b)
                }
            })
            .collect();
        println!("\n## reopen after kill -9 mid-append (median of 3 kills each)");
        println!("| log | fsync | segments | records | active segment | open after kill -9 | open after kill -9 and sync | open again |");
        println!("|---|---|---|---|---|---|---|---|");
        for (l, b) in &reopen_sizes {
            bench_reopen(l, *b);
        }
    }
}
