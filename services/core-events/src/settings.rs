//! Core-events' own configuration (the `service` section; `CORE_EVENTS_SERVICE__...`). Who may
//! call is the shared `access` section (`CORE_EVENTS_ACCESS__...`).

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Whether this replica runs the queue workers (finalization, ratings, restriction expiries,
    /// live views). Off for replicas that only answer HTTP, and in tests that drive the queues.
    pub workers: bool,
    /// Concurrent finalizations (each holds one connection while it saves).
    pub finalization_concurrency: usize,
    /// The largest request body the API accepts, in bytes; larger ones answer 413.
    pub max_body_bytes: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            workers: true,
            finalization_concurrency: 2,
            max_body_bytes: 256 * 1024,
        }
    }
}
