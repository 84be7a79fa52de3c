//! pg-queue itself, used the way a service uses it: `enqueue_batch` / `enqueue` in the
//! producer's transaction, the `Worker` runtime consuming.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use pg_queue::{QueueOptions, QueueWorker, Worker};
use tokio_util::sync::CancellationToken;

use super::{BenchJob, Counter, Counting, QueueArgs, QueueDb, now_us, rate};

fn options(args: &QueueArgs, batch: i64) -> QueueOptions {
    QueueOptions {
        concurrency: args.workers,
        batch_size: batch,
        ..QueueOptions::default()
    }
}

fn start(
    db: &QueueDb,
    counter: &Arc<Counter>,
    options: QueueOptions,
) -> (CancellationToken, tokio::task::JoinHandle<()>) {
    let worker = Worker::new(db.pool.clone())
        .queue(QueueWorker::new(db.pool.clone(), Counting(counter.clone())).options(options));
    let stop = CancellationToken::new();
    let handle = tokio::spawn(worker.run(stop.clone()));
    (stop, handle)
}

async fn fill(db: &QueueDb, n: u64) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let mut next = 0i64;
    while next < n as i64 {
        let count = 1_000.min(n as i64 - next);
        let jobs: Vec<BenchJob> = (next..next + count)
            .map(|n| BenchJob {
                n,
                sent_us: now_us(),
            })
            .collect();
        pg_queue::enqueue_batch(&db.pool, &jobs).await?;
        next += count;
    }
    Ok(started.elapsed())
}

/// Returns (enqueue msg/s, drain msg/s).
pub async fn burn_down(args: &QueueArgs, n: u64) -> anyhow::Result<(f64, f64)> {
    let db = QueueDb::new().await?;
    let enqueue = fill(&db, n).await?;
    let counter = Counter::new(n, false);
    let started = Instant::now();
    let (stop, handle) = start(&db, &counter, options(args, args.batch));
    counter.done.notified().await;
    let drain = started.elapsed();
    stop.cancel();
    handle.await?;
    Ok((rate(n, enqueue), rate(n, drain)))
}

/// Producers at `per_second` (one message per transaction) for `secs`; returns the number
/// delivered and the latency histogram (microseconds).
pub async fn steady(
    args: &QueueArgs,
    per_second: u64,
    secs: u64,
) -> anyhow::Result<(u64, Histogram<u64>)> {
    let db = QueueDb::new().await?;
    let counter = Counter::new(u64::MAX, true);
    // Latency, not throughput: small claims, as a service would configure.
    let (stop, handle) = start(&db, &counter, options(args, 20));
    let producers = per_second.div_ceil(500).max(1);
    let interval = Duration::from_secs_f64(producers as f64 / per_second as f64);
    let deadline = Instant::now() + Duration::from_secs(secs);
    let tasks: Vec<_> = (0..producers)
        .map(|p| {
            let pool = db.pool.clone();
            tokio::spawn(async move {
                let mut ticks = tokio::time::interval(interval);
                ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                let mut n = 0i64;
                while Instant::now() < deadline {
                    ticks.tick().await;
                    let mut tx = pool.begin().await?;
                    pg_queue::enqueue(
                        &mut *tx,
                        &BenchJob {
                            n: p as i64 * 1_000_000_000 + n,
                            sent_us: now_us(),
                        },
                    )
                    .await?;
                    tx.commit().await?;
                    n += 1;
                }
                Ok::<u64, anyhow::Error>(n as u64)
            })
        })
        .collect();
    let mut sent = 0;
    for task in tasks {
        sent += task.await??;
    }
    // Let the last messages arrive (bounded).
    for _ in 0..200 {
        if counter.handled.load(Ordering::SeqCst) >= sent {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    stop.cancel();
    handle.await?;
    Ok((
        counter.handled.load(Ordering::SeqCst),
        counter.latency().unwrap_or_else(super::histogram),
    ))
}

/// Claim+ack throughput of `measured` messages while `waiting` are queued.
pub async fn backlog(args: &QueueArgs, waiting: u64, measured: u64) -> anyhow::Result<f64> {
    let db = QueueDb::new().await?;
    db.reset().await?;
    sqlx::query(
        "INSERT INTO matchmaking.bench_jobs (payload)
         SELECT jsonb_build_object('n', g, 'sent_us', 0) FROM generate_series(1, $1) AS g",
    )
    .bind(i64::try_from(waiting)?)
    .execute(&db.owner)
    .await?;
    sqlx::query("VACUUM ANALYZE matchmaking.bench_jobs")
        .execute(&db.owner)
        .await?;
    let counter = Counter::new(measured, false);
    let started = Instant::now();
    let (stop, handle) = start(&db, &counter, options(args, args.batch));
    counter.done.notified().await;
    let elapsed = started.elapsed();
    stop.cancel();
    handle.await?;
    Ok(rate(measured, elapsed))
}

pub struct Window {
    pub rate: f64,
    pub depth: i64,
    pub dead: i64,
}

/// Producers (two, 100 messages per transaction, as fast as they can while fewer than 50,000
/// wait) and the worker for
/// `secs`, reported in five equal windows.
pub async fn sustained(args: &QueueArgs, secs: u64) -> anyhow::Result<Vec<Window>> {
    let db = QueueDb::new().await?;
    let counter = Counter::new(u64::MAX, false);
    let (stop, handle) = start(&db, &counter, options(args, args.batch));
    let producing = CancellationToken::new();
    let produced = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let producers: Vec<_> = (0..2)
        .map(|_| {
            let pool = db.pool.clone();
            let producing = producing.clone();
            let produced = produced.clone();
            let counter = counter.clone();
            tokio::spawn(async move {
                while !producing.is_cancelled() {
                    // Keep the backlog bounded (50,000) so the run measures consumption rather
                    // than an ever-growing table; the count is in memory, not a query.
                    if produced.load(Ordering::SeqCst)
                        > counter.handled.load(Ordering::SeqCst) + 50_000
                    {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        continue;
                    }
                    let jobs: Vec<BenchJob> = (0..100)
                        .map(|n| BenchJob {
                            n,
                            sent_us: now_us(),
                        })
                        .collect();
                    match pg_queue::enqueue_batch(&pool, &jobs).await {
                        Ok(inserted) => {
                            produced.fetch_add(inserted, Ordering::SeqCst);
                        }
                        Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
                    }
                }
            })
        })
        .collect();
    let window = Duration::from_secs_f64(secs as f64 / 5.0);
    let mut windows = Vec::new();
    let mut before = counter.handled.load(Ordering::SeqCst);
    for _ in 0..5 {
        tokio::time::sleep(window).await;
        let now = counter.handled.load(Ordering::SeqCst);
        windows.push(Window {
            rate: rate(now - before, window),
            depth: db.depth().await?,
            dead: db.dead_tuples().await?,
        });
        before = now;
    }
    producing.cancel();
    for producer in producers {
        producer.await?;
    }
    stop.cancel();
    handle.await?;
    Ok(windows)
}
