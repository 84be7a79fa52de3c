//! The consumer's statements. The worker runtime uses them; they are public so that the raw-SQL
//! benchmark and operators' tools issue exactly the same SQL.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, PgConnection, PgExecutor, PgPool};

use crate::{QueueTable, Result};

/// A message taken by a claim. `attempt` is the fencing token of this claim.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Claimed {
    pub id: i64,
    pub attempt: i32,
    pub payload: serde_json::Value,
    pub dedup_key: Option<String>,
    pub enqueued_at: DateTime<Utc>,
    /// When the message became due (its `run_at` before this claim leased it).
    pub ready_at: DateTime<Utc>,
    /// The claim's own time (the database's `now()` unless a clock said otherwise).
    pub claimed_at: DateTime<Utc>,
}

/// Claims up to `limit` due messages in one statement: skips rows other claimers hold, leases
/// them until `now + lease` (they are invisible until then), and counts the attempt. The claim
/// commits on its own, so an attempt is counted even if the worker then dies.
///
/// This scans the queue's index from its start. Acknowledged messages leave dead entries at
/// the start of that index until VACUUM removes them, so a queue that only ever claims this way
/// slows down as they pile up: workers use [`claim_from`] and call this only now and then.
pub async fn claim(
    executor: impl PgExecutor<'_>,
    table: QueueTable,
    limit: i64,
    lease: Duration,
    now: Option<DateTime<Utc>>,
) -> Result<Vec<Claimed>> {
    claim_with(executor, table, limit, lease, now, None, "").await
}

/// Like [`claim`], but only messages due at or after `floor`: the index scan starts at `floor`
/// and never walks the dead entries before it. A message due before `floor` is not seen (the
/// caller's periodic [`claim`] finds it).
pub async fn claim_from(
    executor: impl PgExecutor<'_>,
    table: QueueTable,
    limit: i64,
    lease: Duration,
    now: Option<DateTime<Utc>>,
    floor: DateTime<Utc>,
) -> Result<Vec<Claimed>> {
    claim_with(executor, table, limit, lease, now, Some(floor), "").await
}

/// A worker's claim: [`claim_from`] with a floor, else [`claim`], run on a pooled connection as
/// its own statement, whose commit does not wait for its WAL to reach disk
/// (`synchronous_commit` is switched off for that statement's transaction only). One flush less
/// per batch on the delivery path, and safe for a claim:
/// - an asynchronous commit is visible at once, so an attempt still counts if the worker dies;
/// - the handling transaction commits synchronously, which flushes the WAL up to its own
///   commit, the claim's included, so a handled message's claim is always durable;
/// - a server crash can only lose claims whose handling had not committed, and their messages
///   come back as they were before the claim, to be claimed again.
///
/// It takes a pool, not any executor, because inside a caller's transaction the switch would
/// make that whole transaction asynchronous.
pub async fn worker_claim(
    pool: &PgPool,
    table: QueueTable,
    limit: i64,
    lease: Duration,
    now: Option<DateTime<Utc>>,
    floor: Option<DateTime<Utc>>,
) -> Result<Vec<Claimed>> {
    claim_with(pool, table, limit, lease, now, floor, ASYNCHRONOUS_COMMIT).await
}

/// A FROM item that switches off `synchronous_commit` for the rest of the statement's own
/// transaction (`set_config(..., is_local => true)`), evaluated once.
const ASYNCHRONOUS_COMMIT: &str =
    ", (SELECT set_config('synchronous_commit', 'off', true)) AS asynchronous_commit";

async fn claim_with(
    executor: impl PgExecutor<'_>,
    table: QueueTable,
    limit: i64,
    lease: Duration,
    now: Option<DateTime<Utc>>,
    floor: Option<DateTime<Utc>>,
    // Empty, or ASYNCHRONOUS_COMMIT.
    commit_mode: &str,
) -> Result<Vec<Claimed>> {
    // Two statement texts rather than `$4 IS NULL OR ...`: a prepared statement's generic plan
    // could not use an optional bound to start the index scan.
    let lower_bound = if floor.is_some() {
        "AND run_at >= $4"
    } else {
        ""
    };
    let sql = format!(
        "UPDATE {t} AS q
         SET run_at = coalesce($3, now()) + make_interval(secs => $2),
             attempts = q.attempts + 1,
             claimed_at = coalesce($3, now())
         FROM (SELECT id, run_at FROM {t}
               WHERE run_at <= coalesce($3, now()) {lower_bound}
               ORDER BY run_at, id
               LIMIT $1
               FOR UPDATE SKIP LOCKED) AS picked {commit_mode}
         WHERE q.id = picked.id
         RETURNING q.id, q.attempts AS attempt, q.payload, q.dedup_key, q.enqueued_at,
                   picked.run_at AS ready_at, q.claimed_at AS claimed_at",
        t = table.qualified()
    );
    let mut query = sqlx::query_as(AssertSqlSafe(sql))
        .bind(limit)
        .bind(lease.as_secs_f64())
        .bind(now);
    if let Some(floor) = floor {
        query = query.bind(floor);
    }
    let mut claimed: Vec<Claimed> = query.fetch_all(executor).await?;
    // RETURNING does not keep the scan's order; the cursor needs the last one due.
    claimed.sort_by_key(|message| (message.ready_at, message.id));
    Ok(claimed)
}

fn ids_and_attempts(messages: &[(i64, i32)]) -> (Vec<i64>, Vec<i32>) {
    messages.iter().copied().unzip()
}

