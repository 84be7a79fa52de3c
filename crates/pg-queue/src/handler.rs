//! What a consumer implements, and what it gets.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};

use crate::{Clock, Queue, QueueTable, consume};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// When a deferred message comes back, or until when a queue pauses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// This long after the worker's clock reads the verdict.
    After(Duration),
    /// At this time (a rate limit's reset time, say).
    At(DateTime<Utc>),
}

/// Why a handler did not finish a message.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HandlerError {
    /// Worth trying again later (a timeout, a conflict, a service that was down): the message is
    /// rescheduled with backoff until its attempts run out, then dead-lettered.
    #[error("retryable: {0}")]
    Retryable(#[source] BoxError),
    /// Trying again cannot help (a malformed message, a rule violated): dead-lettered at once.
    #[error("fatal: {0}")]
    Fatal(#[source] BoxError),
    /// Not now, and not the message's fault (a rate limit on its route): try again at that time
    /// without spending an attempt.
    #[error("deferred: {reason}")]
    Defer {
        when: When,
        #[source]
        reason: BoxError,
    },
    /// Nothing on this queue can succeed before then (a global rate limit): the queue pauses
    /// (every replica stops claiming), this message is deferred until the pause ends without
    /// spending an attempt, and the rest of its batch is given back unstarted.
    #[error("queue paused: {reason}")]
    PauseQueue {
        until: When,
        #[source]
        reason: BoxError,
    },
}

impl HandlerError {
    pub fn retryable(error: impl Into<BoxError>) -> Self {
        Self::Retryable(error.into())
    }

    pub fn fatal(error: impl Into<BoxError>) -> Self {
        Self::Fatal(error.into())
    }

    /// Retry after `delay` without spending an attempt (an HTTP 429's `retry_after`).
    pub fn retry_after(delay: Duration, reason: impl Into<BoxError>) -> Self {
        Self::Defer {
            when: When::After(delay),
            reason: reason.into(),
        }
    }

    /// Retry at `at` without spending an attempt.
    pub fn retry_at(at: DateTime<Utc>, reason: impl Into<BoxError>) -> Self {
        Self::Defer {
            when: When::At(at),
            reason: reason.into(),
        }
    }

    /// Pause the whole queue for `delay` (see [`HandlerError::PauseQueue`]).
    pub fn pause_queue_for(delay: Duration, reason: impl Into<BoxError>) -> Self {
        Self::PauseQueue {
            until: When::After(delay),
            reason: reason.into(),
        }
    }

    /// Pause the whole queue until `until` (see [`HandlerError::PauseQueue`]).
    pub fn pause_queue_until(until: DateTime<Utc>, reason: impl Into<BoxError>) -> Self {
        Self::PauseQueue {
            until: When::At(until),
            reason: reason.into(),
        }
    }
}

/// Database errors are usually transient (serialisation failures, timeouts, restarts).
impl From<sqlx::Error> for HandlerError {
    fn from(error: sqlx::Error) -> Self {
        Self::Retryable(Box::new(error))
    }
}

/// A queue error inside a handler (an enqueue, a lease extension): the database's are worth
/// retrying, a message that cannot be encoded is not.
impl From<crate::Error> for HandlerError {
    fn from(error: crate::Error) -> Self {
        match error {
            crate::Error::Database(error) => Self::Retryable(Box::new(error)),
            other => Self::Fatal(Box::new(other)),
        }
    }
}

/// What the worker lends a message's context so that the handler can extend its lease.
#[derive(Debug, Clone)]
pub(crate) struct LeaseHandle {
    pub pool: PgPool,
    pub table: QueueTable,
    pub clock: Arc<dyn Clock>,
    /// When the handler is cancelled; moved later by [`MessageContext::extend_lease`].
    pub deadline: Arc<Mutex<Instant>>,
}

/// The message being handled, and the transaction its acknowledgement will commit in.
#[derive(Debug)]
pub struct MessageContext<'a> {
    conn: &'a mut PgConnection,
    savepoint: bool,
    lease: LeaseHandle,
    /// The message's id in its queue.
    pub id: i64,
    /// 1 on the first delivery, 2 on the first retry...
    pub attempt: i32,
    pub enqueued_at: DateTime<Utc>,
    pub dedup_key: Option<String>,
}

impl<'a> MessageContext<'a> {
    pub(crate) fn new(
        conn: &'a mut PgConnection,
        lease: LeaseHandle,
        id: i64,
        attempt: i32,
        enqueued_at: DateTime<Utc>,
        dedup_key: Option<String>,
    ) -> Self {
        Self {
            conn,
            savepoint: false,
            lease,
            id,
            attempt,
            enqueued_at,
            dedup_key,
        }
    }

    /// The transaction in which this message's acknowledgement commits: writes made through it
    /// happen exactly once, together with the acknowledgement, or not at all. If the handler
    /// fails (or times out, or leaves the transaction aborted), they are rolled back to a
    /// savepoint taken on first use, so the other messages of the batch are unaffected.
    /// Deferred constraints are checked when the handler returns, so a violation is this
    /// message's failure rather than its batch's.
    pub async fn tx(&mut self) -> Result<&mut PgConnection, sqlx::Error> {
        if !self.savepoint {
            sqlx::query("SAVEPOINT pgq_message")
                .execute(&mut *self.conn)
                .await?;
            self.savepoint = true;
        }
        Ok(&mut *self.conn)
    }

    /// For long jobs: gives this handler `by` more time from now (its timeout moves), and
    /// moves the message's lease to at least `by` from now, so that monitoring does not count
    /// it as lost. Call it again before the new time runs out. Runs on its own pooled
    /// connection, not in the message's transaction.
    pub async fn extend_lease(&mut self, by: Duration) -> crate::Result<()> {
        let new_deadline = Instant::now() + by;
        {
            let mut deadline = self
                .lease
                .deadline
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            *deadline = (*deadline).max(new_deadline);
        }
        consume::extend_leases(
            &self.lease.pool,
            self.lease.table,
            &[(self.id, self.attempt)],
            by,
            self.lease.clock.now(),
        )
        .await?;
        Ok(())
    }

    /// Whether the handler opened the transaction (and so a savepoint exists).
    pub(crate) fn used_transaction(&self) -> bool {
        self.savepoint
    }

    pub(crate) fn connection(&mut self) -> &mut PgConnection {
        self.conn
    }
}

/// A consumer of queue `Q`. Handlers must be safe to run twice for the same message: a message
/// is redelivered when a worker dies mid-way, and effects outside the database (an HTTP call)
/// cannot be rolled back with the transaction.
///
/// A handler that takes longer than its queue's `handler_timeout` is cancelled (dropped at its
/// next `.await`) and its message retried. CPU-heavy work (parsing a replay) belongs on
/// `tokio::task::spawn_blocking`, so that the timeout can fire and other queues keep running.
pub trait Handler<Q: Queue>: Send + Sync + 'static {
    fn handle(
        &self,
        ctx: &mut MessageContext<'_>,
        message: Q,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send;
}
