//! `bench queue`: pg-queue side by side with the same SQL issued by hand and with RabbitMQ.

mod designs;
mod library;
mod pgmq_baseline;
mod rabbit;
mod raw;

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use db::ServiceRole;
use hdrhistogram::Histogram;
use pg_queue::{Handler, HandlerError, MessageContext, Queue, QueueTable};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use test_db::TestDb;
use tokio::sync::Notify;

#[derive(Debug, Clone, clap::Args)]
pub struct QueueArgs {
    /// Small sizes for a smoke run.
    #[arg(long)]
    pub quick: bool,
    /// Run only these sections (burn-down, steady, backlog, sustained).
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Length of the sustained run, in seconds.
    #[arg(long)]
    pub sustained_secs: Option<u64>,
    /// Consumers (worker slots) in every section.
    #[arg(long, default_value_t = 4)]
    pub workers: usize,
    /// Messages per claim in the throughput sections.
    #[arg(long, default_value_t = 100)]
    pub batch: i64,
    #[arg(long, default_value = "amqp://guest:guest@127.0.0.1:5672/%2f")]
    pub amqp_url: String,
    #[arg(long)]
    pub skip_rabbitmq: bool,
    #[arg(long)]
    pub skip_pgmq: bool,
    /// Also measure the drain of other batch protocols (design probes, raw SQL).
    #[arg(long)]
    pub probes: bool,
    /// Rates of the steady-state section, messages per second.
    #[arg(long, value_delimiter = ',', default_values_t = [100u64, 1_000, 5_000])]
    pub rates: Vec<u64>,
}

impl QueueArgs {
    fn runs(&self, section: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|s| s == section)
    }

    fn burn_down_messages(&self) -> u64 {
        if self.quick { 10_000 } else { 100_000 }
    }

    fn steady_secs(&self) -> u64 {
        if self.quick { 3 } else { 20 }
    }

    fn backlogs(&self) -> [u64; 2] {
        if self.quick {
            [10_000, 100_000]
        } else {
            [10_000, 1_000_000]
        }
    }

    fn sustained(&self) -> u64 {
        self.sustained_secs
            .unwrap_or(if self.quick { 30 } else { 300 })
    }
}

/// The benchmark's message: about 40 bytes of JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchJob {
    pub n: i64,
    /// Microseconds since the epoch, taken by the producer just before its commit.
    pub sent_us: i64,
}

impl Queue for BenchJob {
    const TABLE: QueueTable = QueueTable::new("matchmaking", "bench_jobs");
}

pub fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

/// Counts handled messages, notifies at a target, optionally records latency.
#[derive(Debug)]
pub struct Counter {
    pub handled: AtomicU64,
    target: AtomicU64,
    pub done: Notify,
    latency: Option<Mutex<Histogram<u64>>>,
}

impl Counter {
    pub fn new(target: u64, with_latency: bool) -> Arc<Self> {
        Arc::new(Self {
            handled: AtomicU64::new(0),
            target: AtomicU64::new(target),
            done: Notify::new(),
            latency: with_latency.then(|| Mutex::new(histogram())),
        })
    }

    pub fn count(&self, latency_us: Option<i64>) {
        if let (Some(histogram), Some(us)) = (&self.latency, latency_us) {
            let mut histogram = histogram
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let _ = histogram.record(u64::try_from(us.max(1)).unwrap_or(1));
        }
        let handled = self.handled.fetch_add(1, Ordering::SeqCst) + 1;
        if handled == self.target.load(Ordering::SeqCst) {
            self.done.notify_one();
        }
    }

    pub fn latency(&self) -> Option<Histogram<u64>> {
        self.latency.as_ref().map(|h| {
            h.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone()
        })
    }
}

pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).unwrap_or_else(|_| unreachable!("valid bounds"))
}

/// The pg-queue handler of the benchmark: counts, and records latency from the payload.
#[derive(Debug, Clone)]
pub struct Counting(pub Arc<Counter>);

impl Handler<BenchJob> for Counting {
    async fn handle(&self, _: &mut MessageContext<'_>, job: BenchJob) -> Result<(), HandlerError> {
        self.0.count(Some(now_us() - job.sent_us));
        Ok(())
    }
}

