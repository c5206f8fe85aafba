//! The conflict scheduler of the parallel mirror: which target connection
//! ("worker") applies which transaction of a batch.
//!
//! Two transactions conflict when their write sets (see
//! [`super::writeset`]) share a key. The transactions of a batch fall
//! into sets linked by shared keys (connected components: A and C are in
//! one set when A shares a key with B and B one with C), and each set
//! goes whole to one worker, which applies its queue in log order. So
//! every pair of conflicting transactions applies in log order, and no
//! worker ever waits for another. Sets go to workers largest first, each
//! to the least loaded (by SQL size). A barrier (DDL, a statement without
//! row images) ends a phase: everything before it is applied, then it
//! runs alone, then the next phase starts.
//!
//! Why whole sets rather than waits between workers: real workloads have
//! hot rows (sysbench's default distribution sends most writes to 1 % of
//! the rows), and a chain of conflicts hopping between workers cut each
//! worker's round trips down to one or two transactions, each with its
//! own commit and statements. A worker's queue now goes out as few large
//! target transactions with merged statements (`group.rs`);
//! measured with `benches/mirror_lag`, the waits had cost the target 2.5×
//! the CPU of one worker.
//!
//! Pure and synchronous: `super::apply` runs the schedule.

use std::collections::hash_map::Entry;
use std::collections::HashMap;

/// One transaction of a batch, as the scheduler sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Work {
    /// Row changes: the hashes of the keys it touches, and its size (the
    /// load it puts on a worker).
    Rows { keys: Vec<u64>, weight: usize },
    /// Runs alone, after everything before it and before everything after.
    Barrier,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Phase {
    /// One queue per worker (indexes into the batch, in log order), run
    /// at the same time: nothing in one queue conflicts with anything in
    /// another.
    Parallel(Vec<Vec<usize>>),
    /// The transaction with this index, alone.
    Barrier(usize),
}

/// Cuts `work` into phases for `workers` connections (at least one).
pub fn schedule(work: &[Work], workers: usize) -> Vec<Phase> {
    let workers = workers.max(1);
    let mut phases = Vec::new();
    let mut start = 0;
    for (i, w) in work.iter().enumerate() {
        if *w == Work::Barrier {
            if start < i {
                phases.push(parallel(&work[start..i], start, workers));
            }
            phases.push(Phase::Barrier(i));
            start = i + 1;
        }
    }
    if start < work.len() {
        phases.push(parallel(&work[start..], start, workers));
    }
    phases
}

/// One phase: `work` (no barriers) starts at index `base` of the batch.
fn parallel(work: &[Work], base: usize, workers: usize) -> Phase {
    let mut parent: Vec<usize> = (0..work.len()).collect();
    // Key → the first transaction that touches it.
    let mut first: HashMap<u64, usize> = HashMap::new();
    for (i, w) in work.iter().enumerate() {
        let Work::Rows { keys, .. } = w else { continue };
        for key in keys {
            match first.entry(*key) {
                Entry::Occupied(e) => union(&mut parent, *e.get(), i),
                Entry::Vacant(e) => {
                    e.insert(i);
                }
            }
        }
    }
    // Each set's size and members (in log order), by its root.
    let mut sets: HashMap<usize, (usize, Vec<usize>)> = HashMap::new();
    for (i, w) in work.iter().enumerate() {
        let weight = match w {
            Work::Rows { weight, .. } => (*weight).max(1),
            Work::Barrier => 1,
        };
        let set = sets.entry(find(&mut parent, i)).or_default();
        set.0 += weight;
        set.1.push(base + i);
    }
    let mut sets: Vec<(usize, Vec<usize>)> = sets.into_values().collect();
    // Largest first; among equals the earliest, so a schedule is the same
    // every time.
    sets.sort_by(|a, b| b.0.cmp(&a.0).then(a.1[0].cmp(&b.1[0])));
    let mut queues = vec![Vec::new(); workers];
    let mut load = vec![0usize; workers];
    for (weight, members) in sets {
        let w = (0..workers).min_by_key(|&w| (load[w], w)).unwrap_or(0);
        load[w] += weight;
        queues[w].extend(members);
    }
    for queue in &mut queues {
        queue.sort_unstable();
    }
    Phase::Parallel(queues)
}

