//! Bad input gets a 4xx with an error name and changes nothing.

use reqwest::StatusCode;
use serde_json::json;

use crate::common::{As, TestApp, assert_error, create_body, join_body};

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
    // Both group fields match the schema, but contradict each other.
    let mut both = join_body(5);
    both["createGroup"] = json!(true);
    both["joinGroup"] = json!("abcde");
    assert_error(
        &app.post(&join_path, both).await,
        StatusCode::UNPROCESSABLE_ENTITY,
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
    assert_eq!(app.topics("core.scrim_events").await, ["scrim.created"]);
}

#[tokio::test]
async fn a_nul_character_in_any_string_is_refused_before_it_reaches_the_database() {
    let app = TestApp::spawn().await;
    let mut create = create_body(1, 2, 2, "TEAMS");
    create["join"]["playerName"] = json!("nul\u{0}name");
    assert_error(
        &app.post("/scrims", create).await,
        StatusCode::BAD_REQUEST,
        "InvalidRequest",
    );
    let scrim = app.create(2, 2, 2, "TEAMS").await;
    let id = scrim["id"].as_str().expect("id");
    let mut join = join_body(3);
    join["playerName"] = json!("\u{0}");
    assert_error(
        &app.post(&format!("/scrims/{id}/join"), join).await,
        StatusCode::BAD_REQUEST,
        "InvalidRequest",
    );
    let mut control = join_body(3);
    control["playerName"] = json!("bell\u{7}");
    assert_error(
        &app.post(&format!("/scrims/{id}/join"), control).await,
        StatusCode::BAD_REQUEST,
        "InvalidRequest",
    );
    assert_error(
        &app.get("/submissions/scrim-%00/scrim").await,
        StatusCode::BAD_REQUEST,
        "InvalidRequest",
    );
    assert_error(
        &app.get(&format!("/submissions/{}/scrim", "x".repeat(300)))
            .await,
        StatusCode::BAD_REQUEST,
        "InvalidRequest",
    );
    assert_eq!(
        app.count("SELECT count(*) FROM matchmaking.scrim_players")
            .await,
        1
    );
}

#[tokio::test]
async fn an_oversized_body_answers_payload_too_large() {
    let app = TestApp::spawn().await;
    let mut body = create_body(1, 2, 2, "TEAMS");
    body["join"]["playerName"] = json!("x".repeat(100 * 1024));
    let answer = app.post_raw("/scrims", body.to_string()).await;
    assert_error(&answer, StatusCode::PAYLOAD_TOO_LARGE, "PayloadTooLarge");
    assert_eq!(
        app.count("SELECT count(*) FROM matchmaking.scrims").await,
        0
    );
}

#[tokio::test]
async fn whole_numbers_written_with_a_fraction_are_accepted_as_integers() {
    // JSON Schema counts 19.0 as an integer, so clients and generated clients may send it.
    let app = TestApp::spawn().await;
    let body = json!({
        "authorId": 1.0, "organizationId": 1.0, "gameModeId": 13.0, "skillGroupId": 2.0,
        "settings": {"teamSize": 1.0, "teamCount": 2.0, "mode": "TEAMS", "competitive": false, "observable": false},
        "join": {"playerId": 1.0, "playerName": "one", "leaveAfter": 60.0}
    });
    let (status, scrim) = app.post("/scrims", body).await;
    assert_eq!(status, StatusCode::CREATED, "{scrim}");
    assert_eq!(scrim["settings"]["teamSize"], 1);
    let id = scrim["id"].as_str().expect("id");
    let join = json!({"playerId": 2.0, "playerName": "two", "leaveAfter": 60.0});
    let (status, popped) = app.post(&format!("/scrims/{id}/join"), join).await;
    assert_eq!(status, StatusCode::OK, "{popped}");
    let (status, body) = app
        .post(&format!("/scrims/{id}/check-in"), json!({"playerId": 2.0}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // A fraction is still refused.
    let mut fraction = create_body(3, 2, 2, "TEAMS");
    fraction["settings"]["teamSize"] = json!(1.5);
    assert_error(
        &app.post("/scrims", fraction).await,
        StatusCode::BAD_REQUEST,
        "InvalidRequest",
    );
}

#[tokio::test]
async fn values_outside_their_documented_bounds_are_refused() {
    let app = TestApp::spawn().await;
    let (_, doc) = app.get("/openapi.json").await;
    let schemas = &doc["components"]["schemas"];
    let property = &schemas["JoinOptions"]["properties"]["leaveAfter"];
    let leave_after = match property["$ref"].as_str() {
        Some(reference) => &schemas[reference.trim_start_matches("#/components/schemas/")],
        None => property,
    };
    let maximum = leave_after["maximum"]
        .as_f64()
        .expect("leaveAfter has a maximum") as i64;
    let mut too_long = create_body(1, 2, 2, "TEAMS");
    too_long["join"]["leaveAfter"] = json!(maximum + 1);
    assert_error(
        &app.post("/scrims", too_long).await,
        StatusCode::BAD_REQUEST,
        "InvalidRequest",
    );
    let mut longest = create_body(1, 2, 2, "TEAMS");
    longest["join"]["leaveAfter"] = json!(maximum);
    assert_eq!(app.post("/scrims", longest).await.0, StatusCode::CREATED);
    for id in [0, -4] {
        assert_error(
            &app.post_as("/scrims", create_body(id, 2, 2, "TEAMS"), As::Admin)
                .await,
            StatusCode::BAD_REQUEST,
            "InvalidRequest",
        );
    }
}
