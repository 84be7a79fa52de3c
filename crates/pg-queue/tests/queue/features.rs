//! What the next services need (issue 9): pause and resume, deferral without an attempt, a
//! pause from a handler, a cross-replica rate limit, handler timeouts and lease extension,
//! re-arming by dedup key, expiry, dead-letter retention.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use pg_queue::{
    Clock, EnqueueOptions, Enqueued, Handler, HandlerError, MessageContext, Queue, QueueOptions,
    QueueWorker, RateLimit, dead,
};

use crate::common::{Failure, Job, Recorder, Setup, setup};

async fn enqueue_jobs(s: &Setup, count: i64) {
    let jobs: Vec<Job> = (1..=count).map(Job::ok).collect();
    pg_queue::enqueue_batch(&s.producer, &jobs)
        .await
        .expect("enqueue");
}

#[tokio::test]
async fn a_paused_queue_is_not_claimed_until_it_is_resumed() {
    let s = setup().await;
    enqueue_jobs(&s, 2).await;
    assert!(
        pg_queue::pause(&s.consumer, Job::TABLE, None)
            .await
            .expect("pause")
    );
    let worker = QueueWorker::new(s.consumer.clone(), Recorder);
    assert!(worker.run_until_idle().await.expect("drain").is_idle());
    let stats = pg_queue::stats(&s.consumer, Job::TABLE)
        .await
        .expect("stats");
    assert!(stats.paused);
    assert_eq!(stats.ready, 2);

    assert!(
        pg_queue::resume(&s.consumer, Job::TABLE)
            .await
            .expect("resume")
    );
    assert_eq!(worker.run_until_idle().await.expect("drain").acked, 2);
}

#[tokio::test]
async fn a_pause_with_an_end_lifts_by_itself() {
    let s = setup().await;
    enqueue_jobs(&s, 1).await;
    let clock = Setup::clock();
    let now = clock.now().expect("manual");
    let until = now + chrono::Duration::minutes(10);
    pg_queue::pause(&s.consumer, Job::TABLE, Some(until))
        .await
        .expect("pause");
    let paused = pg_queue::paused_until(&s.consumer, Job::TABLE, Some(now))
        .await
        .expect("read");
    assert_eq!(
        paused.map(|at| at.timestamp_micros()),
        Some(until.timestamp_micros())
    );
    let worker = QueueWorker::new(s.consumer.clone(), Recorder).clock(clock.clone());
    assert!(worker.process_batch().await.expect("paused").is_idle());
    clock.advance(Duration::from_secs(601));
    assert_eq!(worker.process_batch().await.expect("after").acked, 1);
}

/// Answers like Discord on its first call: job 1 hits a per-route limit, job 2 the global one.
struct RateLimited {
    calls: AtomicUsize,
}

impl Handler<Job> for RateLimited {
    async fn handle(&self, ctx: &mut MessageContext<'_>, job: Job) -> Result<(), HandlerError> {
        let first_time = self.calls.fetch_add(1, Ordering::SeqCst) == 0;
        match job.n {
            1 if first_time => Err(HandlerError::retry_after(
                Duration::from_secs(30),
                "429 on this route",
            )),
            2 if first_time => Err(HandlerError::pause_queue_for(
                Duration::from_secs(60),
                "429 global",
            )),
            _ => Recorder.handle(ctx, job).await,
        }
    }
}

#[tokio::test]
async fn a_rate_limited_message_is_deferred_without_spending_an_attempt() {
    let s = setup().await;
    enqueue_jobs(&s, 1).await;
    let clock = Setup::clock();
    let worker = QueueWorker::new(
        s.consumer.clone(),
        RateLimited {
            calls: AtomicUsize::new(0),
        },
    )
    .clock(clock.clone());
    let outcome = worker.process_batch().await.expect("batch");
    assert_eq!((outcome.deferred, outcome.retried), (1, 0));
    assert_eq!(
        s.count("SELECT attempts::bigint FROM pgq_test.jobs").await,
        0,
        "the attempt was given back"
    );
    clock.advance(Duration::from_secs(29));
    assert!(worker.process_batch().await.expect("early").is_idle());
    clock.advance(Duration::from_secs(2));
    assert_eq!(worker.process_batch().await.expect("later").acked, 1);
    assert_eq!(s.handled().await, vec![(1, 1)], "its first counted attempt");
}

