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
    let other_code = app.get(&format!("/scrims/{id}")).await.1["players"][2]["group"]
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
async fn admin_routes_need_the_token() {
    let app = TestApp::spawn().await;
    let scrim = app.create(1, 2, 2, "TEAMS").await;
    let id = scrim["id"].as_str().expect("id");
    assert_error(
        &app.post(&format!("/admin/scrims/{id}/cancel"), json!({}))
            .await,
        StatusCode::UNAUTHORIZED,
        "Unauthorized",
    );
    let wrong = app
        .client
        .post(app.url(&format!("/admin/scrims/{id}/lock")))
        .bearer_auth("not-the-token")
        .send()
        .await
        .expect("request");
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.get(&format!("/scrims/{id}")).await.1["status"],
        "PENDING"
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
async fn lookups_by_player_and_submission_and_listing_filters() {
    let app = TestApp::spawn().await;
    let pending = app.create(1, 2, 2, "TEAMS").await;
    let other = app.create(10, 1, 2, "TEAMS").await;
    let popped = app.fill(&other, 11).await;
    assert_eq!(app.get("/players/1/scrim").await.1["id"], pending["id"]);
    assert_error(
        &app.get("/players/77/scrim").await,
        StatusCode::NOT_FOUND,
        "ScrimNotFound",
    );
    let submission = popped["submissionId"].as_str().expect("submission");
    assert_eq!(
        app.get(&format!("/submissions/{submission}/scrim")).await.1["id"],
        other["id"]
    );
    assert_error(
        &app.get("/submissions/scrim-nope/scrim").await,
        StatusCode::NOT_FOUND,
        "ScrimSubmissionNotFound",
    );
    let (_, listed) = app.get("/scrims?status=PENDING&organizationId=1").await;
    assert_eq!(listed.as_array().expect("list").len(), 1);
    assert_eq!(listed[0]["id"], pending["id"]);
    assert_eq!(
        app.get("/scrims").await.1.as_array().expect("list").len(),
        2
    );
    assert_eq!(app.get("/scrims?skillGroupId=99").await.1, json!([]));
    let (status, metrics) = app.get("/scrims/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        metrics,
        json!({"pendingScrims": 1, "totalScrims": 2, "playersScrimming": 2, "playersQueued": 1, "totalPlayers": 3})
    );
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
