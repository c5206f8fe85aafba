//! Model-based property test: random sequences of append / read / lookup /
//! group commit / roll / retention / close-and-reopen, run against the log
//! and against a plain in-memory model; every observable result must match.

use std::collections::BTreeMap;

use proptest::prelude::*;
use sluice_storage::{
    Compression, FsyncPolicy, GtidSet, Log, LogConfig, NewRecord, ResetPolicy, SourcePos,
    StorageError,
};

#[derive(Clone, Debug)]
struct Rec {
    payload: Vec<u8>,
    time: i64,
    pos: SourcePos,
    gtid: GtidSet,
}

#[derive(Clone, Debug)]
enum Op {
    /// Append a batch: (payload size, time delta) per record.
    Append(Vec<(usize, i64)>),
    Read(u64),
    FindTime(i64),
    FindPos(u64),
    FindGtid(u64, u64),
    Commit(u8, u64),
    Roll,
    DeleteBefore(u64),
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => proptest::collection::vec((0usize..300, -50i64..100), 1..6).prop_map(Op::Append),
        2 => any::<u64>().prop_map(Op::Read),
        1 => (-100i64..3000).prop_map(Op::FindTime),
        1 => (0u64..4000).prop_map(Op::FindPos),
        1 => (0u64..60, 0u64..60).prop_map(|(a, b)| Op::FindGtid(a, b)),
        2 => (0u8..3, any::<u64>()).prop_map(|(g, o)| Op::Commit(g, o)),
        1 => Just(Op::Roll),
        1 => any::<u64>().prop_map(Op::DeleteBefore),
        1 => Just(Op::Reopen),
    ]
}

fn config(compression: Compression) -> LogConfig {
    LogConfig {
        segment_bytes: 1024,
        segment_age: None,
        fsync: FsyncPolicy::Never,
        index_interval_bytes: 200,
        retention_bytes: None,
        retention_age: None,
        retention_max_bytes: None,
        compression,
    }
}

struct Model {
    recs: Vec<Rec>,
    start: u64,
    groups: BTreeMap<String, u64>,
}

impl Model {
    fn end(&self) -> u64 {
        self.recs.len() as u64
    }
    fn first(&self, f: impl Fn(&Rec) -> bool) -> u64 {
        (self.start..self.end())
            .find(|&i| f(&self.recs[i as usize]))
            .unwrap_or(self.end())
    }
}

