//! An fsync that finds the disk full (`ENOSPC`, injected through
//! `sluice_storage::fault`): the log never serves what it could not
//! fsync, never trusts a later fsync with it, drops it and takes appends
//! again at the durable end; group files are retried. Each test checks
//! the offsets readers see, what the writer resumes from, and what a
//! reopened log holds.

use std::path::Path;
use std::time::Duration;

use sluice_storage::fault::fail_fsync_under;
use sluice_storage::verify::verify_dir;
use sluice_storage::{
    Compression, FsyncPolicy, GtidSet, Log, LogConfig, NewRecord, ResetPolicy, SourcePos,
    StorageError,
};

const SRC: &[u8] = &[0xCD; 16];

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

/// The payload of offset `i` in generation `gen` (0: first written;
/// records appended again after a drop carry another generation, so a
/// dropped record read back would show).
fn payload(gen: u32, i: u64) -> Vec<u8> {
    format!("gen {gen} record {i} ").repeat(8).into_bytes()
}

fn append(log: &Log, gen: u32, from: u64, n: u64) -> Result<std::ops::Range<u64>, StorageError> {
    let payloads: Vec<Vec<u8>> = (from..from + n).map(|i| payload(gen, i)).collect();
    let recs: Vec<NewRecord> = (from..from + n)
        .zip(&payloads)
        .map(|(i, p)| NewRecord {
            payload: p,
            commit_time_ms: 1_000 + i as i64,
            position: SourcePos::new(1, 4 + 100 * i),
            gtid: GtidSet::single(SRC, i + 1),
        })
        .collect();
    log.append(&recs)
}

/// Every record readers see: (offset, generation).
fn served(log: &Log) -> Vec<(u64, u32)> {
    let mut r = log.read_from(log.start_offset()).unwrap();
    let mut out = Vec::new();
    while let Some(rec) = r.next().unwrap() {
        let text = String::from_utf8_lossy(rec.payload().as_ref()).into_owned();
        let gen = text.split(' ').nth(1).and_then(|g| g.parse().ok()).unwrap();
        assert_eq!(rec.payload().as_ref(), &payload(gen, rec.offset)[..]);
        assert_eq!(rec.gtid(), GtidSet::single(SRC, rec.offset + 1));
        out.push((rec.offset, gen));
    }
    out
}

fn expect(ranges: &[(std::ops::Range<u64>, u32)]) -> Vec<(u64, u32)> {
    ranges
        .iter()
        .flat_map(|(r, g)| r.clone().map(move |i| (i, *g)))
        .collect()
}

fn dropped(e: &StorageError) -> (u64, u64) {
    match e {
        StorageError::DiskFullSync { from, to, .. } => (*from, *to),
        other => panic!("expected DiskFullSync, got {other}"),
    }
}

fn sound(dir: &Path) {
    let rep = verify_dir(dir, &mut |_, _| {}).unwrap();
    assert!(rep.is_sound(), "{:?}", rep.problems);
}

#[test]
fn always_drops_the_batch_it_could_not_fsync_and_appends_again_there() {
    let d = tempfile::tempdir().unwrap();
    let log = Log::open(d.path(), cfg(FsyncPolicy::Always)).unwrap();
    for i in 0..8 {
        append(&log, 0, i * 5, 5).unwrap();
    }
    assert_eq!(log.durable_end(), 40);
    let segments = log.segments().len();
    assert!(segments > 1, "the test wants sealed segments before");

    let fault = fail_fsync_under(d.path());
    let e = append(&log, 0, 40, 3).unwrap_err();
    assert!(e.is_disk_full() && e.is_retryable(), "{e}");
    assert_eq!(dropped(&e), (40, 43));
    assert_eq!(log.durable_end(), 40);
    assert_eq!(log.last_record().next_offset, 40);
    assert_eq!(served(&log), expect(&[(0..40, 0)]));
    // Still full: refused again, nothing accepted, nothing poisoned.
    let e = append(&log, 1, 40, 3).unwrap_err();
    assert!(e.is_disk_full(), "{e}");
    assert_eq!(log.last_record().next_offset, 40);
    assert_eq!(served(&log), expect(&[(0..40, 0)]));
    drop(fault);

    // Space is back: the records come again at the durable end.
    assert_eq!(append(&log, 1, 40, 5).unwrap(), 40..45);
    append(&log, 1, 45, 5).unwrap();
    let want = expect(&[(0..40, 0), (40..50, 1)]);
    assert_eq!(served(&log), want);
    drop(log);
    sound(d.path());
    let log = Log::open(d.path(), cfg(FsyncPolicy::Always)).unwrap();
    assert_eq!(served(&log), want);
    assert_eq!(append(&log, 2, 50, 1).unwrap(), 50..51);
}

#[test]
fn a_later_fsync_that_succeeds_is_not_trusted_with_what_a_failed_one_covered() {
    let d = tempfile::tempdir().unwrap();
    // An interval the fsync thread never reaches: flushes are explicit.
    let cfg = cfg(FsyncPolicy::Interval(Duration::from_secs(3600)));
    let log = Log::open(d.path(), cfg.clone()).unwrap();
    append(&log, 0, 0, 4).unwrap();
    log.flush().unwrap();
    assert_eq!(log.durable_end(), 4);
    append(&log, 0, 4, 3).unwrap();
    append(&log, 0, 7, 2).unwrap();

    let fault = fail_fsync_under(d.path());
    let e = log.flush().unwrap_err();
    assert_eq!(dropped(&e), (4, 9));
    drop(fault);
    // This fsync succeeds; the records it would have "made durable" are
    // gone all the same.
    log.flush().unwrap();
    assert_eq!(log.durable_end(), 4);
    assert_eq!(log.last_record().next_offset, 4);
    assert_eq!(served(&log), expect(&[(0..4, 0)]));

    assert_eq!(append(&log, 1, 4, 6).unwrap(), 4..10);
    log.flush().unwrap();
    let want = expect(&[(0..4, 0), (4..10, 1)]);
    assert_eq!(served(&log), want);
    drop(log);
    sound(d.path());
    let log = Log::open(d.path(), cfg).unwrap();
    assert_eq!(served(&log), want);
}

