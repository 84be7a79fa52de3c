//! Operators' and handlers' control of a queue: pause and resume. The flag lives in the
//! queue's row of its schema's `queue_state` table (made by `pgq.create_queue`), and every
//! claim of every replica checks it.

use chrono::{DateTime, Utc};
use sqlx::{AssertSqlSafe, PgExecutor};

use crate::{QueueTable, Result};

/// Pauses `table` until `until` (`None`: until [`resume`] is called). Claims of every replica
/// take nothing while it lasts; batches already running finish. A later pause replaces an
/// earlier one. Returns `false` when the queue has no control row (it was not made by
/// `pgq.create_queue`).
pub async fn pause(
    executor: impl PgExecutor<'_>,
    table: QueueTable,
    until: Option<DateTime<Utc>>,
) -> Result<bool> {
    let sql = format!(
        "UPDATE {} SET paused_until = coalesce($2::timestamptz, 'infinity') WHERE queue = $1",
        table.sql_state_table()
    );
    Ok(sqlx::query(AssertSqlSafe(sql))
        .bind(table.qualified())
        .bind(until)
        .execute(executor)
        .await?
        .rows_affected()
        == 1)
}

/// Pauses `table` until at least `until`: an existing longer pause stays (two rate-limit
/// responses at once keep the later reset time).
pub(crate) async fn pause_at_least(
    executor: impl PgExecutor<'_>,
    table: QueueTable,
    until: DateTime<Utc>,
) -> Result<()> {
    let sql = format!(
        "UPDATE {} SET paused_until = greatest(paused_until, $2) WHERE queue = $1",
        table.sql_state_table()
    );
    sqlx::query(AssertSqlSafe(sql))
        .bind(table.qualified())
        .bind(until)
        .execute(executor)
        .await?;
    Ok(())
}

/// Ends a pause at once and wakes the queue's workers. Returns `false` when the queue has no
/// control row.
pub async fn resume(executor: impl PgExecutor<'_>, table: QueueTable) -> Result<bool> {
    let sql = format!(
        "WITH resumed AS (UPDATE {} SET paused_until = NULL WHERE queue = $1 RETURNING queue)
         SELECT count(*) FROM resumed, LATERAL (SELECT pg_notify($2, '')) AS wake",
        table.sql_state_table()
    );
    let resumed: i64 = sqlx::query_scalar(AssertSqlSafe(sql))
        .bind(table.qualified())
        .bind(table.channel())
        .fetch_one(executor)
        .await?;
    Ok(resumed == 1)
}

/// Until when `table` is paused (`None`: it is not). A pause without an end reads as
/// `DateTime::<Utc>::MAX_UTC`.
pub async fn paused_until(
    executor: impl PgExecutor<'_>,
    table: QueueTable,
    now: Option<DateTime<Utc>>,
) -> Result<Option<DateTime<Utc>>> {
    let sql = format!(
        "SELECT CASE WHEN paused_until = 'infinity' THEN NULL ELSE paused_until END,
                paused_until = 'infinity'
         FROM {} WHERE queue = $1 AND paused_until > coalesce($2::timestamptz, now())",
        table.sql_state_table()
    );
    let row: Option<(Option<DateTime<Utc>>, bool)> = sqlx::query_as(AssertSqlSafe(sql))
        .bind(table.qualified())
        .bind(now)
        .fetch_optional(executor)
        .await?;
    Ok(row.map(|(until, forever)| match until {
        Some(until) if !forever => until,
        _ => DateTime::<Utc>::MAX_UTC,
    }))
}
