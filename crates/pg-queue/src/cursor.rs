//! Where a worker's claims start scanning.
//!
//! Acknowledged messages are deleted, and until VACUUM runs their entries stay at the start of
//! the queue's `(run_at, id)` index. A claim that scans from the start walks all of them, so
//! without this cursor a busy queue slows down for as long as vacuum does not run (measured:
//! from ~1,000 to ~170 batches/s in two minutes with autovacuum off; see docs/BENCHMARKS.md).
//!
//! So claims start at a *floor*: the `run_at` where the last claim stopped, or, once a claim has
//! drained everything due, its own time minus [`FLOOR_MARGIN`]. The index scan then starts at
//! the floor and never walks the dead prefix. Correctness does not rest on the floor: a message
//! due before it (one committed by a transaction that began more than the margin before, a lease
//! that expired, an explicit past schedule) is found by a full claim from the start, which the
//! worker makes every `full_scan_interval`, stretched to twenty times its own last duration so
//! that full claims never cost more than about 5% of the worker's time.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::consume::Claimed;

/// How far behind its own time a drained claim puts the floor: messages from transactions that
/// started up to this long before committing are still found by the floored claims.
pub const FLOOR_MARGIN: Duration = Duration::from_secs(2);

/// Full claims never take more than this share of the time (1 / 20 = 5%).
const FULL_SCAN_COST_FACTOR: u32 = 20;

/// ...but the interval between full claims is never stretched beyond this many times its
/// setting: a message due before the floor waits at most that long.
const MAX_STRETCH: u32 = 10;

#[derive(Debug)]
pub(crate) struct ClaimCursor {
    floor: Option<DateTime<Utc>>,
    next_full_scan: Instant,
}

impl Default for ClaimCursor {
    fn default() -> Self {
        Self {
            floor: None,
            next_full_scan: Instant::now(),
        }
    }
}

impl ClaimCursor {
    /// The floor for the next claim, or `None` when it must be a full claim.
    pub(crate) fn floor(&self, now: Instant) -> Option<DateTime<Utc>> {
        if now >= self.next_full_scan {
            None
        } else {
            self.floor
        }
    }

    /// How long until the next claim must be a full one.
    pub(crate) fn until_full_scan(&self, now: Instant) -> Duration {
        self.next_full_scan.saturating_duration_since(now)
    }

    /// Moves the cursor after a claim of `limit` that returned `claimed` (in due order).
    pub(crate) fn advance(
        &mut self,
        limit: i64,
        claimed: &[Claimed],
        full: bool,
        took: Duration,
        full_scan_interval: Duration,
    ) {
        if full {
            let stretched = (took * FULL_SCAN_COST_FACTOR).min(full_scan_interval * MAX_STRETCH);
            self.next_full_scan = Instant::now() + full_scan_interval.max(stretched);
        }
        let Some(last) = claimed.last() else {
            return; // Nothing due from the floor on: it stays where it is.
        };
        let next = if claimed.len() as i64 >= limit {
            // More may be due right after the last one taken.
            last.ready_at
        } else {
            // Everything due from the floor on was taken (or is being taken by a peer).
            let margin =
                chrono::Duration::from_std(FLOOR_MARGIN).unwrap_or(chrono::Duration::zero());
            last.claimed_at - margin
        };
        // Between full claims the floor only moves forward (any floor is safe; a later one
        // scans less). A full claim may move it back.
        self.floor = Some(match (self.floor, full) {
            (Some(current), false) => current.max(next),
            _ => next,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: i64, ready_at: DateTime<Utc>, claimed_at: DateTime<Utc>) -> Claimed {
        Claimed {
            id,
            attempt: 1,
            payload: serde_json::Value::Null,
            dedup_key: None,
            enqueued_at: ready_at,
            ready_at,
            claimed_at,
        }
    }

    #[test]
    fn the_first_claim_is_full_and_later_ones_start_at_the_floor() {
        let mut cursor = ClaimCursor::default();
        assert_eq!(cursor.floor(Instant::now()), None);
        let now = Utc::now();
        let batch = [
            message(1, now - chrono::Duration::seconds(30), now),
            message(2, now - chrono::Duration::seconds(20), now),
        ];
        cursor.advance(
            2,
            &batch,
            true,
            Duration::from_millis(1),
            Duration::from_secs(1),
        );
        // A full batch: the floor is the last message taken.
        assert_eq!(cursor.floor(Instant::now()), Some(batch[1].ready_at));
        // A drained batch: the claim's time minus the margin.
        cursor.advance(
            5,
            &batch[1..],
            false,
            Duration::from_millis(1),
            Duration::from_secs(1),
        );
        assert_eq!(
            cursor.floor(Instant::now()),
            Some(now - chrono::Duration::seconds(2))
        );
    }

    #[test]
    fn full_claims_come_back_after_the_interval_or_twenty_times_their_cost() {
        let mut cursor = ClaimCursor::default();
        let now = Utc::now();
        cursor.advance(
            1,
            &[message(1, now, now)],
            true,
            Duration::from_millis(200),
            Duration::from_secs(1),
        );
        let start = Instant::now();
        assert!(cursor.floor(start).is_some());
        assert!(
            cursor.floor(start + Duration::from_secs(3)).is_some(),
            "a 200 ms full claim waits 4 s"
        );
        assert_eq!(cursor.floor(start + Duration::from_secs(5)), None);
    }

    #[test]
    fn a_very_slow_full_claim_stretches_the_interval_at_most_tenfold() {
        let mut cursor = ClaimCursor::default();
        let now = Utc::now();
        cursor.advance(
            1,
            &[message(1, now, now)],
            true,
            Duration::from_secs(30),
            Duration::from_secs(1),
        );
        let start = Instant::now();
        assert_eq!(
            cursor.floor(start + Duration::from_secs(11)),
            None,
            "not the 600 s that twenty times its cost would give"
        );
    }
}
