//! The admin routes: test scrims, cancel, lock and unlock.

use reqwest::StatusCode;
use serde_json::json;

use crate::common::{TestApp, assert_error};

#[tokio::test]
async fn admin_cancel_removes_a_scrim_in_any_status() {
    let app = TestApp::spawn().await;
    let scrim = app.create(1, 1, 2, "TEAMS").await;
    let popped = app.fill(&scrim, 2).await;
    let id = popped["id"].as_str().expect("id");
    let (status, cancelled) = app
        .admin_post(&format!("/admin/scrims/{id}/cancel"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(cancelled["status"], "CANCELLED");
    assert_error(
        &app.get(&format!("/scrims/{id}")).await,
        StatusCode::NOT_FOUND,
        "ScrimNotFound",
    );
    // Its check-in timer went with it, and nobody was banned.
    assert_eq!(
        app.count("SELECT count(*) FROM matchmaking.checkin_timeouts")
            .await,
        0
    );
    assert_eq!(
        app.count("SELECT count(*) FROM core.member_restrictions")
            .await,
        0
    );
}

#[tokio::test]
async fn locking_twice_keeps_the_status_to_restore() {
    let app = TestApp::spawn().await;
    let scrim = app.create(1, 1, 2, "TEAMS").await;
    app.fill(&scrim, 2).await;
    app.check_in(&scrim, 1).await;
    let started = app.check_in(&scrim, 2).await.1;
    assert_eq!(started["status"], "IN_PROGRESS");
    let id = started["id"].as_str().expect("id");
    let locked = app
        .admin_post(&format!("/admin/scrims/{id}/lock"), json!({}))
        .await
        .1;
    assert_eq!(locked["status"], "LOCKED");
    assert_eq!(locked["unlockedStatus"], "IN_PROGRESS");
    let again = app
        .admin_post(&format!("/admin/scrims/{id}/lock"), json!({}))
        .await
        .1;
    assert_eq!(
        again["unlockedStatus"], "IN_PROGRESS",
        "the second lock must not record LOCKED"
    );
    let unlocked = app
        .admin_post(&format!("/admin/scrims/{id}/unlock"), json!({}))
        .await
        .1;
    assert_eq!(unlocked["status"], "IN_PROGRESS");
    assert!(unlocked.get("unlockedStatus").is_none());
}

/// A timestamp of an answer.
fn at(value: &serde_json::Value) -> chrono::DateTime<chrono::Utc> {
    value
        .as_str()
        .and_then(|text| chrono::DateTime::parse_from_rfc3339(text).ok())
        .map(|at| at.to_utc())
        .unwrap_or_else(|| panic!("not a timestamp: {value}"))
}

/// The due time of the scrim's waiting check-in timer.
async fn check_in_due(app: &TestApp, id: &str) -> chrono::DateTime<chrono::Utc> {
    sqlx::query_scalar("SELECT run_at FROM matchmaking.checkin_timeouts WHERE dedup_key = $1")
        .bind(id)
        .fetch_one(&app.owner)
        .await
        .expect("one waiting check-in timer")
}

const TIMEOUT: chrono::Duration = chrono::Duration::minutes(10);

/// Pretends the scrim popped `minutes` earlier than it did (its check-in deadline and its waiting
/// timer move with it), as if it had stayed locked that long: tests do not wait.
async fn pop_earlier(app: &TestApp, id: &str, minutes: i32) {
    sqlx::query(
        "UPDATE matchmaking.scrims
         SET popped_at = popped_at - make_interval(mins => $2),
             checkin_deadline = checkin_deadline - make_interval(mins => $2)
         WHERE id = $1::uuid",
    )
    .bind(id)
    .bind(minutes)
    .execute(&app.owner)
    .await
    .expect("move the pop");
    sqlx::query(
        "UPDATE matchmaking.checkin_timeouts
         SET run_at = run_at - make_interval(mins => $2),
             payload = CASE WHEN payload ? 'deadline'
                            THEN jsonb_set(payload, '{deadline}', to_jsonb(to_char(
                                 ((payload->>'deadline')::timestamptz - make_interval(mins => $2))
                                     AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')))
                            ELSE payload END
         WHERE dedup_key = $1",
    )
    .bind(id)
    .bind(minutes)
    .execute(&app.owner)
    .await
    .expect("move the timer");
}

#[tokio::test]
async fn unlocking_a_popped_scrim_gives_a_fresh_full_check_in_window() {
    let app = TestApp::spawn().await;
    let scrim = app.create(1, 1, 2, "TEAMS").await;
    let popped = app.fill(&scrim, 2).await;
    let id = popped["id"].as_str().expect("id");
    app.admin_post(&format!("/admin/scrims/{id}/lock"), json!({}))
        .await;
    // Locked for eight of its ten minutes.
    pop_earlier(&app, id, 8).await;
    let old_deadline = at(&popped["poppedAt"]) - chrono::Duration::minutes(8) + TIMEOUT;
    let unlocked = app
        .admin_post(&format!("/admin/scrims/{id}/unlock"), json!({}))
        .await
        .1;
    assert_eq!(unlocked["status"], "POPPED");
    let new_deadline = at(&unlocked["updatedAt"]) + TIMEOUT;
    assert!(new_deadline > old_deadline, "{unlocked}");
    // One timer, due a full window after the unlock.
    assert_eq!(check_in_due(&app, id).await, new_deadline);
    // At the old deadline nothing happens; at the new one the check-in times out.
    app.run_timers_at(old_deadline + (new_deadline - old_deadline) / 2)
        .await;
    assert_eq!(
        app.get(&format!("/scrims/{id}")).await.1["status"],
        "POPPED"
    );
    app.run_timers_at(new_deadline + chrono::Duration::seconds(1))
        .await;
    assert_error(
        &app.get(&format!("/scrims/{id}")).await,
        StatusCode::NOT_FOUND,
        "ScrimNotFound",
    );
}

#[tokio::test]
async fn a_timer_in_backoff_does_not_fire_on_the_old_deadline_after_an_unlock() {
    let app = TestApp::spawn().await;
    let scrim = app.create(1, 1, 2, "TEAMS").await;
    let popped = app.fill(&scrim, 2).await;
    let id = popped["id"].as_str().expect("id");
    app.admin_post(&format!("/admin/scrims/{id}/lock"), json!({}))
        .await;
    pop_earlier(&app, id, 8).await;
    // The old timer failed once and waits for its retry, 30 s after the old deadline.
    let retry_at = at(&popped["poppedAt"]) - chrono::Duration::minutes(8)
        + TIMEOUT
        + chrono::Duration::seconds(30);
    sqlx::query(
        "UPDATE matchmaking.checkin_timeouts SET attempts = 1, last_error = 'a failed attempt',
             run_at = $2 WHERE dedup_key = $1",
    )
    .bind(id)
    .bind(retry_at)
    .execute(&app.owner)
    .await
    .expect("backoff");
    app.admin_post(&format!("/admin/scrims/{id}/unlock"), json!({}))
        .await;
    app.run_timers_at(retry_at + chrono::Duration::seconds(1))
        .await;
    assert_eq!(
        app.get(&format!("/scrims/{id}")).await.1["status"],
        "POPPED",
        "the retried old timer cancelled the scrim on its old deadline"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM core.member_restrictions")
            .await,
        0
    );
}

#[tokio::test]
async fn a_timer_that_fired_while_the_scrim_was_locked_is_armed_again_on_unlock() {
    let app = TestApp::spawn().await;
    let scrim = app.create(1, 1, 2, "TEAMS").await;
    let popped = app.fill(&scrim, 2).await;
    let id = popped["id"].as_str().expect("id");
    app.admin_post(&format!("/admin/scrims/{id}/lock"), json!({}))
        .await;
    // The timer fires while locked: nothing happens, and it is consumed.
    app.run_timers_after(std::time::Duration::from_secs(3600))
        .await;
    assert_eq!(
        app.get(&format!("/scrims/{id}")).await.1["status"],
        "LOCKED"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM matchmaking.checkin_timeouts")
            .await,
        0
    );
    let unlocked = app
        .admin_post(&format!("/admin/scrims/{id}/unlock"), json!({}))
        .await
        .1;
    assert_eq!(
        check_in_due(&app, id).await,
        at(&unlocked["updatedAt"]) + TIMEOUT
    );
}

#[tokio::test]
async fn test_scrims_are_in_progress_with_an_empty_roster() {
    let app = TestApp::spawn().await;
    let body = json!({
        "authorId": 1, "organizationId": 1, "gameModeId": 13, "skillGroupId": 2,
        "settings": {"teamSize": 1, "teamCount": 2, "mode": "TEAMS", "competitive": false, "observable": false}
    });
    let (status, scrim) = app.admin_post("/admin/scrims/test", body).await;
    assert_eq!(status, StatusCode::CREATED, "{scrim}");
    assert_eq!(scrim["status"], "IN_PROGRESS");
    assert_eq!(scrim["players"], json!([]));
    assert!(
        scrim["submissionId"]
            .as_str()
            .expect("submission")
            .starts_with("scrim-test-")
    );
    assert_eq!(scrim["games"].as_array().expect("games").len(), 1);
}
