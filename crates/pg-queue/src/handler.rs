//! What a consumer implements, and what it gets.

use std::future::Future;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::Queue;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why a handler did not finish a message.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Worth trying again later (a timeout, a conflict, a service that was down): the message is
    /// rescheduled with backoff until its attempts run out, then dead-lettered.
    #[error("retryable: {0}")]
    Retryable(#[source] BoxError),
    /// Trying again cannot help (a malformed message, a rule violated): dead-lettered at once.
    #[error("fatal: {0}")]
    Fatal(#[source] BoxError),
}

impl HandlerError {
    pub fn retryable(error: impl Into<BoxError>) -> Self {
        Self::Retryable(error.into())
    }

    pub fn fatal(error: impl Into<BoxError>) -> Self {
        Self::Fatal(error.into())
    }
}

/// Database errors are usually transient (serialisation failures, timeouts, restarts).
impl From<sqlx::Error> for HandlerError {
    fn from(error: sqlx::Error) -> Self {
        Self::Retryable(Box::new(error))
    }
}

/// The message being handled, and the transaction its acknowledgement will commit in.
#[derive(Debug)]
pub struct MessageContext<'a> {
    conn: &'a mut PgConnection,
    savepoint: bool,
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
        id: i64,
        attempt: i32,
        enqueued_at: DateTime<Utc>,
        dedup_key: Option<String>,
    ) -> Self {
        Self {
            conn,
            savepoint: false,
            id,
            attempt,
            enqueued_at,
            dedup_key,
        }
    }

    /// The transaction in which this message's acknowledgement commits: writes made through it
    /// happen exactly once, together with the acknowledgement, or not at all. If the handler
    /// fails, they are rolled back (to a savepoint taken on first use, so the other messages of
    /// the batch are unaffected).
    pub async fn tx(&mut self) -> Result<&mut PgConnection, sqlx::Error> {
        if !self.savepoint {
            sqlx::query("SAVEPOINT pgq_message")
                .execute(&mut *self.conn)
                .await?;
            self.savepoint = true;
        }
        Ok(&mut *self.conn)
    }

    /// Whether the handler opened the transaction (and so a savepoint exists).
    pub(crate) fn used_transaction(&self) -> bool {
        self.savepoint
    }
}

/// A consumer of queue `Q`. Handlers must be safe to run twice for the same message: a message
/// is redelivered when a worker dies mid-way, and effects outside the database (an HTTP call)
/// cannot be rolled back with the transaction.
pub trait Handler<Q: Queue>: Send + Sync + 'static {
    fn handle(
        &self,
        ctx: &mut MessageContext<'_>,
        message: Q,
    ) -> impl Future<Output = Result<(), HandlerError>> + Send;
}
