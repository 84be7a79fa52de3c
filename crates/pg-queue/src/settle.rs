//! Settling messages that were not acknowledged: retries, deferrals, dead letters and releases.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, PgConnection, PgExecutor};

use crate::{QueueTable, Result};

/// A message to try again later.
#[derive(Debug, Clone)]
pub struct Retry {
    pub id: i64,
    pub delay: Duration,
    pub error: String,
    /// Give the attempt back (a deferral is not the message's failure).
    pub refund: bool,
}

/// What [`retry_later`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retried {
    pub retried: u64,
    /// Dead-lettered instead: a newer message with the same dedup key was enqueued while this
    /// one was being handled, and the key allows one waiting message.
    pub superseded: u64,
}

/// The rows of `r` (the messages about to wait again) whose dedup key is held by a waiting
/// message, or by a newer message of `r` itself: only one of them may wait.
const SUPERSEDED: &str = "SELECT q.id FROM {t} AS q JOIN r ON r.id = q.id
     WHERE q.dedup_key IS NOT NULL
       AND (EXISTS (SELECT 1 FROM {t} AS w
                    WHERE w.dedup_key = q.dedup_key AND w.claimed_at IS NULL AND w.id <> q.id)
            OR EXISTS (SELECT 1 FROM r AS r2 JOIN {t} AS w2 ON w2.id = r2.id
                       WHERE w2.dedup_key = q.dedup_key AND w2.id > q.id))";

/// Reschedules failed messages (already locked by the caller) after their delays. A message
/// whose dedup key is now held by a newer waiting message is superseded: it goes to the dead
/// letters, where nothing is lost, rather than waiting beside the newer one.
pub async fn retry_later(
    conn: &mut PgConnection,
    table: QueueTable,
    retries: &[Retry],
    now: Option<DateTime<Utc>>,
) -> Result<Retried> {
    if retries.is_empty() {
        return Ok(Retried::default());
    }
    let ids: Vec<i64> = retries.iter().map(|r| r.id).collect();
    let delays: Vec<f64> = retries.iter().map(|r| r.delay.as_secs_f64()).collect();
    let errors: Vec<&str> = retries.iter().map(|r| r.error.as_str()).collect();
    let refunds: Vec<i32> = retries.iter().map(|r| i32::from(r.refund)).collect();
    let sql = format!(
        "WITH r AS (SELECT * FROM unnest($1::bigint[], $2::float8[], $3::text[], $4::int[])
                        AS r(id, delay, error, refund)),
         superseded AS ({SUPERSEDED}),
         moved AS (
             DELETE FROM {t} AS q USING superseded, r
             WHERE q.id = superseded.id AND r.id = q.id
             RETURNING q.id, q.payload, q.dedup_key, q.attempts, r.error, q.enqueued_at),
         buried AS (
             INSERT INTO {dead} (id, payload, dedup_key, attempts, last_error, enqueued_at)
             SELECT id, payload, dedup_key, attempts,
                    'superseded by a newer message with the same dedup key; last error: ' || error,
                    enqueued_at
             FROM moved),
         retried AS (
             UPDATE {t} AS q
             SET run_at = coalesce($5::timestamptz, now()) + make_interval(secs => r.delay),
                 last_error = r.error,
                 attempts = q.attempts - r.refund,
                 claimed_at = NULL
             FROM r
             WHERE q.id = r.id AND q.id NOT IN (SELECT id FROM superseded)
             RETURNING q.id)
         SELECT (SELECT count(*) FROM retried), (SELECT count(*) FROM moved)",
        t = table.sql_name(),
        dead = table.sql_dead_letters(),
    )
    .replace("{t}", &table.sql_name());
    let (retried, superseded): (i64, i64) = sqlx::query_as(AssertSqlSafe(sql))
        .bind(ids)
        .bind(delays)
        .bind(errors)
        .bind(refunds)
        .bind(now)
        .fetch_one(conn)
        .await?;
    Ok(Retried {
        retried: retried.unsigned_abs(),
        superseded: superseded.unsigned_abs(),
    })
}

