//! Consuming one queue: claim a batch, handle each message, settle them all in one transaction.

use std::marker::PhantomData;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::FutureExt;
use sqlx::{Connection, PgPool};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::consume::{self, Claimed};
use crate::cursor::ClaimCursor;
use crate::{
    Clock, DatabaseClock, Handler, HandlerError, MessageContext, Queue, Result, RetryPolicy,
};

/// Told the (id, attempt) pairs of every claim, so that a runtime can release them if it must
/// abandon the batch.
pub(crate) type ClaimObserver<'a> = dyn Fn(&[(i64, i32)]) + Send + Sync + 'a;

/// How one queue is consumed.
#[derive(Debug, Clone)]
pub struct QueueOptions {
    /// Batches handled at once by this process (each holds one connection while it runs).
    pub concurrency: usize,
    /// Messages per claim. Messages of a batch are handled one after another in one
    /// transaction, so a larger batch trades latency for throughput.
    pub batch_size: i64,
    /// How long a claim is exclusive. A worker that dies loses its messages to another after
    /// this long; it must exceed the slowest handler.
    pub lease: Duration,
    /// The longest a ready message waits when notifications are lost.
    pub poll_interval: Duration,
    /// How often claims scan the queue from its start (see `cursor.rs`): the longest a message
    /// committed late, or due before the cursor, waits (stretched while full scans are slow).
    pub full_scan_interval: Duration,
    pub retry: RetryPolicy,
}

impl Default for QueueOptions {
    fn default() -> Self {
        Self {
            concurrency: 2,
            batch_size: 20,
            lease: Duration::from_secs(60),
            poll_interval: Duration::from_secs(5),
            full_scan_interval: Duration::from_secs(1),
            retry: RetryPolicy::default(),
        }
    }
}

/// What one batch came to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    pub claimed: usize,
    pub acked: usize,
    pub retried: usize,
    pub dead: usize,
    /// Claimed, but the lease had already passed to another claim: left alone.
    pub fenced: usize,
    /// Claimed, but released unhandled because the worker is stopping.
    pub released: usize,
}

impl BatchOutcome {
    fn add(&mut self, other: BatchOutcome) {
        self.claimed += other.claimed;
        self.acked += other.acked;
        self.retried += other.retried;
        self.dead += other.dead;
        self.fenced += other.fenced;
        self.released += other.released;
    }
}

/// The consumer of queue `Q` with handler `H`.
#[derive(Debug)]
pub struct QueueWorker<Q, H> {
    pool: PgPool,
    handler: Arc<H>,
    pub(crate) options: QueueOptions,
    clock: Arc<dyn Clock>,
    label: String,
    cursor: Mutex<ClaimCursor>,
    _queue: PhantomData<fn() -> Q>,
}

impl<Q: Queue, H: Handler<Q>> QueueWorker<Q, H> {
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

