//! Crash simulation: damage a closed log the ways a crash or a bad disk
//! would, reopen it, and check that recovery never panics, never returns a
//! corrupt record, and keeps every batch before the damage; and that
//! `verify` reports every flipped bit of a sealed segment.

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use sluice_storage::verify::{verify_dir, SegmentFile};
use sluice_storage::{
    Compression, FsyncPolicy, GtidSet, Log, LogConfig, NewRecord, SourcePos, StorageError,
};

fn cfg() -> LogConfig {
    LogConfig {
        segment_bytes: 1500,
        segment_age: None,
        fsync: FsyncPolicy::Never,
        index_interval_bytes: 300,
        retention_bytes: None,
        retention_age: None,
        retention_max_bytes: None,
        compression: Compression::None,
    }
}

fn payload(i: u64) -> Vec<u8> {
    format!("payload-{i}-")
        .repeat((i % 3 + 1) as usize)
        .into_bytes()
}

/// Builds a log of a few segments; returns (dir, batches of the active
/// segment as (file position, end position, base offset)).
fn build(dir: &Path, compression: Compression) -> Vec<(u64, u64, u64)> {
    let mut c = cfg();
    c.compression = compression;
    let log = Log::open(dir, c).unwrap();
    let mut i = 0u64;
    for n in 0..40u64 {
        let k = n % 4 + 1;
        let ps: Vec<Vec<u8>> = (i..i + k).map(payload).collect();
        let recs: Vec<NewRecord> = ps
            .iter()
            .enumerate()
            .map(|(j, p)| NewRecord {
                payload: p,
                commit_time_ms: (i + j as u64) as i64,
                position: SourcePos::new(1, 10 * (i + j as u64)),
                gtid: GtidSet::single(b"s", i + j as u64 + 1),
            })
            .collect();
        log.append(&recs).unwrap();
        i += k;
    }
    let segs = log.segments();
    assert!(segs.len() >= 3, "want several segments, got {}", segs.len());
    drop(log);
    let active = SegmentFile::open(&segs.last().unwrap().path).unwrap();
    active
        .batches()
        .map(|b| {
            let h = b.header.unwrap();
            (b.pos, b.pos + h.total_len(), h.base_offset)
        })
        .collect()
}

/// A temporary directory, in memory when possible (the tests reopen logs
/// thousands of times; fsync on a real disk would dominate).
fn tmp() -> tempfile::TempDir {
    tempfile::tempdir_in("/dev/shm")
        .or_else(|_| tempfile::tempdir())
        .unwrap()
}

