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

#[tokio::test]
async fn unlocking_a_popped_scrim_rearms_its_check_in_timer() {
    let app = TestApp::spawn().await;
    let scrim = app.create(1, 1, 2, "TEAMS").await;
    let popped = app.fill(&scrim, 2).await;
    let id = popped["id"].as_str().expect("id");
    app.admin_post(&format!("/admin/scrims/{id}/lock"), json!({}))
        .await;
    // The timer fires while locked: nothing happens.
    app.run_timers_after(std::time::Duration::from_secs(3600))
        .await;
    assert_eq!(
        app.get(&format!("/scrims/{id}")).await.1["status"],
        "LOCKED"
    );
    let unlocked = app
        .admin_post(&format!("/admin/scrims/{id}/unlock"), json!({}))
        .await
        .1;
    assert_eq!(unlocked["status"], "POPPED");
    assert_eq!(
        app.count("SELECT count(*) FROM matchmaking.checkin_timeouts")
            .await,
        1
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
