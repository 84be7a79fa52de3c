//! The `pgmq` crate (its Rust client over pgmq's SQL, installed from the crate's embedded copy
//! into a plain database: no C extension): `send_batch`, then `read_batch` + `delete_batch` with
//! the same number of consumers and batch size.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use pgmq::PGMQueueExt;
use test_db::TestDb;

use super::{QueueArgs, now_us, rate};

const QUEUE: &str = "bench_jobs";

/// Returns (enqueue msg/s, drain msg/s).
pub async fn burn_down(args: &QueueArgs, n: u64) -> anyhow::Result<(f64, f64)> {
    let test_db = TestDb::empty().await;
    let pool = test_db.admin_pool().await;
    let queue = Arc::new(PGMQueueExt::new_with_pool(pool).await);
    queue.install_sql_from_embedded().await?;
    queue.create(QUEUE).await?;

    let started = Instant::now();
    let mut next = 0u64;
    while next < n {
        let count = 1_000.min(n - next);
        let messages: Vec<serde_json::Value> = (next..next + count)
            .map(|i| serde_json::json!({"n": i, "sent_us": now_us()}))
            .collect();
        queue.send_batch(QUEUE, &messages).await?;
        next += count;
    }
    let enqueue = started.elapsed();

    let done = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let batch = i32::try_from(args.batch).unwrap_or(100);
    let consumers: Vec<_> = (0..args.workers)
        .map(|_| {
            let queue = queue.clone();
            let done = done.clone();
            tokio::spawn(async move {
                while done.load(Ordering::SeqCst) < n {
                    let messages: Vec<pgmq::Message<serde_json::Value>> =
                        queue.read_batch(QUEUE, 60, batch).await?;
                    if messages.is_empty() {
                        tokio::task::yield_now().await;
                        continue;
                    }
                    let ids: Vec<i64> = messages.iter().map(|m| m.msg_id).collect();
                    let deleted = queue.delete_batch(QUEUE, &ids).await?;
                    done.fetch_add(deleted.len() as u64, Ordering::SeqCst);
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
