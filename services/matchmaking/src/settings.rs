//! Matchmaking's own configuration (the `service` section; `MATCHMAKING_SERVICE__...`).

use std::time::Duration;

use domain::CheckinTimeout;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// How long popped players have to check in (the organization's configuration), in
    /// milliseconds; refused at start-up outside 1 s to 1 h.
    pub checkin_timeout_ms: CheckinTimeout,
    /// How long after a group is created only grouped joins are accepted.
    pub group_invite_window_secs: u32,
    pub queue_ban: QueueBanPolicy,
    /// Whether this replica runs the queue workers (timers and incoming events). Off for
    /// replicas that should only answer HTTP, and in tests that drive the queues themselves.
    pub workers: bool,
    /// Concurrent handlers per queue.
    pub worker_concurrency: usize,
    /// How often the workers publish `scrim.metricsUpdate` (when the counts changed), in
    /// milliseconds: at most once per interval across all replicas.
    pub metrics_interval_ms: u64,
    /// How often the reconciliation sweep runs (once per period across all replicas), and how
    /// overdue a timer may be before the sweep acts in its place, in seconds.
    pub reconcile_period_secs: u64,
    pub reconcile_grace_secs: u64,
    /// Seed of team and lobby generation; unset in production (tests set it to be repeatable).
    pub random_seed: Option<u64>,
}

/// The length of a queue ban: `initial + modifier × (queue bans in the last fall-off window)`.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueBanPolicy {
    pub initial_minutes: i64,
    pub modifier_minutes: i64,
    pub fall_off_days: i64,
}

impl Default for QueueBanPolicy {
    fn default() -> Self {
        Self {
            initial_minutes: 1440,
            modifier_minutes: 60,
            fall_off_days: 30,
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            checkin_timeout_ms: CheckinTimeout::DEFAULT,
            group_invite_window_secs: 120,
            queue_ban: QueueBanPolicy::default(),
            workers: true,
            worker_concurrency: 2,
            metrics_interval_ms: 250,
            reconcile_period_secs: 60,
            reconcile_grace_secs: 60,
            random_seed: None,
        }
    }
}

impl Settings {
    pub fn group_invite_window(&self) -> Duration {
        Duration::from_secs(u64::from(self.group_invite_window_secs))
    }

    pub fn reconcile_period(&self) -> Duration {
        Duration::from_secs(self.reconcile_period_secs.max(1))
    }

    pub fn reconcile_grace(&self) -> Duration {
        Duration::from_secs(self.reconcile_grace_secs)
    }

    pub fn metrics_interval(&self) -> Duration {
        Duration::from_millis(self.metrics_interval_ms.max(1))
    }
}
