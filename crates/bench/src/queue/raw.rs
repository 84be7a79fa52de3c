//! The ceiling: the statements pg-queue issues, sent by hand with sqlx (no handler dispatch,
//! no payload decoding, no cursor: each claim scans from the start, as a plain SQL consumer
//! would).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use super::{QueueArgs, QueueDb, now_us, rate};

/// Committed asynchronously, as the library's worker claims are
/// (`pg_queue::consume::worker_claim`).
const CLAIM: &str = "UPDATE matchmaking.bench_jobs AS q
     SET run_at = now() + make_interval(secs => 60), attempts = q.attempts + 1, claimed_at = now()
     FROM (SELECT id FROM matchmaking.bench_jobs WHERE run_at <= now()
           ORDER BY run_at, id LIMIT $1 FOR UPDATE SKIP LOCKED) AS picked,
          (SELECT set_config('synchronous_commit', 'off', true)) AS asynchronous_commit
     WHERE q.id = picked.id
     RETURNING q.id, q.attempts";
const LOCK_OWNED: &str = "SELECT q.id FROM matchmaking.bench_jobs AS q
     JOIN unnest($1::bigint[], $2::int[]) AS a(id, attempts) ON q.id = a.id AND q.attempts = a.attempts
     ORDER BY q.id FOR UPDATE OF q";
const ACK: &str = "DELETE FROM matchmaking.bench_jobs AS q USING unnest($1::bigint[], $2::int[]) AS a(id, attempts)
     WHERE q.id = a.id AND q.attempts = a.attempts";
const ENQUEUE: &str = "INSERT INTO matchmaking.bench_jobs (payload) SELECT unnest($1::jsonb[])";

/// Returns (enqueue msg/s, drain msg/s).
pub async fn burn_down(args: &QueueArgs, n: u64) -> anyhow::Result<(f64, f64)> {
    let db = QueueDb::new().await?;
    let started = Instant::now();
    let mut next = 0u64;
    while next < n {
        let count = 1_000.min(n - next);
        let payloads: Vec<serde_json::Value> = (next..next + count)
            .map(|i| serde_json::json!({"n": i, "sent_us": now_us()}))
            .collect();
        sqlx::query(ENQUEUE)
            .bind(payloads)
            .execute(&db.pool)
            .await?;
        next += count;
    }
    let enqueue = started.elapsed();

    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let consumers: Vec<_> = (0..args.workers)
        .map(|_| {
            let pool = db.pool.clone();
            let done = done.clone();
            let batch = args.batch;
            tokio::spawn(async move {
                while done.load(Ordering::SeqCst) < n {
                    let claimed: Vec<(i64, i32)> =
                        sqlx::query_as(CLAIM).bind(batch).fetch_all(&pool).await?;
                    if claimed.is_empty() {
                        tokio::task::yield_now().await;
                        continue;
                    }
                    let (ids, attempts): (Vec<i64>, Vec<i32>) = claimed.into_iter().unzip();
                    let mut tx = pool.begin().await?;
                    sqlx::query(LOCK_OWNED)
                        .bind(&ids)
                        .bind(&attempts)
                        .fetch_all(&mut *tx)
                        .await?;
                    let acked = sqlx::query(ACK)
                        .bind(&ids)
                        .bind(&attempts)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    tx.commit().await?;
                    done.fetch_add(acked, Ordering::SeqCst);
                }
                Ok::<(), anyhow::Error>(())
            })
        })
        .collect();
    for consumer in consumers {
        consumer.await??;
    }
    Ok((rate(n, enqueue), rate(n, started.elapsed())))
}