/// The root of `i`'s set (halving the path on the way).
fn find(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

fn union(parent: &mut [usize], a: usize, b: usize) {
    let (a, b) = (find(parent, a), find(parent, b));
    if a != b {
        parent[a.max(b)] = a.min(b);
    }
}

/// Which transactions of a batch are applied on the target, and the
/// low-water mark: the number of transactions that are, all of them and
/// every one before them. Only that prefix may count as delivered.
#[derive(Debug)]
pub struct Progress {
    done: Vec<bool>,
    low: usize,
}

impl Progress {
    pub fn new(len: usize) -> Progress {
        Progress {
            done: vec![false; len],
            low: 0,
        }
    }

    pub fn complete(&mut self, txn: usize) {
        if let Some(d) = self.done.get_mut(txn) {
            *d = true;
        }
        while self.done.get(self.low) == Some(&true) {
            self.low += 1;
        }
    }

    /// Transactions `0..low_water()` are applied.
    pub fn low_water(&self) -> usize {
        self.low
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rows(keys: &[u64]) -> Work {
        Work::Rows {
            keys: keys.to_vec(),
            weight: 1,
        }
    }

    /// Replays the schedule the way the workers may: each phase's queues
    /// interleaved in the most hostile order (always the worker whose
    /// next transaction is the latest), and returns the order transactions
    /// were applied in.
    fn hostile_order(phases: &[Phase]) -> Vec<usize> {
        let mut order = Vec::new();
        for phase in phases {
            match phase {
                Phase::Barrier(t) => order.push(*t),
                Phase::Parallel(queues) => {
                    let mut next = vec![0usize; queues.len()];
                    while let Some(w) = (0..queues.len())
                        .filter(|&w| next[w] < queues[w].len())
                        .max_by_key(|&w| queues[w][next[w]])
                    {
                        order.push(queues[w][next[w]]);
                        next[w] += 1;
                    }
                }
            }
        }
        order
    }

    /// Every transaction applied once, and every pair that shares a key
    /// in log order, in the hostile order.
    fn check(work: &[Work], phases: &[Phase]) -> Result<(), String> {
        let order = hostile_order(phases);
        let mut sorted = order.clone();
        sorted.sort_unstable();
        if sorted != (0..work.len()).collect::<Vec<_>>() {
            return Err(format!("not every transaction once: {order:?}"));
        }
        let mut at = vec![0; work.len()];
        for (pos, &t) in order.iter().enumerate() {
            at[t] = pos;
        }
        let keys = |t: usize| match &work[t] {
            Work::Rows { keys, .. } => keys.clone(),
            Work::Barrier => Vec::new(),
        };
        for b in 0..work.len() {
            for a in 0..b {
                let barrier = work[a] == Work::Barrier || work[b] == Work::Barrier;
                let shared = keys(a).iter().any(|k| keys(b).contains(k));
                if (barrier || shared) && at[a] > at[b] {
                    return Err(format!("{b} applied before {a}: {order:?}"));
                }
            }
        }
        Ok(())
    }

    fn queues(phase: &Phase) -> &[Vec<usize>] {
        match phase {
            Phase::Parallel(q) => q,
            Phase::Barrier(_) => &[],
        }
    }

    #[test]
    fn independent_transactions_spread_over_the_workers() {
        let work: Vec<Work> = (0..8).map(|i| rows(&[i])).collect();
        let phases = schedule(&work, 4);
        assert_eq!(phases.len(), 1);
        assert!(
            queues(&phases[0]).iter().all(|q| q.len() == 2),
            "{phases:?}"
        );
        check(&work, &phases).unwrap();
    }

    #[test]
    fn conflicting_transactions_apply_in_log_order() {
        // 0 and 2 share key 1; 1 and 3 share key 2; 4 touches keys 3 and
        // 2, so 0, 2, 1, 3, 4 are one set; 5 shares key 9 with nobody.
        let work = vec![
            rows(&[1]),
            rows(&[2]),
            rows(&[1, 3]),
            rows(&[2]),
            rows(&[3, 2]),
            rows(&[9]),
        ];
        let phases = schedule(&work, 4);
        check(&work, &phases).unwrap();
        let q = queues(&phases[0]);
        assert!(q.contains(&vec![0, 1, 2, 3, 4]), "{q:?}");
        assert!(q.contains(&vec![5]), "{q:?}");
    }

    #[test]
    fn without_conflict_detection_the_order_check_fails() {
        // The check is only worth something if an order-blind schedule
        // fails it: the same transactions with their keys removed, checked
        // against the keys, apply 2 before 0.
        let work = vec![rows(&[1]), rows(&[2]), rows(&[1])];
        let blind: Vec<Work> = (0..3).map(|_| rows(&[])).collect();
        let err = check(&work, &schedule(&blind, 4)).unwrap_err();
        assert!(err.contains("2 applied before 0"), "{err}");
    }

    #[test]
    fn a_hot_row_keeps_its_chain_on_one_worker_and_the_rest_spreads() {
        // Every other transaction touches key 0 (a hot row).
        let work: Vec<Work> = (0..20u64)
            .map(|i| {
                if i % 2 == 0 {
                    rows(&[0, 100 + i])
                } else {
                    rows(&[100 + i])
                }
            })
            .collect();
        let phases = schedule(&work, 3);
        check(&work, &phases).unwrap();
        let q = queues(&phases[0]);
        let hot: Vec<usize> = (0..20).step_by(2).collect();
        assert!(q.contains(&hot), "{q:?}");
        assert!(q.iter().filter(|q| !q.is_empty()).count() == 3, "{q:?}");
    }

    #[test]
    fn barriers_run_alone_between_phases() {
        let work = vec![
            rows(&[1]),
            rows(&[2]),
            Work::Barrier,
            rows(&[1]),
            rows(&[3]),
        ];
        let phases = schedule(&work, 2);
        assert_eq!(phases.len(), 3, "{phases:?}");
        assert_eq!(phases[1], Phase::Barrier(2));
        check(&work, &phases).unwrap();
        assert_eq!(
            schedule(&[Work::Barrier, Work::Barrier], 4),
            vec![Phase::Barrier(0), Phase::Barrier(1)]
        );
    }

    #[test]
    fn one_worker_keeps_log_order() {
        let work: Vec<Work> = (0..5).map(|i| rows(&[i])).collect();
        assert_eq!(hostile_order(&schedule(&work, 1)), vec![0, 1, 2, 3, 4]);
    }

    proptest! {
        #[test]
        fn any_batch_applies_conflicts_in_log_order(
            batch in prop::collection::vec(
                prop::option::weighted(0.95, prop::collection::vec(0u64..30, 0..4)),
                0..60,
            ),
            workers in 1usize..6,
        ) {
            let work: Vec<Work> = batch
                .iter()
                .map(|keys| keys.as_ref().map_or(Work::Barrier, |k| rows(k)))
                .collect();
            let phases = schedule(&work, workers);
            prop_assert!(phases.iter().all(|p| queues(p).len() <= workers));
            if let Err(e) = check(&work, &phases) {
                prop_assert!(false, "{}", e);
            }
        }
    }

    #[test]
    fn low_water_mark_counts_the_applied_prefix_only() {
        let mut p = Progress::new(5);
        assert_eq!(p.low_water(), 0);
        p.complete(1);
        p.complete(3);
        assert_eq!(p.low_water(), 0, "0 is not applied yet");
        p.complete(0);
        assert_eq!(p.low_water(), 2);
        p.complete(2);
        assert_eq!(p.low_water(), 4);
        p.complete(4);
        assert_eq!(p.low_water(), 5);
        p.complete(9); // out of range: ignored
        assert_eq!(p.low_water(), 5);
    }
}
