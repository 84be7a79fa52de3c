//! Handling one claimed batch in one transaction.
//!
//! The transaction first locks the rows this claim still owns (fencing), then runs each
//! message's handler inside its own savepoint, then settles every message (ack, retry, defer,
//! dead-letter, release) and commits. What keeps one message from failing its neighbours:
//! - a handler's failure, timeout or panic rolls back to its savepoint only;
//! - when a handler returns Ok, its deferred constraints are checked and its savepoint is
//!   released in one round trip, so a violation or a transaction it left aborted is its own
//!   failure rather than the commit's;
//! - a handler cancelled mid-statement (timeout, panic) first has that statement cancelled on
//!   the server (`pg_cancel_backend`), so the rollback to its savepoint does not wait on it;
//! - if the batch's connection is lost all the same (or cannot be brought back in time), the
//!   connection is closed, never returned to the pool, its server session is terminated, and
//!   every claim of the batch is given back at once: the message at fault keeps its attempt and
//!   its error, the others get their attempt back.

use std::collections::HashSet;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::FutureExt;
use sqlx::pool::PoolConnection;
use sqlx::{Connection, PgConnection, Postgres};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::consume::{self, Claimed};
use crate::handler::{LeaseHandle, When};
use crate::options::LEASE_MARGIN;
use crate::settle::{self, Release, Retry};
use crate::{Handler, HandlerError, MessageContext, Queue, QueueWorker, control};

use crate::worker::BatchOutcome;

/// How long a cancelled handler's connection gets to come back before the batch is given up.
const RECOVERY_TIMEOUT: Duration = Duration::from_secs(5);

/// Checks deferred constraints (inside a savepoint that is then rolled back, so that the
/// transaction's constraint modes are left as they were) and releases the message's savepoint.
const CHECK_AND_RELEASE: &str = "SAVEPOINT pgq_check; SET CONSTRAINTS ALL IMMEDIATE; \
     ROLLBACK TO SAVEPOINT pgq_check; RELEASE SAVEPOINT pgq_message";

/// What handling one message came to.
enum Step {
    Verdict(Result<(), HandlerError>),
    /// The batch's transaction is gone (or unusable) because of this message.
    Lost {
        error: String,
        terminate: bool,
    },
}

/// The verdicts of a batch, grouped by how they settle.
#[derive(Default)]
struct Settlement {
    acked: Vec<(i64, i32)>,
    retries: Vec<Retry>,
    deferred: usize,
    dead: Vec<(i64, String)>,
    unstarted: Vec<(i64, i32)>,
}

impl<Q: Queue, H: Handler<Q>> QueueWorker<Q, H> {
    pub(crate) async fn handle_batch(
        &self,
        mut conn: PoolConnection<Postgres>,
        claimed: Vec<Claimed>,
        claimed_at: Instant,
        stop: &CancellationToken,
    ) -> BatchOutcome {
        let (outcome, clean) = self.run_batch(&mut conn, claimed, claimed_at, stop).await;
        if !clean {
            // Its session is gone or in an unknown state: never back into the pool.
            conn.close_on_drop();
        }
        outcome
    }

    /// The batch's transaction. Returns the outcome and whether the connection is clean.
    async fn run_batch(
        &self,
        conn: &mut PgConnection,
        claimed: Vec<Claimed>,
        claimed_at: Instant,
        stop: &CancellationToken,
    ) -> (BatchOutcome, bool) {
        let fences: Vec<(i64, i32)> = claimed.iter().map(|m| (m.id, m.attempt)).collect();
        let mut outcome = BatchOutcome {
            claimed: claimed.len(),
            ..BatchOutcome::default()
        };
        let mut tx = match conn.begin().await {
            Ok(tx) => tx,
            Err(error) => {
                let error = error.to_string();
                return (self.give_back(&fences, None, &error, outcome).await, false);
            }
        };
        let (owned, pid) = match consume::lock_owned(&mut tx, Q::TABLE, &fences).await {
            Ok((owned, pid)) => (owned.into_iter().collect::<HashSet<i64>>(), pid),
            Err(error) => {
                drop(tx);
                let error = error.to_string();
                return (self.give_back(&fences, None, &error, outcome).await, false);
            }
        };
        let owned_fences: Vec<(i64, i32)> = fences
            .iter()
            .copied()
            .filter(|(id, _)| owned.contains(id))
            .collect();
        outcome.fenced = fences.len() - owned_fences.len();

        let mut settlement = Settlement::default();
        let mut lease_ends = claimed_at + self.options.lease;
        let mut paused = false;
        let mut position = 0;
        for message in claimed {
            if !owned.contains(&message.id) {
                continue;
            }
            position += 1;
            let fence = (message.id, message.attempt);
            if stop.is_cancelled() || paused {
                settlement.unstarted.push(fence);
                continue;
            }
            lease_ends = self
                .keep_lease_ahead(&owned_fences[position - 1..], lease_ends)
                .await;
            match self.handle_one(&mut tx, message, pid, claimed_at).await {
                Step::Verdict(verdict) => {
                    paused |= self.classify(fence, verdict, &mut settlement).await;
                }
                Step::Lost { error, terminate } => {
                    drop(tx);
                    if terminate {
                        self.signal_backend("pg_terminate_backend", pid).await;
                    }
                    let outcome = self
                        .give_back(&owned_fences, Some(fence), &error, outcome)
                        .await;
                    return (outcome, false);
                }
            }
        }

        let failure = match self.settle(&mut tx, &settlement).await {
            Ok(superseded) => match tx.commit().await {
                Ok(()) => {
                    outcome.acked = settlement.acked.len();
                    outcome.retried = settlement.retries.len() - settlement.deferred - superseded;
                    outcome.deferred = settlement.deferred;
                    outcome.dead = settlement.dead.len() + superseded;
                    outcome.released = settlement.unstarted.len();
                    return (outcome, true);
                }
                Err(error) => error.to_string(),
            },
            Err(error) => {
                drop(tx);
                error.to_string()
            }
        };
        let outcome = self
            .lost_at_commit(&owned_fences, &settlement, &failure, outcome)
            .await;
        (outcome, false)
    }

