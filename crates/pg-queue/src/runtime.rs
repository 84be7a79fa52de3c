//! Running several queues in one process: slots per queue, wake-ups, graceful shutdown.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::listener::{Wake, listen};
use crate::settle::{self, Release};
use crate::{Handler, Queue, QueueTable, QueueWorker, consume, dead};

/// Claims that a slot is working on, so that an aborted slot's messages can be released.
type InFlight = Arc<Mutex<HashMap<(QueueTable, usize), Vec<(i64, i32)>>>>;

type SlotFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A queue's consumer, with its type erased so that one runtime can drive many queues.
trait Slots: Send + Sync {
    fn table(&self) -> QueueTable;
    fn concurrency(&self) -> usize;
    fn poll_interval(&self) -> Duration;
    fn handler_timeout(&self) -> Duration;
    fn slot(
        self: Arc<Self>,
        index: usize,
        wake: Arc<Notify>,
        stop: CancellationToken,
        in_flight: InFlight,
    ) -> SlotFuture;
    /// The queue's dead-letter retention task, if it has one.
    fn retention(self: Arc<Self>, stop: CancellationToken) -> Option<SlotFuture>;
}

impl<Q: Queue, H: Handler<Q>> Slots for QueueWorker<Q, H> {
    fn table(&self) -> QueueTable {
        Q::TABLE
    }

    fn concurrency(&self) -> usize {
        self.options.concurrency.max(1)
    }

    fn poll_interval(&self) -> Duration {
        self.options.poll_interval
    }

    fn handler_timeout(&self) -> Duration {
        self.options.handler_timeout
    }

    fn slot(
        self: Arc<Self>,
        index: usize,
        wake: Arc<Notify>,
        stop: CancellationToken,
        in_flight: InFlight,
    ) -> SlotFuture {
        Box::pin(async move {
            let key = (Q::TABLE, index);
            let record = |claim: &[(i64, i32)]| {
                lock(&in_flight).insert(key, claim.to_vec());
            };
            // Empty claims in a row while something was due: the backoff's exponent.
            let mut empty_streak = 0_u32;
            while !stop.is_cancelled() {
                // Register for a wake-up before claiming: a notification that arrives between an
                // empty claim and the wait is then not lost.
                let notified = wake.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();

                let outcome = self.process_batch_until(&stop, &record, false).await;
                lock(&in_flight).remove(&key);
                let wait = match outcome {
                    Ok(outcome) if outcome.claimed as i64 >= self.options.batch_size => {
                        // A full batch: more may be waiting. Claim again, and bring another
                        // slot in.
                        empty_streak = 0;
                        wake.notify_one();
                        continue;
                    }
                    Ok(outcome) if !outcome.is_idle() => {
                        // A partial batch took everything due at its claim; anything committed
                        // since then sends a notification (a waiting slot wakes, or this one's
                        // registration keeps it), so no claim is spent on finding nothing.
                        empty_streak = 0;
                        self.idle_wait(0).await.0
                    }
                    Ok(_) => {
                        let (wait, something_due) = self.idle_wait(empty_streak).await;
                        empty_streak = if something_due {
                            empty_streak.saturating_add(1)
                        } else {
                            0
                        };
                        wait
                    }
                    Err(error) => {
                        tracing::warn!(queue = %Q::TABLE.qualified(), error = %error, "claiming failed; retrying after the poll interval");
                        self.options.poll_interval
                    }
                };
                tokio::select! {
                    () = &mut notified => {}
                    () = tokio::time::sleep(wait) => {}
                    () = stop.cancelled() => {}
                }
            }
        })
    }

    fn retention(self: Arc<Self>, stop: CancellationToken) -> Option<SlotFuture> {
        let retention = self.options.dead_letter_retention?;
        Some(Box::pin(async move {
            while !stop.is_cancelled() {
                match dead::purge_expired(self.pool(), Q::TABLE, retention, self.clock.now()).await
                {
                    Ok(Some(purged)) => {
                        metrics::counter!("pgq_dead_letters_purged_total", "queue" => self.label.clone())
                            .increment(purged);
                    }
                    Ok(None) => {}
                    Err(error) => {
                        tracing::warn!(queue = %self.label, error = %error, "purging old dead letters failed");
                    }
                }
                tokio::select! {
                    () = tokio::time::sleep(RETENTION_TICK) => {}
                    () = stop.cancelled() => {}
                }
            }
        }))
    }
}

