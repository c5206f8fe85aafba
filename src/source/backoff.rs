//! Reconnecting: a capped exponential backoff policy, and a retry loop that
//! repeats an operation while its error is retryable. The pipeline owns the
//! resume point; it calls [`open_stream`] with it inside [`retry`].

use super::config::SourceConfig;
use super::conn::Connection;
use super::dump::{BinlogStream, DumpFrom};
use super::error::{Result, SourceError};
use std::future::Future;
use std::time::Duration;

/// Delays of `initial · 2^n`, capped at `max`, each scaled by a random
/// factor in [0.5, 1] so that many replicas do not reconnect in step.
#[derive(Clone, Debug)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    attempt: u32,
    /// Give up after this many consecutive failures (`None`: never).
    max_attempts: Option<u32>,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::new(Duration::from_millis(250), Duration::from_secs(30))
    }
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration) -> Backoff {
        Backoff {
            initial,
            max: max.max(initial),
            attempt: 0,
            max_attempts: None,
        }
    }

    pub fn with_max_attempts(mut self, n: u32) -> Backoff {
        self.max_attempts = Some(n);
        self
    }

    /// Consecutive failures so far.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// After a success: start again from the initial delay.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// The upper bound of the next delay, before jitter.
    pub fn ceiling(&self) -> Duration {
        let factor = 1u32.checked_shl(self.attempt.min(30)).unwrap_or(u32::MAX);
        self.initial.saturating_mul(factor).min(self.max)
    }

    /// The delay before the next attempt, or `None` when attempts are spent.
    pub fn next_delay(&mut self) -> Option<Duration> {
        if self.max_attempts.is_some_and(|m| self.attempt >= m) {
            return None;
        }
        let ceiling = self.ceiling();
        self.attempt = self.attempt.saturating_add(1);
        let jitter: f64 = rand::Rng::gen_range(&mut rand::thread_rng(), 0.5..=1.0);
        Some(ceiling.mul_f64(jitter))
    }
}

/// Run `op` until it succeeds or fails with a fatal error, sleeping per
/// `backoff` between retryable failures (each logged as a warning). The
/// backoff is reset on success.
pub async fn retry<T, F, Fut>(backoff: &mut Backoff, mut op: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T>>,
{
    loop {
        match op().await {
            Ok(v) => {
                backoff.reset();
                return Ok(v);
            }
            Err(e) if e.is_retryable() => match backoff.next_delay() {
                Some(delay) => {
                    tracing::warn!(error = %e, retry_in = ?delay, attempt = backoff.attempts(), "source connection failed; retrying");
                    tokio::time::sleep(delay).await;
                }
                None => return Err(e),
            },
            Err(e) => return Err(e),
        }
    }
}

/// Connect and start a dump from `from`: the unit the pipeline retries.
pub async fn open_stream(config: &SourceConfig, from: &DumpFrom) -> Result<BinlogStream> {
    Connection::connect(config).await?.start_dump(from).await
}

/// [`open_stream`] inside [`retry`].
pub async fn open_stream_with_retry(
    config: &SourceConfig,
    from: &DumpFrom,
    backoff: &mut Backoff,
) -> Result<BinlogStream, SourceError> {
    retry(backoff, || open_stream(config, from)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        let ceilings: Vec<_> = (0..6)
            .map(|_| {
                let c = b.ceiling();
                let d = b.next_delay().unwrap();
                assert!(d <= c && d >= c / 2, "{d:?} vs {c:?}");
                c.as_millis()
            })
            .collect();
        assert_eq!(ceilings, vec![100, 200, 400, 800, 1000, 1000]);
        b.reset();
        assert_eq!(b.ceiling(), Duration::from_millis(100));
        let mut b = Backoff::default().with_max_attempts(2);
        assert!(b.next_delay().is_some() && b.next_delay().is_some());
        assert!(b.next_delay().is_none());
    }

    #[tokio::test]
    async fn retry_repeats_retryable_errors_and_stops_on_fatal() {
        let mut b = Backoff::new(Duration::from_millis(1), Duration::from_millis(2));
        let mut calls = 0;
        let v = retry(&mut b, || {
            calls += 1;
            let n = calls;
            async move {
                if n < 3 {
                    Err(SourceError::Closed {
                        addr: "h:1".into(),
                        context: "t",
                    })
                } else {
                    Ok(n)
                }
            }
        })
        .await
        .unwrap();
        assert_eq!(v, 3);
        assert_eq!(b.attempts(), 0);
        let mut calls = 0;
        let e = retry(&mut b, || {
            calls += 1;
            async { Err::<(), _>(SourceError::Config("bad".into())) }
        })
        .await
        .unwrap_err();
        assert!(matches!(e, SourceError::Config(_)));
        assert_eq!(calls, 1);
    }
}