/// A fresh database with the benchmark queue, consumed by (and enqueued as) `matchmaking`.
pub struct QueueDb {
    /// Kept so the database lives as long as the benchmark (dropped afterwards).
    _test_db: TestDb,
    pub owner: PgPool,
    pub pool: PgPool,
}

impl QueueDb {
    pub async fn new() -> anyhow::Result<Self> {
        let test_db = TestDb::new().await;
        let owner = test_db.owner_pool().await;
        sqlx::query(
            "SELECT pgq.create_queue('matchmaking', 'bench_jobs', 'matchmaking', ARRAY[]::text[])",
        )
        .execute(&owner)
        .await?;
        let mut config = test_db.config_as(ServiceRole::Matchmaking);
        config.pool.max_connections = 16;
        let pool = db::connect(&config, "bench").await?;
        Ok(Self {
            _test_db: test_db,
            owner,
            pool,
        })
    }

    /// Empties the queue and vacuums it, so each measurement starts from the same state.
    pub async fn reset(&self) -> anyhow::Result<()> {
        sqlx::query("TRUNCATE matchmaking.bench_jobs")
            .execute(&self.owner)
            .await?;
        sqlx::query("VACUUM ANALYZE matchmaking.bench_jobs")
            .execute(&self.owner)
            .await?;
        Ok(())
    }

    pub async fn depth(&self) -> anyhow::Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT count(*) FROM matchmaking.bench_jobs")
                .fetch_one(&self.owner)
                .await?,
        )
    }

    pub async fn dead_tuples(&self) -> anyhow::Result<i64> {
        Ok(sqlx::query_scalar(
            "SELECT coalesce(n_dead_tup, 0) FROM pg_stat_user_tables
             WHERE schemaname = 'matchmaking' AND relname = 'bench_jobs'",
        )
        .fetch_one(&self.owner)
        .await?)
    }
}

pub fn rate(messages: u64, elapsed: Duration) -> f64 {
    messages as f64 / elapsed.as_secs_f64()
}

fn verdict(pass: bool) -> &'static str {
    if pass { "PASS" } else { "MISS" }
}

