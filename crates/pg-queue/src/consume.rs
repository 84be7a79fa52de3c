//! The consumer's statements. The worker runtime uses them; they are public so that the raw-SQL
//! benchmark and operators' tools issue exactly the same SQL. How a batch is settled (retries,
//! dead letters, releases) is in [`crate::settle`].

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, PgConnection, PgExecutor};

use crate::{QueueTable, RateLimit, Result};

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

/// What one claim statement did.
#[derive(Debug, Clone, Default)]
pub struct ClaimBatch {
    /// Leased to the caller, in due order.
    pub claimed: Vec<Claimed>,
    /// Dropped unhandled: their `expires_at` had passed.
    pub expired: u64,
    /// Moved to the dead letters without being handled: their attempts had run out, and their
    /// last attempt never finished (its worker died, timed out or lost its batch).
    pub exhausted: u64,
}

/// What a claim takes and how.
#[derive(Debug, Clone)]
pub struct ClaimSpec {
    /// At most this many messages.
    pub limit: i64,
    /// Leased until now + this.
    pub lease: Duration,
    /// A message already attempted this often is dead-lettered instead of claimed.
    pub max_attempts: i32,
    /// The claim's time; `None`: the database's `now()`.
    pub now: Option<DateTime<Utc>>,
    /// Only messages due at or after this (an index scan that skips what lies before it).
    pub floor: Option<DateTime<Utc>>,
    /// Take a token from the queue's shared bucket for each claimed message.
    pub rate_limit: Option<RateLimit>,
}

impl ClaimSpec {
    /// A plain claim: no floor, no rate limit, the database's clock.
    pub fn new(limit: i64, lease: Duration, max_attempts: i32) -> Self {
        Self {
            limit,
            lease,
            max_attempts,
            now: None,
            floor: None,
            rate_limit: None,
        }
    }
}

const EXHAUSTED: &str = "attempts exhausted: the last attempt did not finish \
     (its worker died, timed out or lost its batch)";

/// Claims up to `spec.limit` due messages in one statement, unless the queue is paused: skips
/// rows other transactions hold, leases them until `now + lease` (they are invisible until
/// then), and counts the attempt. Due messages past their `expires_at` are dropped, and those
/// whose attempts ran out are dead-lettered, in the same statement. The statement commits on
/// its own (run it outside a transaction), so an attempt is counted even if the worker then
/// dies.
///
/// Without a floor this scans the queue's index from its start. Acknowledged messages leave
/// dead entries at the start of that index until VACUUM removes them, so workers claim from a
/// floor and scan from the start only now and then (see `cursor.rs`).
pub async fn claim(
    executor: impl PgExecutor<'_>,
    table: QueueTable,
    spec: &ClaimSpec,
) -> Result<ClaimBatch> {
    claim_with(executor, table, spec, "").await
}

/// A worker's claim: [`claim`] on the worker's own connection, outside any transaction, with a
/// commit that does not wait for its WAL to reach disk (`synchronous_commit` is switched off for
/// that statement's transaction only). One flush less per batch on the delivery path, and safe
/// for a claim:
/// - an asynchronous commit is visible at once, so an attempt still counts if the worker dies;
/// - the handling transaction commits synchronously, which flushes the WAL up to its own
///   commit, the claim's included, so a handled message's claim is always durable;
/// - a server crash can only lose claims whose handling had not committed, and their messages
///   come back as they were before the claim, to be claimed again.
///
/// Inside a caller's transaction the switch would make that whole transaction asynchronous:
/// the connection must not be in one.
pub async fn worker_claim(
    conn: &mut PgConnection,
    table: QueueTable,
    spec: &ClaimSpec,
) -> Result<ClaimBatch> {
    claim_with(conn, table, spec, ASYNCHRONOUS_COMMIT).await
}

/// A FROM item that switches off `synchronous_commit` for the rest of the statement's own
/// transaction (`set_config(..., is_local => true)`), evaluated once.
const ASYNCHRONOUS_COMMIT: &str =
    ", (SELECT set_config('synchronous_commit', 'off', true)) AS asynchronous_commit";

#[derive(sqlx::FromRow)]
struct ClaimRow {
    outcome: String,
    #[sqlx(flatten)]
    message: Claimed,
}

