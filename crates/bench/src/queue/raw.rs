//! The ceiling: the statements pg-queue issues (its own `consume` functions, so the SQL is the
//! same by construction), sent in a plain loop (no handler dispatch, no payload decoding, no
//! savepoints, no cursor: each claim scans from the start, as a plain SQL consumer would).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use pg_queue::Queue;
use pg_queue::consume::{self, ClaimSpec};
use sqlx::Connection;

use super::{BenchJob, QueueArgs, QueueDb, now_us, rate};

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
                let spec = ClaimSpec::new(batch, Duration::from_secs(60), 8);
                while done.load(Ordering::SeqCst) < n {
                    let mut conn = pool.acquire().await?;
                    let claimed = consume::worker_claim(&mut conn, BenchJob::TABLE, &spec)
                        .await?
                        .claimed;
                    if claimed.is_empty() {
                        drop(conn);
                        tokio::task::yield_now().await;
                        continue;
                    }
                    let fences: Vec<(i64, i32)> =
                        claimed.iter().map(|m| (m.id, m.attempt)).collect();
                    let mut tx = conn.begin().await?;
                    consume::lock_owned(&mut tx, BenchJob::TABLE, &fences).await?;
                    let acked = consume::ack(&mut *tx, BenchJob::TABLE, &fences).await?;
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
