//! Groups (DOMAIN §1.3): codes, limits, the invite window, and teams that keep groups together.

use reqwest::StatusCode;
use serde_json::json;

use crate::common::{As, TestApp, assert_error, create_body, join_body};

#[tokio::test]
async fn groups_follow_their_limits_and_the_invite_window() {
    let app = TestApp::spawn().await;
    let mut body = create_body(1, 2, 2, "TEAMS");
    body["join"]["createGroup"] = json!(true);
    let (status, scrim) = app.post("/scrims", body).await;
    assert_eq!(status, StatusCode::CREATED, "{scrim}");
    let code = scrim["players"][0]["group"]
        .as_str()
        .expect("group code")
        .to_owned();
    assert!(code.len() == 5 && code.bytes().all(|b| b.is_ascii_lowercase()));
    assert!(scrim["groupInviteOpensAt"].is_string());

    // During the window only grouped joins are accepted.
    assert_error(
        &app.join(&scrim, 2).await,
        StatusCode::CONFLICT,
        "ScrimGroupInviteWindowActive",
    );
    let id = scrim["id"].as_str().expect("id");
    let join_group = |player: i32, code: &str| {
        let mut body = join_body(player);
        body["joinGroup"] = json!(code);
        body
    };
    assert_error(
        &app.post(&format!("/scrims/{id}/join"), join_group(2, "zzzzz"))
            .await,
        StatusCode::NOT_FOUND,
        "GroupNotFound",
    );
    let (status, joined) = app
        .post(&format!("/scrims/{id}/join"), join_group(2, &code))
        .await;
    assert_eq!(status, StatusCode::OK, "{joined}");
    // teamSize 2: the group is full.
    assert_error(
        &app.post(&format!("/scrims/{id}/join"), join_group(3, &code))
            .await,
        StatusCode::CONFLICT,
        "GroupFull",
    );
    // teamCount 2: one more group, then no more.
    let mut create_group = join_body(3);
    create_group["createGroup"] = json!(true);
    let (status, body) = app.post(&format!("/scrims/{id}/join"), create_group).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut another = join_body(4);
    another["createGroup"] = json!(true);
    assert_error(
        &app.post(&format!("/scrims/{id}/join"), another).await,
        StatusCode::CONFLICT,
        "MaxGroupsCreated",
    );
}

#[tokio::test]
async fn groups_stay_together_on_one_team() {
    let app = TestApp::spawn().await;
    let mut body = create_body(1, 2, 2, "TEAMS");
    body["join"]["createGroup"] = json!(true);
    let scrim = app.post("/scrims", body).await.1;
    let id = scrim["id"].as_str().expect("id").to_owned();
    let code = scrim["players"][0]["group"]
        .as_str()
        .expect("code")
        .to_owned();
    let mut friend = join_body(2);
    friend["joinGroup"] = json!(code);
    app.post(&format!("/scrims/{id}/join"), friend).await;
    let mut others = join_body(3);
    others["createGroup"] = json!(true);
    app.post(&format!("/scrims/{id}/join"), others).await;
    let other_code = app.get_as(&format!("/scrims/{id}"), As::Admin).await.1["players"][2]["group"]
        .as_str()
        .expect("code")
        .to_owned();
    let mut last = join_body(4);
    last["joinGroup"] = json!(other_code);
    assert_eq!(
        app.post(&format!("/scrims/{id}/join"), last).await.1["status"],
        "POPPED"
    );
    let mut started = serde_json::Value::Null;
    for player in 1..=4 {
        started = app.check_in(&scrim, player).await.1;
    }
    for game in started["games"].as_array().expect("games") {
        for team in game["teams"].as_array().expect("teams") {
            let groups: std::collections::HashSet<&str> = team["players"]
                .as_array()
                .expect("players")
                .iter()
                .map(|p| p["group"].as_str().expect("group"))
                .collect();
            assert_eq!(groups.len(), 1, "a team mixes groups: {team}");
        }
    }
}

