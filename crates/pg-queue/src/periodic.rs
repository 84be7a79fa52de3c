//! Periodic jobs (sweeps) that run once per period however many replicas run them.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use sqlx::{AssertSqlSafe, PgConnection, PgPool};
use tokio_util::sync::CancellationToken;

use crate::{Clock, DatabaseClock, Result};

/// The job a [`Periodic`] runs, once its replica has claimed the period. It gets a pooled
/// connection outside any transaction (begin one if its writes must be atomic; a long purge can
/// commit in chunks). If it fails or panics, the period is given back and the next tick of any
/// replica runs it again; if its process dies mid-run, that period is lost and the next one
/// runs (jobs are sweeps: the next run catches up).
pub trait PeriodicJob: Send + Sync + 'static {
    fn run(&self, conn: &mut PgConnection) -> impl Future<Output = JobResult> + Send;
}

/// What a periodic job returns; the runner only logs the error.
pub type JobResult = std::result::Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// Runs `job` once per `period`, in the `schema.periodic_jobs` table made by
/// `pgq.create_periodic_jobs`.
#[derive(Debug)]
pub struct Periodic<J> {
    pool: PgPool,
    schema: &'static str,
    name: &'static str,
    period: Duration,
    job: J,
    clock: Arc<dyn Clock>,
}

impl<J: PeriodicJob> Periodic<J> {
    /// `schema` must be a plain identifier (as for [`crate::QueueTable`]).
    pub fn new(
        pool: PgPool,
        schema: &'static str,
        name: &'static str,
        period: Duration,
        job: J,
    ) -> Self {
        // QueueTable::new checks the schema is a plain identifier (it is spliced into SQL).
        let _checked = crate::QueueTable::new(schema, "periodic_jobs");
        Self {
            pool,
            schema,
            name,
            period: period.max(Duration::from_secs(1)),
            job,
            clock: Arc::new(DatabaseClock),
        }
    }

    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Runs the job if the current period has not run yet anywhere. Returns whether it ran here
    /// (a job that failed or panicked did not run: its period stays open).
    ///
    /// The period is claimed by one short statement of its own, so a long job holds no lock
    /// that other replicas' ticks would wait for.
    pub async fn tick(&self) -> Result<bool> {
        let mut conn = self.pool.acquire().await?;
        let sql = format!(
            "INSERT INTO \"{schema}\".periodic_jobs AS j (name, last_period)
             VALUES ($1, floor(extract(epoch FROM coalesce($3, now())) / $2)::bigint)
             ON CONFLICT (name) DO UPDATE
                 SET last_period = EXCLUDED.last_period, last_run_at = now()
                 WHERE j.last_period < EXCLUDED.last_period
             RETURNING last_period",
            schema = self.schema
        );
        let claimed: Option<i64> = sqlx::query_scalar(AssertSqlSafe(sql))
            .bind(self.name)
            .bind(self.period.as_secs_f64())
            .bind(self.clock.now())
            .fetch_optional(&mut *conn)
            .await?;
        let Some(period) = claimed else {
            return Ok(false);
        };
        let ran = AssertUnwindSafe(self.job.run(&mut conn))
            .catch_unwind()
            .await;
        let error = match ran {
            Ok(Ok(())) => {
                metrics::counter!("pgq_periodic_runs_total", "job" => self.name).increment(1);
                return Ok(true);
            }
            Ok(Err(error)) => error.to_string(),
            Err(panic) => format!("panicked: {}", crate::message::panic_message(&panic)),
        };
        tracing::warn!(
            job = self.name,
            error,
            "periodic job failed; its period is given back"
        );
        metrics::counter!("pgq_periodic_failures_total", "job" => self.name).increment(1);
        // A panic may have left the connection mid-statement: give the period back on another.
        drop(conn);
        let sql = format!(
            "UPDATE \"{schema}\".periodic_jobs SET last_period = last_period - 1
             WHERE name = $1 AND last_period = $2",
            schema = self.schema
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(self.name)
            .bind(period)
            .execute(&self.pool)
            .await?;
        Ok(false)
    }

    /// Ticks every `period / 4` (so a period is not missed by much) until `stop`.
    pub async fn run(self, stop: CancellationToken) {
        let every = self.period / 4;
        while !stop.is_cancelled() {
            if let Err(error) = self.tick().await {
                tracing::warn!(job = self.name, error = %error, "periodic tick failed");
            }
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                () = stop.cancelled() => {}
            }
        }
    }
}