#[tokio::test]
async fn a_global_rate_limit_pauses_the_queue_and_gives_the_rest_of_the_batch_back() {
    let s = setup().await;
    let jobs = [Job::ok(2), Job::ok(3), Job::ok(4)];
    pg_queue::enqueue_batch(&s.producer, &jobs)
        .await
        .expect("enqueue");
    let clock = Setup::clock();
    let worker = QueueWorker::new(
        s.consumer.clone(),
        RateLimited {
            calls: AtomicUsize::new(0),
        },
    )
    .clock(clock.clone());
    let outcome = worker.process_batch().await.expect("batch");
    assert_eq!((outcome.deferred, outcome.released), (1, 2));
    assert!(
        pg_queue::stats(&s.consumer, Job::TABLE)
            .await
            .expect("stats")
            .paused
    );
    // Another replica finds nothing while the pause lasts.
    let replica = QueueWorker::new(s.consumer.clone(), Recorder).clock(clock.clone());
    assert!(replica.run_until_idle().await.expect("paused").is_idle());
    assert_eq!(
        s.count("SELECT count(*) FROM pgq_test.jobs WHERE attempts = 0")
            .await,
        3,
        "no attempt was spent"
    );
    clock.advance(Duration::from_secs(61));
    assert_eq!(replica.run_until_idle().await.expect("after").acked, 3);
}

#[tokio::test]
async fn a_rate_limit_holds_over_concurrent_replicas() {
    let s = setup().await;
    enqueue_jobs(&s, 40).await;
    let clock = Setup::clock();
    let options = QueueOptions {
        batch_size: 3,
        rate_limit: Some(RateLimit {
            per_second: 5.0,
            burst: 5,
        }),
        ..QueueOptions::default()
    };
    let replicas: Vec<Arc<QueueWorker<Job, Recorder>>> = (0..6)
        .map(|_| {
            Arc::new(
                QueueWorker::new(s.consumer.clone(), Recorder)
                    .options(options.clone())
                    .clock(clock.clone()),
            )
        })
        .collect();
    let drain_all = || async {
        let runs: Vec<_> = replicas
            .iter()
            .map(|replica| {
                let replica = replica.clone();
                tokio::spawn(async move { replica.run_until_idle().await })
            })
            .collect();
        let mut acked = 0;
        for run in runs {
            acked += run.await.expect("join").expect("drain").acked;
        }
        acked
    };
    // The clock stands still: only the burst may start, however many replicas claim at once.
    assert_eq!(drain_all().await, 5);
    assert_eq!(drain_all().await, 0, "no token is left");
    // One second later, one second's worth.
    clock.advance(Duration::from_secs(1));
    assert_eq!(drain_all().await, 5);
    // Tokens never pile up beyond the burst.
    clock.advance(Duration::from_secs(60));
    assert_eq!(drain_all().await, 5);
    assert_eq!(s.handled().await.len(), 15);
}

/// Never finishes unless it extends its lease; with `extend`, it extends then finishes.
struct Hangs {
    extend: bool,
}

impl Handler<Job> for Hangs {
    async fn handle(&self, ctx: &mut MessageContext<'_>, job: Job) -> Result<(), HandlerError> {
        sqlx::query("INSERT INTO pgq_test.handled (n, attempt) VALUES ($1, $2)")
            .bind(job.n)
            .bind(ctx.attempt)
            .execute(ctx.tx().await?)
            .await?;
        if self.extend {
            ctx.extend_lease(Duration::from_secs(3_600)).await?;
            return Ok(());
        }
        // Hung inside a statement of the message's transaction.
        sqlx::query("SELECT pg_sleep(3600)")
            .execute(ctx.tx().await?)
            .await?;
        Ok(())
    }
}

