//! The conflict scheduler of the parallel mirror: which target connection
//! ("worker") applies which transaction of a batch, and what it waits for.
//!
//! Two transactions conflict when their write sets (see
//! [`super::writeset`]) share a key. The schedule keeps every pair of
//! conflicting transactions in log order: the later one goes to the
//! worker that applies the earlier one (a worker applies its queue in
//! order), or, when it conflicts with transactions on several workers,
//! it waits until each of those workers has applied them. Transactions
//! that conflict with nothing go to the least loaded worker. A barrier
//! (DDL, a statement without row images) ends a phase: everything before
//! it is applied, then it runs alone, then the next phase starts.
//!
//! Pure and synchronous: `super::apply` runs the schedule.

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

/// One transaction in a worker's queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// Index of the transaction in the batch.
    pub txn: usize,
    /// Before applying it: wait until worker `.0` has applied `.1` steps
    /// of its queue (transactions it conflicts with on other workers).
    pub waits: Vec<(usize, usize)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Phase {
    /// One queue per worker, run at the same time.
    Parallel(Vec<Vec<Step>>),
    /// The transaction with this index, alone.
    Barrier(usize),
}

/// Cuts `work` into phases for `workers` connections (at least one).
pub fn schedule(work: &[Work], workers: usize) -> Vec<Phase> {
    let workers = workers.max(1);
    let mut phases = Vec::new();
    let mut queues: Vec<Vec<Step>> = vec![Vec::new(); workers];
    let mut load = vec![0usize; workers];
    // Key → (worker, position in its queue) of its last transaction.
    let mut last: HashMap<u64, (usize, usize)> = HashMap::new();
    let flush = |queues: &mut Vec<Vec<Step>>, phases: &mut Vec<Phase>| {
        if queues.iter().any(|q| !q.is_empty()) {
            phases.push(Phase::Parallel(std::mem::replace(
                queues,
                vec![Vec::new(); workers],
            )));
        }
    };
    for (txn, w) in work.iter().enumerate() {
        let (keys, weight) = match w {
            Work::Barrier => {
                flush(&mut queues, &mut phases);
                load.iter_mut().for_each(|l| *l = 0);
                last.clear();
                phases.push(Phase::Barrier(txn));
                continue;
            }
            Work::Rows { keys, weight } => (keys, *weight),
        };
        // The last step on each worker this transaction must follow.
        let mut after: Vec<Option<usize>> = vec![None; workers];
        for key in keys {
            if let Some(&(worker, pos)) = last.get(key) {
                let slot = &mut after[worker];
                *slot = Some(slot.map_or(pos, |p| p.max(pos)));
            }
        }
        let involved = (0..workers).filter(|&w| after[w].is_some());
        // Among the workers it must follow, the least loaded takes it
        // (its order there is free); else the least loaded of all.
        let chosen = involved
            .min_by_key(|&w| load[w])
            .unwrap_or_else(|| (0..workers).min_by_key(|&w| load[w]).unwrap_or(0));
        let waits = (0..workers)
            .filter(|&w| w != chosen)
            .filter_map(|w| after[w].map(|pos| (w, pos + 1)))
            .collect();
        let pos = queues[chosen].len();
        queues[chosen].push(Step { txn, waits });
        load[chosen] += weight.max(1);
        for key in keys {
            last.insert(*key, (chosen, pos));
        }
    }
    flush(&mut queues, &mut phases);
    phases
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

    fn rows(keys: &[u64]) -> Work {
        Work::Rows {
            keys: keys.to_vec(),
            weight: 1,
        }
    }

    /// Where each transaction went: (phase, worker, position, waits).
    fn placed(phases: &[Phase], txn: usize) -> (usize, usize, usize, Vec<(usize, usize)>) {
        for (p, phase) in phases.iter().enumerate() {
            match phase {
                Phase::Barrier(t) if *t == txn => return (p, 0, 0, Vec::new()),
                Phase::Barrier(_) => {}
                Phase::Parallel(queues) => {
                    for (w, q) in queues.iter().enumerate() {
                        if let Some(i) = q.iter().position(|s| s.txn == txn) {
                            return (p, w, i, q[i].waits.clone());
                        }
                    }
                }
            }
        }
        panic!("transaction {txn} not scheduled")
    }

    /// Replays the schedule the way the workers do, picking at each step
    /// any worker whose next step may run, preferring the latest
    /// transaction (the most hostile order the waits allow), and returns
    /// the order transactions were applied in.
    fn hostile_order(phases: &[Phase]) -> Vec<usize> {
        let mut order = Vec::new();
        for phase in phases {
            match phase {
                Phase::Barrier(t) => order.push(*t),
                Phase::Parallel(queues) => {
                    let mut next = vec![0usize; queues.len()];
                    loop {
                        let ready = (0..queues.len())
                            .filter(|&w| next[w] < queues[w].len())
                            .filter(|&w| {
                                queues[w][next[w]].waits.iter().all(|&(o, n)| next[o] >= n)
                            })
                            .max_by_key(|&w| queues[w][next[w]].txn);
                        let Some(w) = ready else { break };
                        order.push(queues[w][next[w]].txn);
                        next[w] += 1;
                    }
                    let total: usize = queues.iter().map(Vec::len).sum();
                    assert_eq!(
                        next.iter().sum::<usize>(),
                        total,
                        "schedule deadlocks: {queues:?}"
                    );
                }
            }
        }
        order
    }

    #[test]
    fn independent_transactions_spread_over_the_workers() {
        let work: Vec<Work> = (0..8).map(|i| rows(&[i])).collect();
        let phases = schedule(&work, 4);
        assert_eq!(phases.len(), 1);
        let Phase::Parallel(queues) = &phases[0] else {
            panic!("{phases:?}")
        };
        assert!(queues.iter().all(|q| q.len() == 2), "{queues:?}");
        assert!(queues.iter().flatten().all(|s| s.waits.is_empty()));
    }

    #[test]
    fn conflicting_transactions_apply_in_log_order() {
        // 0 and 2 share key 1; 1 and 3 share key 2; 4 touches keys 1 and
        // 2 (follows both chains); 5 shares key 9 with nobody.
        let work = vec![
            rows(&[1]),
            rows(&[2]),
            rows(&[1, 3]),
            rows(&[2]),
            rows(&[1, 2]),
            rows(&[9]),
        ];
        let phases = schedule(&work, 4);
        // Conflicting pairs: the later one never runs first, in the most
        // hostile order the schedule allows.
        let order = hostile_order(&phases);
        let at = |t| order.iter().position(|&x| x == t).unwrap();
        for (a, b) in [(0, 2), (1, 3), (2, 4), (3, 4), (0, 4), (1, 4)] {
            assert!(at(a) < at(b), "{a} must apply before {b}: {order:?}");
        }
        // The same chain on one worker; 4 waits for the other chain.
        assert_eq!(placed(&phases, 0).1, placed(&phases, 2).1);
        assert_eq!(placed(&phases, 1).1, placed(&phases, 3).1);
        let (_, w4, _, waits) = placed(&phases, 4);
        assert_eq!(waits.len(), 1, "{phases:?}");
        assert_ne!(waits[0].0, w4);
        // The independent one runs beside them, without waiting (the
        // hostile order applies it first).
        assert!(placed(&phases, 5).3.is_empty());
        assert_eq!(order[0], 5);
    }

    #[test]
    fn without_conflict_detection_the_order_check_fails() {
        // The check above is only worth something if an order-blind
        // schedule fails it: the same transactions with their keys
        // removed let 2 apply before 0.
        let work: Vec<Work> = (0..3).map(|_| rows(&[])).collect();
        let order = hostile_order(&schedule(&work, 4));
        assert_eq!(order, vec![2, 1, 0]);
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
        let before = placed(&phases, 0).0;
        let after = placed(&phases, 3).0;
        assert!(before < 1 && after > 1);
        // After a barrier nothing waits on what came before it.
        assert!(placed(&phases, 3).3.is_empty());
        let order = hostile_order(&phases);
        let at = |t| order.iter().position(|&x| x == t).unwrap();
        assert!(at(0) < at(2) && at(1) < at(2) && at(2) < at(3) && at(2) < at(4));
        // Barriers only: one phase each.
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