    #[must_use]
    pub fn options(mut self, options: QueueOptions) -> Self {
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

    /// Claims one batch and handles it. Returns what happened; `claimed == 0` means nothing was
    /// due.
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
            if outcome.claimed == 0 {
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
        let mut claimed = self.claim(false).await?;
        if claimed.is_empty() && exhaustive {
            // "Nothing due" must be true: check from the start of the queue.
            claimed = self.claim(true).await?;
        }
        if claimed.is_empty() {
            return Ok(BatchOutcome::default());
        }
        let fences: Vec<(i64, i32)> = claimed.iter().map(|m| (m.id, m.attempt)).collect();
        on_claim(&fences);
        let outcome = self.handle_batch(claimed, &fences, stop).await?;
        metrics::counter!("pgq_messages_acked_total", "queue" => self.label.clone())
            .increment(outcome.acked as u64);
        metrics::counter!("pgq_messages_retried_total", "queue" => self.label.clone())
            .increment(outcome.retried as u64);
        metrics::counter!("pgq_messages_dead_lettered_total", "queue" => self.label.clone())
            .increment(outcome.dead as u64);
        Ok(outcome)
    }

    /// Claims one batch, from the cursor's floor unless a full claim is due or `full`.
    async fn claim(&self, full: bool) -> Result<Vec<Claimed>> {
        let floor = if full {
            None
        } else {
            self.cursor().floor(Instant::now())
        };
        let (limit, lease, now) = (
            self.options.batch_size,
            self.options.lease,
            self.clock.now(),
        );
        let started = Instant::now();
        let claimed = consume::worker_claim(&self.pool, Q::TABLE, limit, lease, now, floor).await?;
        self.cursor().advance(
            limit,
            &claimed,
            floor.is_none(),
            started.elapsed(),
            self.options.full_scan_interval,
        );
        Ok(claimed)
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

    async fn handle_batch(
        &self,
        claimed: Vec<Claimed>,
        fences: &[(i64, i32)],
        stop: &CancellationToken,
    ) -> Result<BatchOutcome> {
        let mut outcome = BatchOutcome {
            claimed: claimed.len(),
            ..BatchOutcome::default()
        };
        let mut conn = self.pool.acquire().await?;
        let mut tx = conn.begin().await?;
        let owned: std::collections::HashSet<i64> = consume::lock_owned(&mut tx, Q::TABLE, fences)
            .await?
            .into_iter()
            .collect();

        let mut acked = Vec::new();
        let mut retries = Vec::new();
        let mut dead = Vec::new();
        let mut unstarted = Vec::new();
        for message in claimed {
            if !owned.contains(&message.id) {
                outcome.fenced += 1;
                continue;
            }
            if stop.is_cancelled() {
                unstarted.push((message.id, message.attempt));
                continue;
            }
            let (id, attempt) = (message.id, message.attempt);
            match self.handle_one(&mut tx, message).await? {
                Ok(()) => acked.push((id, attempt)),
                Err(HandlerError::Retryable(error))
                    if self.options.retry.allows_another(attempt) =>
                {
                    retries.push((id, self.options.retry.delay(attempt), error.to_string()));
                }
                Err(HandlerError::Retryable(error)) => {
                    dead.push((id, format!("attempts exhausted: {error}")));
                }
                Err(HandlerError::Fatal(error)) => dead.push((id, error.to_string())),
            }
        }

        consume::ack(&mut *tx, Q::TABLE, &acked).await?;
        consume::retry_later(&mut tx, Q::TABLE, &retries, self.clock.now()).await?;
        consume::bury(&mut tx, Q::TABLE, &dead).await?;
        consume::release(&mut *tx, Q::TABLE, &unstarted, true).await?;
        tx.commit().await?;

        outcome.acked = acked.len();
        outcome.retried = retries.len();
        outcome.dead = dead.len();
        outcome.released = unstarted.len();
        Ok(outcome)
    }

    /// Runs the handler for one message inside the batch transaction. The outer `Result` is a
    /// database failure of the batch itself; the inner one is the handler's verdict. A panic is
    /// a retryable failure, never the end of the worker.
    async fn handle_one(
        &self,
        conn: &mut sqlx::PgConnection,
        message: Claimed,
    ) -> Result<Result<(), HandlerError>> {
        let span = tracing::info_span!(
            "pgq.message",
            queue = %self.label,
            message.id = message.id,
            message.attempt = message.attempt,
        );
        let started = Instant::now();
        let mut ctx = MessageContext::new(
            conn,
            message.id,
            message.attempt,
            message.enqueued_at,
            message.dedup_key,
        );
        let verdict = match serde_json::from_value::<Q>(message.payload) {
            Err(error) => Err(HandlerError::fatal(format!(
                "cannot decode message: {error}"
            ))),
            Ok(decoded) => {
                let handled = AssertUnwindSafe(self.handler.handle(&mut ctx, decoded))
                    .catch_unwind()
                    .instrument(span.clone())
                    .await;
                match handled {
                    Ok(verdict) => verdict,
                    Err(panic) => Err(HandlerError::retryable(format!(
                        "handler panicked: {}",
                        panic_message(&panic)
                    ))),
                }
            }
        };
        metrics::histogram!("pgq_handler_duration_seconds", "queue" => self.label.clone())
            .record(started.elapsed().as_secs_f64());
        if ctx.used_transaction() {
            let statement = if verdict.is_ok() {
                "RELEASE SAVEPOINT pgq_message"
            } else {
                "ROLLBACK TO SAVEPOINT pgq_message"
            };
            sqlx::query(statement)
                .execute(&mut *ctx.tx().await?)
                .await?;
        }
        if let Err(error) = &verdict {
            span.in_scope(|| tracing::warn!(error = %error, "message handler failed"));
        }
        Ok(verdict)
    }
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic".to_owned())
}