    /// Sorts one verdict into the settlement. Returns whether the handler paused the queue.
    async fn classify(
        &self,
        (id, attempt): (i64, i32),
        verdict: Result<(), HandlerError>,
        settlement: &mut Settlement,
    ) -> bool {
        let retry = |delay, error: String, refund| Retry {
            id,
            delay,
            error,
            refund,
        };
        match verdict {
            Ok(()) => settlement.acked.push((id, attempt)),
            Err(HandlerError::Retryable(error)) if self.options.retry.allows_another(attempt) => {
                let delay = self.options.retry.delay(attempt);
                settlement
                    .retries
                    .push(retry(delay, error.to_string(), false));
            }
            Err(HandlerError::Retryable(error)) => settlement
                .dead
                .push((id, format!("attempts exhausted: {error}"))),
            Err(HandlerError::Fatal(error)) => settlement.dead.push((id, error.to_string())),
            Err(HandlerError::Defer { when, reason }) => {
                settlement.deferred += 1;
                let delay = self.delay_until(when);
                settlement
                    .retries
                    .push(retry(delay, format!("deferred: {reason}"), true));
            }
            Err(HandlerError::PauseQueue { until, reason }) => {
                let delay = self.delay_until(until);
                settlement.deferred += 1;
                settlement
                    .retries
                    .push(retry(delay, format!("queue paused: {reason}"), true));
                let until = self.time_after(delay);
                if let Err(error) = control::pause_at_least(&self.pool, Q::TABLE, until).await {
                    tracing::warn!(queue = %self.label, error = %error, "could not pause the queue");
                }
                metrics::counter!("pgq_queue_pauses_total", "queue" => self.label.clone())
                    .increment(1);
                return true;
            }
        }
        false
    }

    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now().unwrap_or_else(chrono::Utc::now)
    }

    fn delay_until(&self, when: When) -> Duration {
        match when {
            When::After(delay) => delay,
            When::At(at) => (at - self.now()).to_std().unwrap_or(Duration::ZERO),
        }
    }

    fn time_after(&self, delay: Duration) -> chrono::DateTime<chrono::Utc> {
        self.now() + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX)
    }

    /// Writes every verdict in the batch's transaction. Returns how many retries were superseded.
    async fn settle(
        &self,
        conn: &mut PgConnection,
        settlement: &Settlement,
    ) -> crate::Result<usize> {
        if !settlement.acked.is_empty() {
            consume::ack(&mut *conn, Q::TABLE, &settlement.acked).await?;
        }
        let retried =
            settle::retry_later(&mut *conn, Q::TABLE, &settlement.retries, self.clock.now())
                .await?;
        settle::bury(&mut *conn, Q::TABLE, &settlement.dead).await?;
        let unstarted: Vec<Release> = settlement
            .unstarted
            .iter()
            .map(|&(id, attempt)| Release {
                id,
                attempt,
                refund: true,
                error: None,
            })
            .collect();
        settle::release(&mut *conn, Q::TABLE, &unstarted, self.clock.now()).await?;
        Ok(usize::try_from(retried.superseded).unwrap_or(usize::MAX))
    }

    /// The batch could not commit and no message is to blame: every handled message keeps its
    /// attempt (so a message that somehow always breaks the commit still runs out of them), the
    /// unstarted ones get theirs back.
    async fn lost_at_commit(
        &self,
        owned: &[(i64, i32)],
        settlement: &Settlement,
        error: &str,
        mut outcome: BatchOutcome,
    ) -> BatchOutcome {
        tracing::warn!(queue = %self.label, error = %error, "a batch could not commit; its messages are given back");
        let releases: Vec<Release> = owned
            .iter()
            .map(|&(id, attempt)| Release {
                id,
                attempt,
                refund: settlement.unstarted.contains(&(id, attempt)),
                error: Some(format!("its batch could not commit: {error}")),
            })
            .collect();
        outcome.retried = releases.iter().filter(|r| !r.refund).count();
        outcome.released = releases.len() - outcome.retried;
        self.release_now(&releases).await;
        outcome
    }

    /// Gives every claim of a lost batch back at once. `culprit` keeps its attempt and records
    /// `error`; the others get their attempt back.
    async fn give_back(
        &self,
        fences: &[(i64, i32)],
        culprit: Option<(i64, i32)>,
        error: &str,
        mut outcome: BatchOutcome,
    ) -> BatchOutcome {
        tracing::warn!(queue = %self.label, error, "a batch lost its connection; its messages are given back");
        let releases: Vec<Release> = fences
            .iter()
            .map(|&fence| Release {
                id: fence.0,
                attempt: fence.1,
                refund: Some(fence) != culprit,
                error: (Some(fence) == culprit).then(|| error.to_owned()),
            })
            .collect();
        outcome.retried = usize::from(culprit.is_some());
        outcome.released = releases.len() - outcome.retried;
        self.release_now(&releases).await;
        outcome
    }

    async fn release_now(&self, releases: &[Release]) {
        if let Err(error) = settle::release(&self.pool, Q::TABLE, releases, self.clock.now()).await
        {
            tracing::warn!(queue = %self.label, error = %error, "could not give the messages back; they return when their lease ends");
        }
    }

    /// Before a message starts: if the batch's lease could end while it runs, moves the lease of
    /// the messages still to run (from another connection; the batch's row locks allow it).
    async fn keep_lease_ahead(&self, remaining: &[(i64, i32)], lease_ends: Instant) -> Instant {
        let needed = self.options.handler_timeout + LEASE_MARGIN;
        if lease_ends.saturating_duration_since(Instant::now()) >= needed {
            return lease_ends;
        }
        let lease = self.options.lease;
        match consume::extend_leases(&self.pool, Q::TABLE, remaining, lease, self.clock.now()).await
        {
            Ok(_) => Instant::now() + lease,
            Err(error) => {
                // The batch still holds its rows; only monitoring sees the lease run out.
                tracing::warn!(queue = %self.label, error = %error, "could not extend the batch's lease");
                lease_ends
            }
        }
    }

    /// Sends `pg_cancel_backend` or `pg_terminate_backend` to the batch's server session, from a
    /// new connection (the pool may have none to spare).
    async fn signal_backend(&self, function: &'static str, pid: i32) {
        let signal = async {
            let mut conn = PgConnection::connect_with(&self.pool.connect_options()).await?;
            let sql = format!("SELECT {function}($1)");
            let _: bool = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .bind(pid)
                .fetch_one(&mut conn)
                .await?;
            conn.close().await
        };
        match tokio::time::timeout(RECOVERY_TIMEOUT, signal).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                tracing::warn!(queue = %self.label, function, error = %error, "could not signal the batch's session");
            }
            Err(_) => {
                tracing::warn!(queue = %self.label, function, "signalling the batch's session timed out");
            }
        }
    }

    /// Runs the handler for one message inside the batch transaction, and brings the
    /// transaction back to a clean state for the next message.
    async fn handle_one(
        &self,
        conn: &mut PgConnection,
        message: Claimed,
        pid: i32,
        claimed_at: Instant,
    ) -> Step {
        let span = tracing::info_span!(
            "pgq.message",
            queue = %self.label,
            message.id = message.id,
            message.attempt = message.attempt,
        );
        // Due → start, in the clock's frame: the claim's time plus the time since the claim.
        let lag = (message.claimed_at - message.ready_at)
            .to_std()
            .unwrap_or(Duration::ZERO)
            + claimed_at.elapsed();
        metrics::histogram!("pgq_message_lag_seconds", "queue" => self.label.clone())
            .record(lag.as_secs_f64());
        let started = Instant::now();
        let deadline = Arc::new(Mutex::new(started + self.options.handler_timeout));
        let lease = LeaseHandle {
            pool: self.pool.clone(),
            table: Q::TABLE,
            clock: self.clock.clone(),
            deadline: deadline.clone(),
        };
        let mut ctx = MessageContext::new(
            conn,
            lease,
            message.id,
            message.attempt,
            message.enqueued_at,
            message.dedup_key,
        );
        // A timeout or a panic may leave a statement of the handler running on the connection.
        let mut interrupted = false;
        let mut verdict = match serde_json::from_value::<Q>(message.payload) {
            // Retried, not dead-lettered at once: during a rolling deploy the message may come
            // from a newer producer, and the newer consumer can read it.
            Err(error) => Err(HandlerError::retryable(format!(
                "cannot decode message: {error}"
            ))),
            Ok(decoded) => {
                let handled = AssertUnwindSafe(self.handler.handle(&mut ctx, decoded))
                    .catch_unwind()
                    .instrument(span.clone());
                match run_until_deadline(handled, &deadline).await {
                    Some(Ok(verdict)) => verdict,
                    Some(Err(panic)) => {
                        interrupted = true;
                        Err(HandlerError::retryable(format!(
                            "handler panicked: {}",
                            panic_message(&panic)
                        )))
                    }
                    None => {
                        interrupted = true;
                        metrics::counter!("pgq_handler_timeouts_total", "queue" => self.label.clone())
                            .increment(1);
                        Err(HandlerError::retryable(format!(
                            "handler timed out after {:?}",
                            self.options.handler_timeout
                        )))
                    }
                }
            }
        };
        metrics::histogram!("pgq_handler_duration_seconds", "queue" => self.label.clone())
            .record(started.elapsed().as_secs_f64());
        if ctx.used_transaction() {
            let conn = ctx.connection();
            if verdict.is_ok() {
                match sqlx::raw_sql(CHECK_AND_RELEASE).execute(&mut *conn).await {
                    Ok(_) => {}
                    Err(error) if is_connection_error(&error) => {
                        return Step::Lost {
                            error: format!("the batch's connection was lost: {error}"),
                            terminate: false,
                        };
                    }
                    Err(error) => {
                        verdict = Err(HandlerError::retryable(format!(
                            "the handler returned Ok but its transaction failed: {error}"
                        )));
                    }
                }
            }
            if verdict.is_err() {
                if interrupted {
                    self.signal_backend("pg_cancel_backend", pid).await;
                }
                if let Err((error, connection_lost)) = rollback_to_savepoint(conn).await {
                    return Step::Lost {
                        error: format!(
                            "{}; then its transaction could not be brought back: {error}",
                            verdict.err().map(|e| e.to_string()).unwrap_or_default()
                        ),
                        // A session that may still be alive must not keep the batch's rows.
                        terminate: !connection_lost,
                    };
                }
            }
        }
        if let Err(error) = &verdict {
            span.in_scope(|| tracing::warn!(error = %error, "message handler failed"));
        }
        Step::Verdict(verdict)
    }
}

