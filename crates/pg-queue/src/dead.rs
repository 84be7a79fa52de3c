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
        table.dead_letters()
    );
    Ok(sqlx::query_as(AssertSqlSafe(sql))
        .bind(limit)
        .fetch_all(executor)
        .await?)
}

/// Moves dead letters back into the queue as fresh messages (attempts start again), all of them
/// when `ids` is `None`. A dead letter whose dedup key is pending again stays dead (no message
/// is lost either way). Returns how many were moved.
pub async fn redrive(
    executor: impl PgExecutor<'_>,
    table: QueueTable,
    ids: Option<&[i64]>,
) -> Result<u64> {
    let sql = format!(
        "WITH moved AS (
             DELETE FROM {dead} AS d
             WHERE ($1::bigint[] IS NULL OR d.id = ANY($1))
               AND (d.dedup_key IS NULL
                    OR NOT EXISTS (SELECT 1 FROM {queue} AS q WHERE q.dedup_key = d.dedup_key))
             RETURNING d.payload, d.dedup_key, d.enqueued_at)
         INSERT INTO {queue} (payload, dedup_key, enqueued_at)
         SELECT payload, dedup_key, enqueued_at FROM moved",
        dead = table.dead_letters(),
        queue = table.qualified()
    );
    Ok(sqlx::query(AssertSqlSafe(sql))
        .bind(ids)
        .execute(executor)
        .await?
        .rows_affected())
}

/// Deletes dead letters that died before `before` (all of them when `None`). Returns how many.
pub async fn purge(
    executor: impl PgExecutor<'_>,
    table: QueueTable,
    before: Option<DateTime<Utc>>,
) -> Result<u64> {
    let sql = format!(
        "DELETE FROM {} WHERE $1::timestamptz IS NULL OR dead_at < $1",
        table.dead_letters()
    );
    Ok(sqlx::query(AssertSqlSafe(sql))
        .bind(before)
        .execute(executor)
        .await?
        .rows_affected())
}
