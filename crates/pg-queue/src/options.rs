//! How one queue is consumed.

use std::time::Duration;

use crate::RetryPolicy;

/// How one queue is consumed. Checked by [`QueueOptions::validate`] when given to a worker.
#[derive(Debug, Clone)]
pub struct QueueOptions {
    /// Batches handled at once by this process (each holds one connection while it runs).
    pub concurrency: usize,
    /// Messages per claim. Messages of a batch are handled one after another in one
    /// transaction, so a larger batch trades latency for throughput.
    pub batch_size: i64,
    /// How long a claim is exclusive without news from its worker. A worker that dies loses its
    /// messages to another after this long. A running batch keeps its messages (it holds their
    /// rows) and extends their lease before starting a message that could outlive it.
    pub lease: Duration,
    /// How long one handler may run. Past it the handler is cancelled, its transaction's work
    /// rolled back, and its message retried. A handler may move its own limit with
    /// [`crate::MessageContext::extend_lease`]. Must be shorter than `lease`, and shorter than
    /// the server's `idle_in_transaction_session_timeout`.
    pub handler_timeout: Duration,
    /// The longest a ready message waits when notifications are lost.
    pub poll_interval: Duration,
    /// How often claims scan the queue from its start (see `cursor.rs`): the longest a message
    /// committed late, or due before the cursor, waits (stretched while full scans are slow,
    /// at most tenfold).
    pub full_scan_interval: Duration,
    pub retry: RetryPolicy,
    /// At most this many handler starts per second over every replica (a shared token bucket in
    /// the database). `None`: no limit.
    pub rate_limit: Option<RateLimit>,
    /// Dead letters older than this are deleted, once per hour across the replicas. `None`:
    /// kept until an operator purges them.
    pub dead_letter_retention: Option<Duration>,
}

impl Default for QueueOptions {
    fn default() -> Self {
        Self {
            concurrency: 2,
            batch_size: 20,
            lease: Duration::from_secs(60),
            handler_timeout: Duration::from_secs(30),
            poll_interval: Duration::from_secs(5),
            full_scan_interval: Duration::from_secs(1),
            retry: RetryPolicy::default(),
            rate_limit: None,
            dead_letter_retention: Some(Duration::from_secs(14 * 24 * 3_600)),
        }
    }
}

/// A token bucket shared by every replica: `per_second` tokens a second, at most `burst` saved
/// up. Each claimed message takes one token, so handler starts never run ahead of
/// `per_second × t + burst` over any time `t`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub per_second: f64,
    pub burst: u32,
}

impl RateLimit {
    /// `per_second` a second, with a burst of one second's worth (at least 1).
    pub fn per_second(per_second: f64) -> Self {
        Self {
            per_second,
            burst: (per_second.floor() as u32).max(1),
        }
    }
}

/// Options that cannot work together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid queue options: {0}")]
pub struct InvalidOptions(pub &'static str);

/// The least room a lease leaves beyond one handler's time limit.
pub(crate) const LEASE_MARGIN: Duration = Duration::from_secs(1);

impl QueueOptions {
    /// Checks the options against each other.
    pub fn validate(&self) -> Result<(), InvalidOptions> {
        if self.batch_size < 1 {
            return Err(InvalidOptions("batch_size must be at least 1"));
        }
        if self.handler_timeout.is_zero() {
            return Err(InvalidOptions("handler_timeout must be positive"));
        }
        if self.lease < self.handler_timeout + LEASE_MARGIN {
            return Err(InvalidOptions(
                "lease must exceed handler_timeout by at least a second",
            ));
        }
        if self.retry.max_attempts < 1 {
            return Err(InvalidOptions("retry.max_attempts must be at least 1"));
        }
        if let Some(rate) = self.rate_limit
            && (!(rate.per_second > 0.0 && rate.per_second.is_finite()) || rate.burst < 1)
        {
            return Err(InvalidOptions(
                "rate_limit needs a positive finite rate and a burst of at least 1",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid() {
        QueueOptions::default().validate().expect("valid");
    }

    #[test]
    fn a_lease_shorter_than_a_handler_may_run_is_refused() {
        let options = QueueOptions {
            lease: Duration::from_secs(10),
            handler_timeout: Duration::from_secs(10),
            ..QueueOptions::default()
        };
        assert!(options.validate().is_err());
    }

    #[test]
    fn a_rate_limit_needs_a_positive_rate() {
        let options = QueueOptions {
            rate_limit: Some(RateLimit {
                per_second: 0.0,
                burst: 1,
            }),
            ..QueueOptions::default()
        };
        assert!(options.validate().is_err());
        assert_eq!(RateLimit::per_second(0.5).burst, 1);
        assert_eq!(RateLimit::per_second(50.0).burst, 50);
    }
}