#[tokio::test]
async fn groups_are_refused_in_round_robin() {
    let app = TestApp::spawn().await;
    let mut body = create_body(1, 2, 2, "ROUND_ROBIN");
    body["join"]["createGroup"] = json!(true);
    assert_error(
        &app.post("/scrims", body).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "ScrimGroupNotSupportedInMode",
    );
    let scrim = app.create(1, 2, 2, "ROUND_ROBIN").await;
    let mut join = join_body(2);
    join["joinGroup"] = json!("abcde");
    let answer = app
        .post(
            &format!("/scrims/{}/join", scrim["id"].as_str().expect("id")),
            join,
        )
        .await;
    assert_error(
        &answer,
        StatusCode::UNPROCESSABLE_ENTITY,
        "ScrimGroupNotSupportedInMode",
    );
}

#[tokio::test]
async fn ungrouped_joins_are_accepted_once_the_invite_window_has_closed() {
    let app = TestApp::spawn_with(crate::common::Settings {
        group_invite_window_secs: 0,
        ..crate::common::test_settings()
    })
    .await;
    let mut body = create_body(1, 2, 2, "TEAMS");
    body["join"]["createGroup"] = json!(true);
    let scrim = app.post("/scrims", body).await.1;
    let (status, joined) = app.join(&scrim, 2).await;
    assert_eq!(status, StatusCode::OK, "{joined}");
}

/// Creates a group in `scrim` for `player`; returns the scrim after the join.
async fn join_creating_group(
    app: &TestApp,
    scrim: &serde_json::Value,
    player: i32,
) -> serde_json::Value {
    let mut body = join_body(player);
    body["createGroup"] = json!(true);
    let id = scrim["id"].as_str().expect("id");
    let (status, after) = app.post(&format!("/scrims/{id}/join"), body).await;
    assert_eq!(status, StatusCode::OK, "{after}");
    after
}

#[tokio::test]
async fn the_invite_window_opens_with_the_first_group_only() {
    let app = TestApp::spawn().await;
    let mut body = create_body(1, 2, 3, "TEAMS");
    body["join"]["createGroup"] = json!(true);
    let (_, scrim) = app.post("/scrims", body).await;
    let opened = scrim["groupInviteOpensAt"].clone();
    assert!(opened.is_string(), "{scrim}");
    let after = join_creating_group(&app, &scrim, 2).await;
    assert_eq!(
        after["groupInviteOpensAt"], opened,
        "a second group must not move the window"
    );
}

#[tokio::test]
async fn the_invite_window_closes_when_the_last_group_empties() {
    let app = TestApp::spawn().await;
    let scrim = app.create(1, 2, 2, "TEAMS").await;
    assert!(scrim.get("groupInviteOpensAt").is_none(), "{scrim}");
    let grouped = join_creating_group(&app, &scrim, 2).await;
    assert!(grouped["groupInviteOpensAt"].is_string(), "{grouped}");
    assert_error(
        &app.join(&scrim, 3).await,
        StatusCode::CONFLICT,
        "ScrimGroupInviteWindowActive",
    );
    let id = scrim["id"].as_str().expect("id");
    let (status, left) = app
        .post(&format!("/scrims/{id}/leave"), json!({"playerId": 2}))
        .await;
    assert_eq!(status, StatusCode::OK, "{left}");
    assert!(
        left.get("groupInviteOpensAt").is_none(),
        "no group is left, so no window: {left}"
    );
    let (status, joined) = app.join(&scrim, 3).await;
    assert_eq!(status, StatusCode::OK, "{joined}");
}

#[tokio::test]
async fn a_group_is_refused_in_a_one_versus_one() {
    let app = TestApp::spawn().await;
    let mut body = create_body(1, 1, 2, "TEAMS");
    body["join"]["createGroup"] = json!(true);
    let answer = app.post("/scrims", body).await;
    assert_error(
        &answer,
        StatusCode::UNPROCESSABLE_ENTITY,
        "ScrimGroupNotSupportedInMode",
    );
    assert!(
        answer.1["message"]
            .as_str()
            .expect("message")
            .contains("team"),
        "the message says why: {}",
        answer.1
    );
    let scrim = app.create(1, 1, 2, "TEAMS").await;
    let mut join = join_body(2);
    join["createGroup"] = json!(true);
    let id = scrim["id"].as_str().expect("id");
    assert_error(
        &app.post(&format!("/scrims/{id}/join"), join).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "ScrimGroupNotSupportedInMode",
    );
    assert_eq!(
        app.count("SELECT count(*) FROM matchmaking.scrim_groups")
            .await,
        0
    );
}