fn run(ops: Vec<Op>, compression: Compression) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir_in("/dev/shm")
        .or_else(|_| tempfile::tempdir())
        .unwrap();
    let cfg = config(compression);
    let mut log = Log::open(dir.path(), cfg.clone()).unwrap();
    let mut m = Model {
        recs: Vec::new(),
        start: 0,
        groups: BTreeMap::new(),
    };
    let names = ["g0", "g1", "g2"];
    for n in names {
        log.groups().create(n, ResetPolicy::None).unwrap();
        m.groups.insert(n.to_string(), 0);
    }
    for op in ops {
        match op {
            Op::Append(spec) => {
                let mut batch = Vec::new();
                for (size, dt) in spec {
                    let i = (m.recs.len() + batch.len()) as u64;
                    let prev = batch.last().or(m.recs.last());
                    let time = prev.map_or(1000, |p| p.time) + dt;
                    let pos = SourcePos::new(
                        1 + (i / 37) as u32,
                        if i % 37 == 0 {
                            4
                        } else {
                            prev.map_or(4, |p| p.pos.pos) + 1 + size as u64
                        },
                    );
                    // Two streams; stream 1 skips every fifth number.
                    let gtid = if i % 2 == 0 {
                        GtidSet::single(b"stream-0", i / 2 + 1)
                    } else {
                        GtidSet::single(b"stream-1", (i / 2) * 5 / 4 + 1)
                    };
                    let payload = (0..size).map(|j| (i as usize * 31 + j) as u8).collect();
                    batch.push(Rec {
                        payload,
                        time,
                        pos,
                        gtid,
                    });
                }
                let new: Vec<NewRecord> = batch
                    .iter()
                    .map(|r| NewRecord {
                        payload: &r.payload,
                        commit_time_ms: r.time,
                        position: r.pos,
                        gtid: r.gtid.clone(),
                    })
                    .collect();
                let got = log.append(&new).unwrap();
                let from = m.end();
                m.recs.extend(batch);
                prop_assert_eq!(got, from..m.end());
            }
            Op::Read(at) => {
                let span = m.end() + 2 - m.start.min(m.end());
                let at = m.start.saturating_sub(1) + at % (span + 1);
                match log.read_from(at) {
                    Ok(mut r) => {
                        prop_assert!(at >= m.start && at <= m.end(), "read_from({}) ok", at);
                        for i in at..m.end() {
                            let rec = r.next().unwrap().unwrap();
                            let want = &m.recs[i as usize];
                            prop_assert_eq!(rec.offset, i);
                            prop_assert_eq!(rec.payload().as_ref(), &want.payload[..]);
                            prop_assert_eq!(rec.commit_time_ms, want.time);
                            prop_assert_eq!(rec.position, want.pos);
                            prop_assert_eq!(rec.gtid(), want.gtid.clone());
                        }
                        prop_assert!(r.next().unwrap().is_none());
                    }
                    Err(StorageError::BelowStart { .. }) => prop_assert!(at < m.start),
                    Err(StorageError::BeyondEnd { .. }) => prop_assert!(at > m.end()),
                    Err(e) => return Err(TestCaseError::fail(e.to_string())),
                }
            }
            Op::FindTime(t) => {
                prop_assert_eq!(log.find_time(t).unwrap(), m.first(|r| r.time >= t));
            }
            Op::FindPos(p) => {
                let p = SourcePos::new(1 + (p / 1000) as u32, p % 1000 * 4);
                prop_assert_eq!(log.find_position(p).unwrap(), m.first(|r| r.pos > p));
            }
            Op::FindGtid(a, b) => {
                let mut s = GtidSet::new();
                s.insert_range(b"stream-0", 1, a);
                s.insert_range(b"stream-1", 1, b);
                prop_assert_eq!(
                    log.find_gtid(&s).unwrap(),
                    m.first(|r| !r.gtid.is_subset(&s))
                );
            }
            Op::Commit(g, o) => {
                let name = names[g as usize];
                let o = o % (m.end() + 3);
                match log.groups().commit(name, o) {
                    Ok(info) => {
                        prop_assert!(o >= m.start && o <= m.end());
                        prop_assert_eq!(info.offset, o);
                        m.groups.insert(name.to_string(), o);
                    }
                    Err(StorageError::BeyondEnd { .. }) => prop_assert!(o > m.end()),
                    Err(StorageError::BelowStart { .. }) => prop_assert!(o < m.start),
                    Err(e) => return Err(TestCaseError::fail(e.to_string())),
                }
            }
            Op::Roll => log.roll().unwrap(),
            Op::DeleteBefore(o) => {
                let o = o % (m.end() + 2);
                let start = log.delete_before(o).unwrap();
                prop_assert!(start >= m.start && start <= o.max(m.start), "start {start}");
                prop_assert!(start <= m.end());
                m.start = start;
            }
            Op::Reopen => {
                drop(log);
                log = Log::open(dir.path(), cfg.clone()).unwrap();
            }
        }
        prop_assert_eq!(log.durable_end(), m.end());
        prop_assert_eq!(log.start_offset(), m.start);
        let last = log.last_record();
        prop_assert_eq!(last.next_offset, m.end());
        prop_assert_eq!(last.last.map(|k| k.offset), m.end().checked_sub(1));
        let mut all = GtidSet::new();
        for r in &m.recs {
            all.union_with(&r.gtid);
        }
        prop_assert_eq!(last.gtid_executed, all);
        for g in log.groups().list().unwrap() {
            prop_assert_eq!(Some(&g.offset), m.groups.get(&g.name));
            let lag = log.groups().lag(&g.name).unwrap();
            prop_assert_eq!(lag.records, m.end() - g.offset.max(m.start).min(m.end()));
            match log.groups().resume_offset(&g.name) {
                Ok(o) => prop_assert_eq!(o, g.offset),
                Err(StorageError::GroupOutOfRange { .. }) => prop_assert!(g.offset < m.start),
                Err(e) => return Err(TestCaseError::fail(e.to_string())),
            }
        }
    }
    drop(log);
    let rep = sluice_storage::verify::verify_dir(dir.path(), &mut |_, _| {}).unwrap();
    prop_assert!(rep.is_sound(), "{:?}", rep.problems);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]
    #[test]
    fn log_matches_model(ops in proptest::collection::vec(op(), 1..40), zstd in any::<bool>()) {
        run(ops, if zstd { Compression::Zstd(1) } else { Compression::None })?;
    }
}
