//! When a failed message is tried again.

use std::time::Duration;

/// Exponential backoff with jitter, up to a maximum number of attempts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts (deliveries) before a retryable failure is dead-lettered.
    pub max_attempts: i32,
    /// The delay after the first failure; doubled after each further one.
    pub base_delay: Duration,
    /// The delay never exceeds this.
    pub max_delay: Duration,
    /// Fraction of the delay drawn at random (0 = none, 0.5 = between 50% and 100%), so that
    /// messages that failed together do not all come back together.
    pub jitter: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 8,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(15 * 60),
            jitter: 0.5,
        }
    }
}

impl RetryPolicy {
    /// Whether a message that just failed its `attempt`-th delivery may be tried again.
    pub fn allows_another(&self, attempt: i32) -> bool {
        attempt < self.max_attempts
    }

    /// The delay after the `attempt`-th failed delivery (1-based).
    pub fn delay(&self, attempt: i32) -> Duration {
        let doublings = u32::try_from(attempt.saturating_sub(1))
            .unwrap_or(0)
            .min(30);
        let full = self
            .base_delay
            .saturating_mul(1 << doublings)
            .min(self.max_delay);
        let jitter = self.jitter.clamp(0.0, 1.0);
        full.mul_f64(1.0 - jitter * fastrand::f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_from_the_base_and_stop_at_the_maximum() {
        let policy = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_secs(2),
            max_delay: Duration::from_secs(60),
            jitter: 0.0,
        };
        let delays: Vec<u64> = (1..=7).map(|a| policy.delay(a).as_secs()).collect();
        assert_eq!(delays, [2, 4, 8, 16, 32, 60, 60]);
        assert!(policy.allows_another(9));
        assert!(!policy.allows_another(10));
    }

    #[test]
    fn jitter_keeps_delays_within_their_band() {
        let policy = RetryPolicy {
            jitter: 0.5,
            ..RetryPolicy::default()
        };
        for _ in 0..1_000 {
            let delay = policy.delay(3);
            assert!(
                delay <= Duration::from_secs(4) && delay >= Duration::from_secs(2),
                "{delay:?}"
            );
        }
    }
}
