//! Every transition and rule of DOMAIN §1.2 and §1.3 through the HTTP API.

use reqwest::StatusCode;
use serde_json::json;

use crate::common::{TestApp, assert_error, create_body, join_body};

#[tokio::test]
async fn a_new_scrim_is_pending_with_its_author_as_first_player() {
    let app = TestApp::spawn().await;
    let scrim = app.create(1, 2, 2, "TEAMS").await;
    assert_eq!(scrim["status"], "PENDING");
    assert_eq!(scrim["authorId"], 1);
    assert_eq!(scrim["players"][0]["id"], 1);
    assert_eq!(scrim["players"][0]["checkedIn"], false);
    assert_eq!(scrim["games"], json!([]));
    assert!(scrim.get("submissionId").is_none() && scrim.get("lobby").is_none());
    assert_eq!(scrim["settings"]["checkinTimeout"], 600_000);
    assert_eq!(scrim["settings"]["lfs"], false);
    let (status, fetched) = app
        .get(&format!("/scrims/{}", scrim["id"].as_str().expect("id")))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(fetched, scrim);
}

#[tokio::test]
async fn the_join_that_fills_a_scrim_pops_it_and_the_last_check_in_starts_it() {
    let app = TestApp::spawn().await;
    let scrim = app.create(1, 2, 2, "TEAMS").await;
    let (status, after_join) = app.join(&scrim, 2).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(after_join["status"], "PENDING");
    let popped = app.fill(&scrim, 3).await;
    assert!(
        popped["submissionId"]
            .as_str()
            .expect("submission")
            .starts_with("scrim-")
    );
    assert!(popped["poppedAt"].is_string());

    for player in 1..=3 {
        let (status, body) = app.check_in(&scrim, player).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["status"], "POPPED");
    }
    assert_error(
        &app.check_in(&scrim, 1).await,
        StatusCode::CONFLICT,
        "PlayerAlreadyCheckedIn",
    );
    assert_error(
        &app.check_in(&scrim, 99).await,
        StatusCode::CONFLICT,
        "PlayerNotInScrim",
    );
    let (status, started) = app.check_in(&scrim, 4).await;
    assert_eq!(status, StatusCode::OK, "{started}");
    assert_eq!(started["status"], "IN_PROGRESS");
    assert_eq!(started["games"].as_array().expect("games").len(), 3);
    for game in started["games"].as_array().expect("games") {
        let teams = game["teams"].as_array().expect("teams");
        assert_eq!(teams.len(), 2);
        assert!(
            teams
                .iter()
                .all(|team| team["players"].as_array().expect("players").len() == 2)
        );
    }
    // TEAMS: the same line-up plays every game.
    assert_eq!(started["games"][0], started["games"][1]);
    let lobby = &started["lobby"];
    assert!(lobby["name"].as_str().is_some_and(|name| !name.is_empty()));
    assert!(
        lobby["password"]
            .as_str()
            .is_some_and(|password| !password.is_empty())
    );
    assert_error(
        &app.join(&scrim, 50).await,
        StatusCode::CONFLICT,
        "ScrimAlreadyInProgress",
    );
    assert_error(
        &app.check_in(&scrim, 1).await,
        StatusCode::CONFLICT,
        "ScrimStatusNotPopped",
    );
}

#[tokio::test]
async fn round_robin_plays_three_different_partitions() {
    let app = TestApp::spawn().await;
    let scrim = app.create(1, 2, 2, "ROUND_ROBIN").await;
    app.fill(&scrim, 2).await;
    let mut started = serde_json::Value::Null;
    for player in 1..=4 {
        started = app.check_in(&scrim, player).await.1;
    }
    assert_eq!(started["status"], "IN_PROGRESS");
    let partitions: std::collections::HashSet<Vec<Vec<i64>>> = started["games"]
        .as_array()
        .expect("games")
        .iter()
        .map(|game| {
            let mut teams: Vec<Vec<i64>> = game["teams"]
                .as_array()
                .expect("teams")
                .iter()
                .map(|team| {
                    let mut ids: Vec<i64> = team["players"]
                        .as_array()
                        .expect("players")
                        .iter()
                        .map(|p| p["id"].as_i64().expect("id"))
                        .collect();
                    ids.sort_unstable();
                    ids
                })
                .collect();
            teams.sort();
            teams
        })
        .collect();
    assert_eq!(
        partitions.len(),
        3,
        "2v2 has exactly three partitions: {partitions:?}"
    );
}

#[tokio::test]
async fn leaving_updates_the_scrim_and_the_last_one_out_destroys_it() {
    let app = TestApp::spawn().await;
    let scrim = app.create(1, 2, 2, "TEAMS").await;
    let id = scrim["id"].as_str().expect("id");
    app.join(&scrim, 2).await;
    assert_error(
        &app.post(&format!("/scrims/{id}/leave"), json!({"playerId": 9}))
            .await,
        StatusCode::CONFLICT,
        "PlayerNotInScrim",
    );
    let (status, body) = app
        .post(&format!("/scrims/{id}/leave"), json!({"playerId": 2}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["players"].as_array().expect("players").len(), 1);
    let (status, body) = app
        .post(&format!("/scrims/{id}/leave"), json!({"playerId": 1}))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "EMPTY");
    assert_error(
        &app.get(&format!("/scrims/{id}")).await,
        StatusCode::NOT_FOUND,
        "ScrimNotFound",
    );
    assert_eq!(
        app.count("SELECT count(*) FROM matchmaking.scrim_players")
            .await,
        0
    );
    // The player may queue again.
    app.create(1, 2, 2, "TEAMS").await;
}

