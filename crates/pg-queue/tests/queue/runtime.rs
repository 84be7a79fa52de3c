use std::time::Duration;

use pg_queue::{Handler, HandlerError, MessageContext, QueueOptions, QueueWorker, Worker};
use tokio_util::sync::CancellationToken;

use crate::common::{Job, Recorder, Setup, setup};

/// Waits (bounded, so a broken build fails instead of hanging) until `sql` counts `expected`.
async fn eventually(s: &Setup, sql: &'static str, expected: i64) {
    for _ in 0..600 {
        if s.count(sql).await == expected {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "{sql} never reached {expected} (it is {})",
        s.count(sql).await
    );
}

fn start(worker: Worker) -> (CancellationToken, tokio::task::JoinHandle<()>) {
    let stop = CancellationToken::new();
    let handle = tokio::spawn(worker.run(stop.clone()));
    (stop, handle)
}

/// With an hour-long poll interval, only notifications (and the catch-up after a reconnect) can
/// deliver a message: this proves the listener, not the poll, did the work.
fn notification_only() -> QueueOptions {
    QueueOptions {
        poll_interval: Duration::from_secs(3_600),
        ..QueueOptions::default()
    }
}

#[tokio::test]
async fn a_running_worker_is_woken_by_notifications_and_recovers_when_its_listener_is_killed() {
    let s = setup().await;
    let worker = Worker::new(s.consumer.clone())
        .queue(QueueWorker::new(s.consumer.clone(), Recorder).options(notification_only()));
    let (stop, handle) = start(worker);

    pg_queue::enqueue(&s.producer, &Job::ok(1))
        .await
        .expect("enqueue");
    eventually(&s, "SELECT count(*) FROM pgq_test.handled", 1).await;

    // Kill the listener's backend: notifications sent while it is down are lost by PostgreSQL.
    eventually(
        &s,
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'",
        1,
    )
    .await;
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND query LIKE 'LISTEN%'",
    )
    .execute(&s.admin)
    .await
    .expect("terminate the listener");
    pg_queue::enqueue(&s.producer, &Job::ok(2))
        .await
        .expect("enqueue while down");
    eventually(&s, "SELECT count(*) FROM pgq_test.handled", 2).await;

    // And it listens again afterwards.
    pg_queue::enqueue(&s.producer, &Job::ok(3))
        .await
        .expect("enqueue after");
    eventually(&s, "SELECT count(*) FROM pgq_test.handled", 3).await;

    stop.cancel();
    handle.await.expect("worker stops");
}

/// Takes a little while per message, so that a shutdown lands mid-batch.
struct Slow;

impl Handler<Job> for Slow {
    async fn handle(&self, ctx: &mut MessageContext<'_>, job: Job) -> Result<(), HandlerError> {
        tokio::time::sleep(Duration::from_millis(2)).await;
        Recorder.handle(ctx, job).await
    }
}