async fn claim_with(
    executor: impl PgExecutor<'_>,
    table: QueueTable,
    spec: &ClaimSpec,
    // Empty, or ASYNCHRONOUS_COMMIT.
    commit_mode: &str,
) -> Result<ClaimBatch> {
    // Separate statement texts rather than `$n IS NULL OR ...`: a prepared statement's generic
    // plan could not use an optional bound to start the index scan.
    let lower_bound = if spec.floor.is_some() {
        "AND run_at >= $6"
    } else {
        ""
    };
    // With a rate limit, the queue's control row is locked for the statement: concurrent
    // claimers (of every replica) take their tokens one after the other.
    let (bucket, limit, spend) = if spec.rate_limit.is_some() {
        (
            "bucket AS (
                 SELECT least($8::float8, coalesce(s.tokens, $8::float8)
                            + $7::float8 * greatest(0, extract(epoch FROM clock.now - coalesce(s.tokens_at, clock.now))))
                        AS available
                 FROM {state} AS s, clock WHERE s.queue = $5 FOR UPDATE OF s),",
            "least($1, coalesce((SELECT floor(available)::bigint FROM bucket), 0))",
            ", spent AS (
                 UPDATE {state} AS s SET tokens = (SELECT available FROM bucket) - (SELECT count(*) FROM claimed),
                                         tokens_at = (SELECT now FROM clock)
                 WHERE s.queue = $5)",
        )
    } else {
        ("", "$1", "")
    };
    let sql = format!(
        "WITH clock AS (SELECT coalesce($3::timestamptz, now()) AS now),
         {bucket}
         picked AS (
             SELECT q.id, q.run_at, q.attempts, q.expires_at <= clock.now AS expired
             FROM {t} AS q, clock
             WHERE q.run_at <= clock.now {lower_bound}
               AND NOT EXISTS (SELECT 1 FROM {state} AS s
                               WHERE s.queue = $5 AND s.paused_until > clock.now)
             ORDER BY q.run_at, q.id
             LIMIT {limit}
             FOR UPDATE OF q SKIP LOCKED),
         gone AS (
             DELETE FROM {t} AS q USING picked
             WHERE q.id = picked.id AND (picked.expired OR picked.attempts >= $4)
             RETURNING q.id, q.attempts, q.payload, q.dedup_key, q.enqueued_at, q.last_error,
                       picked.run_at AS ready_at, picked.expired),
         buried AS (
             INSERT INTO {dead} (id, payload, dedup_key, attempts, last_error, enqueued_at)
             SELECT id, payload, dedup_key, attempts,
                    '{EXHAUSTED}' || coalesce('; before that: ' || last_error, ''), enqueued_at
             FROM gone WHERE NOT coalesce(expired, false)),
         claimed AS (
             UPDATE {t} AS q
             SET run_at = clock.now + make_interval(secs => $2),
                 attempts = q.attempts + 1,
                 claimed_at = clock.now
             FROM picked, clock
             WHERE q.id = picked.id AND NOT coalesce(picked.expired, false) AND picked.attempts < $4
             RETURNING q.id, q.attempts, q.payload, q.dedup_key, q.enqueued_at,
                       picked.run_at AS ready_at, q.claimed_at)
         {spend}
         SELECT result.* FROM (
             SELECT 'claimed' AS outcome, id, attempts AS attempt, payload, dedup_key, enqueued_at,
                    ready_at, claimed_at FROM claimed
             UNION ALL
             SELECT CASE WHEN coalesce(expired, false) THEN 'expired' ELSE 'exhausted' END,
                    id, attempts, payload, dedup_key, enqueued_at, ready_at, ready_at FROM gone
         ) AS result {commit_mode}",
        t = table.sql_name(),
        dead = table.sql_dead_letters(),
        state = table.sql_state_table(),
    )
    .replace("{state}", &table.sql_state_table());
    let rate = spec.rate_limit.unwrap_or(RateLimit {
        per_second: 0.0,
        burst: 0,
    });
    let mut query = sqlx::query_as(AssertSqlSafe(sql))
        .bind(spec.limit)
        .bind(spec.lease.as_secs_f64())
        .bind(spec.now)
        .bind(spec.max_attempts)
        .bind(table.qualified())
        .bind(spec.floor);
    if spec.rate_limit.is_some() {
        query = query.bind(rate.per_second).bind(f64::from(rate.burst));
    }
    let rows: Vec<ClaimRow> = query.fetch_all(executor).await?;
    let mut batch = ClaimBatch::default();
    for row in rows {
        match row.outcome.as_str() {
            "claimed" => batch.claimed.push(row.message),
            "expired" => batch.expired += 1,
            _ => batch.exhausted += 1,
        }
    }
    // RETURNING does not keep the scan's order; handlers and the cursor need it.
    batch
        .claimed
        .sort_by_key(|message| (message.ready_at, message.id));
    Ok(batch)
}

fn ids_and_attempts(messages: &[(i64, i32)]) -> (Vec<i64>, Vec<i32>) {
    messages.iter().copied().unzip()
}

