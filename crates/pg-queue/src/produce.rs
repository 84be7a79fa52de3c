//! Enqueueing and publishing. Every function takes the caller's executor: pass your transaction
//! and the message is sent if, and only if, that transaction commits.

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::{AssertSqlSafe, PgExecutor};

use crate::{Error, Event, Queue, Result};

/// Options of one enqueue.
#[derive(Debug, Clone, Default)]
pub struct EnqueueOptions {
    /// Deliver no earlier than this (the database's `now()` when `None`).
    pub run_at: Option<DateTime<Utc>>,
    /// At most one pending message per key: an enqueue with a key already pending is skipped.
    /// Also the handle for [`crate::cancel`].
    pub dedup_key: Option<String>,
}

impl EnqueueOptions {
    /// Deliver at `run_at`.
    pub fn at(run_at: DateTime<Utc>) -> Self {
        Self {
            run_at: Some(run_at),
            dedup_key: None,
        }
    }

    /// Sets the dedup key.
    #[must_use]
    pub fn dedup_key(mut self, key: impl Into<String>) -> Self {
        self.dedup_key = Some(key.into());
        self
    }
}

/// Enqueues one message for immediate delivery.
pub async fn enqueue<Q: Queue>(executor: impl PgExecutor<'_>, message: &Q) -> Result<()> {
    enqueue_with(executor, message, EnqueueOptions::default())
        .await
        .map(drop)
}

/// Enqueues one message. Returns `false` when a message with the same dedup key was already
/// pending, in which case nothing was written.
///
/// Producers hold only INSERT on a queue, so this cannot return the new row's id.
pub async fn enqueue_with<Q: Queue>(
    executor: impl PgExecutor<'_>,
    message: &Q,
    options: EnqueueOptions,
) -> Result<bool> {
    let payload = serde_json::to_value(message).map_err(Error::Encode)?;
    // No conflict target: naming `(dedup_key)` would need SELECT on the column, which producers
    // do not have. The only other unique index is the identity key, which cannot conflict.
    let sql = format!(
        "INSERT INTO {} (payload, dedup_key, run_at) VALUES ($1, $2, coalesce($3, now()))
         ON CONFLICT DO NOTHING",
        Q::TABLE.qualified()
    );
    let inserted = sqlx::query(AssertSqlSafe(sql))
        .bind(payload)
        .bind(options.dedup_key)
        .bind(options.run_at)
        .execute(executor)
        .await?
        .rows_affected();
    Ok(inserted == 1)
}

/// Enqueues many messages in one statement (and so one wake-up notification).
pub async fn enqueue_batch<Q: Queue>(executor: impl PgExecutor<'_>, messages: &[Q]) -> Result<u64> {
    let payloads = messages
        .iter()
        .map(serde_json::to_value)
        .collect::<Result<Vec<_>, _>>()
        .map_err(Error::Encode)?;
    let sql = format!(
        "INSERT INTO {} (payload) SELECT unnest($1::jsonb[])",
        Q::TABLE.qualified()
    );
    Ok(sqlx::query(AssertSqlSafe(sql))
        .bind(payloads)
        .execute(executor)
        .await?
        .rows_affected())
}

/// Publishes an event: one row in the queue of every subscriber of its topic, in one statement.
/// The row's payload is `{"topic": E::TOPIC, "payload": <event>}`, so a queue that receives several
/// topics can decode into an enum tagged by topic.
pub async fn publish<E: Event>(executor: impl PgExecutor<'_>, event: &E) -> Result<()> {
    if E::SUBSCRIBERS.is_empty() {
        return Ok(());
    }
    let envelope = json!({ "topic": E::TOPIC, "payload": event });
    // Data-modifying CTEs all run, whether or not the final SELECT reads them.
    let inserts: Vec<String> = E::SUBSCRIBERS
        .iter()
        .enumerate()
        .map(|(i, table)| {
            format!(
                "s{i} AS (INSERT INTO {} (payload) SELECT payload FROM event)",
                table.qualified()
            )
        })
        .collect();
    let sql = format!(
        "WITH event AS (SELECT $1::jsonb AS payload), {} SELECT 1",
        inserts.join(", ")
    );
    sqlx::query(AssertSqlSafe(sql))
        .bind(envelope)
        .execute(executor)
        .await?;
    Ok(())
}
