//! Consuming one queue: claim a batch on a connection of the worker's pool, then handle it on
//! that same connection (see `batch.rs`).

use std::marker::PhantomData;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::PgConnection;
use sqlx::PgPool;
use tokio_util::sync::CancellationToken;

use crate::consume::{self, ClaimBatch, ClaimSpec};
use crate::cursor::ClaimCursor;
use crate::{Clock, DatabaseClock, Handler, Queue, QueueOptions, Result};

/// Told the (id, attempt) pairs of every claim, so that a runtime can release them if it must
/// abandon the batch.
pub(crate) type ClaimObserver<'a> = dyn Fn(&[(i64, i32)]) + Send + Sync + 'a;

/// What one batch came to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchOutcome {
    /// Handed to this worker by the claim.
    pub claimed: usize,
    pub acked: usize,
    /// Failed, to be tried again after a backoff (or given back at once when their batch was
    /// lost through their fault).
    pub retried: usize,
    /// Deferred by their handler without spending an attempt (a rate limit).
    pub deferred: usize,
    /// Moved to the dead letters: failed for good, out of attempts (including those the claim
    /// found exhausted), or superseded by a newer message with their dedup key.
    pub dead: usize,
    /// Dropped unhandled by the claim: past their `expires_at`.
    pub expired: usize,
    /// Claimed, but the lease had already passed to another claim: left alone.
    pub fenced: usize,
    /// Claimed, but given back unhandled with their attempt refunded: the worker is stopping,
    /// the queue was paused, or their batch was lost through another message's fault.
    pub released: usize,
}

impl BatchOutcome {
    fn add(&mut self, other: BatchOutcome) {
        self.claimed += other.claimed;
        self.acked += other.acked;
        self.retried += other.retried;
        self.deferred += other.deferred;
        self.dead += other.dead;
        self.expired += other.expired;
        self.fenced += other.fenced;
        self.released += other.released;
    }

    /// Whether the claim found nothing to do at all.
    pub fn is_idle(&self) -> bool {
        self.claimed == 0 && self.dead == 0 && self.expired == 0
    }
}

/// The consumer of queue `Q` with handler `H`.
#[derive(Debug)]
pub struct QueueWorker<Q, H> {
    pub(crate) pool: PgPool,
    pub(crate) handler: Arc<H>,
    pub(crate) options: QueueOptions,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) label: String,
    cursor: Mutex<ClaimCursor>,
    _queue: PhantomData<fn() -> Q>,
}

impl<Q: Queue, H: Handler<Q>> QueueWorker<Q, H> {
    /// A consumer whose claims and batches use connections of `pool`. Give workers a pool of
    /// their own (service-kit's `ServiceContext::workers_pool`), so that busy queues never take
    /// the connections that requests need.
    pub fn new(pool: PgPool, handler: H) -> Self {
        Self {
            pool,
            handler: Arc::new(handler),
            options: QueueOptions::default(),
            clock: Arc::new(DatabaseClock),
            label: Q::TABLE.qualified(),
            cursor: Mutex::new(ClaimCursor::default()),
            _queue: PhantomData,
        }
    }

    /// Sets the options. Panics when they do not pass [`QueueOptions::validate`]: a
    /// configuration error, found at start-up.
    #[must_use]
    pub fn options(mut self, options: QueueOptions) -> Self {
        if let Err(error) = options.validate() {
            panic!("queue {}: {error}", Q::TABLE.qualified());
        }
        self.options = options;
        self
    }

    /// Uses `clock` instead of the database's (tests move time with a [`crate::ManualClock`]).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Claims one batch and handles it. Returns what happened; [`BatchOutcome::is_idle`] means
    /// nothing was due. A message's failure, or the loss of the batch's connection, is part of
    /// the outcome; an error means the claim itself failed (nothing was taken).
    pub async fn process_batch(&self) -> Result<BatchOutcome> {
        self.process_batch_until(&CancellationToken::new(), &|_| {}, true)
            .await
    }