/// Inside the handling transaction: locks the claimed rows this claim still owns and returns
/// their ids. A row whose lease expired and was claimed again carries a higher attempt, so it is
/// not returned (fencing).
///
/// It waits for locks rather than skipping them: a concurrent claim briefly locks rows it then
/// rejects (their `run_at` moved), and skipping those would strand our own messages until their
/// lease ends. Locking in id order keeps two batches from deadlocking.
pub async fn lock_owned(
    conn: &mut PgConnection,
    table: QueueTable,
    messages: &[(i64, i32)],
) -> Result<Vec<i64>> {
    let (ids, attempts) = ids_and_attempts(messages);
    let sql = format!(
        "SELECT q.id FROM {t} AS q
         JOIN unnest($1::bigint[], $2::int[]) AS a(id, attempts)
           ON q.id = a.id AND q.attempts = a.attempts
         ORDER BY q.id
         FOR UPDATE OF q",
        t = table.qualified()
    );
    Ok(sqlx::query_scalar(AssertSqlSafe(sql))
        .bind(ids)
        .bind(attempts)
        .fetch_all(conn)
        .await?)
}

/// Acknowledges: deletes the messages, fenced by attempt, and returns how many were deleted. A
/// late acknowledgement from a claim that lost its lease deletes nothing.
pub async fn ack(
    executor: impl PgExecutor<'_>,
    table: QueueTable,
    messages: &[(i64, i32)],
) -> Result<u64> {
    let (ids, attempts) = ids_and_attempts(messages);
    let sql = format!(
        "DELETE FROM {t} AS q USING unnest($1::bigint[], $2::int[]) AS a(id, attempts)
         WHERE q.id = a.id AND q.attempts = a.attempts",
        t = table.qualified()
    );
    Ok(sqlx::query(AssertSqlSafe(sql))
        .bind(ids)
        .bind(attempts)
        .execute(executor)
        .await?
        .rows_affected())
}

/// Reschedules failed messages (already locked by the caller) after their backoff delays.
pub async fn retry_later(
    conn: &mut PgConnection,
    table: QueueTable,
    retries: &[(i64, Duration, String)],
    now: Option<DateTime<Utc>>,
) -> Result<()> {
    if retries.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = retries.iter().map(|r| r.0).collect();
    let delays: Vec<f64> = retries.iter().map(|r| r.1.as_secs_f64()).collect();
    let errors: Vec<&str> = retries.iter().map(|r| r.2.as_str()).collect();
    let sql = format!(
        "UPDATE {t} AS q
         SET run_at = coalesce($4, now()) + make_interval(secs => a.delay),
             last_error = a.error,
             claimed_at = NULL
         FROM unnest($1::bigint[], $2::float8[], $3::text[]) AS a(id, delay, error)
         WHERE q.id = a.id",
        t = table.qualified()
    );
    sqlx::query(AssertSqlSafe(sql))
        .bind(ids)
        .bind(delays)
        .bind(errors)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
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
        t = table.qualified(),
        dead = table.dead_letters()
    );
    sqlx::query(AssertSqlSafe(sql))
        .bind(ids)
        .bind(errors)
        .execute(conn)
        .await?;
    Ok(())
}

/// Makes claimed messages visible again at once. `not_attempted` ones also get their attempt
/// back (a shutting-down worker claimed them but never started them). Fenced by attempt.
pub async fn release(
    executor: impl PgExecutor<'_>,
    table: QueueTable,
    messages: &[(i64, i32)],
    not_attempted: bool,
) -> Result<u64> {
    if messages.is_empty() {
        return Ok(0);
    }
    let (ids, attempts) = ids_and_attempts(messages);
    let sql = format!(
        "UPDATE {t} AS q
         SET run_at = now(), claimed_at = NULL,
             attempts = q.attempts - CASE WHEN $3 THEN 1 ELSE 0 END
         FROM unnest($1::bigint[], $2::int[]) AS a(id, attempts)
         WHERE q.id = a.id AND q.attempts = a.attempts",
        t = table.qualified()
    );
    Ok(sqlx::query(AssertSqlSafe(sql))
        .bind(ids)
        .bind(attempts)
        .bind(not_attempted)
        .execute(executor)
        .await?
        .rows_affected())
}

/// Cancels the pending message with this dedup key (the consumer's right: it needs DELETE).
/// Returns whether one was removed. A message being handled right now is waited for: if its
/// handler commits, there is nothing left to cancel.
pub async fn cancel(
    executor: impl PgExecutor<'_>,
    table: QueueTable,
    dedup_key: &str,
) -> Result<bool> {
    let sql = format!("DELETE FROM {} WHERE dedup_key = $1", table.qualified());
    Ok(sqlx::query(AssertSqlSafe(sql))
        .bind(dedup_key)
        .execute(executor)
        .await?
        .rows_affected()
        == 1)
}

/// Seconds until the next message becomes due (ready, scheduled, retrying or leased) by the
/// database's clock; negative when one is already due, `None` when the queue is empty.
pub async fn seconds_until_next_due(
    executor: impl PgExecutor<'_>,
    table: QueueTable,
) -> Result<Option<f64>> {
    let sql = format!(
        "SELECT extract(epoch FROM min(run_at) - now())::float8 FROM {}",
        table.qualified()
    );
    Ok(sqlx::query_scalar(AssertSqlSafe(sql))
        .fetch_one(executor)
        .await?)
}

/// Like [`seconds_until_next_due`], looking only at messages due at or after `floor` (an index
/// lookup that skips the dead entries before it).
pub async fn seconds_until_next_due_from(
    executor: impl PgExecutor<'_>,
    table: QueueTable,
    floor: DateTime<Utc>,
) -> Result<Option<f64>> {
    let sql = format!(
        "SELECT extract(epoch FROM min(run_at) - now())::float8 FROM {} WHERE run_at >= $1",
        table.qualified()
    );
    Ok(sqlx::query_scalar(AssertSqlSafe(sql))
        .bind(floor)
        .fetch_one(executor)
        .await?)
}
