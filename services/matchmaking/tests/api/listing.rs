//! Reading scrims: lookups by id, player and submission, the list and its filters, metrics.

use reqwest::StatusCode;
use serde_json::json;

use crate::common::{TestApp, assert_error, create_body};

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
    let (status, metrics) = app.get("/scrims/metrics").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        metrics,
        json!({"pendingScrims": 1, "totalScrims": 2, "playersScrimming": 2, "playersQueued": 1, "totalPlayers": 3})
    );
}

/// The ids of a list answer, in order.
fn ids(list: &serde_json::Value) -> Vec<String> {
    list.as_array()
        .expect("list")
        .iter()
        .map(|scrim| scrim["id"].as_str().expect("id").to_owned())
        .collect()
}

#[tokio::test]
async fn the_list_filters_as_the_clients_use_them() {
    let app = TestApp::spawn().await;
    let id = |scrim: &serde_json::Value| scrim["id"].as_str().expect("id").to_owned();
    // Skill group 2: one open scrim, one competitive; skill group 3: one competitive; one LFS.
    let open = app.create(1, 2, 2, "TEAMS").await;
    let competitive = |player: i32, skill_group: i32| {
        let mut body = create_body(player, 2, 2, "TEAMS");
        body["skillGroupId"] = json!(skill_group);
        body["settings"]["competitive"] = json!(true);
        body["join"]["skillGroupId"] = json!(skill_group);
        body
    };
    let (_, mine) = app.post("/scrims", competitive(2, 2)).await;
    let (_, theirs) = app.post("/scrims", competitive(3, 3)).await;
    let (_, lfs) = app.post("/scrims/lfs", create_body(4, 2, 2, "TEAMS")).await;
    let locked = app.create(5, 2, 2, "TEAMS").await;
    app.admin_post(&format!("/admin/scrims/{}/lock", id(&locked)), json!({}))
        .await;

    let all = ids(&app.get("/scrims").await.1);
    assert_eq!(
        all,
        [id(&open), id(&mine), id(&theirs), id(&lfs)],
        "LOCKED scrims are not listed by default"
    );
    assert_eq!(
        ids(&app.get("/scrims?status=LOCKED").await.1),
        [id(&locked)]
    );
    assert_eq!(ids(&app.get("/scrims?lfs=true").await.1), [id(&lfs)]);
    assert_eq!(
        ids(&app.get("/scrims?lfs=false").await.1),
        [id(&open), id(&mine), id(&theirs)]
    );
    // A skill group sees every open scrim and the competitive ones of its own group.
    assert_eq!(
        ids(&app.get("/scrims?skillGroupId=3").await.1),
        [id(&open), id(&theirs), id(&lfs)]
    );
    assert_eq!(
        ids(&app.get("/scrims?skillGroupId=2&status=PENDING").await.1),
        [id(&open), id(&mine)]
    );
    assert_eq!(
        ids(&app.get("/scrims?skillGroupId=9&lfs=false").await.1),
        [id(&open)]
    );
    assert_error(
        &app.get("/scrims?lfs=maybe").await,
        StatusCode::BAD_REQUEST,
        "InvalidRequest",
    );
}
