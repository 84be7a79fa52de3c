//! Periodic jobs (sweeps) that run once per period however many replicas run them.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use sqlx::{AssertSqlSafe, Connection, PgConnection, PgPool};
use tokio_util::sync::CancellationToken;

use crate::{Clock, DatabaseClock, Result};

/// The job a [`Periodic`] runs. It gets the transaction that claimed the period: its writes
/// commit with the claim, and if it fails, the period is not consumed and another replica (or
/// the next tick) tries again.
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

    /// Runs the job if the current period has not run yet anywhere. Returns whether it ran here.
    pub async fn tick(&self) -> Result<bool> {
        let mut conn = self.pool.acquire().await?;
        let mut tx = conn.begin().await?;
        let sql = format!(
            "INSERT INTO {schema}.periodic_jobs AS j (name, last_period)
             VALUES ($1, floor(extract(epoch FROM coalesce($3, now())) / $2)::bigint)
             ON CONFLICT (name) DO UPDATE
                 SET last_period = EXCLUDED.last_period, last_run_at = now()
                 WHERE j.last_period < EXCLUDED.last_period",
            schema = self.schema
        );
        let claimed = sqlx::query(AssertSqlSafe(sql))
            .bind(self.name)
            .bind(self.period.as_secs_f64())
            .bind(self.clock.now())
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
        if !claimed {
            return Ok(false);
        }
        match self.job.run(&mut tx).await {
            Ok(()) => {
                tx.commit().await?;
                metrics::counter!("pgq_periodic_runs_total", "job" => self.name).increment(1);
                Ok(true)
            }
            Err(error) => {
                tracing::warn!(job = self.name, error = %error, "periodic job failed; the period stays unclaimed");
                tx.rollback().await?;
                Ok(false)
            }
        }
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
