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
    /// At most one *waiting* message per key: what happens when one is already waiting is up to
    /// [`EnqueueOptions::on_duplicate`]. A message that is being handled does not hold its key,
    /// so a new one is enqueued beside it. Also the handle for [`crate::consume::cancel`].
    pub dedup_key: Option<String>,
    /// What an enqueue does when a message with its dedup key is waiting.
    pub on_duplicate: OnDuplicate,
    /// Drop the message unhandled if it has not started by then (counted in
    /// `pgq_messages_expired_total`).
    pub expires_at: Option<DateTime<Utc>>,
}

/// What an enqueue does when a message with the same dedup key is waiting (ready, scheduled or
/// in backoff; not being handled).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OnDuplicate {
    /// Keep the waiting message; write nothing ([`Enqueued::Skipped`]).
    #[default]
    Skip,
    /// Re-arm it: the waiting message takes the new payload, `run_at` and expiry, and starts
    /// over with no attempts and no error ([`Enqueued::Replaced`]). Needs the consumer's rights
    /// (SELECT and UPDATE on the queue): a service re-arming its own timers.
    Replace,
}

/// What an enqueue did. Ignoring it is a compile-time warning: a skipped timer is a timer that
/// will not fire when the caller thinks.
#[must_use = "a skipped or replaced message changes what will be delivered; handle it"]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    /// A new message was written.
    Inserted,
    /// The waiting message with this dedup key was re-armed ([`OnDuplicate::Replace`]).
    Replaced,
    /// A message with this dedup key is waiting and was kept; nothing was written.
    Skipped,
}

impl Enqueued {
    /// Whether a new message was written.
    pub fn inserted(self) -> bool {
        self == Self::Inserted
    }
}

impl EnqueueOptions {
    /// Deliver at `run_at`.
    pub fn at(run_at: DateTime<Utc>) -> Self {
        Self {
            run_at: Some(run_at),
            ..Self::default()
        }
    }

    /// Sets the dedup key.
    #[must_use]
    pub fn dedup_key(mut self, key: impl Into<String>) -> Self {
        self.dedup_key = Some(key.into());
        self
    }

    /// Re-arms a waiting message with the same dedup key instead of skipping.
    #[must_use]
    pub fn replace(mut self) -> Self {
        self.on_duplicate = OnDuplicate::Replace;
        self
    }

    /// Drops the message unhandled if it has not started by `at`.
    #[must_use]
    pub fn expires_at(mut self, at: DateTime<Utc>) -> Self {
        self.expires_at = Some(at);
        self
    }
}

/// Enqueues one message for immediate delivery.
pub async fn enqueue<Q: Queue>(executor: impl PgExecutor<'_>, message: &Q) -> Result<()> {
    let sql = format!("INSERT INTO {} (payload) VALUES ($1)", Q::TABLE.sql_name());
    let payload = serde_json::to_value(message).map_err(Error::Encode)?;
    sqlx::query(AssertSqlSafe(sql))
        .bind(payload)
        .execute(executor)
        .await?;
    Ok(())
}

/// Enqueues one message with options (schedule, dedup key, expiry).
///
/// Producers hold only INSERT on a queue, so [`OnDuplicate::Skip`] uses no other right, and
/// this cannot return the new row's id.
pub async fn enqueue_with<Q: Queue>(
    executor: impl PgExecutor<'_>,
    message: &Q,
    options: EnqueueOptions,
) -> Result<Enqueued> {
    let payload = serde_json::to_value(message).map_err(Error::Encode)?;
    let replace = options.on_duplicate == OnDuplicate::Replace && options.dedup_key.is_some();
    let sql = if replace {
        // `xmax = 0` tells a fresh row from one that DO UPDATE changed.
        format!(
            "INSERT INTO {} AS q (payload, dedup_key, run_at, expires_at)
             VALUES ($1, $2, coalesce($3, now()), $4)
             ON CONFLICT (dedup_key) WHERE dedup_key IS NOT NULL AND claimed_at IS NULL
             DO UPDATE SET payload = EXCLUDED.payload, run_at = EXCLUDED.run_at,
                           expires_at = EXCLUDED.expires_at, attempts = 0, last_error = NULL,
                           enqueued_at = EXCLUDED.enqueued_at
             RETURNING (q.xmax = 0) AS inserted",
            Q::TABLE.sql_name()
        )
    } else {
        // No conflict target: naming `(dedup_key)` would need SELECT on the column, which
        // producers do not have. The only other unique index is the identity key, which cannot
        // conflict.
        format!(
            "INSERT INTO {} (payload, dedup_key, run_at, expires_at)
             VALUES ($1, $2, coalesce($3, now()), $4)
             ON CONFLICT DO NOTHING",
            Q::TABLE.sql_name()
        )
    };
    let query = sqlx::query(AssertSqlSafe(sql))
        .bind(payload)
        .bind(options.dedup_key)
        .bind(options.run_at)
        .bind(options.expires_at);
    if replace {
        let inserted: bool = sqlx::Row::try_get(&query.fetch_one(executor).await?, 0)?;
        return Ok(if inserted {
            Enqueued::Inserted
        } else {
            Enqueued::Replaced
        });
    }
    let inserted = query.execute(executor).await?.rows_affected();
    Ok(if inserted == 1 {
        Enqueued::Inserted
    } else {
        Enqueued::Skipped
    })
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
        Q::TABLE.sql_name()
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
    let expires_after = E::EXPIRES_AFTER.map(|ttl| ttl.as_secs_f64());
    // Data-modifying CTEs all run, whether or not the final SELECT reads them.
    let inserts: Vec<String> = E::SUBSCRIBERS
        .iter()
        .enumerate()
        .map(|(i, table)| {
            format!(
                "s{i} AS (INSERT INTO {} (payload, expires_at) SELECT payload, expires_at FROM event)",
                table.sql_name()
            )
        })
        .collect();
    let sql = format!(
        "WITH event AS (SELECT $1::jsonb AS payload,
                               now() + make_interval(secs => $2::float8) AS expires_at),
         {} SELECT 1",
        inserts.join(", ")
    );
    sqlx::query(AssertSqlSafe(sql))
        .bind(envelope)
        .bind(expires_after)
        .execute(executor)
        .await?;
    Ok(())
}
