//! The reconciliation sweep (issue 13 item 3): a scrim whose timer was dead-lettered or lost, or
//! is overdue because no worker runs it, is not stranded: the sweep acts on what is due and arms
//! again what is not.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::common::{TestApp, assert_error, create_body};

const ELEVEN_MINUTES: Duration = Duration::from_secs(11 * 60);

/// Moves a queue's message with this dedup key to its dead letters, as pg-queue does when a
/// handler keeps failing.
async fn dead_letter(app: &TestApp, queue: &str, key: &str) {
    let moved = sqlx::query(sqlx::AssertSqlSafe(format!(
        "WITH dead AS (DELETE FROM {queue} WHERE dedup_key = $1
                       RETURNING id, payload, dedup_key, attempts, enqueued_at)
         INSERT INTO {queue}_dead (id, payload, dedup_key, attempts, last_error, enqueued_at)
         SELECT id, payload, dedup_key, attempts, 'the handler kept failing', enqueued_at FROM dead"
    )))
    .bind(key)
    .execute(&app.owner)
    .await
    .expect("dead-letter")
    .rows_affected();
    assert_eq!(moved, 1, "no {queue} message with key {key}");
}

#[tokio::test]
async fn a_dead_lettered_check_in_timer_does_not_leave_a_scrim_popped_forever() {
    let app = TestApp::spawn().await;
    let scrim = app.create(1, 1, 2, "TEAMS").await;
    app.fill(&scrim, 2).await;
    app.check_in(&scrim, 1).await;
    let id = scrim["id"].as_str().expect("id");
    dead_letter(&app, "matchmaking.checkin_timeouts", id).await;

    // Without its timer the scrim would stay popped, and its players could queue nowhere.
    app.run_timers_after(ELEVEN_MINUTES).await;
    assert_eq!(
        app.get(&format!("/scrims/{id}")).await.1["status"],
        "POPPED"
    );

    let sweep = app.sweep_after(ELEVEN_MINUTES).await;
    assert_eq!((sweep.check_ins, sweep.acted), (1, 1), "{sweep:?}");
    assert_error(
        &app.get(&format!("/scrims/{id}")).await,
        StatusCode::NOT_FOUND,
        "ScrimNotFound",
    );
    // As the timer would have: player 2 missed the check-in and is banned; player 1 is free.
    let banned: Vec<i32> = sqlx::query_scalar("SELECT user_id FROM core.member_restrictions")
        .fetch_all(&app.owner)
        .await
        .expect("bans");
    assert_eq!(banned, [2]);
    app.create(1, 1, 2, "TEAMS").await;
    // Nothing is left to find.
    assert_eq!(app.sweep_after(ELEVEN_MINUTES).await.check_ins, 0);
}

#[tokio::test]
async fn a_check_in_timer_lost_before_its_deadline_is_armed_again() {
    let app = TestApp::spawn().await;
    let scrim = app.create(1, 1, 2, "TEAMS").await;
    app.fill(&scrim, 2).await;
    let id = scrim["id"].as_str().expect("id");
    dead_letter(&app, "matchmaking.checkin_timeouts", id).await;
    let sweep = app.sweep_after(Duration::from_secs(60)).await;
    assert_eq!((sweep.check_ins, sweep.rearmed), (1, 1), "{sweep:?}");
    assert_eq!(
        app.get(&format!("/scrims/{id}")).await.1["status"],
        "POPPED"
    );
    // The timer is back, and does its work at the deadline.
    app.run_timers_after(ELEVEN_MINUTES).await;
    assert_error(
        &app.get(&format!("/scrims/{id}")).await,
        StatusCode::NOT_FOUND,
        "ScrimNotFound",
    );
}

#[tokio::test]
async fn a_check_in_timer_no_worker_runs_is_acted_on_once_overdue() {
    let app = TestApp::spawn().await;
    let scrim = app.create(1, 1, 2, "TEAMS").await;
    app.fill(&scrim, 2).await;
    let id = scrim["id"].as_str().expect("id");
    // Within the grace period after the deadline, the sweep leaves the timer to its worker.
    assert_eq!(
        app.sweep_after(Duration::from_secs(10 * 60 + 30))
            .await
            .check_ins,
        0
    );
    // Past it, the sweep stands in for the missing worker.
    let sweep = app.sweep_after(Duration::from_secs(12 * 60)).await;
    assert_eq!((sweep.check_ins, sweep.acted), (1, 1), "{sweep:?}");
    assert_error(
        &app.get(&format!("/scrims/{id}")).await,
        StatusCode::NOT_FOUND,
        "ScrimNotFound",
    );
    // The timer comes late and changes nothing.
    app.run_timers_after(Duration::from_secs(13 * 60)).await;
    assert_eq!(
        app.count("SELECT count(*) FROM core.member_restrictions")
            .await,
        2
    );
}

#[tokio::test]
async fn a_lost_leave_timer_does_not_keep_a_player_queued_forever() {
    let app = TestApp::spawn().await;
    let mut body = create_body(1, 2, 2, "TEAMS");
    body["join"]["leaveAfter"] = json!(60);
    let scrim = app.post("/scrims", body).await.1;
    let id = scrim["id"].as_str().expect("id");
    let key = format!("{id}:1");
    dead_letter(&app, "matchmaking.leave_expiries", &key).await;

    // Before the player's leaveAt the timer is armed again...
    let sweep = app.sweep_after(Duration::from_secs(30)).await;
    assert_eq!((sweep.leaves, sweep.rearmed), (1, 1), "{sweep:?}");
    assert_eq!(
        app.count("SELECT count(*) FROM matchmaking.leave_expiries")
            .await,
        1
    );
    // ... and after it, a lost timer is acted on: the only player leaves, the scrim is cancelled.
    dead_letter(&app, "matchmaking.leave_expiries", &key).await;
    let sweep = app.sweep_after(Duration::from_secs(120)).await;
    assert_eq!((sweep.leaves, sweep.acted), (1, 1), "{sweep:?}");
    assert_error(
        &app.get(&format!("/scrims/{id}")).await,
        StatusCode::NOT_FOUND,
        "ScrimNotFound",
    );
    let cancelled = app
        .events("core.scrim_events")
        .await
        .into_iter()
        .filter(|event| event["topic"] == "scrim.cancelled")
        .count();
    assert_eq!(cancelled, 1);
}

#[tokio::test]
async fn the_sweep_leaves_healthy_timers_alone() {
    let app = TestApp::spawn().await;
    let pending = app.create(1, 2, 2, "TEAMS").await;
    let popped = app.create(10, 1, 2, "TEAMS").await;
    app.fill(&popped, 11).await;
    let before = app.events("core.scrim_events").await.len();
    let sweep = app.sweep_after(Duration::from_secs(60)).await;
    assert_eq!(sweep, matchmaking::reconcile::Sweep::default());
    assert_eq!(app.events("core.scrim_events").await.len(), before);
    let id = pending["id"].as_str().expect("id");
    assert_eq!(
        app.get(&format!("/scrims/{id}")).await.1["status"],
        "PENDING"
    );
}
