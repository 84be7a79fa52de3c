//! Design probes (issue 9): what other batch protocols would drain, measured with raw SQL in the
//! same run as pg-queue, pgmq and the raw baseline. None of them is what pg-queue does; each
//! says what it gives up.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use pg_queue::Queue;
use pg_queue::consume::{self, ClaimSpec};
use sqlx::Connection;

use super::{BenchJob, QueueArgs, QueueDb, rate};

/// A batch protocol under test.
#[derive(Debug, Clone, Copy)]
pub enum Design {
    /// BEGIN; SELECT ... FOR UPDATE SKIP LOCKED; DELETE; COMMIT. Counts no attempt durably: a
    /// message that kills its worker is claimed again for ever.
    OneTransaction,
    /// As `OneTransaction`, plus the cheapest durable record that makes a crash countable: a
    /// row in an unlogged table, written from a second connection after the claim and before
    /// the handlers, deleted with the acknowledgement.
    OneTransactionWithMarker,
    /// pg-queue's claim, then BEGIN; DELETE ... fenced by attempt RETURNING (lock, fence and
    /// acknowledgement in one statement); COMMIT. Failures would be re-inserted.
    DeleteFirst,
}

impl Design {
    pub fn label(self) -> &'static str {
        match self {
            Design::OneTransaction => {
                "probe: one transaction, row locks only (no durable attempt count)"
            }
            Design::OneTransactionWithMarker => {
                "probe: one transaction + crash marker from a second connection"
            }
            Design::DeleteFirst => "probe: pg-queue's claim, then fence+ack as one DELETE",
        }
    }
}

const PICK: &str = "SELECT id FROM matchmaking.bench_jobs WHERE run_at <= now()
     ORDER BY run_at, id LIMIT $1 FOR UPDATE SKIP LOCKED";
const DELETE_IDS: &str = "DELETE FROM matchmaking.bench_jobs WHERE id = ANY($1)";
const DELETE_FENCED: &str = "DELETE FROM matchmaking.bench_jobs AS q
     USING unnest($1::bigint[], $2::int[]) AS a(id, attempts)
     WHERE q.id = a.id AND q.attempts = a.attempts RETURNING q.id";

/// Drain msg/s of `n` messages with `design`.
pub async fn drain(args: &QueueArgs, n: u64, design: Design) -> anyhow::Result<f64> {
    let db = QueueDb::new().await?;
    sqlx::raw_sql(
        "CREATE UNLOGGED TABLE matchmaking.bench_started (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, ids bigint[] NOT NULL);
         GRANT SELECT, INSERT, DELETE ON matchmaking.bench_started TO matchmaking;",
    )
    .execute(&db.owner)
    .await?;
    let mut next = 0i64;
    while next < n as i64 {
        let count = 1_000.min(n as i64 - next);
        let jobs: Vec<BenchJob> = (next..next + count)
            .map(|n| BenchJob { n, sent_us: 0 })
            .collect();
        pg_queue::enqueue_batch(&db.pool, &jobs).await?;
        next += count;
    }
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
                    let acked = match design {
                        Design::OneTransaction | Design::OneTransactionWithMarker => {
                            let mut tx = conn.begin().await?;
                            let ids: Vec<i64> = sqlx::query_scalar(PICK)
                                .bind(batch)
                                .fetch_all(&mut *tx)
                                .await?;
                            if ids.is_empty() {
                                tx.rollback().await?;
                                0
                            } else {
                                let marker: Option<i64> =
                                    if let Design::OneTransactionWithMarker = design {
                                        Some(
                                            sqlx::query_scalar(
                                                "INSERT INTO matchmaking.bench_started (ids) VALUES ($1) RETURNING id",
                                            )
                                            .bind(&ids)
                                            .fetch_one(&pool)
                                            .await?,
                                        )
                                    } else {
                                        None
                                    };
                                let acked = sqlx::query(DELETE_IDS)
                                    .bind(&ids)
                                    .execute(&mut *tx)
                                    .await?
                                    .rows_affected();
                                if let Some(marker) = marker {
                                    sqlx::query("DELETE FROM matchmaking.bench_started WHERE id = $1")
                                        .bind(marker)
                                        .execute(&mut *tx)
                                        .await?;
                                }
                                tx.commit().await?;
                                acked
                            }
                        }
                        Design::DeleteFirst => {
                            let claimed = consume::worker_claim(&mut conn, BenchJob::TABLE, &spec)
                                .await?
                                .claimed;
                            if claimed.is_empty() {
                                0
                            } else {
                                let (ids, attempts): (Vec<i64>, Vec<i32>) =
                                    claimed.iter().map(|m| (m.id, m.attempt)).unzip();
                                let mut tx = conn.begin().await?;
                                let deleted: Vec<i64> = sqlx::query_scalar(DELETE_FENCED)
                                    .bind(&ids)
                                    .bind(&attempts)
                                    .fetch_all(&mut *tx)
                                    .await?;
                                tx.commit().await?;
                                deleted.len() as u64
                            }
                        }
                    };
                    drop(conn);
                    if acked == 0 {
                        tokio::task::yield_now().await;
                    }
                    done.fetch_add(acked, Ordering::SeqCst);
                }
                Ok::<(), anyhow::Error>(())
            })
        })
        .collect();
    for consumer in consumers {
        consumer.await??;
    }
    Ok(rate(n, started.elapsed()))
}
