//! Whose clock decides when a message is due.

use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};

/// The time source for claims and schedules.
///
/// In production the database's clock decides ([`DatabaseClock`] returns `None`, and the SQL uses
/// `now()`), so replicas with skewed clocks agree. Tests use a [`ManualClock`] to move time
/// forward without sleeping: lease expiry, retry backoff and schedules then happen on command.
pub trait Clock: Send + Sync + std::fmt::Debug + 'static {
    /// The current time, or `None` to use the database's `now()`.
    fn now(&self) -> Option<DateTime<Utc>>;
}

/// Uses the database server's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct DatabaseClock;

impl Clock for DatabaseClock {
    fn now(&self) -> Option<DateTime<Utc>> {
        None
    }
}

/// A clock that stands still until told to move (for tests).
#[derive(Debug)]
pub struct ManualClock {
    now: Mutex<DateTime<Utc>>,
}

impl ManualClock {
    /// Starts at the current wall-clock time.
    pub fn new() -> Self {
        Self {
            now: Mutex::new(Utc::now()),
        }
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let mut now = self
            .now
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *now += chrono::Duration::from_std(by).unwrap_or(chrono::Duration::MAX);
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Option<DateTime<Utc>> {
        Some(
            *self
                .now
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }
}