    /// Processes batches until a claim finds nothing due (deterministic draining for tests and
    /// tools).
    pub async fn run_until_idle(&self) -> Result<BatchOutcome> {
        let mut total = BatchOutcome::default();
        loop {
            let outcome = self.process_batch().await?;
            if outcome.is_idle() {
                return Ok(total);
            }
            total.add(outcome);
        }
    }

    /// One batch; stops starting new messages once `stop` is cancelled (the rest are released).
    /// `on_claim` is told what was claimed, so a runtime that must abort can release it.
    pub(crate) async fn process_batch_until(
        &self,
        stop: &CancellationToken,
        on_claim: &ClaimObserver<'_>,
        exhaustive: bool,
    ) -> Result<BatchOutcome> {
        // One connection for the claim and the batch: a pool that is out of connections fails
        // before anything is claimed, never between the claim and its handling.
        let mut conn = self.pool.acquire().await?;
        let mut batch = self.claim(&mut conn, false).await?;
        if batch.claimed.is_empty() && exhaustive {
            // "Nothing due" must be true: check from the start of the queue.
            let full = self.claim(&mut conn, true).await?;
            batch.expired += full.expired;
            batch.exhausted += full.exhausted;
            batch.claimed = full.claimed;
        }
        let claimed_at = Instant::now();
        self.count("pgq_messages_expired_total", batch.expired);
        self.count("pgq_messages_dead_lettered_total", batch.exhausted);
        let mut outcome = BatchOutcome {
            expired: usize::try_from(batch.expired).unwrap_or(usize::MAX),
            dead: usize::try_from(batch.exhausted).unwrap_or(usize::MAX),
            ..BatchOutcome::default()
        };
        if batch.claimed.is_empty() {
            return Ok(outcome);
        }
        let fences: Vec<(i64, i32)> = batch.claimed.iter().map(|m| (m.id, m.attempt)).collect();
        on_claim(&fences);
        let handled = self
            .handle_batch(conn, batch.claimed, claimed_at, stop)
            .await;
        self.count("pgq_messages_acked_total", handled.acked as u64);
        self.count("pgq_messages_retried_total", handled.retried as u64);
        self.count("pgq_messages_deferred_total", handled.deferred as u64);
        self.count("pgq_messages_dead_lettered_total", handled.dead as u64);
        outcome.add(handled);
        Ok(outcome)
    }

    fn count(&self, name: &'static str, value: u64) {
        if value > 0 {
            metrics::counter!(name, "queue" => self.label.clone()).increment(value);
        }
    }

    /// Claims one batch, from the cursor's floor unless a full claim is due or `full`.
    async fn claim(&self, conn: &mut PgConnection, full: bool) -> Result<ClaimBatch> {
        let floor = if full {
            None
        } else {
            self.cursor().floor(Instant::now())
        };
        let spec = ClaimSpec {
            limit: self.options.batch_size,
            lease: self.options.lease,
            max_attempts: self.options.retry.max_attempts,
            now: self.clock.now(),
            floor,
            rate_limit: self.options.rate_limit,
        };
        // The statement alone is timed (the connection is already ours): the full-scan interval
        // stretches with the scan's cost, not with waits for a connection.
        let started = Instant::now();
        let batch = consume::worker_claim(conn, Q::TABLE, &spec).await?;
        self.cursor().advance(
            spec.limit,
            &batch.claimed,
            floor.is_none(),
            started.elapsed(),
            self.options.full_scan_interval,
        );
        Ok(batch)
    }

    /// The floor the next claim would use, and how long until the next full claim.
    pub(crate) fn cursor_view(
        &self,
        now: Instant,
    ) -> (Option<chrono::DateTime<chrono::Utc>>, Duration) {
        let cursor = self.cursor();
        (cursor.floor(now), cursor.until_full_scan(now))
    }

    fn cursor(&self) -> std::sync::MutexGuard<'_, ClaimCursor> {
        self.cursor
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