/// How often a worker offers to purge old dead letters (one replica does it per period).
const RETENTION_TICK: Duration = Duration::from_secs(5 * 60);

impl<Q: Queue, H: Handler<Q>> QueueWorker<Q, H> {
    /// How long an idle slot sleeps, and whether something was due that it could not claim.
    async fn idle_wait(&self, empty_streak: u32) -> (Duration, bool) {
        let now = std::time::Instant::now();
        let (floor, until_full_scan) = self.cursor_view(now);
        let next_due = consume::seconds_until_next_due(self.pool(), Q::TABLE, floor)
            .await
            .ok()
            .flatten();
        let max_backoff = match self.options.rate_limit {
            Some(rate) => self
                .options
                .poll_interval
                .min(Duration::from_secs_f64(1.0 / rate.per_second)),
            None => self.options.poll_interval,
        };
        idle_wait(
            next_due,
            self.options.poll_interval,
            max_backoff,
            until_full_scan,
            empty_streak,
        )
    }
}

/// The first wait after an empty claim while something is due.
const FIRST_BACKOFF: Duration = Duration::from_millis(5);

/// How long an idle slot sleeps: until the next scheduled message is due, at most the poll
/// interval, and no later than the next full claim (which finds messages due before the
/// cursor's floor). When a message is already due but the claim got nothing (a running batch
/// holds it, the queue is paused or out of rate tokens), the wait doubles with each empty claim
/// up to `max_backoff`, instead of claiming nothing in a tight loop. Returns the wait and
/// whether something was due.
pub(crate) fn idle_wait(
    next_due_seconds: Option<f64>,
    poll: Duration,
    max_backoff: Duration,
    until_full_scan: Duration,
    empty_streak: u32,
) -> (Duration, bool) {
    let (wait, due) = match next_due_seconds {
        Some(seconds) if seconds > 0.0 => (Duration::from_secs_f64(seconds).min(poll), false),
        Some(_) => (
            FIRST_BACKOFF
                .saturating_mul(1 << empty_streak.min(16))
                .min(max_backoff),
            true,
        ),
        None => (poll, false),
    };
    (wait.min(until_full_scan.max(Duration::from_millis(1))), due)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The consumers of one process.
pub struct Worker {
    pool: PgPool,
    queues: Vec<Arc<dyn Slots>>,
    shutdown_deadline: Duration,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tables: Vec<String> = self.queues.iter().map(|q| q.table().qualified()).collect();
        f.debug_struct("Worker")
            .field("queues", &tables)
            .finish_non_exhaustive()
    }
}

