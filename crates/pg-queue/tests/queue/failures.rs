use std::time::Duration;

use pg_queue::{Queue, QueueOptions, QueueWorker, RetryPolicy, dead};

use crate::common::{Failure, Job, Recorder, Setup, setup};

fn no_jitter(max_attempts: i32) -> QueueOptions {
    QueueOptions {
        retry: RetryPolicy {
            max_attempts,
            base_delay: Duration::from_secs(10),
            max_delay: Duration::from_secs(3_600),
            jitter: 0.0,
        },
        ..QueueOptions::default()
    }
}

/// Seconds from the clock to the message's next delivery.
async fn seconds_until_run(s: &Setup, now: chrono::DateTime<chrono::Utc>) -> f64 {
    sqlx::query_scalar("SELECT extract(epoch FROM run_at - $1)::float8 FROM pgq_test.jobs")
        .bind(now)
        .fetch_one(&s.admin)
        .await
        .expect("run_at")
}

#[tokio::test]
async fn retryable_failures_back_off_exponentially_then_land_in_the_dead_letters() {
    let s = setup().await;
    let job = Job {
        n: 1,
        fail: Failure::Retryable,
    };
    pg_queue::enqueue(&s.producer, &job).await.expect("enqueue");
    let clock = Setup::clock();
    let worker = QueueWorker::new(s.consumer.clone(), Recorder)
        .options(no_jitter(4))
        .clock(clock.clone());

    for (attempt, delay) in [(1, 10.0), (2, 20.0), (3, 40.0)] {
        let outcome = worker.process_batch().await.expect("batch");
        assert_eq!(outcome.retried, 1, "attempt {attempt} is retried");
        let now = pg_queue::Clock::now(&*clock).expect("manual");
        assert_eq!(
            seconds_until_run(&s, now).await,
            delay,
            "backoff after attempt {attempt}"
        );
        assert_eq!(
            worker.process_batch().await.expect("batch").claimed,
            0,
            "not before its time"
        );
        clock.advance(Duration::from_secs_f64(delay));
    }
    let outcome = worker.process_batch().await.expect("batch");
    assert_eq!(outcome.dead, 1, "the fourth failure exhausts the attempts");
    assert_eq!(s.count("SELECT count(*) FROM pgq_test.jobs").await, 0);

    let letters = dead::list(&s.consumer, Job::TABLE, 10).await.expect("list");
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].attempts, 4);
    let error = letters[0].last_error.clone().unwrap_or_default();
    assert!(
        error.contains("attempts exhausted") && error.contains("try again"),
        "{error}"
    );
    assert_eq!(
        s.handled().await,
        vec![],
        "failed handlings left no writes behind"
    );
}

#[tokio::test]
async fn a_fatal_failure_is_dead_lettered_at_once_and_can_be_redriven_or_purged() {
    let s = setup().await;
    pg_queue::enqueue(
        &s.producer,
        &Job {
            n: 1,
            fail: Failure::Fatal,
        },
    )
    .await
    .expect("enqueue");
    pg_queue::enqueue(
        &s.producer,
        &Job {
            n: 2,
            fail: Failure::Fatal,
        },
    )
    .await
    .expect("enqueue");
    let worker = QueueWorker::new(s.consumer.clone(), Recorder);
    assert_eq!(worker.run_until_idle().await.expect("drain").dead, 2);

    let letters = dead::list(&s.consumer, Job::TABLE, 10).await.expect("list");
    assert_eq!(letters.len(), 2);
    assert_eq!(letters[0].attempts, 1);
    assert_eq!(letters[0].last_error.as_deref(), Some("cannot work"));

    // Redrive one (after "fixing" it, as an operator would by deploying a fix).
    sqlx::query("UPDATE pgq_test.jobs_dead SET payload = jsonb_set(payload, '{fail}', '\"None\"') WHERE id = $1")
        .bind(letters[0].id)
        .execute(&s.admin)
        .await
        .expect("fix the payload");
    let moved = dead::redrive(&s.consumer, Job::TABLE, Some(&[letters[0].id]))
        .await
        .expect("redrive");
    assert_eq!(moved, 1);
    assert_eq!(worker.run_until_idle().await.expect("drain").acked, 1);
    assert_eq!(s.handled().await, vec![(1, 1)]);

    assert_eq!(
        dead::purge(&s.consumer, Job::TABLE, None)
            .await
            .expect("purge"),
        1
    );
    assert_eq!(s.count("SELECT count(*) FROM pgq_test.jobs_dead").await, 0);
}

#[tokio::test]
async fn an_undecodable_message_is_dead_lettered_once_its_attempts_run_out() {
    let s = setup().await;
    sqlx::query("INSERT INTO pgq_test.jobs (payload) VALUES ('{\"not\": \"a job\"}')")
        .execute(&s.producer)
        .await
        .expect("insert garbage");
    let clock = Setup::clock();
    let worker = QueueWorker::new(s.consumer.clone(), Recorder)
        .options(no_jitter(2))
        .clock(clock.clone());
    assert_eq!(worker.process_batch().await.expect("first").retried, 1);
    clock.advance(Duration::from_secs(10));
    assert_eq!(worker.process_batch().await.expect("second").dead, 1);
    let letters = dead::list(&s.consumer, Job::TABLE, 1).await.expect("list");
    assert!(
        letters[0]
            .last_error
            .as_deref()
            .unwrap_or_default()
            .contains("cannot decode")
    );
    assert_eq!(s.handled().await, vec![], "the handler never saw it");
}

#[tokio::test]
async fn a_panicking_handler_counts_as_a_retryable_failure_and_the_worker_carries_on() {
    let s = setup().await;
    pg_queue::enqueue(
        &s.producer,
        &Job {
            n: 1,
            fail: Failure::Panic,
        },
    )
    .await
    .expect("enqueue");
    pg_queue::enqueue(&s.producer, &Job::ok(2))
        .await
        .expect("enqueue");
    let clock = Setup::clock();
    let worker = QueueWorker::new(s.consumer.clone(), Recorder)
        .options(no_jitter(3))
        .clock(clock.clone());
    let outcome = worker
        .process_batch()
        .await
        .expect("the batch survives the panic");
    assert_eq!((outcome.acked, outcome.retried), (1, 1));
    assert_eq!(
        s.handled().await,
        vec![(2, 1)],
        "the panicking message's writes rolled back"
    );
    clock.advance(Duration::from_secs(10));
    let outcome = worker.process_batch().await.expect("batch");
    assert_eq!(outcome.retried, 1, "delivered again");
}