#[tokio::test]
async fn a_graceful_shutdown_under_load_loses_nothing_and_leaves_nothing_leased() {
    let s = setup().await;
    let jobs: Vec<Job> = (0..2_000).map(Job::ok).collect();
    pg_queue::enqueue_batch(&s.producer, &jobs)
        .await
        .expect("enqueue");
    let options = QueueOptions {
        concurrency: 4,
        batch_size: 50,
        ..QueueOptions::default()
    };
    let worker = Worker::new(s.consumer.clone())
        .queue(QueueWorker::new(s.consumer.clone(), Slow).options(options));
    let (stop, handle) = start(worker);

    // Stop somewhere in the middle of the work.
    for _ in 0..600 {
        if s.count("SELECT count(*) FROM pgq_test.handled").await >= 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.cancel();
    handle.await.expect("worker stops");

    let handled = s.handled().await;
    assert!(
        handled.iter().all(|(_, times)| *times == 1),
        "nothing handled twice"
    );
    let remaining = s.count("SELECT count(*) FROM pgq_test.jobs").await;
    assert_eq!(handled.len() as i64 + remaining, 2_000, "nothing lost");
    assert!(
        remaining > 0,
        "the shutdown landed before the end of the work"
    );
    assert_eq!(
        s.count(
            "SELECT count(*) FROM pgq_test.jobs WHERE run_at > now() OR claimed_at IS NOT NULL"
        )
        .await,
        0,
        "nothing is left leased: another worker can take the rest at once"
    );
    assert_eq!(
        s.count("SELECT count(*) FROM pgq_test.jobs WHERE attempts > 0")
            .await,
        0,
        "released messages were never attempted and keep their attempts"
    );
}

/// Never finishes.
struct Stuck;

impl Handler<Job> for Stuck {
    async fn handle(&self, _: &mut MessageContext<'_>, _: Job) -> Result<(), HandlerError> {
        std::future::pending().await
    }
}

#[tokio::test]
async fn a_batch_still_running_at_the_shutdown_deadline_is_abandoned_and_released_at_once() {
    let s = setup().await;
    pg_queue::enqueue(&s.producer, &Job::ok(1))
        .await
        .expect("enqueue");
    let worker = Worker::new(s.consumer.clone())
        .queue(
            QueueWorker::new(s.consumer.clone(), Stuck).options(QueueOptions {
                lease: Duration::from_secs(3_600),
                ..QueueOptions::default()
            }),
        )
        .shutdown_deadline(Duration::from_millis(100));
    let (stop, handle) = start(worker);
    eventually(
        &s,
        "SELECT count(*) FROM pgq_test.jobs WHERE claimed_at IS NOT NULL",
        1,
    )
    .await;
    stop.cancel();
    handle
        .await
        .expect("worker stops despite the stuck handler");
    assert_eq!(
        s.count("SELECT count(*) FROM pgq_test.jobs WHERE run_at <= now() AND claimed_at IS NULL")
            .await,
        1,
        "the hour-long lease was given up: the message is ready again"
    );
}

/// Claims start at a floor behind which acknowledged messages' dead index entries pile up. A
/// message due before that floor (here: scheduled an hour in the past, as a transaction that
/// began long before it committed would leave it) is still delivered, by the periodic claim
/// from the start of the queue, and never lost.
#[tokio::test]
async fn a_message_due_before_the_claim_floor_is_delivered_by_the_periodic_full_claim() {
    let s = setup().await;
    let options = QueueOptions {
        full_scan_interval: Duration::from_millis(200),
        ..notification_only()
    };
    let worker = Worker::new(s.consumer.clone())
        .queue(QueueWorker::new(s.consumer.clone(), Recorder).options(options));
    let (stop, handle) = start(worker);

    // Move the floor forward: handled messages put it near the database's now.
    for n in 1..=3 {
        pg_queue::enqueue(&s.producer, &Job::ok(n))
            .await
            .expect("enqueue");
    }
    eventually(&s, "SELECT count(*) FROM pgq_test.handled", 3).await;

    let an_hour_ago = chrono::Utc::now() - chrono::Duration::hours(1);
    let _ = pg_queue::enqueue_with(
        &s.producer,
        &Job::ok(4),
        pg_queue::EnqueueOptions::at(an_hour_ago),
    )
    .await
    .expect("enqueue in the past");
    eventually(&s, "SELECT count(*) FROM pgq_test.handled WHERE n = 4", 1).await;

    stop.cancel();
    handle.await.expect("worker stops");
}

#[tokio::test]
async fn process_batch_never_reports_nothing_due_while_a_message_waits_before_the_floor() {
    let s = setup().await;
    let worker = QueueWorker::new(s.consumer.clone(), Recorder);
    pg_queue::enqueue(&s.producer, &Job::ok(1))
        .await
        .expect("enqueue");
    assert_eq!(worker.run_until_idle().await.expect("drain").acked, 1);
    let an_hour_ago = chrono::Utc::now() - chrono::Duration::hours(1);
    let _ = pg_queue::enqueue_with(
        &s.producer,
        &Job::ok(2),
        pg_queue::EnqueueOptions::at(an_hour_ago),
    )
    .await
    .expect("enqueue in the past");
    assert_eq!(worker.process_batch().await.expect("claim").acked, 1);
}

/// The next notification on `listener`, bounded so that a missing one fails instead of hanging.
async fn next_payload(listener: &mut sqlx::postgres::PgListener) -> String {
    let notification = tokio::time::timeout(Duration::from_secs(30), listener.recv())
        .await
        .expect("a notification arrives")
        .expect("the listener is connected");
    notification.payload().to_owned()
}

#[tokio::test]
async fn the_wake_up_says_how_soon_the_earliest_new_message_is_due() {
    let s = setup().await;
    let mut listener = sqlx::postgres::PgListener::connect_with(&s.consumer)
        .await
        .expect("listener");
    listener
        .listen(&<Job as pg_queue::Queue>::TABLE.channel())
        .await
        .expect("listen");
    let in_an_hour = chrono::Utc::now() + chrono::Duration::hours(1);
    let later = |n| pg_queue::EnqueueOptions::at(in_an_hour).dedup_key(format!("later-{n}"));

    let _ = pg_queue::enqueue_with(&s.producer, &Job::ok(1), later(1))
        .await
        .expect("schedule");
    assert_eq!(next_payload(&mut listener).await, "3600");

    // A statement that inserts nothing (the dedup key is pending) notifies nothing: the next
    // notification is the one of the message after it.
    let skipped = pg_queue::enqueue_with(&s.producer, &Job::ok(2), later(1))
        .await
        .expect("duplicate");
    assert_eq!(skipped, pg_queue::Enqueued::Skipped);
    pg_queue::enqueue(&s.producer, &Job::ok(3))
        .await
        .expect("enqueue");
    assert_eq!(next_payload(&mut listener).await, "");

    // One statement, one notification, for its earliest message.
    let mut tx = s.producer.begin().await.expect("begin");
    let _ = pg_queue::enqueue_with(&mut *tx, &Job::ok(4), later(4))
        .await
        .expect("schedule");
    let _ = pg_queue::enqueue_with(
        &mut *tx,
        &Job::ok(5),
        pg_queue::EnqueueOptions::at(chrono::Utc::now() - chrono::Duration::minutes(1)),
    )
    .await
    .expect("enqueue in the past");
    tx.commit().await.expect("commit");
    assert_eq!(next_payload(&mut listener).await, "3600");
    assert_eq!(next_payload(&mut listener).await, "");
}

#[tokio::test]
async fn a_message_scheduled_within_the_poll_interval_still_wakes_the_worker() {
    let s = setup().await;
    let worker = Worker::new(s.consumer.clone())
        .queue(QueueWorker::new(s.consumer.clone(), Recorder).options(notification_only()));
    let (stop, handle) = start(worker);
    eventually(
        &s,
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'",
        1,
    )
    .await;

    // Due in a second: the notification carries "1", well within the hour-long poll interval,
    // so the slots wake, read the next due time and sleep until then.
    let soon = chrono::Utc::now() + chrono::Duration::seconds(1);
    let _ = pg_queue::enqueue_with(&s.producer, &Job::ok(1), pg_queue::EnqueueOptions::at(soon))
        .await
        .expect("schedule");
    eventually(&s, "SELECT count(*) FROM pgq_test.handled", 1).await;

    stop.cancel();
    handle.await.expect("worker stops");
}
