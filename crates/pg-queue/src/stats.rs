//! Queue statistics for dashboards, metrics and the CLI.

use sqlx::{AssertSqlSafe, PgExecutor};

use crate::{QueueTable, Result};

/// A snapshot of one queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, sqlx::FromRow, serde::Serialize)]
pub struct QueueStats {
    /// Due now and waiting for a worker.
    pub ready: i64,
    /// Held by a worker, lease running.
    pub in_flight: i64,
    /// Claimed, but their lease has passed: their worker died or lost them (they are claimed
    /// again soon), or a batch outlived its lease. Should stay near zero.
    pub past_lease: i64,
    /// Failed, waiting for their retry time.
    pub retrying: i64,
    /// Enqueued for a later time, never attempted.
    pub scheduled: i64,
    /// In the dead-letter table.
    pub dead: i64,
    /// Age of the oldest ready message, in seconds (0 when none is ready).
    pub oldest_ready_seconds: f64,
    /// Whether claims are paused (by an operator or a handler).
    pub paused: bool,
}

/// Reads the statistics of `table` (one scan of the queue and a count of its dead letters: meant
/// for dashboards every few seconds, not for every message).
pub async fn stats(executor: impl PgExecutor<'_>, table: QueueTable) -> Result<QueueStats> {
    let sql = format!(
        "SELECT
             count(*) FILTER (WHERE run_at <= now() AND claimed_at IS NULL) AS ready,
             count(*) FILTER (WHERE run_at > now() AND claimed_at IS NOT NULL) AS in_flight,
             count(*) FILTER (WHERE run_at <= now() AND claimed_at IS NOT NULL) AS past_lease,
             count(*) FILTER (WHERE run_at > now() AND claimed_at IS NULL AND attempts > 0) AS retrying,
             count(*) FILTER (WHERE run_at > now() AND claimed_at IS NULL AND attempts = 0) AS scheduled,
             (SELECT count(*) FROM {dead}) AS dead,
             coalesce(extract(epoch FROM now() - min(run_at) FILTER (WHERE run_at <= now())), 0)::float8
                 AS oldest_ready_seconds,
             coalesce((SELECT paused_until > now() FROM {state} WHERE queue = $1), false) AS paused
         FROM {queue}",
        queue = table.sql_name(),
        dead = table.sql_dead_letters(),
        state = table.sql_state_table()
    );
    Ok(sqlx::query_as(AssertSqlSafe(sql))
        .bind(table.qualified())
        .fetch_one(executor)
        .await?)
}

/// Publishes `stats` as Prometheus gauges labelled with the queue.
pub fn record_gauges(table: QueueTable, stats: &QueueStats) {
    let queue = table.qualified();
    let gauges = [
        ("pgq_queue_ready", stats.ready as f64),
        ("pgq_queue_in_flight", stats.in_flight as f64),
        ("pgq_queue_past_lease", stats.past_lease as f64),
        ("pgq_queue_paused", f64::from(u8::from(stats.paused))),
        ("pgq_queue_retrying", stats.retrying as f64),
        ("pgq_queue_scheduled", stats.scheduled as f64),
        ("pgq_queue_dead", stats.dead as f64),
        ("pgq_queue_oldest_ready_seconds", stats.oldest_ready_seconds),
    ];
    for (name, value) in gauges {
        metrics::gauge!(name, "queue" => queue.clone()).set(value);
    }
}

/// The queues in `schema` (the tables made by `pgq.create_queue`, recognised by their comment),
/// in name order.
pub async fn discover(executor: impl PgExecutor<'_>, schema: &str) -> Result<Vec<QueueTable>> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = $1 AND c.relkind = 'r'
           AND obj_description(c.oid, 'pg_class') LIKE 'pg-queue queue consumed by %'
         ORDER BY 1",
    )
    .bind(schema)
    .fetch_all(executor)
    .await?;
    Ok(names
        .iter()
        .filter_map(|name| QueueTable::parse(&format!("{schema}.{name}")))
        .collect())
}
