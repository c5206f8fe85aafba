//! Concurrency: readers following the tail (in this process, and through a
//! read-only handle as a second process would) while a writer appends and
//! retention deletes old segments under them. No SIGBUS, no torn or wrong
//! records, and a reader that falls behind retention gets a clear error.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use sluice_storage::{
    Compression, FsyncPolicy, GtidSet, Log, LogConfig, NewRecord, SourcePos, StorageError,
};

const TOTAL: u64 = 4000;

fn payload(i: u64) -> Vec<u8> {
    let mut p = format!("<{i}>").into_bytes();
    p.resize(40 + (i % 97) as usize, (i % 251) as u8);
    p
}

fn cfg() -> LogConfig {
    LogConfig {
        segment_bytes: 8 << 10,
        segment_age: None,
        fsync: FsyncPolicy::Interval(Duration::from_millis(2)),
        index_interval_bytes: 1024,
        retention_bytes: Some(48 << 10),
        retention_age: None,
        retention_max_bytes: None,
        compression: Compression::None,
    }
}

/// Follows the log to `TOTAL`; returns how many times retention overtook it.
/// With `pause_until`, the reader stops after its first record until that
/// flag is set (so that retention surely overtakes it).
fn follow(log: Log, stop: Arc<AtomicBool>, pause_until: Option<Arc<AtomicBool>>) -> u64 {
    let mut overtaken = 0;
    let mut next = log.start_offset();
    let mut r = log.read_from(next).unwrap();
    while next < TOTAL {
        assert!(!stop.load(Ordering::Relaxed), "writer failed");
        match r.next_wait(Duration::from_secs(20)) {
            Ok(Some(rec)) => {
                assert_eq!(rec.offset, next, "offsets in order, none skipped");
                assert_eq!(
                    rec.payload().as_ref(),
                    &payload(next)[..],
                    "record {next} intact"
                );
                next += 1;
                if let Some(flag) = pause_until.as_ref().filter(|_| next == 1) {
                    while !flag.load(Ordering::Acquire) {
                        std::thread::sleep(Duration::from_millis(2));
                    }
                }
                // Now and then, be slow so that retention overtakes us.
                if next % 700 == 0 {
                    std::thread::sleep(Duration::from_millis(30));
                }
            }
            Ok(None) => panic!("no record after 20 s at offset {next}"),
            Err(StorageError::BelowStart { requested, start }) => {
                assert_eq!(requested, next);
                assert!(start > next);
                overtaken += 1;
                next = start;
                // Retention may move the start again before we reopen.
                r = loop {
                    match log.read_from(next) {
                        Ok(r) => break r,
                        Err(StorageError::BelowStart { start, .. }) => next = start,
                        Err(e) => panic!("reader reopen at {next}: {e}"),
                    }
                };
            }
            Err(e) => panic!("reader error at {next}: {e}"),
        }
    }
    overtaken
}

#[test]
fn tail_readers_survive_appends_and_retention() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path(), cfg()).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicBool::new(false));
    let mut readers = Vec::new();
    for _ in 0..3 {
        let (l, s) = (log.clone(), stop.clone());
        readers.push(std::thread::spawn(move || follow(l, s, None)));
    }
    let ro = Log::open_read_only(dir.path()).unwrap();
    let s = stop.clone();
    readers.push(std::thread::spawn(move || follow(ro, s, None)));
    let (l, s, w) = (log.clone(), stop.clone(), written.clone());
    let laggard = std::thread::spawn(move || follow(l, s, Some(w)));
    // Lookups and fresh readers racing with retention.
    let (l, s) = (log.clone(), stop.clone());
    let looker = std::thread::spawn(move || {
        while l.durable_end() < TOTAL && !s.load(Ordering::Relaxed) {
            let start = l.start_offset();
            match l.read_from(start).and_then(|mut r| r.next()) {
                Ok(Some(rec)) => assert_eq!(rec.payload().as_ref(), &payload(rec.offset)[..]),
                Ok(None) => {}
                Err(StorageError::BelowStart { .. }) => {}
                Err(e) => panic!("lookup reader: {e}"),
            }
            let t = l.find_time(1_000 + start as i64 + 10).unwrap();
            assert!(t >= l.start_offset().min(t));
            std::thread::sleep(Duration::from_millis(1));
        }
    });
    let mut i = 0;
    while i < TOTAL {
        let k = (i % 5 + 1).min(TOTAL - i);
        let ps: Vec<Vec<u8>> = (i..i + k).map(payload).collect();
        let recs: Vec<NewRecord> = ps
            .iter()
            .enumerate()
            .map(|(j, p)| NewRecord {
                payload: p,
                commit_time_ms: 1_000 + (i + j as u64) as i64,
                position: SourcePos::new(1, i + j as u64),
                gtid: GtidSet::single(b"s", i + j as u64 + 1),
            })
            .collect();
        if let Err(e) = log.append(&recs) {
            stop.store(true, Ordering::Relaxed);
            panic!("append: {e}");
        }
        i += k;
        if i % 200 == 0 {
            std::thread::yield_now();
        }
    }
    log.flush().unwrap();
    written.store(true, Ordering::Release);
    for t in readers {
        t.join().unwrap();
    }
    assert!(
        laggard.join().unwrap() >= 1,
        "retention overtook the paused reader"
    );
    looker.join().unwrap();
    assert!(log.start_offset() > 0, "retention ran");
    // Every deleted segment's file is gone once no reader holds it.
    let on_disk = sluice_storage::verify::segment_paths(dir.path()).unwrap();
    assert_eq!(on_disk.len(), log.segments().len());
    let rep = sluice_storage::verify::verify_dir(dir.path(), &mut |_, _| {}).unwrap();
    assert!(rep.is_sound(), "{:?}", rep.problems);
}

#[test]
fn reading_a_deleted_range_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = cfg();
    c.retention_bytes = None;
    c.fsync = FsyncPolicy::Never;
    let log = Log::open(dir.path(), c).unwrap();
    for i in 0..500 {
        let p = payload(i);
        log.append(&[NewRecord {
            payload: &p,
            ..Default::default()
        }])
        .unwrap();
    }
    // A reader in the middle of the first segment keeps its mapped batch,
    // but after retention its next read is refused with the range.
    let mut r = log.read_from(3).unwrap();
    assert_eq!(r.next().unwrap().unwrap().offset, 3);
    let start = log.delete_before(300).unwrap();
    assert!(start > 3);
    match r.next() {
        Err(StorageError::BelowStart {
            requested: 4,
            start: s,
        }) => assert_eq!(s, start),
        other => panic!("expected BelowStart, got {other:?}"),
    }
    let err = log.read_from(0).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("offset 0 is below the log start {start} (deleted by retention)")
    );
    assert!(!err.is_retryable());
    // The first segment's file is gone once the reader let go of it.
    drop(r);
    assert!(!dir.path().join("00000000000000000000.log").exists());
}
