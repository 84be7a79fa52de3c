use std::time::Duration;

use pg_queue::consume::ClaimSpec;
use pg_queue::{Clock, consume};
use pg_queue::{Queue, QueueOptions, QueueWorker};
use sqlx::Connection;

use crate::common::{Job, Recorder, Setup, setup};

#[tokio::test]
async fn competing_workers_handle_each_of_thousands_of_messages_exactly_once() {
    let s = setup().await;
    let jobs: Vec<Job> = (0..3_000).map(Job::ok).collect();
    for chunk in jobs.chunks(1_000) {
        pg_queue::enqueue_batch(&s.producer, chunk)
            .await
            .expect("enqueue");
    }
    let options = QueueOptions {
        batch_size: 25,
        ..QueueOptions::default()
    };
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let worker = QueueWorker::new(s.consumer.clone(), Recorder).options(options.clone());
            tokio::spawn(async move { worker.run_until_idle().await })
        })
        .collect();
    let mut acked = 0;
    for worker in workers {
        acked += worker.await.expect("join").expect("drain").acked;
    }
    assert_eq!(acked, 3_000);
    let handled = s.handled().await;
    assert_eq!(handled.len(), 3_000, "every message handled");
    assert!(
        handled.iter().all(|(_, times)| *times == 1),
        "none handled twice"
    );
    assert_eq!(s.count("SELECT count(*) FROM pgq_test.jobs").await, 0);
}

#[tokio::test]
async fn a_message_whose_worker_died_is_delivered_again_when_its_lease_expires() {
    let s = setup().await;
    pg_queue::enqueue(&s.producer, &Job::ok(1))
        .await
        .expect("enqueue");
    let clock = Setup::clock();
    let lease = Duration::from_secs(30);

    // A worker claims the message and dies before settling it.
    let claimed = consume::claim(&s.consumer, Job::TABLE, &spec(10, lease, &clock))
        .await
        .expect("claim")
        .claimed;
    assert_eq!(claimed.len(), 1);

    let worker = QueueWorker::new(s.consumer.clone(), Recorder)
        .options(QueueOptions {
            lease,
            handler_timeout: Duration::from_secs(10),
            ..QueueOptions::default()
        })
        .clock(clock.clone());
    assert_eq!(
        worker.process_batch().await.expect("batch").claimed,
        0,
        "leased: invisible"
    );

    clock.advance(lease + Duration::from_secs(1));
    let outcome = worker.process_batch().await.expect("batch");
    assert_eq!(outcome.acked, 1);
    let attempts: Vec<i32> = sqlx::query_scalar("SELECT attempt FROM pgq_test.handled")
        .fetch_all(&s.admin)
        .await
        .expect("read");
    assert_eq!(attempts, vec![2], "the redelivery is the second attempt");
}

#[tokio::test]
async fn a_late_acknowledgement_from_an_expired_lease_does_not_remove_the_new_claim() {
    let s = setup().await;
    pg_queue::enqueue(&s.producer, &Job::ok(1))
        .await
        .expect("enqueue");
    let clock = Setup::clock();
    let lease = Duration::from_secs(30);

    let first = consume::claim(&s.consumer, Job::TABLE, &spec(1, lease, &clock))
        .await
        .expect("first claim")
        .claimed;
    clock.advance(lease * 2);
    let second = consume::claim(&s.consumer, Job::TABLE, &spec(1, lease, &clock))
        .await
        .expect("second claim")
        .claimed;
    assert_eq!(
        (second[0].id, second[0].attempt),
        (first[0].id, first[0].attempt + 1)
    );

    // The first worker wakes up: it owns nothing and its ack deletes nothing.
    let mut conn = s.consumer.acquire().await.expect("conn");
    let mut tx = conn.begin().await.expect("begin");
    let (owned, _pid) =
        consume::lock_owned(&mut tx, Job::TABLE, &[(first[0].id, first[0].attempt)])
            .await
            .expect("lock");
    assert!(owned.is_empty(), "the old claim owns nothing");
    tx.rollback().await.expect("rollback");
    let deleted = consume::ack(&s.consumer, Job::TABLE, &[(first[0].id, first[0].attempt)])
        .await
        .expect("late ack");
    assert_eq!(deleted, 0);
    assert_eq!(
        s.count("SELECT count(*) FROM pgq_test.jobs").await,
        1,
        "the new claim stands"
    );

    let deleted = consume::ack(
        &s.consumer,
        Job::TABLE,
        &[(second[0].id, second[0].attempt)],
    )
    .await
    .expect("current ack");
    assert_eq!(deleted, 1);
}

#[tokio::test]
async fn a_worker_claim_claims_and_leaves_its_connection_synchronous() {
    let s = setup().await;
    pg_queue::enqueue(&s.producer, &Job::ok(1))
        .await
        .expect("enqueue");
    let mut conn = s.consumer.acquire().await.expect("connection");
    let claimed = consume::worker_claim(
        &mut conn,
        Job::TABLE,
        &ClaimSpec::new(10, Duration::from_secs(60), 8),
    )
    .await
    .expect("claim")
    .claimed;
    assert_eq!(claimed.len(), 1);
    // The check runs on the connection the claim ran on.
    let after: String = sqlx::query_scalar("SHOW synchronous_commit")
        .fetch_one(&mut *conn)
        .await
        .expect("show");
    // Handling transactions on this pooled connection must stay durable.
    assert_eq!(after, "on");
}

fn spec(limit: i64, lease: Duration, clock: &pg_queue::ManualClock) -> ClaimSpec {
    ClaimSpec {
        now: clock.now(),
        ..ClaimSpec::new(limit, lease, 8)
    }
}