#[tokio::test]
async fn a_hung_handler_is_cancelled_at_its_timeout_and_its_neighbours_commit() {
    let s = setup().await;
    pg_queue::enqueue_batch(&s.producer, &[Job::ok(1), Job::ok(2)])
        .await
        .expect("enqueue");
    let options = QueueOptions {
        handler_timeout: Duration::from_millis(300),
        ..QueueOptions::default()
    };
    // Job 1 hangs mid-statement; job 2 (same batch) must still be acknowledged.
    struct FirstHangs;
    impl Handler<Job> for FirstHangs {
        async fn handle(&self, ctx: &mut MessageContext<'_>, job: Job) -> Result<(), HandlerError> {
            if job.n == 1 {
                return Hangs { extend: false }.handle(ctx, job).await;
            }
            Recorder.handle(ctx, job).await
        }
    }
    let worker = QueueWorker::new(s.consumer.clone(), FirstHangs).options(options);
    let outcome = worker.process_batch().await.expect("batch");
    assert_eq!((outcome.acked, outcome.retried), (1, 1));
    assert_eq!(
        s.handled().await,
        vec![(2, 1)],
        "the hung handler's insert rolled back"
    );
    let error: Option<String> = sqlx::query_scalar("SELECT last_error FROM pgq_test.jobs")
        .fetch_one(&s.admin)
        .await
        .expect("retried");
    assert!(error.unwrap_or_default().contains("timed out"));
    assert_eq!(
        s.count("SELECT count(*) FROM pg_stat_activity
         WHERE datname = current_database() AND query = 'SELECT pg_sleep(3600)' AND state = 'active'")
            .await,
        0,
        "the hung statement was cancelled on the server"
    );
}

#[tokio::test]
async fn a_long_job_extends_its_lease_and_its_time() {
    let s = setup().await;
    enqueue_jobs(&s, 1).await;
    let worker = QueueWorker::new(s.consumer.clone(), Hangs { extend: true });
    let outcome = worker.process_batch().await.expect("batch");
    assert_eq!(outcome.acked, 1);
}

#[tokio::test]
async fn replace_re_arms_a_waiting_timer_and_skip_keeps_it() {
    let s = setup().await;
    let clock = Setup::clock();
    let now = clock.now().expect("manual");
    let at = |minutes| EnqueueOptions::at(now + chrono::Duration::minutes(minutes)).dedup_key("t");
    let first = pg_queue::enqueue_with(&s.consumer, &Job::ok(1), at(10))
        .await
        .expect("arm");
    assert_eq!(first, Enqueued::Inserted);
    let kept = pg_queue::enqueue_with(&s.consumer, &Job::ok(2), at(20))
        .await
        .expect("skip");
    assert_eq!(kept, Enqueued::Skipped);
    let rearmed = pg_queue::enqueue_with(&s.consumer, &Job::ok(3), at(30).replace())
        .await
        .expect("replace");
    assert_eq!(rearmed, Enqueued::Replaced);

    let worker = QueueWorker::new(s.consumer.clone(), Recorder).clock(clock.clone());
    clock.advance(Duration::from_secs(20 * 60 + 1));
    assert!(
        worker.run_until_idle().await.expect("early").is_idle(),
        "the old deadlines are gone"
    );
    clock.advance(Duration::from_secs(10 * 60));
    assert_eq!(worker.run_until_idle().await.expect("due").acked, 1);
    assert_eq!(s.handled().await, vec![(3, 1)], "with the new payload");
}

#[tokio::test]
async fn a_retrying_message_superseded_by_a_newer_one_with_its_key_goes_to_the_dead_letters() {
    let s = setup().await;
    let key = || EnqueueOptions::default().dedup_key("k");
    let failing = Job {
        n: 1,
        fail: Failure::Retryable,
    };
    let _ = pg_queue::enqueue_with(&s.consumer, &failing, key())
        .await
        .expect("first");
    // While the first is being handled, a newer message takes the key.
    struct EnqueuesNewer(sqlx::PgPool);
    impl Handler<Job> for EnqueuesNewer {
        async fn handle(&self, ctx: &mut MessageContext<'_>, job: Job) -> Result<(), HandlerError> {
            if job.n == 1 {
                let _ = pg_queue::enqueue_with(
                    &self.0,
                    &Job::ok(2),
                    EnqueueOptions::default().dedup_key("k"),
                )
                .await
                .map_err(|e| HandlerError::fatal(e.to_string()))?;
            }
            Recorder.handle(ctx, job).await
        }
    }
    let worker = QueueWorker::new(s.consumer.clone(), EnqueuesNewer(s.consumer.clone()));
    let outcome = worker.process_batch().await.expect("batch");
    assert_eq!(outcome.dead, 1);
    let letters = dead::list(&s.consumer, Job::TABLE, 10).await.expect("list");
    assert!(
        letters[0]
            .last_error
            .as_deref()
            .unwrap_or_default()
            .contains("superseded")
    );
    assert_eq!(worker.run_until_idle().await.expect("drain").acked, 1);
}

#[tokio::test]
async fn an_expired_message_is_dropped_unhandled() {
    let s = setup().await;
    let clock = Setup::clock();
    let now = clock.now().expect("manual");
    let soon = EnqueueOptions::default().expires_at(now + chrono::Duration::seconds(10));
    let _ = pg_queue::enqueue_with(&s.producer, &Job::ok(1), soon)
        .await
        .expect("enqueue");
    pg_queue::enqueue(&s.producer, &Job::ok(2))
        .await
        .expect("enqueue");
    clock.advance(Duration::from_secs(11));
    let worker = QueueWorker::new(s.consumer.clone(), Recorder).clock(clock.clone());
    let outcome = worker.run_until_idle().await.expect("drain");
    assert_eq!((outcome.expired, outcome.acked), (1, 1));
    assert_eq!(s.handled().await, vec![(2, 1)]);
    assert_eq!(s.count("SELECT count(*) FROM pgq_test.jobs_dead").await, 0);
}

#[tokio::test]
async fn old_dead_letters_are_purged_once_per_period_across_replicas() {
    let s = setup().await;
    let _ = pg_queue::enqueue(
        &s.producer,
        &Job {
            n: 1,
            fail: Failure::Fatal,
        },
    )
    .await;
    QueueWorker::new(s.consumer.clone(), Recorder)
        .run_until_idle()
        .await
        .expect("bury");
    let clock = Setup::clock();
    let retention = Duration::from_secs(14 * 24 * 3_600);
    let purge = |clock: &pg_queue::ManualClock| {
        dead::purge_expired(&s.consumer, Job::TABLE, retention, clock.now())
    };
    assert_eq!(purge(&clock).await.expect("young"), Some(0));
    assert_eq!(
        purge(&clock).await.expect("same hour"),
        None,
        "another replica's turn was taken"
    );
    clock.advance(retention + Duration::from_secs(3_600));
    assert_eq!(purge(&clock).await.expect("old"), Some(1));
    assert_eq!(s.count("SELECT count(*) FROM pgq_test.jobs_dead").await, 0);
}

#[tokio::test]
async fn a_released_message_whose_key_was_taken_meanwhile_is_superseded_not_a_failed_release() {
    let s = setup().await;
    let key = || EnqueueOptions::default().dedup_key("k");
    let first = pg_queue::enqueue_with(&s.consumer, &Job::ok(1), key())
        .await
        .expect("first");
    assert_eq!(first, Enqueued::Inserted);
    let spec = pg_queue::consume::ClaimSpec::new(10, Duration::from_secs(60), 8);
    let claimed = pg_queue::consume::claim(&s.consumer, Job::TABLE, &spec)
        .await
        .expect("claim")
        .claimed;
    let newer = pg_queue::enqueue_with(&s.consumer, &Job::ok(2), key())
        .await
        .expect("while the first is claimed");
    assert_eq!(newer, Enqueued::Inserted);
    let release = pg_queue::settle::Release {
        id: claimed[0].id,
        attempt: claimed[0].attempt,
        refund: true,
        error: None,
    };
    let settled = pg_queue::settle::release(&s.consumer, Job::TABLE, &[release], None)
        .await
        .expect("the release does not break on the key");
    assert_eq!(settled, 1);
    assert_eq!(s.count("SELECT count(*) FROM pgq_test.jobs_dead").await, 1);
    assert_eq!(
        QueueWorker::new(s.consumer.clone(), Recorder)
            .run_until_idle()
            .await
            .expect("drain")
            .acked,
        1
    );
    assert_eq!(s.handled().await, vec![(2, 1)]);
}

#[tokio::test]
async fn a_claim_whose_lease_passed_shows_in_the_past_lease_gauge_not_as_ready() {
    let s = setup().await;
    let two_hours_ago = chrono::Utc::now() - chrono::Duration::hours(2);
    for n in [1, 2] {
        let enqueued =
            pg_queue::enqueue_with(&s.producer, &Job::ok(n), EnqueueOptions::at(two_hours_ago))
                .await
                .expect("enqueue");
        assert_eq!(enqueued, Enqueued::Inserted);
    }
    // A worker claimed one an hour ago with a 30-second lease, and died.
    let spec = pg_queue::consume::ClaimSpec {
        now: Some(chrono::Utc::now() - chrono::Duration::hours(1)),
        ..pg_queue::consume::ClaimSpec::new(1, Duration::from_secs(30), 8)
    };
    let claimed = pg_queue::consume::claim(&s.consumer, Job::TABLE, &spec)
        .await
        .expect("claim");
    assert_eq!(claimed.claimed.len(), 1);
    let stats = pg_queue::stats(&s.consumer, Job::TABLE)
        .await
        .expect("stats");
    assert_eq!((stats.ready, stats.past_lease, stats.in_flight), (1, 1, 0));
}