/// Moves messages (already locked by the caller) into the dead-letter table, atomically, with
/// their last error and attempt count.
pub async fn bury(
    conn: &mut PgConnection,
    table: QueueTable,
    dead: &[(i64, String)],
) -> Result<()> {
    if dead.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = dead.iter().map(|d| d.0).collect();
    let errors: Vec<&str> = dead.iter().map(|d| d.1.as_str()).collect();
    let sql = format!(
        "WITH failed AS (SELECT * FROM unnest($1::bigint[], $2::text[]) AS a(id, error)),
         moved AS (
             DELETE FROM {t} AS q USING failed
             WHERE q.id = failed.id
             RETURNING q.id, q.payload, q.dedup_key, q.attempts, failed.error, q.enqueued_at)
         INSERT INTO {dead} (id, payload, dedup_key, attempts, last_error, enqueued_at)
         SELECT * FROM moved",
        t = table.sql_name(),
        dead = table.sql_dead_letters()
    );
    sqlx::query(AssertSqlSafe(sql))
        .bind(ids)
        .bind(errors)
        .execute(conn)
        .await?;
    Ok(())
}

/// A claimed message to make visible again at once.
#[derive(Debug, Clone)]
pub struct Release {
    pub id: i64,
    pub attempt: i32,
    /// Give the attempt back: the message did not fail (it never started, or its batch was
    /// lost through another message's fault).
    pub refund: bool,
    /// Recorded as its last error (the message whose failure lost the batch).
    pub error: Option<String>,
}

/// Makes claimed messages visible again at once, fenced by attempt. A message whose dedup key
/// was taken by a newer waiting message meanwhile is superseded (dead-lettered) instead. Returns
/// how many were released or superseded.
pub async fn release(
    executor: impl PgExecutor<'_>,
    table: QueueTable,
    messages: &[Release],
    now: Option<DateTime<Utc>>,
) -> Result<u64> {
    if messages.is_empty() {
        return Ok(0);
    }
    let ids: Vec<i64> = messages.iter().map(|m| m.id).collect();
    let attempts: Vec<i32> = messages.iter().map(|m| m.attempt).collect();
    let refunds: Vec<i32> = messages.iter().map(|m| i32::from(m.refund)).collect();
    let errors: Vec<Option<&str>> = messages.iter().map(|m| m.error.as_deref()).collect();
    let sql = format!(
        "WITH r AS (
             SELECT a.* FROM unnest($1::bigint[], $2::int[], $3::int[], $4::text[])
                 AS a(id, attempts, refund, error)
             JOIN {t} AS q ON q.id = a.id AND q.attempts = a.attempts),
         superseded AS ({SUPERSEDED}),
         moved AS (
             DELETE FROM {t} AS q USING superseded, r
             WHERE q.id = superseded.id AND r.id = q.id
             RETURNING q.id, q.payload, q.dedup_key, q.attempts, q.last_error, q.enqueued_at),
         buried AS (
             INSERT INTO {dead} (id, payload, dedup_key, attempts, last_error, enqueued_at)
             SELECT id, payload, dedup_key, attempts,
                    'superseded by a newer message with the same dedup key'
                        || coalesce('; last error: ' || last_error, ''),
                    enqueued_at
             FROM moved),
         released AS (
             UPDATE {t} AS q
             SET run_at = coalesce($5::timestamptz, now()), claimed_at = NULL,
                 attempts = q.attempts - r.refund,
                 last_error = coalesce(r.error, q.last_error)
             FROM r
             WHERE q.id = r.id AND q.id NOT IN (SELECT id FROM superseded)
             RETURNING q.id)
         SELECT (SELECT count(*) FROM released) + (SELECT count(*) FROM moved)",
        t = table.sql_name(),
        dead = table.sql_dead_letters(),
    )
    .replace("{t}", &table.sql_name());
    let settled: i64 = sqlx::query_scalar(AssertSqlSafe(sql))
        .bind(ids)
        .bind(attempts)
        .bind(refunds)
        .bind(errors)
        .bind(now)
        .fetch_one(executor)
        .await?;
    Ok(settled.unsigned_abs())
}