#[test]
fn records_the_fsync_thread_dropped_refuse_the_next_append_once() {
    let d = tempfile::tempdir().unwrap();
    let log = Log::open(
        d.path(),
        cfg(FsyncPolicy::Interval(Duration::from_millis(10))),
    )
    .unwrap();
    append(&log, 0, 0, 5).unwrap();
    assert!(log.wait_for(4, Duration::from_secs(10)));

    let fault = fail_fsync_under(d.path());
    // Accepted (nothing fsyncs it here), then dropped by the thread.
    append(&log, 0, 5, 3).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while log.last_record().next_offset != 5 {
        assert!(std::time::Instant::now() < deadline, "never dropped");
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(fault);
    // The appender has not heard: its next append would follow records
    // that are gone, so it is refused, once.
    let e = append(&log, 0, 8, 1).unwrap_err();
    assert_eq!(dropped(&e), (5, 8));
    assert_eq!(append(&log, 1, 5, 4).unwrap(), 5..9);
    assert!(log.wait_for(8, Duration::from_secs(10)));
    assert_eq!(served(&log), expect(&[(0..5, 0), (5..9, 1)]));
}

#[test]
fn a_roll_on_a_full_disk_is_retried_and_seals_what_is_durable() {
    let d = tempfile::tempdir().unwrap();
    let cfg = cfg(FsyncPolicy::Interval(Duration::from_secs(3600)));
    let log = Log::open(d.path(), cfg.clone()).unwrap();
    // Fill the first segment without any fsync but the first flush.
    append(&log, 0, 0, 2).unwrap();
    log.flush().unwrap();
    let mut next = 2;
    while log.segments()[0].data_bytes() < 4096 {
        append(&log, 0, next, 2).unwrap();
        next += 2;
    }
    assert_eq!(log.segments().len(), 1);

    let fault = fail_fsync_under(d.path());
    // This append rolls first: sealing fsyncs, fails, and everything
    // after offset 2 goes.
    let e = append(&log, 0, next, 1).unwrap_err();
    assert_eq!(dropped(&e), (2, next));
    assert_eq!(log.segments().len(), 1);
    assert_eq!(served(&log), expect(&[(0..2, 0)]));
    drop(fault);

    let mut at = 2;
    while log.segments().len() < 3 {
        append(&log, 1, at, 3).unwrap();
        at += 3;
    }
    log.flush().unwrap();
    let want = expect(&[(0..2, 0), (2..at, 1)]);
    assert_eq!(served(&log), want);
    drop(log);
    sound(d.path());
    let log = Log::open(d.path(), cfg).unwrap();
    assert_eq!(served(&log), want);
}

#[test]
fn readers_keep_serving_what_is_durable_during_the_pause() {
    let d = tempfile::tempdir().unwrap();
    let log = Log::open(d.path(), cfg(FsyncPolicy::Always)).unwrap();
    append(&log, 0, 0, 10).unwrap();
    let mut reader = log.read_from(0).unwrap();
    for i in 0..4 {
        assert_eq!(reader.next().unwrap().unwrap().offset, i);
    }
    let fault = fail_fsync_under(d.path());
    append(&log, 0, 10, 2).unwrap_err();
    for i in 4..10 {
        assert_eq!(reader.next().unwrap().unwrap().offset, i);
    }
    assert!(reader
        .next_wait(Duration::from_millis(50))
        .unwrap()
        .is_none());
    drop(fault);
    append(&log, 1, 10, 2).unwrap();
    let rec = reader.next().unwrap().unwrap();
    assert_eq!(
        (rec.offset, rec.payload().as_ref()),
        (10, &payload(1, 10)[..])
    );
}

#[test]
fn a_group_commit_on_a_full_disk_is_refused_then_retried() {
    let d = tempfile::tempdir().unwrap();
    let log = Log::open(d.path(), cfg(FsyncPolicy::Always)).unwrap();
    append(&log, 0, 0, 10).unwrap();
    let groups = log.groups();
    groups.create("g", ResetPolicy::None).unwrap();
    groups.commit("g", 3).unwrap();

    let fault = fail_fsync_under(d.path());
    let e = groups.commit("g", 7).unwrap_err();
    assert!(e.is_disk_full() && e.is_retryable(), "{e}");
    assert_eq!(groups.get("g").unwrap().unwrap().offset, 3);
    drop(fault);

    assert_eq!(groups.commit("g", 7).unwrap().offset, 7);
    drop(log);
    let log = Log::open(d.path(), cfg(FsyncPolicy::Always)).unwrap();
    assert_eq!(log.groups().get("g").unwrap().unwrap().offset, 7);
    // The log itself was never poisoned by the group's failed fsync.
    assert_eq!(append(&log, 0, 10, 1).unwrap(), 10..11);
}
