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
use std::time::{Duration, Instant};

use sqlx::pool::PoolConnection;
use sqlx::{Connection, PgConnection, Postgres};
use tokio_util::sync::CancellationToken;

use crate::consume::{self, Claimed};
use crate::handler::When;
use crate::message::RECOVERY_TIMEOUT;
use crate::options::LEASE_MARGIN;
use crate::settle::{self, Release, Retry};
use crate::{Handler, HandlerError, Queue, QueueWorker, control};

use crate::worker::BatchOutcome;

/// What handling one message came to.
pub(crate) enum Step {
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
    pub(crate) async fn signal_backend(&self, function: &'static str, pid: i32) {
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
}