fn copy_dir(from: &Path, to: &Path) {
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

fn active_path(dir: &Path) -> PathBuf {
    sluice_storage::verify::segment_paths(dir)
        .unwrap()
        .pop()
        .unwrap()
}

/// Reopens and checks: exactly the records below `keep` are there, intact.
fn reopen_and_check(dir: &Path, keep: u64) {
    let log = Log::open(dir, cfg()).unwrap();
    assert_eq!(log.durable_end(), keep, "records kept");
    let mut r = log.read_from(0).unwrap();
    for i in 0..keep {
        let rec = r.next().unwrap().unwrap();
        assert_eq!(rec.offset, i);
        assert_eq!(rec.payload().as_ref(), &payload(i)[..]);
    }
    assert!(r.next().unwrap().is_none());
    drop(r);
    // The log keeps working after recovery, and survives another reopen.
    let p = payload(keep);
    log.append(&[NewRecord {
        payload: &p,
        commit_time_ms: keep as i64,
        position: SourcePos::new(1, 10 * keep),
        gtid: GtidSet::single(b"s", keep + 1),
    }])
    .unwrap();
    drop(log);
    let log = Log::open(dir, cfg()).unwrap();
    assert_eq!(log.durable_end(), keep + 1);
    assert_eq!(log.get(keep).unwrap().unwrap().payload().as_ref(), &p[..]);
    let rep = verify_dir(dir, &mut |_, _| {}).unwrap();
    assert!(rep.is_sound(), "{:?}", rep.problems);
}

#[test]
fn torn_tail_at_every_byte_of_the_last_batches() {
    for compression in [Compression::None, Compression::Zstd(1)] {
        let template = tmp();
        let batches = build(template.path(), compression);
        let last3 = &batches[batches.len().saturating_sub(2)..];
        let from = last3[0].0;
        let end = last3.last().unwrap().1;
        let log_end = Log::open_read_only(template.path()).unwrap().durable_end();
        for cut in from..=end {
            // Every batch that ends at or before the cut survives; the
            // first one cut through is lost with everything after it.
            let keep = batches.iter().find(|b| b.1 > cut).map_or(log_end, |b| b.2);
            for truncate in [false, true] {
                let d = tmp();
                copy_dir(template.path(), d.path());
                let f = OpenOptions::new()
                    .write(true)
                    .open(active_path(d.path()))
                    .unwrap();
                if truncate {
                    f.set_len(cut).unwrap();
                } else {
                    f.write_all_at(&vec![0u8; (end - cut) as usize], cut)
                        .unwrap();
                }
                drop(f);
                reopen_and_check(d.path(), keep);
            }
        }
    }
}

/// Bytes far beyond a torn tail (pages a real crash wrote out of order,
/// past unwritten ones) are zeroed too, so they never turn into data later.
#[test]
fn stray_bytes_beyond_a_torn_tail_are_zeroed() {
    let template = tmp();
    let batches = build(template.path(), Compression::None);
    let &(pos, _, base) = batches.last().unwrap();
    let d = tmp();
    copy_dir(template.path(), d.path());
    let path = active_path(d.path());
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    // As if preallocated in a bigger step (sparse).
    let len = f.metadata().unwrap().len().max(1 << 20);
    f.set_len(len).unwrap();
    let stray = len - 3 * 4096 - 100;
    assert!(stray > pos + (1 << 16), "the stray bytes lie past a hole");
    f.write_all_at(&[0xAB; 5000], stray).unwrap();
    // Tear the last batch: cut its body short.
    f.write_all_at(&[0u8; 8], pos + 40).unwrap();
    drop(f);
    reopen_and_check(d.path(), base);
    let f = std::fs::File::open(&path).unwrap();
    let mut back = vec![1u8; 5000];
    f.read_exact_at(&mut back, stray).unwrap();
    assert!(back.iter().all(|&b| b == 0), "stray bytes left in place");
}

#[test]
fn flipped_bits_in_the_active_segment_cut_at_the_damaged_batch() {
    let template = tmp();
    let batches = build(template.path(), Compression::None);
    for &(pos, end, base) in &batches[batches.len().saturating_sub(3)..] {
        for byte in pos..end {
            let d = tmp();
            copy_dir(template.path(), d.path());
            let f = OpenOptions::new()
                .read(true)
                .write(true)
                .open(active_path(d.path()))
                .unwrap();
            let mut b = [0u8];
            f.read_exact_at(&mut b, byte).unwrap();
            b[0] ^= 1 << (byte % 8);
            f.write_all_at(&b, byte).unwrap();
            drop(f);
            let rep = verify_dir(d.path(), &mut |_, _| {}).unwrap();
            assert!(!rep.is_sound(), "flip at {byte} not reported");
            reopen_and_check(d.path(), base);
        }
    }
}

#[test]
fn flipped_bits_in_sealed_segments_are_reported_and_never_read() {
    let template = tmp();
    build(template.path(), Compression::None);
    let paths = sluice_storage::verify::segment_paths(template.path()).unwrap();
    let sealed = &paths[1];
    let seg = SegmentFile::open(sealed).unwrap();
    let info = seg.footer.as_ref().unwrap().clone().unwrap();
    let len = seg.file_len();
    drop(seg);
    let footer_end = info.data_end + 200; // footer is well under 200 bytes
                                          // Every byte of the header, footer and trailer; every third byte of
                                          // the batches (each flip costs a copy, a verify and a reopen).
    let mut bytes: Vec<u64> = (0..footer_end.min(len))
        .filter(|b| *b < 64 || *b >= info.data_end || b % 3 == 0)
        .collect();
    bytes.extend((len - 24)..len); // the trailer
    bytes.extend((footer_end..len - 24).step_by(997)); // samples of the hole
    let name = sealed.file_name().unwrap().to_owned();
    let rep = verify_dir(template.path(), &mut |_, _| {}).unwrap();
    assert!(rep.is_sound(), "{:?}", rep.problems);
    for byte in bytes {
        let d = tmp();
        copy_dir(template.path(), d.path());
        let p = d.path().join(&name);
        let f = OpenOptions::new().read(true).write(true).open(&p).unwrap();
        let mut b = [0u8];
        f.read_exact_at(&mut b, byte).unwrap();
        b[0] ^= 1 << (byte % 8);
        f.write_all_at(&b, byte).unwrap();
        drop(f);
        let rep = verify_dir(d.path(), &mut |_, _| {}).unwrap();
        assert!(
            !rep.is_sound(),
            "flip at byte {byte} of the sealed segment not reported"
        );
        assert!(
            rep.problems
                .iter()
                .any(|f| f.path.file_name() == Some(&name)),
            "problem names the file: {:?}",
            rep.problems
        );
        // Opening never panics; reading never yields a corrupt record.
        match Log::open(d.path(), cfg()) {
            Ok(log) => {
                let mut r = log.read_from(0).unwrap();
                let mut i = 0;
                loop {
                    match r.next() {
                        Ok(Some(rec)) => {
                            assert_eq!(rec.offset, i);
                            assert_eq!(
                                rec.payload().as_ref(),
                                &payload(i)[..],
                                "corrupt record {i}"
                            );
                            i += 1;
                        }
                        Ok(None) => break,
                        Err(StorageError::Corrupt { .. }) => break,
                        Err(e) => panic!("unexpected error {e}"),
                    }
                }
            }
            Err(StorageError::Corrupt { .. }) => {}
            Err(e) => panic!("unexpected open error {e}"),
        }
    }
}