#[tokio::test]
async fn a_player_is_in_at_most_one_live_scrim() {
    let app = TestApp::spawn().await;
    let first = app.create(1, 2, 2, "TEAMS").await;
    let second = app.create(2, 2, 2, "TEAMS").await;
    assert_error(
        &app.post("/scrims", create_body(1, 2, 2, "TEAMS")).await,
        StatusCode::CONFLICT,
        "PlayerAlreadyInScrim",
    );
    assert_error(
        &app.join(&second, 1).await,
        StatusCode::CONFLICT,
        "PlayerAlreadyInScrim",
    );
    assert_error(
        &app.join(&first, 1).await,
        StatusCode::CONFLICT,
        "PlayerAlreadyInScrim",
    );
    let lfs = app.post("/scrims/lfs", create_body(2, 2, 2, "TEAMS")).await;
    assert_error(&lfs, StatusCode::CONFLICT, "PlayerAlreadyInScrim");
}

#[tokio::test]
async fn competitive_scrims_take_only_their_skill_group() {
    let app = TestApp::spawn().await;
    let mut body = create_body(1, 2, 2, "TEAMS");
    body["settings"]["competitive"] = json!(true);
    assert_error(
        &app.post("/scrims", body.clone()).await,
        StatusCode::FORBIDDEN,
        "ScrimSkillGroupMismatch",
    );
    body["join"]["skillGroupId"] = json!(2);
    let (status, scrim) = app.post("/scrims", body).await;
    assert_eq!(status, StatusCode::CREATED, "{scrim}");
    let id = scrim["id"].as_str().expect("id");
    let mut other = join_body(2);
    other["skillGroupId"] = json!(3);
    assert_error(
        &app.post(&format!("/scrims/{id}/join"), other).await,
        StatusCode::FORBIDDEN,
        "ScrimSkillGroupMismatch",
    );
    let mut same = join_body(2);
    same["skillGroupId"] = json!(2);
    assert_eq!(
        app.post(&format!("/scrims/{id}/join"), same).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn lfs_scrims_start_in_progress_with_placeholder_games() {
    let app = TestApp::spawn().await;
    let mut body = create_body(1, 3, 2, "TEAMS");
    body["join"]["team"] = json!(1);
    let (status, scrim) = app.post("/scrims/lfs", body).await;
    assert_eq!(status, StatusCode::CREATED, "{scrim}");
    assert_eq!(scrim["status"], "IN_PROGRESS");
    assert_eq!(scrim["settings"]["lfs"], true);
    let id = scrim["id"].as_str().expect("id");
    assert_eq!(scrim["submissionId"], format!("lfs-{id}"));
    assert_eq!(scrim["games"].as_array().expect("games").len(), 3);
    assert_eq!(scrim["games"][0]["teams"][1]["players"][0]["id"], 1);
    assert_eq!(scrim["games"][0]["teams"][0]["players"], json!([]));
    let (status, found) = app.get(&format!("/submissions/lfs-{id}/scrim")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(found["id"], id);
}

#[tokio::test]
async fn disabled_scrims_refuse_create_and_join() {
    let app = TestApp::spawn().await;
    let scrim = app.create(1, 2, 2, "TEAMS").await;
    assert_eq!(
        app.admin_post("/admin/scrims/disable", json!({})).await.1,
        json!({"disabled": true})
    );
    assert_eq!(
        app.get("/scrims/disabled").await.1,
        json!({"disabled": true})
    );
    assert_error(
        &app.post("/scrims", create_body(5, 2, 2, "TEAMS")).await,
        StatusCode::FORBIDDEN,
        "ScrimsDisabled",
    );
    assert_error(
        &app.join(&scrim, 2).await,
        StatusCode::FORBIDDEN,
        "ScrimsDisabled",
    );
    app.admin_post("/admin/scrims/enable", json!({})).await;
    assert_eq!(app.join(&scrim, 2).await.0, StatusCode::OK);
}

#[tokio::test]
async fn leaving_is_only_possible_while_pending() {
    let app = TestApp::spawn().await;
    let scrim = app.create(1, 1, 2, "TEAMS").await;
    app.fill(&scrim, 2).await;
    let id = scrim["id"].as_str().expect("id");
    assert_error(
        &app.post(&format!("/scrims/{id}/leave"), json!({"playerId": 1}))
            .await,
        StatusCode::CONFLICT,
        "ScrimAlreadyInProgress",
    );
    assert_eq!(
        app.get(&format!("/scrims/{id}")).await.1["players"]
            .as_array()
            .expect("players")
            .len(),
        2
    );
}
