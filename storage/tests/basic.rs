//! Append / read / reopen / lookups / groups / retention on real files.

use std::time::Duration;

use sluice_storage::{
    Compression, FsyncPolicy, GtidSet, Log, LogConfig, NewRecord, ResetPolicy, SourcePos,
    StorageError,
};

const SRC: &[u8] = &[0xAB; 16];

fn cfg(fsync: FsyncPolicy) -> LogConfig {
    LogConfig {
        segment_bytes: 4096,
        segment_age: None,
        fsync,
        index_interval_bytes: 512,
        retention_bytes: None,
        retention_age: None,
        retention_max_bytes: None,
        compression: Compression::None,
    }
}

fn payload(i: u64) -> Vec<u8> {
    format!("record number {i} ")
        .repeat((i % 7 + 1) as usize)
        .into_bytes()
}

fn append_n(log: &Log, from: u64, n: u64, per_batch: u64) {
    let mut i = from;
    while i < from + n {
        let k = per_batch.min(from + n - i);
        let payloads: Vec<Vec<u8>> = (i..i + k).map(payload).collect();
        let recs: Vec<NewRecord> = (i..i + k)
            .zip(&payloads)
            .map(|(j, p)| NewRecord {
                payload: p,
                commit_time_ms: 1_000 + 10 * j as i64,
                position: SourcePos::new(1 + (j / 100) as u32, 4 + 100 * (j % 100)),
                gtid: GtidSet::single(SRC, j + 1),
            })
            .collect();
        let r = log.append(&recs).unwrap();
        assert_eq!(r, i..i + k);
        i += k;
    }
}

fn check_all(log: &Log, from: u64, to: u64) {
    let mut r = log.read_from(from).unwrap();
    for i in from..to {
        let rec = r.next().unwrap().unwrap_or_else(|| panic!("missing {i}"));
        assert_eq!(rec.offset, i);
        assert_eq!(rec.payload().as_ref(), &payload(i)[..]);
        assert_eq!(rec.commit_time_ms, 1_000 + 10 * i as i64);
        assert_eq!(rec.gtid(), GtidSet::single(SRC, i + 1));
    }
    assert!(r.next().unwrap().is_none());
}

#[test]
fn append_read_reopen_across_segments() {
    for compression in [Compression::None, Compression::Zstd(3)] {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut c = cfg(FsyncPolicy::Always);
            c.compression = compression;
            let log = Log::open(dir.path(), c).unwrap();
            append_n(&log, 0, 300, 7);
            assert_eq!(log.durable_end(), 300);
            assert!(log.segments().len() > 1, "segments rolled by size");
            check_all(&log, 0, 300);
            check_all(&log, 123, 300);
        }
        let log = Log::open(dir.path(), cfg(FsyncPolicy::Never)).unwrap();
        assert_eq!(log.durable_end(), 300);
        let last = log.last_record();
        assert_eq!(last.next_offset, 300);
        assert_eq!(last.last.unwrap().offset, 299);
        let mut want = GtidSet::new();
        want.insert_range(SRC, 1, 300);
        assert_eq!(last.gtid_executed, want);
        check_all(&log, 0, 300);
        append_n(&log, 300, 50, 5);
        check_all(&log, 250, 350);
    }
}

#[test]
fn lookups_by_time_position_gtid() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path(), cfg(FsyncPolicy::Never)).unwrap();
    append_n(&log, 0, 500, 3);
    for i in [0u64, 1, 57, 123, 250, 499] {
        assert_eq!(log.find_time(1_000 + 10 * i as i64).unwrap(), i);
        assert_eq!(log.find_time(1_000 + 10 * i as i64 - 5).unwrap(), i);
        let p = SourcePos::new(1 + (i / 100) as u32, 4 + 100 * (i % 100));
        assert_eq!(log.find_position(p).unwrap(), i + 1);
        let mut s = GtidSet::new();
        s.insert_range(SRC, 1, i);
        assert_eq!(log.find_gtid(&s).unwrap(), i);
    }
    assert_eq!(log.find_time(1_000_000).unwrap(), 500);
    let mut all = GtidSet::new();
    all.insert_range(SRC, 1, 1000);
    assert_eq!(log.find_gtid(&all).unwrap(), 500);
    // A gap: everything but 201 executed.
    let mut gap = all.clone();
    gap = {
        let mut g = GtidSet::new();
        g.insert_range(SRC, 1, 200);
        g.insert_range(SRC, 202, 1000);
        let _ = &mut gap;
        g
    };
    assert_eq!(log.find_gtid(&gap).unwrap(), 200);
    let loc = log.locate(321).unwrap();
    assert!(loc.batch_offsets.contains(&321));
}

