//! The smaller defects of issue 9 (items 4, 5 and 6), each with the test that caught it.

use std::sync::Arc;
use std::time::Duration;

use pg_queue::{
    EnqueueOptions, Handler, HandlerError, MessageContext, Periodic, PeriodicJob, Queue,
    QueueTable, QueueWorker, consume, dead,
};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use tokio::sync::Notify;

use crate::common::{Failure, Job, Recorder, Setup, setup};

/// A bound on waits that must not happen, so that a regression fails instead of hanging.
const HANG_GUARD: Duration = Duration::from_secs(10);

/// Signals when it starts, then holds its batch (and its row locks) until released.
#[derive(Clone, Default)]
struct Holding {
    started: Arc<Notify>,
    release: Arc<Notify>,
}

impl Handler<Job> for Holding {
    async fn handle(&self, ctx: &mut MessageContext<'_>, job: Job) -> Result<(), HandlerError> {
        self.started.notify_one();
        self.release.notified().await;
        Recorder.handle(ctx, job).await
    }
}

#[tokio::test]
async fn cancelling_by_key_never_waits_for_a_batch_in_flight() {
    let s = setup().await;
    let enqueued = pg_queue::enqueue_with(
        &s.consumer,
        &Job::ok(1),
        EnqueueOptions::default().dedup_key("scrim-1"),
    )
    .await
    .expect("enqueue");
    assert_eq!(enqueued, pg_queue::Enqueued::Inserted);
    let holding = Holding::default();
    let worker = QueueWorker::new(s.consumer.clone(), holding.clone());
    let batch = tokio::spawn(async move { worker.process_batch().await });
    holding.started.notified().await;

    let cancelled = tokio::time::timeout(
        HANG_GUARD,
        consume::cancel(&s.consumer, Job::TABLE, "scrim-1"),
    )
    .await
    .expect("cancel returns while the batch runs")
    .expect("cancel");
    assert!(!cancelled, "a message being handled is not cancelled");
    holding.release.notify_one();
    let outcome = batch.await.expect("join").expect("batch");
    assert_eq!(
        outcome.acked, 1,
        "its handler, which re-checks state, finishes"
    );
}

#[tokio::test]
async fn a_dedup_key_blocks_a_waiting_message_but_not_one_being_handled() {
    let s = setup().await;
    let key = || EnqueueOptions::default().dedup_key("timer");
    assert!(
        pg_queue::enqueue_with(&s.consumer, &Job::ok(1), key())
            .await
            .expect("first")
            .inserted()
    );
    assert!(
        !pg_queue::enqueue_with(&s.consumer, &Job::ok(2), key())
            .await
            .expect("while waiting")
            .inserted(),
        "a waiting message holds the key"
    );

    let holding = Holding::default();
    let worker = QueueWorker::new(s.consumer.clone(), holding.clone());
    let batch = tokio::spawn(async move { worker.process_batch().await });
    holding.started.notified().await;
    let again = tokio::time::timeout(
        HANG_GUARD,
        pg_queue::enqueue_with(&s.consumer, &Job::ok(3), key()),
    )
    .await
    .expect("the enqueue does not wait for the batch")
    .expect("enqueue while the first is handled");
    assert!(
        again.inserted(),
        "a message being handled does not hold the key"
    );
    holding.release.notify_one();
    batch.await.expect("join").expect("batch");
    assert_eq!(s.count("SELECT count(*) FROM pgq_test.jobs").await, 1);
}

#[tokio::test]
async fn redriving_two_dead_letters_with_the_same_dedup_key_moves_one_and_keeps_the_other() {
    let s = setup().await;
    let worker = QueueWorker::new(s.consumer.clone(), Recorder);
    for n in [1, 2] {
        let job = Job {
            n,
            fail: Failure::Fatal,
        };
        let enqueued = pg_queue::enqueue_with(
            &s.consumer,
            &job,
            EnqueueOptions::default().dedup_key("same"),
        )
        .await
        .expect("enqueue");
        assert_eq!(enqueued, pg_queue::Enqueued::Inserted);
        assert_eq!(worker.run_until_idle().await.expect("drain").dead, 1);
    }
    let moved = dead::redrive(&s.consumer, Job::TABLE, None)
        .await
        .expect("redrive does not fail on the shared key");
    assert_eq!(moved, 1);
    assert_eq!(s.count("SELECT count(*) FROM pgq_test.jobs").await, 1);
    assert_eq!(s.count("SELECT count(*) FROM pgq_test.jobs_dead").await, 1);
}

