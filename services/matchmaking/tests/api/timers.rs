//! The check-in timeout and `leaveAt` expiry, driven with a manual clock (no real waiting).

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::common::{TestApp, assert_error, create_body, join_body};

const ELEVEN_MINUTES: Duration = Duration::from_secs(11 * 60);

#[tokio::test]
async fn a_started_scrim_disarms_its_timer_and_a_late_timer_changes_nothing() {
    let app = TestApp::spawn().await;
    let scrim = app.create(1, 1, 2, "TEAMS").await;
    app.fill(&scrim, 2).await;
    assert_eq!(
        app.count("SELECT count(*) FROM matchmaking.checkin_timeouts")
            .await,
        1
    );
    app.check_in(&scrim, 1).await;
    app.check_in(&scrim, 2).await;
    assert_eq!(
        app.count("SELECT count(*) FROM matchmaking.checkin_timeouts")
            .await,
        0
    );
    // Even a stale timer delivered late (re-inserted by hand) leaves the running scrim alone.
    let id = scrim["id"].as_str().expect("id");
    sqlx::query("INSERT INTO matchmaking.checkin_timeouts (payload) VALUES ($1)")
        .bind(json!({"scrimId": id, "submissionId": "scrim-some-older-pop"}))
        .execute(&app.owner)
        .await
        .expect("stale timer");
    app.run_timers_after(ELEVEN_MINUTES).await;
    assert_eq!(
        app.get(&format!("/scrims/{id}")).await.1["status"],
        "IN_PROGRESS"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM core.member_restrictions")
            .await,
        0
    );
}

#[tokio::test]
async fn an_expired_leave_at_removes_the_player_and_cancels_a_scrim_left_empty() {
    let app = TestApp::spawn().await;
    let mut body = create_body(1, 2, 2, "TEAMS");
    body["join"]["leaveAfter"] = json!(60);
    let scrim = app.post("/scrims", body).await.1;
    let id = scrim["id"].as_str().expect("id").to_owned();
    let mut short = join_body(2);
    short["leaveAfter"] = json!(30);
    app.post(&format!("/scrims/{id}/join"), short).await;
    app.join(&scrim, 3).await; // leaveAfter 3600

    app.run_timers_after(Duration::from_secs(45)).await;
    let after = app.get(&format!("/scrims/{id}")).await.1;
    let ids: Vec<i64> = after["players"]
        .as_array()
        .expect("players")
        .iter()
        .map(|p| p["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(ids, [1, 3]);

    app.post(&format!("/scrims/{id}/leave"), json!({"playerId": 3}))
        .await;
    app.run_timers_after(Duration::from_secs(120)).await;
    assert_error(
        &app.get(&format!("/scrims/{id}")).await,
        StatusCode::NOT_FOUND,
        "ScrimNotFound",
    );
    let topics = app.topics("core.scrim_events").await;
    assert!(topics.contains(&"scrim.cancelled".to_owned()), "{topics:?}");
    assert_eq!(
        app.count("SELECT count(*) FROM matchmaking.leave_expiries")
            .await,
        0
    );
}

#[tokio::test]
async fn a_popped_player_does_not_leave_when_their_leave_at_passes() {
    let app = TestApp::spawn().await;
    let mut body = create_body(1, 1, 2, "TEAMS");
    body["join"]["leaveAfter"] = json!(1);
    let scrim = app.post("/scrims", body).await.1;
    app.fill(&scrim, 2).await;
    app.run_timers_after(Duration::from_secs(5)).await;
    let id = scrim["id"].as_str().expect("id");
    let after = app.get(&format!("/scrims/{id}")).await.1;
    assert_eq!(after["status"], "POPPED");
    assert_eq!(after["players"].as_array().expect("players").len(), 2);
}

/// pg-queue 2, item 5: the timeout's worker locks its queue row, then the scrim; the last
/// check-in locks the scrim, then disarms the timer. With a cancel that waited for the worker's
/// row, the two deadlocked at the deadline (PostgreSQL then killed one: sometimes the request,
/// a 500 and a wrongful ban). Raced many times, every outcome must be one of the two legal
/// ones, and no side may ever see a deadlock.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_last_check_in_racing_the_timeout_at_the_deadline_never_deadlocks() {
    const ROUNDS: i32 = 30;
    let app = TestApp::spawn().await;
    let (mut started, mut cancelled) = (0, 0);
    for round in 0..ROUNDS {
        let (first, last) = (5_000 + round * 2, 5_001 + round * 2);
        let scrim = app.create(first, 1, 2, "TEAMS").await;
        app.fill(&scrim, last).await;
        assert_eq!(app.check_in(&scrim, first).await.0, StatusCode::OK);

        let (answer, ()) = tokio::join!(
            app.check_in(&scrim, last),
            app.run_timers_after(ELEVEN_MINUTES)
        );
        assert!(
            !answer.0.is_server_error(),
            "round {round}: the check-in answered {answer:?}"
        );
        let id = scrim["id"].as_str().expect("id");
        let bans: Vec<i32> = sqlx::query_scalar(
            "SELECT user_id FROM core.member_restrictions WHERE scrim_id = $1::uuid ORDER BY user_id",
        )
        .bind(id)
        .fetch_all(&app.owner)
        .await
        .expect("bans");
        let (status, body) = app.get(&format!("/scrims/{id}")).await;
        if status == StatusCode::OK {
            // The check-in won: the scrim started, nobody was banned.
            assert_eq!(answer.0, StatusCode::OK, "round {round}");
            assert_eq!(body["status"], "IN_PROGRESS", "round {round}");
            assert!(bans.is_empty(), "round {round}: {bans:?}");
            started += 1;
        } else {
            // The timeout won: cancelled, and only the player who had not checked in banned.
            assert_eq!(status, StatusCode::NOT_FOUND, "round {round}: {body}");
            assert!(answer.0.is_client_error(), "round {round}: {answer:?}");
            assert_eq!(bans, [last], "round {round}");
            cancelled += 1;
        }
        let deadlocked = app
            .count(
                "SELECT count(*) FROM (
                     SELECT last_error FROM matchmaking.checkin_timeouts
                     UNION ALL SELECT last_error FROM matchmaking.checkin_timeouts_dead) AS e
                 WHERE last_error LIKE '%deadlock%'",
            )
            .await;
        assert_eq!(deadlocked, 0, "round {round}: the timer saw a deadlock");
    }
    assert_eq!(started + cancelled, ROUNDS);
}

#[tokio::test]
async fn a_scrim_cancelled_when_its_only_players_leave_at_passes_carries_that_player() {
    let app = TestApp::spawn().await;
    let mut body = create_body(1, 2, 2, "TEAMS");
    body["join"]["leaveAfter"] = json!(30);
    let scrim = app.post("/scrims", body).await.1;
    app.run_timers_after(Duration::from_secs(60)).await;
    let cancelled: Vec<_> = app
        .events("core.scrim_events")
        .await
        .into_iter()
        .filter(|event| event["topic"] == "scrim.cancelled")
        .collect();
    assert_eq!(cancelled.len(), 1);
    let payload = &cancelled[0]["payload"];
    assert_eq!(payload["id"], scrim["id"]);
    assert_eq!(payload["status"], "CANCELLED");
    let players = payload["players"].as_array().expect("players");
    assert_eq!(
        players.len(),
        1,
        "the cancelled scrim names its player: {payload}"
    );
    assert_eq!(players[0]["id"], 1);
}