impl Worker {
    /// A runtime whose listener connects through `pool`'s settings. Give the worker (and its
    /// [`QueueWorker`]s) a pool of its own, with a connection per slot and one to spare:
    /// service-kit's `ServiceContext::workers_pool`.
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            queues: Vec::new(),
            shutdown_deadline: Duration::from_secs(30),
        }
    }

    /// Adds a queue's consumer.
    #[must_use]
    pub fn queue<Q: Queue, H: Handler<Q>>(mut self, worker: QueueWorker<Q, H>) -> Self {
        self.queues.push(Arc::new(worker));
        self
    }

    /// How long in-flight batches get to finish after `stop` before they are abandoned (their
    /// transactions roll back and their messages are released at once).
    #[must_use]
    pub fn shutdown_deadline(mut self, deadline: Duration) -> Self {
        self.shutdown_deadline = deadline;
        self
    }

    /// Runs until `stop` is cancelled, then shuts down gracefully: no new claims, in-flight
    /// batches finish within the deadline, claimed-but-unstarted messages are released.
    pub async fn run(self, stop: CancellationToken) {
        let wakes: HashMap<QueueTable, Wake> = self
            .queues
            .iter()
            .map(|q| {
                let wake = Wake {
                    notify: Arc::new(Notify::new()),
                    poll_interval: q.poll_interval(),
                };
                (q.table(), wake)
            })
            .collect();
        let in_flight: InFlight = Arc::default();

        let listener_stop = stop.child_token();
        let listener = tokio::spawn(listen(
            self.pool.clone(),
            wakes.clone(),
            listener_stop.clone(),
        ));

        self.check_settings().await;
        let mut slots = JoinSet::new();
        for queue in &self.queues {
            for index in 0..queue.concurrency() {
                let wake = wakes[&queue.table()].notify.clone();
                slots.spawn(
                    queue
                        .clone()
                        .slot(index, wake, stop.clone(), in_flight.clone()),
                );
            }
        }
        let mut retention = JoinSet::new();
        for queue in &self.queues {
            if let Some(task) = queue.clone().retention(stop.clone()) {
                retention.spawn(task);
            }
        }

        stop.cancelled().await;
        tracing::info!("pg-queue worker stopping");
        let drained = tokio::time::timeout(self.shutdown_deadline, async {
            while slots.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!("shutdown deadline passed; abandoning in-flight batches");
            slots.abort_all();
            while slots.join_next().await.is_some() {}
            let abandoned: Vec<_> = lock(&in_flight).drain().collect();
            for ((table, _), claim) in abandoned {
                // Some may have run: they keep their attempt.
                let releases: Vec<Release> = claim
                    .iter()
                    .map(|&(id, attempt)| Release {
                        id,
                        attempt,
                        refund: false,
                        error: Some("abandoned at the worker's shutdown deadline".to_owned()),
                    })
                    .collect();
                if let Err(error) = settle::release(&self.pool, table, &releases, None).await {
                    tracing::warn!(queue = %table.qualified(), error = %error, "could not release abandoned messages; they return when their lease ends");
                }
            }
        }
        retention.abort_all();
        while retention.join_next().await.is_some() {}
        listener_stop.cancel();
        let _ = listener.await;
        tracing::info!("pg-queue worker stopped");
    }

    /// Warns about settings that would make slots wait for connections, or let the server end a
    /// handler's session before its own timeout does.
    async fn check_settings(&self) {
        let slots: usize = self.queues.iter().map(|q| q.concurrency()).sum();
        let connections = self.pool.options().get_max_connections() as usize;
        if connections < slots + 1 {
            tracing::warn!(
                slots,
                connections,
                "the workers' pool has fewer connections than slots plus one: slots will wait for connections"
            );
        }
        // pg_settings gives the value in its unit, milliseconds.
        let idle_ms: i64 = sqlx::query_scalar(
            "SELECT setting::bigint FROM pg_settings WHERE name = 'idle_in_transaction_session_timeout'",
        )
        .fetch_one(&self.pool)
        .await
        .unwrap_or(0);
        let idle_ms = idle_ms.unsigned_abs();
        for queue in &self.queues {
            if idle_ms > 0 && queue.handler_timeout() >= Duration::from_millis(idle_ms) {
                tracing::warn!(queue = %queue.table().qualified(), idle_in_transaction_session_timeout_ms = idle_ms,
                    "the handler timeout is not shorter than the server's idle-in-transaction timeout: a slow handler's session may be ended by the server first");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLL: Duration = Duration::from_secs(5);
    const FAR: Duration = Duration::from_secs(60);

    #[test]
    fn an_idle_slot_backs_off_while_a_due_message_stays_locked() {
        let waits: Vec<Duration> = (0..12)
            .map(|streak| idle_wait(Some(-1.0), POLL, POLL, FAR, streak).0)
            .collect();
        assert_eq!(waits[0], Duration::from_millis(5));
        assert!(waits.windows(2).all(|w| w[1] >= w[0]), "{waits:?}");
        assert_eq!(waits[11], POLL, "capped at the poll interval");
    }

    #[test]
    fn an_idle_slot_sleeps_until_the_next_message_is_due_or_the_poll_interval() {
        assert_eq!(
            idle_wait(Some(2.0), POLL, POLL, FAR, 0),
            (Duration::from_secs(2), false)
        );
        assert_eq!(idle_wait(Some(3_600.0), POLL, POLL, FAR, 0).0, POLL);
        assert_eq!(idle_wait(None, POLL, POLL, FAR, 0).0, POLL);
        assert_eq!(
            idle_wait(None, POLL, POLL, Duration::from_millis(300), 0).0,
            Duration::from_millis(300),
            "no later than the next full claim"
        );
    }

    #[test]
    fn a_rate_limited_queue_backs_off_no_longer_than_a_token_takes() {
        let wait = idle_wait(Some(-1.0), POLL, Duration::from_millis(20), FAR, 10).0;
        assert_eq!(wait, Duration::from_millis(20));
    }
}