pub async fn run(args: &QueueArgs) -> anyhow::Result<String> {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nSettings: {} consumers, {} messages per claim, ~40-byte JSON payloads{}.\n",
        args.workers,
        args.batch,
        if args.quick { ", --quick sizes" } else { "" }
    );
    let mut targets: Vec<(String, String, &'static str)> = Vec::new();

    if args.runs("burn-down") {
        let n = args.burn_down_messages();
        let library = library::burn_down(args, n).await?;
        let raw = raw::burn_down(args, n).await?;
        let pgmq_rates = if args.skip_pgmq {
            None
        } else {
            Some(pgmq_baseline::burn_down(args, n).await?)
        };
        let rabbit = if args.skip_rabbitmq {
            None
        } else {
            Some(rabbit::burn_down(args, n).await?)
        };
        let _ = writeln!(
            out,
            "## Burn-down: enqueue {n} (1,000 per transaction), then drain\n"
        );
        let _ = writeln!(out, "| implementation | enqueue msg/s | drain msg/s |");
        let _ = writeln!(out, "|---|---|---|");
        let _ = writeln!(out, "| pg-queue | {:.0} | {:.0} |", library.0, library.1);
        let _ = writeln!(
            out,
            "| raw SQL, same statements, full claim each time | {:.0} | {:.0} |",
            raw.0, raw.1
        );
        if let Some(rabbit) = rabbit {
            let _ = writeln!(
                out,
                "| RabbitMQ (lapin: durable, persistent, confirms, manual acks) | {:.0} | {:.0} |",
                rabbit.0, rabbit.1
            );
        }
        if let Some(pgmq) = pgmq_rates {
            let _ = writeln!(
                out,
                "| pgmq crate 0.34.0-alpha.7 (read_batch + delete_batch) | {:.0} | {:.0} |",
                pgmq.0, pgmq.1
            );
            targets.push((
                "burn-down drain ahead of pgmq".into(),
                format!("{:.0} vs {:.0} msg/s", library.1, pgmq.1),
                verdict(library.1 > pgmq.1),
            ));
        }
        if args.probes {
            for design in [
                designs::Design::OneTransaction,
                designs::Design::OneTransactionWithMarker,
                designs::Design::DeleteFirst,
            ] {
                let drain = designs::drain(args, n, design).await?;
                let _ = writeln!(out, "| {} | | {drain:.0} |", design.label());
            }
        }
        let _ = writeln!(out);
        let ratio = library.1 / raw.1;
        targets.push((
            "burn-down drain >= 70% of raw SQL".into(),
            format!("{:.0}%", ratio * 100.0),
            verdict(ratio >= 0.7),
        ));
    }

    if args.runs("steady") {
        let _ = writeln!(
            out,
            "## Steady state: one message per transaction at a fixed rate\n"
        );
        let _ = writeln!(
            out,
            "Latency: from the producer's clock just before its COMMIT (the time is in the payload) to the handler's start, same machine and clock.\n"
        );
        let _ = writeln!(out, "| rate msg/s | delivered | p50 ms | p99 ms | max ms |");
        let _ = writeln!(out, "|---|---|---|---|---|");
        for &rate in &args.rates {
            let (delivered, histogram) = library::steady(args, rate, args.steady_secs()).await?;
            let ms = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
            let _ = writeln!(
                out,
                "| {rate} | {delivered} | {:.2} | {:.2} | {:.2} |",
                ms(0.5),
                ms(0.99),
                histogram.max() as f64 / 1000.0
            );
            if rate == 1_000 {
                targets.push((
                    "p50 <= 2 ms at 1,000 msg/s".into(),
                    format!("{:.2} ms", ms(0.5)),
                    verdict(ms(0.5) <= 2.0),
                ));
                targets.push((
                    "p99 <= 10 ms at 1,000 msg/s".into(),
                    format!("{:.2} ms", ms(0.99)),
                    verdict(ms(0.99) <= 10.0),
                ));
            }
        }
        let _ = writeln!(out);
    }

    if args.runs("backlog") {
        let [small, large] = args.backlogs();
        let measured = 10_000;
        let small_rate = library::backlog(args, small, measured).await?;
        let large_rate = library::backlog(args, large, measured).await?;
        let _ = writeln!(
            out,
            "## Backlog: claim+ack throughput of {measured} messages with a backlog waiting\n"
        );
        let _ = writeln!(
            out,
            "| waiting | msg/s |\n|---|---|\n| {small} | {small_rate:.0} |\n| {large} | {large_rate:.0} |\n"
        );
        let ratio = small_rate / large_rate;
        targets.push((
            format!("backlog ratio {small}/{large} <= 1.3"),
            format!("{ratio:.2}"),
            verdict(ratio <= 1.3),
        ));
    }

    if args.runs("sustained") {
        let secs = args.sustained();
        let windows = library::sustained(args, secs).await?;
        let _ = writeln!(
            out,
            "## Sustained: producers and consumers at full speed for {secs} s\n"
        );
        let _ = writeln!(
            out,
            "| window | consumed msg/s | queue depth at end | dead tuples at end |"
        );
        let _ = writeln!(out, "|---|---|---|---|");
        for (i, w) in windows.iter().enumerate() {
            let _ = writeln!(
                out,
                "| {} | {:.0} | {} | {} |",
                i + 1,
                w.rate,
                w.depth,
                w.dead
            );
        }
        if let (Some(first), Some(last)) = (windows.first(), windows.last()) {
            let ratio = last.rate / first.rate;
            targets.push((
                "sustained: last window >= 70% of the first".into(),
                format!("{:.0}%", ratio * 100.0),
                verdict(ratio >= 0.7),
            ));
        }
        let _ = writeln!(out);
    }

    let _ = writeln!(
        out,
        "## Targets (issue 3)\n\n| target | measured | |\n|---|---|---|"
    );
    for (target, measured, pass) in targets {
        let _ = writeln!(out, "| {target} | {measured} | {pass} |");
    }
    Ok(out)
}