/// Inside the handling transaction: locks the claimed rows this claim still owns and returns
/// their ids, and the session's backend pid (so that a hung handler's statement can be
/// cancelled from another connection). A row whose lease expired and was claimed again carries
/// a higher attempt, so it is not returned (fencing).
///
/// The lock is `FOR KEY SHARE`: it keeps claims (`FOR UPDATE SKIP LOCKED`) and cancellations
/// away from the rows, but lets [`extend_leases`] move their `run_at` from another connection.
/// It waits for locks rather than skipping them: a concurrent claim briefly locks rows it then
/// rejects (their `run_at` moved), and skipping those would strand our own messages until their
/// lease ends. Locking in id order keeps two batches from deadlocking.
pub async fn lock_owned(
    conn: &mut PgConnection,
    table: QueueTable,
    messages: &[(i64, i32)],
) -> Result<(Vec<i64>, i32)> {
    let (ids, attempts) = ids_and_attempts(messages);
    let sql = format!(
        "SELECT q.id, pg_backend_pid() FROM {t} AS q
         JOIN unnest($1::bigint[], $2::int[]) AS a(id, attempts)
           ON q.id = a.id AND q.attempts = a.attempts
         ORDER BY q.id
         FOR KEY SHARE OF q",
        t = table.sql_name()
    );
    let rows: Vec<(i64, i32)> = sqlx::query_as(AssertSqlSafe(sql))
        .bind(ids)
        .bind(attempts)
        .fetch_all(&mut *conn)
        .await?;
    let pid = match rows.first() {
        Some((_, pid)) => *pid,
        None => {
            sqlx::query_scalar("SELECT pg_backend_pid()")
                .fetch_one(conn)
                .await?
        }
    };
    Ok((rows.into_iter().map(|(id, _)| id).collect(), pid))
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
        t = table.sql_name()
    );
    Ok(sqlx::query(AssertSqlSafe(sql))
        .bind(ids)
        .bind(attempts)
        .execute(executor)
        .await?
        .rows_affected())
}

/// Moves the lease of claimed messages to at least `by` from now (fenced by attempt). Meant for
/// a connection other than the batch's: it is compatible with the batch's `FOR KEY SHARE` lock.
pub async fn extend_leases(
    executor: impl PgExecutor<'_>,
    table: QueueTable,
    messages: &[(i64, i32)],
    by: Duration,
    now: Option<DateTime<Utc>>,
) -> Result<u64> {
    let (ids, attempts) = ids_and_attempts(messages);
    let sql = format!(
        "UPDATE {t} AS q
         SET run_at = greatest(q.run_at, coalesce($4::timestamptz, now()) + make_interval(secs => $3))
         FROM unnest($1::bigint[], $2::int[]) AS a(id, attempts)
         WHERE q.id = a.id AND q.attempts = a.attempts",
        t = table.sql_name()
    );
    Ok(sqlx::query(AssertSqlSafe(sql))
        .bind(ids)
        .bind(attempts)
        .bind(by.as_secs_f64())
        .bind(now)
        .execute(executor)
        .await?
        .rows_affected())
}

/// Cancels the messages with this dedup key that no batch is handling (the consumer's right: it
/// needs DELETE). Returns whether one was removed. It never waits for a batch in flight: a
/// message being handled right now is skipped, and its handler must re-check the state that
/// made the caller cancel (it waits for the caller's locks, then sees the change).
pub async fn cancel(
    executor: impl PgExecutor<'_>,
    table: QueueTable,
    dedup_key: &str,
) -> Result<bool> {
    let sql = format!(
        "DELETE FROM {t} AS q WHERE q.id IN (
             SELECT id FROM {t} WHERE dedup_key = $1 FOR UPDATE SKIP LOCKED)",
        t = table.sql_name()
    );
    Ok(sqlx::query(AssertSqlSafe(sql))
        .bind(dedup_key)
        .execute(executor)
        .await?
        .rows_affected()
        > 0)
}

/// Seconds until the next message becomes due (ready, scheduled, retrying or leased) by the
/// database's clock; negative when one is already due, `None` when the queue is empty. With a
/// `floor`, looks only at messages due at or after it (an index lookup that skips the dead
/// entries before it).
pub async fn seconds_until_next_due(
    executor: impl PgExecutor<'_>,
    table: QueueTable,
    floor: Option<DateTime<Utc>>,
) -> Result<Option<f64>> {
    // Two statement texts, for the same reason as the claim's.
    let lower_bound = if floor.is_some() {
        "WHERE run_at >= $1"
    } else {
        ""
    };
    let sql = format!(
        "SELECT extract(epoch FROM min(run_at) - now())::float8 FROM {} {lower_bound}",
        table.sql_name()
    );
    let mut query = sqlx::query_scalar(AssertSqlSafe(sql));
    if let Some(floor) = floor {
        query = query.bind(floor);
    }
    Ok(query.fetch_one(executor).await?)
}
