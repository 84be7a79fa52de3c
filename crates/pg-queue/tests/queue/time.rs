use std::time::Duration;

use pg_queue::{Clock, EnqueueOptions, Periodic, PeriodicJob, Queue, QueueWorker, consume};
use sqlx::PgConnection;

use crate::common::{Job, Recorder, Setup, setup};

#[tokio::test]
async fn a_scheduled_message_waits_for_its_time_and_can_be_cancelled_by_key_before() {
    let s = setup().await;
    let clock = Setup::clock();
    let start = clock.now().expect("manual");
    let in_an_hour = start + chrono::Duration::hours(1);
    let _ = pg_queue::enqueue_with(
        &s.producer,
        &Job::ok(1),
        EnqueueOptions::at(in_an_hour).dedup_key("checkin:1"),
    )
    .await
    .expect("schedule 1");
    let _ = pg_queue::enqueue_with(
        &s.producer,
        &Job::ok(2),
        EnqueueOptions::at(in_an_hour).dedup_key("checkin:2"),
    )
    .await
    .expect("schedule 2");
    let worker = QueueWorker::new(s.consumer.clone(), Recorder).clock(clock.clone());
    assert_eq!(
        worker.process_batch().await.expect("batch").claimed,
        0,
        "not yet due"
    );

    // Scrim 1 started in time: its timeout is cancelled.
    assert!(
        consume::cancel(&s.consumer, Job::TABLE, "checkin:1")
            .await
            .expect("cancel")
    );
    assert!(
        !consume::cancel(&s.consumer, Job::TABLE, "checkin:1")
            .await
            .expect("cancel twice")
    );

    clock.advance(Duration::from_secs(3_600));
    let outcome = worker.run_until_idle().await.expect("drain");
    assert_eq!(outcome.acked, 1);
    assert_eq!(
        s.handled().await,
        vec![(2, 1)],
        "only the uncancelled timer fired"
    );
}

struct Sweep {
    runner: &'static str,
}

impl PeriodicJob for Sweep {
    async fn run(&self, conn: &mut PgConnection) -> pg_queue::JobResult {
        sqlx::query("INSERT INTO pgq_test.sweeps (period_runner) VALUES ($1)")
            .bind(self.runner)
            .execute(conn)
            .await?;
        Ok(())
    }
}

#[tokio::test]
async fn a_periodic_job_with_three_runners_runs_once_per_period() {
    let s = setup().await;
    let clock = Setup::clock();
    let period = Duration::from_secs(60);
    let runners: Vec<Periodic<Sweep>> = ["a", "b", "c"]
        .into_iter()
        .map(|runner| {
            Periodic::new(
                s.consumer.clone(),
                "pgq_test",
                "sweep",
                period,
                Sweep { runner },
            )
            .clock(clock.clone())
        })
        .collect();

    for period_number in 0..5 {
        let (a, b, c) = tokio::join!(runners[0].tick(), runners[1].tick(), runners[2].tick());
        let ran = [a, b, c]
            .into_iter()
            .filter(|r| *r.as_ref().expect("tick"))
            .count();
        assert_eq!(ran, 1, "period {period_number} ran exactly once");
        let (a, b, c) = tokio::join!(runners[0].tick(), runners[1].tick(), runners[2].tick());
        let ran_again = [a, b, c]
            .into_iter()
            .filter(|r| *r.as_ref().expect("tick"))
            .count();
        assert_eq!(ran_again, 0, "period {period_number} does not run twice");
        clock.advance(period);
    }
    assert_eq!(s.count("SELECT count(*) FROM pgq_test.sweeps").await, 5);
}
