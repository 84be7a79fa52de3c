//! Bad input gets a 4xx with an error name and changes nothing.

use reqwest::StatusCode;
use serde_json::json;

use crate::common::{TestApp, assert_error, create_body, join_body};

#[tokio::test]
async fn malformed_or_invalid_bodies_are_refused_and_change_nothing() {
    let app = TestApp::spawn().await;
    let scrim = app.create(1, 2, 2, "TEAMS").await;
    let id = scrim["id"].as_str().expect("id").to_owned();
    let join_path = format!("/scrims/{id}/join");

    assert_error(
        &app.post_raw("/scrims", "{not json").await,
        StatusCode::BAD_REQUEST,
        "InvalidRequest",
    );
    let mut unknown = create_body(5, 2, 2, "TEAMS");
    unknown["surprise"] = json!(1);
    assert_error(
        &app.post("/scrims", unknown).await,
        StatusCode::BAD_REQUEST,
        "InvalidRequest",
    );
    let mut missing = create_body(5, 2, 2, "TEAMS");
    missing.as_object_mut().expect("object").remove("settings");
    assert_error(
        &app.post("/scrims", missing).await,
        StatusCode::BAD_REQUEST,
        "InvalidRequest",
    );
    assert_error(
        &app.post("/scrims", create_body(5, 2, 1, "TEAMS")).await,
        StatusCode::BAD_REQUEST,
        "InvalidRequest",
    );
    assert_error(
        &app.post("/scrims", create_body(5, 0, 2, "TEAMS")).await,
        StatusCode::BAD_REQUEST,
        "InvalidRequest",
    );
    assert_error(
        &app.post("/scrims", create_body(5, 2, 2, "FREE_FOR_ALL"))
            .await,
        StatusCode::BAD_REQUEST,
        "InvalidRequest",
    );

    let mut negative = join_body(5);
    negative["leaveAfter"] = json!(-1);
    assert_error(
        &app.post(&join_path, negative).await,
        StatusCode::BAD_REQUEST,
        "InvalidRequest",
    );
    let mut both = join_body(5);
    both["createGroup"] = json!(true);
    both["joinGroup"] = json!("abcde");
    assert_error(
        &app.post(&join_path, both).await,
        StatusCode::BAD_REQUEST,
        "InvalidRequest",
    );
    let mut bad_code = join_body(5);
    bad_code["joinGroup"] = json!("AB");
    assert_error(
        &app.post(&join_path, bad_code).await,
        StatusCode::BAD_REQUEST,
        "InvalidRequest",
    );
    assert_error(
        &app.post("/scrims/not-a-uuid/join", join_body(5)).await,
        StatusCode::BAD_REQUEST,
        "InvalidRequest",
    );
    assert_error(
        &app.post(
            &format!("/scrims/{}/join", uuid::Uuid::new_v4()),
            join_body(5),
        )
        .await,
        StatusCode::NOT_FOUND,
        "ScrimNotFound",
    );
    assert_error(
        &app.get("/scrims?status=SOMETIMES").await,
        StatusCode::BAD_REQUEST,
        "InvalidRequest",
    );
    assert_error(
        &app.get("/no/such/route").await,
        StatusCode::NOT_FOUND,
        "NotFound",
    );

    // Nothing changed: one scrim, one player, and only its creation was announced.
    assert_eq!(
        app.count("SELECT count(*) FROM matchmaking.scrims").await,
        1
    );
    assert_eq!(
        app.count("SELECT count(*) FROM matchmaking.scrim_players")
            .await,
        1
    );
    assert_eq!(
        app.topics("core.scrim_events").await,
        ["scrim.created", "scrim.metricsUpdate"]
    );
}
