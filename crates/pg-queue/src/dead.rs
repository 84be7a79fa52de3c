//! Dead letters: list, redrive, purge.

use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, PgExecutor};

use crate::{QueueTable, Result};

/// A message that failed for good.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeadLetter {
    pub id: i64,
    pub payload: serde_json::Value,
    pub dedup_key: Option<String>,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub enqueued_at: DateTime<Utc>,
    pub dead_at: DateTime<Utc>,
}

/// The oldest `limit` dead letters of `table`.
pub async fn list(
    executor: impl PgExecutor<'_>,
    table: QueueTable,
    limit: i64,
) -> Result<Vec<DeadLetter>> {
    let sql = format!(
        "SELECT id, payload, dedup_key, attempts, last_error, enqueued_at, dead_at
         FROM {} ORDER BY dead_at, id LIMIT $1",
        table.sql_dead_letters()
    );
    Ok(sqlx::query_as(AssertSqlSafe(sql))
        .bind(limit)
        .fetch_all(executor)
        .await?)
}

/// Moves dead letters back into the queue as fresh messages (attempts start again), all of them
/// when `ids` is `None`. The dedup key allows one waiting message per key: a dead letter whose
/// key is held by a waiting message stays dead, and of several dead letters with one key only
/// the newest moves (the others stay dead; nothing is lost either way). Returns how many were
/// moved.
pub async fn redrive(
    executor: impl PgExecutor<'_>,
    table: QueueTable,
    ids: Option<&[i64]>,
) -> Result<u64> {
    let sql = format!(
        "WITH chosen AS (
             SELECT DISTINCT ON (coalesce(d.dedup_key, d.id::text)) d.id
             FROM {dead} AS d
             WHERE ($1::bigint[] IS NULL OR d.id = ANY($1))
               AND (d.dedup_key IS NULL
                    OR NOT EXISTS (SELECT 1 FROM {queue} AS q
                                   WHERE q.dedup_key = d.dedup_key AND q.claimed_at IS NULL))
             ORDER BY coalesce(d.dedup_key, d.id::text), d.dead_at DESC, d.id DESC),
         moved AS (
             DELETE FROM {dead} AS d USING chosen WHERE d.id = chosen.id
             RETURNING d.payload, d.dedup_key, d.enqueued_at)
         INSERT INTO {queue} (payload, dedup_key, enqueued_at)
         SELECT payload, dedup_key, enqueued_at FROM moved",
        dead = table.sql_dead_letters(),
        queue = table.sql_name()
    );
    Ok(sqlx::query(AssertSqlSafe(sql))
        .bind(ids)
        .execute(executor)
        .await?
        .rows_affected())
}

/// The retention job: deletes the dead letters of `table` that died more than `retention`
/// ago, at most once an hour over every replica (the queue's control row records the last
/// purge, and its row lock makes concurrent replicas take turns). Returns `None` when it was
/// not this call's turn, else how many were deleted.
pub async fn purge_expired(
    executor: impl PgExecutor<'_>,
    table: QueueTable,
    retention: std::time::Duration,
    now: Option<DateTime<Utc>>,
) -> Result<Option<u64>> {
    let sql = format!(
        "WITH clock AS (SELECT coalesce($3::timestamptz, now()) AS now),
         turn AS (
             UPDATE {state} AS s SET dead_purged_at = clock.now FROM clock
             WHERE s.queue = $1
               AND (s.dead_purged_at IS NULL OR s.dead_purged_at <= clock.now - interval '1 hour')
             RETURNING 1),
         purged AS (
             DELETE FROM {dead} AS d USING clock
             WHERE EXISTS (SELECT 1 FROM turn)
               AND d.dead_at < clock.now - make_interval(secs => $2)
             RETURNING 1)
         SELECT (SELECT count(*) FROM turn), (SELECT count(*) FROM purged)",
        state = table.sql_state_table(),
        dead = table.sql_dead_letters()
    );
    let (turn, purged): (i64, i64) = sqlx::query_as(AssertSqlSafe(sql))
        .bind(table.qualified())
        .bind(retention.as_secs_f64())
        .bind(now)
        .fetch_one(executor)
        .await?;
    Ok((turn > 0).then_some(purged.unsigned_abs()))
}

/// Deletes dead letters that died before `before` (all of them when `None`). Returns how many.
pub async fn purge(
    executor: impl PgExecutor<'_>,
    table: QueueTable,
    before: Option<DateTime<Utc>>,
) -> Result<u64> {
    let sql = format!(
        "DELETE FROM {} WHERE $1::timestamptz IS NULL OR dead_at < $1",
        table.sql_dead_letters()
    );
    Ok(sqlx::query(AssertSqlSafe(sql))
        .bind(before)
        .execute(executor)
        .await?
        .rows_affected())
}