#[tokio::test]
async fn an_undecodable_message_is_retried_before_it_is_dead_lettered() {
    let s = setup().await;
    sqlx::query("INSERT INTO pgq_test.jobs (payload) VALUES ('{\"from\": \"a newer producer\"}')")
        .execute(&s.producer)
        .await
        .expect("insert a payload this build cannot read");
    let worker = QueueWorker::new(s.consumer.clone(), Recorder);
    let outcome = worker.process_batch().await.expect("batch");
    assert_eq!(
        (outcome.retried, outcome.dead),
        (1, 0),
        "a rolling deploy may bring the consumer that reads it"
    );
    let error: Option<String> = sqlx::query_scalar("SELECT last_error FROM pgq_test.jobs")
        .fetch_one(&s.admin)
        .await
        .expect("waiting");
    assert!(
        error.unwrap_or_default().contains("cannot decode"),
        "the reason is kept"
    );
}

/// A queue in a schema named like a reserved word.
#[derive(Debug, Serialize, Deserialize)]
struct UserJob {
    n: i64,
}

impl Queue for UserJob {
    const TABLE: QueueTable = QueueTable::new("user", "jobs");
}

struct Counts;

impl Handler<UserJob> for Counts {
    async fn handle(&self, _: &mut MessageContext<'_>, _: UserJob) -> Result<(), HandlerError> {
        Ok(())
    }
}

#[tokio::test]
async fn a_queue_in_a_schema_named_like_a_reserved_word_works() {
    let s = setup().await;
    let owner = s.test_db.owner_pool().await;
    sqlx::raw_sql(
        "CREATE SCHEMA \"user\";
         SELECT pgq.create_queue('user', 'jobs', 'matchmaking', ARRAY['submission']);",
    )
    .execute(&owner)
    .await
    .expect("create the queue");
    pg_queue::enqueue(&s.producer, &UserJob { n: 1 })
        .await
        .expect("enqueue");
    let outcome = QueueWorker::new(s.consumer.clone(), Counts)
        .run_until_idle()
        .await
        .expect("drain");
    assert_eq!(outcome.acked, 1);
    let stats = pg_queue::stats(&s.consumer, UserJob::TABLE)
        .await
        .expect("stats");
    assert_eq!(stats.dead, 0);
    dead::list(&s.consumer, UserJob::TABLE, 1)
        .await
        .expect("dead letters");
}

/// Panics on its first run, then records its runs.
struct PanicsOnce {
    runs: std::sync::atomic::AtomicUsize,
}

impl PeriodicJob for PanicsOnce {
    async fn run(&self, conn: &mut PgConnection) -> pg_queue::JobResult {
        if self.runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            panic!("a bug in the job");
        }
        sqlx::query("INSERT INTO pgq_test.sweeps (period_runner) VALUES ('second')")
            .execute(conn)
            .await?;
        Ok(())
    }
}

#[tokio::test]
async fn a_panicking_periodic_job_leaves_its_period_to_the_next_tick() {
    let s = setup().await;
    let clock = Setup::clock();
    let job = Periodic::new(
        s.consumer.clone(),
        "pgq_test",
        "panics",
        Duration::from_secs(60),
        PanicsOnce {
            runs: Default::default(),
        },
    )
    .clock(clock.clone());
    let first = job.tick().await;
    assert!(
        !matches!(first, Ok(true)),
        "the panic is reported, not a run"
    );
    assert!(
        job.tick().await.expect("second tick"),
        "the period was not used up"
    );
    assert_eq!(s.count("SELECT count(*) FROM pgq_test.sweeps").await, 1);
}

/// Holds its run open until released.
struct Slow {
    started: Arc<Notify>,
    release: Arc<Notify>,
}

impl PeriodicJob for Slow {
    async fn run(&self, _: &mut PgConnection) -> pg_queue::JobResult {
        self.started.notify_one();
        self.release.notified().await;
        Ok(())
    }
}

#[tokio::test]
async fn a_long_periodic_job_does_not_hold_the_other_replicas_ticks() {
    let s = setup().await;
    let clock = Setup::clock();
    let (started, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    let runner = |started: Arc<Notify>, release: Arc<Notify>| {
        Periodic::new(
            s.consumer.clone(),
            "pgq_test",
            "slow",
            Duration::from_secs(60),
            Slow { started, release },
        )
        .clock(clock.clone())
    };
    let first = runner(started.clone(), release.clone());
    let second = runner(Arc::new(Notify::new()), Arc::new(Notify::new()));
    let running = tokio::spawn(async move { first.tick().await });
    started.notified().await;
    let other = tokio::time::timeout(HANG_GUARD, second.tick())
        .await
        .expect("the other replica's tick does not wait for the running job")
        .expect("tick");
    assert!(!other, "the period is taken");
    release.notify_one();
    assert!(running.await.expect("join").expect("tick"));
}