/// Runs `future` until it finishes or the (movable) deadline passes.
async fn run_until_deadline<F: Future>(future: F, deadline: &Mutex<Instant>) -> Option<F::Output> {
    let read = || {
        *deadline
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    };
    tokio::pin!(future);
    loop {
        let until = read();
        tokio::select! {
            output = &mut future => return Some(output),
            () = tokio::time::sleep_until(until.into()) => {
                if Instant::now() >= read() {
                    return None;
                }
            }
        }
    }
}

/// Rolls the message's work back. A cancel aimed at a statement that had already ended may hit
/// the rollback itself, so a cancelled rollback is tried once more. The error says whether the
/// session is known to be gone.
async fn rollback_to_savepoint(conn: &mut PgConnection) -> Result<(), (String, bool)> {
    let attempt = async {
        for _ in 0..2 {
            match sqlx::query("ROLLBACK TO SAVEPOINT pgq_message")
                .execute(&mut *conn)
                .await
            {
                Ok(_) => return Ok(()),
                Err(sqlx::Error::Database(error)) if error.code().as_deref() == Some("57014") => {}
                Err(error) => return Err((error.to_string(), is_connection_error(&error))),
            }
        }
        Err(("the rollback was cancelled twice".to_owned(), false))
    };
    match tokio::time::timeout(RECOVERY_TIMEOUT, attempt).await {
        Ok(result) => result,
        Err(_) => Err((format!("no answer within {RECOVERY_TIMEOUT:?}"), false)),
    }
}

/// Whether `error` means the session is gone (as opposed to a statement that failed in it).
fn is_connection_error(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(error) => error
            .code()
            .is_some_and(|code| code.starts_with("08") || code.starts_with("57P")),
        _ => true,
    }
}

pub(crate) fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic".to_owned())
}
