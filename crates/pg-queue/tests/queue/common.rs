use std::sync::Arc;

use db::ServiceRole;
use pg_queue::{Event, Handler, HandlerError, MessageContext, Queue, QueueTable};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use test_db::TestDb;

/// A test job: `n` identifies it; `fail` makes the handler fail that way.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Job {
    pub n: i64,
    #[serde(default)]
    pub fail: Failure,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq)]
pub enum Failure {
    #[default]
    None,
    Retryable,
    Fatal,
    Panic,
    /// Runs a failing statement in the message's transaction, ignores the error and returns Ok
    /// (the transaction is then aborted).
    SwallowSqlError,
    /// Writes a row that breaks a deferred unique constraint (checked only at commit).
    DeferredViolation,
    /// Terminates its own database session (a lost connection).
    KillConnection,
}

impl Job {
    pub fn ok(n: i64) -> Self {
        Self {
            n,
            fail: Failure::None,
        }
    }
}

impl Queue for Job {
    const TABLE: QueueTable = QueueTable::new("pgq_test", "jobs");
}

#[derive(Debug, Serialize)]
pub struct SomethingHappened {
    pub n: i64,
}

impl Event for SomethingHappened {
    const TOPIC: &'static str = "test.somethingHappened";
    const SUBSCRIBERS: &'static [QueueTable] = &[
        QueueTable::new("pgq_test", "audit"),
        QueueTable::new("pgq_test", "audit_copy"),
    ];
}

/// Records each handled job in `pgq_test.handled` through the message's transaction, so a job
/// handled twice shows up twice.
#[derive(Debug, Clone, Default)]
pub struct Recorder;

impl Handler<Job> for Recorder {
    async fn handle(&self, ctx: &mut MessageContext<'_>, job: Job) -> Result<(), HandlerError> {
        sqlx::query("INSERT INTO pgq_test.handled (n, attempt) VALUES ($1, $2)")
            .bind(job.n)
            .bind(ctx.attempt)
            .execute(ctx.tx().await?)
            .await?;
        match job.fail {
            Failure::None => Ok(()),
            Failure::Retryable => Err(HandlerError::retryable("try again")),
            Failure::Fatal => Err(HandlerError::fatal("cannot work")),
            Failure::Panic => panic!("handler bug for job {}", job.n),
            Failure::SwallowSqlError => {
                let _ignored = sqlx::query("SELECT 1 / 0").execute(ctx.tx().await?).await;
                Ok(())
            }
            Failure::DeferredViolation => {
                sqlx::query("INSERT INTO pgq_test.unique_later (k) VALUES (1), (1)")
                    .execute(ctx.tx().await?)
                    .await?;
                Ok(())
            }
            Failure::KillConnection => {
                sqlx::query("SELECT pg_terminate_backend(pg_backend_pid())")
                    .execute(ctx.tx().await?)
                    .await?;
                Ok(())
            }
        }
    }
}

pub struct Setup {
    pub test_db: TestDb,
    /// Logged in as the consumer role.
    pub consumer: PgPool,
    /// Logged in as a producer role.
    pub producer: PgPool,
    /// Superuser, for inspecting.
    pub admin: PgPool,
}

pub async fn setup() -> Setup {
    let test_db = TestDb::new().await;
    let owner = test_db.owner_pool().await;
    sqlx::raw_sql(
        "CREATE SCHEMA pgq_test;
         SELECT pgq.create_queue('pgq_test', 'jobs', 'matchmaking', ARRAY['submission']);
         SELECT pgq.create_queue('pgq_test', 'audit', 'matchmaking', ARRAY['submission']);
         SELECT pgq.create_queue('pgq_test', 'audit_copy', 'matchmaking', ARRAY['submission']);
         SELECT pgq.create_periodic_jobs('pgq_test', 'matchmaking');
         CREATE TABLE pgq_test.handled (n bigint NOT NULL, attempt int NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp());
         GRANT INSERT, SELECT ON pgq_test.handled TO matchmaking;
         CREATE TABLE pgq_test.sweeps (period_runner text NOT NULL);
         GRANT INSERT ON pgq_test.sweeps TO matchmaking;
         CREATE TABLE pgq_test.unique_later (k int UNIQUE DEFERRABLE INITIALLY DEFERRED);
         GRANT INSERT ON pgq_test.unique_later TO matchmaking;",
    )
    .execute(&owner)
    .await
    .expect("create the test queues");
    owner.close().await;
    Setup {
        consumer: test_db.pool_as(ServiceRole::Matchmaking).await,
        producer: test_db.pool_as(ServiceRole::Submission).await,
        admin: test_db.admin_pool().await,
        test_db,
    }
}

impl Setup {
    pub async fn count(&self, sql: &'static str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(&self.admin)
            .await
            .expect(sql)
    }

    /// How many times each job number was handled successfully or not, as (n, times).
    pub async fn handled(&self) -> Vec<(i64, i64)> {
        sqlx::query_as("SELECT n, count(*) FROM pgq_test.handled GROUP BY n ORDER BY n")
            .fetch_all(&self.admin)
            .await
            .expect("read handled")
    }

    /// A manual clock reading the current time: create it after enqueueing what should be due.
    pub fn clock() -> Arc<pg_queue::ManualClock> {
        Arc::new(pg_queue::ManualClock::new())
    }
}
