//! Failures of a whole batch (issue 9, item 1): one message's failure never fails its
//! neighbours, a failed batch gives its claims back at once, and a message whose attempts ran
//! out while nothing could record its failure is dead-lettered by the next claim.

use std::time::Duration;

use pg_queue::{Clock, Queue, QueueOptions, QueueWorker, RetryPolicy, consume, dead};

use crate::common::{Failure, Job, Recorder, Setup, setup};

fn options(max_attempts: i32) -> QueueOptions {
    QueueOptions {
        retry: RetryPolicy {
            max_attempts,
            base_delay: Duration::from_secs(10),
            max_delay: Duration::from_secs(60),
            jitter: 0.0,
        },
        ..QueueOptions::default()
    }
}

async fn enqueue(s: &Setup, jobs: &[Job]) {
    pg_queue::enqueue_batch(&s.producer, jobs)
        .await
        .expect("enqueue");
}

fn failing(n: i64, fail: Failure) -> Job {
    Job { n, fail }
}

#[tokio::test]
async fn a_handler_that_swallows_a_sql_error_fails_alone_and_its_neighbours_are_acknowledged() {
    let s = setup().await;
    enqueue(
        &s,
        &[Job::ok(1), failing(2, Failure::SwallowSqlError), Job::ok(3)],
    )
    .await;
    let worker = QueueWorker::new(s.consumer.clone(), Recorder).options(options(3));
    let outcome = worker
        .process_batch()
        .await
        .expect("the batch itself does not fail");
    assert_eq!((outcome.acked, outcome.retried), (2, 1));
    assert_eq!(s.handled().await, vec![(1, 1), (3, 1)]);
    let error: Option<String> = sqlx::query_scalar("SELECT last_error FROM pgq_test.jobs")
        .fetch_one(&s.admin)
        .await
        .expect("the swallowing message waits for its retry");
    assert!(
        error.as_deref().unwrap_or_default().contains("aborted"),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_deferred_constraint_broken_by_one_message_does_not_roll_back_its_neighbours() {
    let s = setup().await;
    enqueue(
        &s,
        &[
            Job::ok(1),
            failing(2, Failure::DeferredViolation),
            Job::ok(3),
        ],
    )
    .await;
    let worker = QueueWorker::new(s.consumer.clone(), Recorder).options(options(3));
    let outcome = worker
        .process_batch()
        .await
        .expect("the commit does not fail");
    assert_eq!((outcome.acked, outcome.retried), (2, 1));
    assert_eq!(s.handled().await, vec![(1, 1), (3, 1)]);
    assert_eq!(
        s.count("SELECT count(*) FROM pgq_test.unique_later").await,
        0
    );
    let error: Option<String> = sqlx::query_scalar("SELECT last_error FROM pgq_test.jobs")
        .fetch_one(&s.admin)
        .await
        .expect("the breaking message waits for its retry");
    assert!(
        error.as_deref().unwrap_or_default().contains("unique"),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_batch_whose_connection_dies_gives_its_claims_back_at_once_and_the_culprit_ends_dead() {
    let s = setup().await;
    enqueue(&s, &[failing(1, Failure::KillConnection), Job::ok(2)]).await;
    let worker = QueueWorker::new(s.consumer.clone(), Recorder).options(QueueOptions {
        lease: Duration::from_secs(3_600),
        ..options(2)
    });

    // The killer takes the batch's connection (and transaction) with it. Both messages are
    // claimable again at once (no hour-long lease to wait for); the neighbour keeps its attempt.
    worker
        .process_batch()
        .await
        .expect("a lost connection is the batch's outcome, not an error");
    assert_eq!(
        s.count("SELECT count(*) FROM pgq_test.jobs WHERE run_at <= now() AND claimed_at IS NULL")
            .await,
        2
    );
    let attempts: Vec<(i32, Option<String>)> =
        sqlx::query_as("SELECT attempts, last_error FROM pgq_test.jobs ORDER BY id")
            .fetch_all(&s.admin)
            .await
            .expect("attempts");
    assert_eq!(attempts[0].0, 1, "the killer's attempt counts");
    assert!(attempts[0].1.is_some(), "and says why");
    assert_eq!(attempts[1].0, 0, "the neighbour's attempt is given back");

    // The killer's second attempt kills again; the third claim dead-letters it without running
    // it, and the neighbour is handled.
    worker.process_batch().await.expect("second batch");
    let outcome = worker.run_until_idle().await.expect("drain");
    assert_eq!(outcome.dead, 1);
    assert_eq!(s.handled().await, vec![(2, 1)]);
    let letters = dead::list(&s.consumer, Job::TABLE, 10).await.expect("list");
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].attempts, 2);
}

#[tokio::test]
async fn a_message_that_keeps_killing_its_worker_is_dead_lettered_by_the_claim_with_the_reason() {
    let s = setup().await;
    enqueue(&s, &[Job::ok(1)]).await;
    let clock = Setup::clock();
    let lease = Duration::from_secs(30);
    // Three workers claim it and die before settling anything (nothing can record a failure).
    for _ in 0..3 {
        let spec = consume::ClaimSpec {
            now: clock.now(),
            ..consume::ClaimSpec::new(10, lease, 3)
        };
        let claimed = consume::claim(&s.consumer, Job::TABLE, &spec)
            .await
            .expect("claim");
        assert_eq!(claimed.claimed.len(), 1);
        clock.advance(lease + Duration::from_secs(1));
    }
    let worker = QueueWorker::new(s.consumer.clone(), Recorder)
        .options(QueueOptions {
            lease,
            handler_timeout: Duration::from_secs(10),
            ..options(3)
        })
        .clock(clock.clone());
    let outcome = worker.run_until_idle().await.expect("drain");
    assert_eq!(outcome.dead, 1);
    assert_eq!(
        s.handled().await,
        vec![],
        "the handler never ran a fourth time"
    );
    let letters = dead::list(&s.consumer, Job::TABLE, 10).await.expect("list");
    let error = letters[0].last_error.clone().unwrap_or_default();
    assert!(error.contains("attempts exhausted"), "{error}");
    assert!(error.contains("did not finish"), "{error}");
}

#[tokio::test]
async fn a_worker_whose_pool_is_exhausted_claims_nothing_rather_than_stranding_a_claim() {
    let s = setup().await;
    enqueue(&s, &[Job::ok(1)]).await;
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_millis(200))
        .connect_with(s.consumer.connect_options().as_ref().clone())
        .await
        .expect("pool");
    let held = pool.acquire().await.expect("the only connection");
    let worker = QueueWorker::new(pool.clone(), Recorder);
    assert!(
        worker.process_batch().await.is_err(),
        "no connection, no claim"
    );
    assert_eq!(
        s.count("SELECT count(*) FROM pgq_test.jobs WHERE attempts = 0 AND claimed_at IS NULL")
            .await,
        1,
        "the message was not claimed, so nothing waits for a lease to end"
    );
    drop(held);
    assert_eq!(worker.run_until_idle().await.expect("drain").acked, 1);
}
