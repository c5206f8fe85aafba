//! Snapshot ids. An on-demand snapshot (HTTP, or `snapshot_new_tables`)
//! is named by its start time in ms, so ids sort by start and read as a
//! time; but a log keys its snapshots' state by id, so two snapshots that
//! share one would merge. An id is therefore above every id this process
//! gave or found in a log: two snapshots started in the same millisecond,
//! or after the clock stepped back since an earlier snapshot of the log,
//! still get their own.

use std::sync::atomic::{AtomicU64, Ordering};

/// The highest id given or seen in this process.
static LAST: AtomicU64 = AtomicU64::new(0);

/// A new snapshot id: now in ms, or the last id + 1 when that is higher.
pub fn new_id() -> u64 {
    let now = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0);
    next(&LAST, now)
}

/// Ids a log already holds: new ones come after `id`.
pub fn seen(id: u64) {
    LAST.fetch_max(id, Ordering::Relaxed);
}

/// `max(now, last + 1)`, stored as the new last. Never 0 (the initial
/// snapshot's id).
fn next(last: &AtomicU64, now: u64) -> u64 {
    let id = |prev: u64| now.max(prev.saturating_add(1));
    match last.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |prev| Some(id(prev))) {
        Ok(prev) | Err(prev) => id(prev),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_in_one_millisecond_differ_and_rise() {
        let last = AtomicU64::new(0);
        let now = 1_765_000_000_000;
        let ids: Vec<u64> = (0..5).map(|_| next(&last, now)).collect();
        assert_eq!(ids, (now..now + 5).collect::<Vec<_>>());
        // Time catches up: the clock's value again.
        assert_eq!(next(&last, now + 100), now + 100);
    }

    #[test]
    fn ids_stay_above_those_of_the_log_when_the_clock_is_behind() {
        let last = AtomicU64::new(0);
        let in_log = 1_765_000_000_000;
        last.fetch_max(in_log, Ordering::Relaxed);
        assert_eq!(next(&last, in_log - 60_000), in_log + 1);
        assert_eq!(next(&last, 0), in_log + 2);
    }

    #[test]
    fn an_id_is_never_the_initial_snapshots_zero() {
        assert_eq!(next(&AtomicU64::new(0), 0), 1);
    }

    #[test]
    fn threads_get_distinct_ids() {
        let last = std::sync::Arc::new(AtomicU64::new(0));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let last = last.clone();
                std::thread::spawn(move || (0..1000).map(|_| next(&last, 7)).collect::<Vec<_>>())
            })
            .collect();
        let mut all: Vec<u64> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 4000);
    }
}