#[test]
fn groups_commit_lag_and_reset() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path(), cfg(FsyncPolicy::Never)).unwrap();
    append_n(&log, 0, 200, 4);
    let g = log.groups();
    g.create("a", ResetPolicy::None).unwrap();
    g.create("b", ResetPolicy::Earliest).unwrap();
    g.create("c", ResetPolicy::Latest).unwrap();
    assert!(matches!(
        g.create("a", ResetPolicy::None),
        Err(StorageError::GroupExists(_))
    ));
    assert_eq!(g.get("c").unwrap().unwrap().offset, 200);
    g.commit("a", 150).unwrap();
    assert!(matches!(
        g.commit("a", 201),
        Err(StorageError::BeyondEnd { .. })
    ));
    assert_eq!(g.lag("a").unwrap().records, 50);
    assert!(g.lag("a").unwrap().bytes > 0);
    assert_eq!(g.lag("c").unwrap().records, 0);
    let names: Vec<_> = g.list().unwrap().into_iter().map(|x| x.name).collect();
    assert_eq!(names, ["a", "b", "c"]);
    // Retention deletes below 150's segment start; "b" (at 0) resets, a new
    // group without policy at an old offset fails.
    let start = log.delete_before(120).unwrap();
    assert!(start > 0 && start <= 120);
    assert_eq!(g.resume_offset("b").unwrap(), start);
    g.commit("a", start).unwrap();
    assert!(matches!(
        g.commit("a", start - 1),
        Err(StorageError::BelowStart { .. })
    ));
    drop(log);
    let log = Log::open(dir.path(), cfg(FsyncPolicy::Never)).unwrap();
    assert_eq!(log.start_offset(), start);
    assert_eq!(log.groups().get("a").unwrap().unwrap().offset, start);
    assert!(log.groups().delete("a").unwrap());
    assert!(!log.groups().delete("a").unwrap());
    let err = log.read_from(0).err().unwrap();
    assert!(
        matches!(err, StorageError::BelowStart { requested: 0, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("retention"));
}

#[test]
fn tail_follow_wakes_on_append() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(
        dir.path(),
        cfg(FsyncPolicy::Interval(Duration::from_millis(5))),
    )
    .unwrap();
    let seen = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let s2 = seen.clone();
    log.on_durable(move |end| s2.store(end, std::sync::atomic::Ordering::SeqCst));
    let l2 = log.clone();
    let t = std::thread::spawn(move || {
        let mut r = l2.read_from(0).unwrap();
        let mut got = 0;
        while got < 100 {
            match r.next_wait(Duration::from_secs(10)).unwrap() {
                Some(rec) => {
                    assert_eq!(rec.offset, got);
                    got += 1
                }
                None => panic!("timed out at {got}"),
            }
        }
    });
    for i in 0..100 {
        append_n(&log, i, 1, 1);
    }
    t.join().unwrap();
    assert!(log.wait_for(99, Duration::from_secs(5)));
    // The listener runs right after the watermark moves (on the thread that
    // moved it), so give it a moment.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while seen.load(std::sync::atomic::Ordering::SeqCst) != 100 {
        assert!(
            std::time::Instant::now() < deadline,
            "listener never saw 100"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    assert!(!log.wait_for(100, Duration::from_millis(20)));
}

#[test]
fn second_writer_is_refused_read_only_follows() {
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(dir.path(), cfg(FsyncPolicy::Never)).unwrap();
    assert!(matches!(
        Log::open(dir.path(), cfg(FsyncPolicy::Never)),
        Err(StorageError::Locked(_))
    ));
    append_n(&log, 0, 40, 4);
    let ro = Log::open_read_only(dir.path()).unwrap();
    assert_eq!(ro.durable_end(), 40);
    append_n(&log, 40, 200, 4);
    assert!(ro.wait_for(239, Duration::from_secs(5)));
    check_all(&ro, 0, 240);
    assert!(matches!(ro.append(&[]), Err(StorageError::ReadOnly(_))));
}

#[test]
fn missing_or_corrupt_index_is_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    {
        let log = Log::open(dir.path(), cfg(FsyncPolicy::Never)).unwrap();
        append_n(&log, 0, 300, 3);
    }
    let mut indexes: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "index"))
        .collect();
    indexes.sort();
    assert!(indexes.len() >= 2);
    std::fs::remove_file(&indexes[0]).unwrap();
    let mut bad = std::fs::read(&indexes[1]).unwrap();
    bad[30] ^= 0xFF;
    std::fs::write(&indexes[1], &bad).unwrap();
    let log = Log::open(dir.path(), cfg(FsyncPolicy::Never)).unwrap();
    for i in [0u64, 5, 40, 77, 150, 299] {
        assert_eq!(log.find_time(1_000 + 10 * i as i64).unwrap(), i);
    }
    check_all(&log, 0, 300);
    // Rewritten, and sound again.
    assert!(indexes[0].exists());
    assert_ne!(std::fs::read(&indexes[1]).unwrap(), bad);
    let rep = sluice_storage::verify::verify_dir(dir.path(), &mut |_, _| {}).unwrap();
    assert!(rep.is_sound(), "{:?}", rep.problems);
}

