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
use crate::{Handler, Queue, QueueTable, QueueWorker, consume};

/// Claims that a slot is working on, so that an aborted slot's messages can be released.
type InFlight = Arc<Mutex<HashMap<(QueueTable, usize), Vec<(i64, i32)>>>>;

type SlotFuture = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A queue's consumer, with its type erased so that one runtime can drive many queues.
trait Slots: Send + Sync {
    fn table(&self) -> QueueTable;
    fn concurrency(&self) -> usize;
    fn poll_interval(&self) -> Duration;
    fn slot(
        self: Arc<Self>,
        index: usize,
        wake: Arc<Notify>,
        stop: CancellationToken,
        in_flight: InFlight,
    ) -> SlotFuture;
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
            while !stop.is_cancelled() {
                // Register for a wake-up before claiming: a notification that arrives between an
                // empty claim and the wait is then not lost.
                let notified = wake.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();

                let outcome = self.process_batch_until(&stop, &record, false).await;
                lock(&in_flight).remove(&key);
                let wait = match outcome {
                    Ok(outcome) if outcome.claimed > 0 => continue,
                    Ok(_) => self.idle_wait().await,
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
}

impl<Q: Queue, H: Handler<Q>> QueueWorker<Q, H> {
    /// How long an idle slot sleeps: until the next scheduled message is due, at most the poll
    /// interval, and no later than the next full claim (which finds messages due before the
    /// cursor's floor).
    async fn idle_wait(&self) -> Duration {
        let poll = self.options.poll_interval;
        let now = std::time::Instant::now();
        let (floor, until_full_scan) = self.cursor_view(now);
        let next_due = match floor {
            Some(floor) => consume::seconds_until_next_due_from(self.pool(), Q::TABLE, floor).await,
            None => consume::seconds_until_next_due(self.pool(), Q::TABLE).await,
        };
        let wait = match next_due {
            Ok(Some(seconds)) if seconds > 0.0 => Duration::from_secs_f64(seconds).min(poll),
            Ok(Some(_)) => Duration::from_millis(1),
            Ok(None) | Err(_) => poll,
        };
        wait.min(until_full_scan.max(Duration::from_millis(1)))
    }
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
    /// A runtime whose listener connects through `pool`'s settings.
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
                if let Err(error) = consume::release(&self.pool, table, &claim, false).await {
                    tracing::warn!(queue = %table.qualified(), error = %error, "could not release abandoned messages; they return when their lease ends");
                }
            }
        }
        listener_stop.cancel();
        let _ = listener.await;
        tracing::info!("pg-queue worker stopped");
    }
}
