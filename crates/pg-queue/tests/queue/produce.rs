use pg_queue::{EnqueueOptions, Enqueued, QueueWorker};

use crate::common::{Job, Recorder, SomethingHappened, setup};

#[tokio::test]
async fn a_message_enqueued_in_a_rolled_back_transaction_was_never_sent() {
    let s = setup().await;
    let mut tx = s.producer.begin().await.expect("begin");
    pg_queue::enqueue(&mut *tx, &Job::ok(1))
        .await
        .expect("enqueue");
    tx.rollback().await.expect("rollback");
    assert_eq!(s.count("SELECT count(*) FROM pgq_test.jobs").await, 0);

    let mut tx = s.producer.begin().await.expect("begin");
    pg_queue::enqueue(&mut *tx, &Job::ok(2))
        .await
        .expect("enqueue");
    tx.commit().await.expect("commit");
    let outcome = QueueWorker::new(s.consumer.clone(), Recorder)
        .run_until_idle()
        .await
        .expect("drain");
    assert_eq!(outcome.acked, 1);
    assert_eq!(s.handled().await, vec![(2, 1)]);
    assert_eq!(
        s.count("SELECT count(*) FROM pgq_test.jobs").await,
        0,
        "acked rows are deleted"
    );
}

#[tokio::test]
async fn a_batch_enqueue_writes_every_message_in_one_statement() {
    let s = setup().await;
    let jobs: Vec<Job> = (0..500).map(Job::ok).collect();
    let written = pg_queue::enqueue_batch(&s.producer, &jobs)
        .await
        .expect("batch");
    assert_eq!(written, 500);
    QueueWorker::new(s.consumer.clone(), Recorder)
        .run_until_idle()
        .await
        .expect("drain");
    let handled = s.handled().await;
    assert_eq!(handled.len(), 500);
    assert!(handled.iter().all(|(_, times)| *times == 1));
}

#[tokio::test]
async fn publishing_writes_one_row_into_every_subscribed_queue_in_the_same_transaction() {
    let s = setup().await;
    let mut tx = s.producer.begin().await.expect("begin");
    pg_queue::publish(&mut *tx, &SomethingHappened { n: 7 })
        .await
        .expect("publish");
    tx.rollback().await.expect("rollback");
    assert_eq!(s.count("SELECT count(*) FROM pgq_test.audit").await, 0);

    pg_queue::publish(&s.producer, &SomethingHappened { n: 7 })
        .await
        .expect("publish");
    for table in ["pgq_test.audit", "pgq_test.audit_copy"] {
        let payloads: Vec<serde_json::Value> =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT payload FROM {table}")))
                .fetch_all(&s.admin)
                .await
                .expect("read");
        assert_eq!(
            payloads,
            vec![serde_json::json!({"topic": "test.somethingHappened", "payload": {"n": 7}})],
            "{table}"
        );
    }
}

#[tokio::test]
async fn a_dedup_key_allows_one_pending_message_per_key() {
    let s = setup().await;
    let options = || EnqueueOptions::default().dedup_key("scrim-1");
    assert_eq!(
        pg_queue::enqueue_with(&s.producer, &Job::ok(1), options())
            .await
            .expect("first"),
        Enqueued::Inserted
    );
    assert_eq!(
        pg_queue::enqueue_with(&s.producer, &Job::ok(2), options())
            .await
            .expect("duplicate"),
        Enqueued::Skipped
    );
    assert_eq!(s.count("SELECT count(*) FROM pgq_test.jobs").await, 1);

    QueueWorker::new(s.consumer.clone(), Recorder)
        .run_until_idle()
        .await
        .expect("drain");
    assert_eq!(
        pg_queue::enqueue_with(&s.producer, &Job::ok(3), options())
            .await
            .expect("again"),
        Enqueued::Inserted,
        "once handled, the key is free again"
    );
}

#[tokio::test]
async fn producers_may_only_insert_and_other_roles_may_not_touch_the_queue() {
    let s = setup().await;
    pg_queue::enqueue(&s.producer, &Job::ok(1))
        .await
        .expect("producer inserts");
    fn denied<T>(result: Result<T, pg_queue::Error>) -> bool {
        matches!(result, Err(pg_queue::Error::Database(sqlx::Error::Database(e))) if e.code().as_deref() == Some("42501"))
    }
    let claim = pg_queue::consume::claim(
        &s.producer,
        <Job as pg_queue::Queue>::TABLE,
        &pg_queue::consume::ClaimSpec::new(10, std::time::Duration::from_secs(30), 8),
    )
    .await;
    assert!(denied(claim), "a producer cannot claim");
    let stats = pg_queue::stats(&s.producer, <Job as pg_queue::Queue>::TABLE).await;
    assert!(denied(stats), "a producer cannot read");

    let outsider = s.test_db.pool_as(db::ServiceRole::Notifications).await;
    assert!(
        denied(pg_queue::enqueue(&outsider, &Job::ok(2)).await),
        "an outsider cannot enqueue"
    );
}

#[tokio::test]
async fn stats_and_discovery_describe_the_queues_of_a_schema() {
    let s = setup().await;
    let tables = pg_queue::discover(&s.consumer, "pgq_test")
        .await
        .expect("discover");
    let names: Vec<String> = tables.iter().map(|t| t.qualified()).collect();
    assert_eq!(
        names,
        ["pgq_test.audit", "pgq_test.audit_copy", "pgq_test.jobs"]
    );

    pg_queue::enqueue(&s.producer, &Job::ok(1))
        .await
        .expect("enqueue");
    pg_queue::enqueue(&s.producer, &Job::ok(2))
        .await
        .expect("enqueue");
    let later = chrono::Utc::now() + chrono::Duration::hours(1);
    let scheduled = pg_queue::enqueue_with(&s.producer, &Job::ok(3), EnqueueOptions::at(later))
        .await
        .expect("schedule");
    assert_eq!(scheduled, Enqueued::Inserted);
    pg_queue::consume::claim(
        &s.consumer,
        <Job as pg_queue::Queue>::TABLE,
        &pg_queue::consume::ClaimSpec::new(1, std::time::Duration::from_secs(60), 8),
    )
    .await
    .expect("claim one");
    let stats = pg_queue::stats(&s.consumer, <Job as pg_queue::Queue>::TABLE)
        .await
        .expect("stats");
    assert_eq!(
        (
            stats.ready,
            stats.in_flight,
            stats.scheduled,
            stats.retrying,
            stats.dead
        ),
        (1, 1, 1, 0, 0)
    );
    assert!(stats.oldest_ready_seconds >= 0.0);
}