/// Waits up to 5 s for `cond`.
fn eventually(what: &str, cond: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !cond() {
        assert!(
            std::time::Instant::now() < deadline,
            "never happened: {what}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn roll_and_retention_by_age_happen_on_an_idle_log() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = cfg(FsyncPolicy::Never);
    c.segment_bytes = 1 << 20;
    c.segment_age = Some(Duration::from_millis(300));
    let log = Log::open(dir.path(), c.clone()).unwrap();
    append_n(&log, 0, 10, 5);
    assert_eq!(log.segments().len(), 1);
    // No append comes: the log's own timer rolls the aged segment.
    eventually("roll by age", || log.segments().len() == 2);
    assert!(log.segments()[0].sealed());
    append_n(&log, 10, 10, 5);
    check_all(&log, 0, 20);
    drop(log);

    c.segment_age = None;
    c.retention_age = Some(Duration::from_millis(100));
    let log = Log::open(dir.path(), c.clone()).unwrap();
    eventually("retention by age", || log.start_offset() == 10);
    assert_eq!(log.segments().len(), 1);
    check_all(&log, 10, 20);
    // The active segment is never deleted, however old.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(log.segments().len(), 1);
    assert_eq!(log.start_offset(), 10);
    drop(log);
    // The start moved durably.
    let log = Log::open(dir.path(), c).unwrap();
    assert_eq!(log.start_offset(), 10);
}

/// A segment's age counts from its creation, not from the last open: a
/// log restarted more often than `segment_age` still rolls.
#[test]
fn segment_age_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = cfg(FsyncPolicy::Never);
    c.segment_bytes = 1 << 20;
    c.segment_age = Some(Duration::from_secs(2));
    let log = Log::open(dir.path(), c.clone()).unwrap();
    append_n(&log, 0, 10, 5);
    drop(log);
    std::thread::sleep(Duration::from_millis(2100));
    let log = Log::open(dir.path(), c).unwrap();
    append_n(&log, 10, 1, 1);
    assert_eq!(
        log.segments().len(),
        2,
        "the aged segment rolled at the append"
    );
    check_all(&log, 0, 11);
}

#[test]
fn protected_groups_hold_retention_until_the_cap_then_are_marked_lost() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = cfg(FsyncPolicy::Never);
    c.retention_bytes = Some(8 << 10);
    let log = Log::open(dir.path(), c.clone()).unwrap();
    let g = log.groups();
    g.create_with("sink-mirror", ResetPolicy::None, true)
        .unwrap();
    g.create("reader", ResetPolicy::Earliest).unwrap();
    append_n(&log, 0, 400, 4);
    assert!(log.segments().len() > 4, "the test needs several segments");
    let report = log.apply_retention().unwrap();
    // The protected group at 0 holds every segment; the unprotected one
    // would have let them go.
    assert!(report.held, "{report:?}");
    assert_eq!(log.start_offset(), 0);
    assert!(g.get("reader").unwrap().unwrap().lost.records == 0);

    // Once the protected group reads on, retention catches up, and the
    // unprotected group behind it is marked lost with the range.
    g.commit("sink-mirror", 300).unwrap();
    let report = log.apply_retention().unwrap();
    let start = report.start_offset;
    assert!(start > 0 && start <= 300, "{report:?}");
    let reader = g.get("reader").unwrap().unwrap();
    assert_eq!(reader.lost.records, start);
    assert_eq!(reader.lost.last, 0..start);
    assert_eq!(g.get("sink-mirror").unwrap().unwrap().lost.records, 0);
    assert_eq!(report.lost.len(), 1);
    assert_eq!(report.lost[0].name, "reader");

    // A hard cap overrides protection and marks the protected group too.
    drop(log);
    c.retention_max_bytes = Some(8 << 10);
    let log = Log::open(dir.path(), c).unwrap();
    let report = log.apply_retention().unwrap();
    let capped = report.start_offset;
    assert!(capped > 300, "{report:?}");
    let total: u64 = log.segments().iter().map(|s| s.data_bytes()).sum();
    assert!(total <= (8 << 10) + 4096, "{total}");
    let mirror = log.groups().get("sink-mirror").unwrap().unwrap();
    assert!(mirror.protected);
    assert_eq!(mirror.lost.last, 300..capped);
    assert_eq!(mirror.lost.records, capped - 300);
    // Where the group does not reset, resuming names the range it lost.
    let err = log.groups().resume_offset("sink-mirror").unwrap_err();
    assert!(
        matches!(err, StorageError::GroupOutOfRange { offset: 300, start, .. } if start == capped),
        "{err}"
    );
    // The reader, already lost below the old start, loses the next range.
    let reader = log.groups().get("reader").unwrap().unwrap();
    assert_eq!(reader.lost.last, start..capped);
    assert_eq!(reader.lost.records, capped);
}
