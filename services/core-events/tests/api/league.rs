//! The admin API over the league data, and the player events its changes publish in the same
//! transaction.

use core_events::input::Id;
use core_events::league::Target;
use core_events::league::players::{Player, upsert_player};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{TestApp, assert_error};

fn player(member: i32, skill_group: i32, salary: f64, team: Option<i32>) -> Value {
    json!({"memberId": member, "skillGroupId": skill_group, "salary": salary, "teamId": team})
}

#[tokio::test]
async fn a_skill_group_change_publishes_player_skill_group_changed() {
    let app = TestApp::with_demo_league().await;
    // HyperNova (player 1, Master League, Insanity's team 1) ranks out to the Champion League as
    // a free agent.
    let (status, saved) = app
        .admin(Method::PUT, "/admin/players/1", player(1, 3, 12.5, None))
        .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(saved["written"], "UPDATED");
    let events = app.events("notifications.member_events").await;
    let topics: Vec<&str> = events
        .iter()
        .map(|e| e["topic"].as_str().expect("topic"))
        .collect();
    assert_eq!(topics, ["player.skillGroupChanged", "player.teamChanged"]);
    let change = &events[0]["payload"];
    assert_eq!(change["playerId"], 1);
    assert_eq!(change["userId"], 1);
    assert_eq!(change["name"], "HyperNova");
    assert_eq!(change["organizationId"], 1);
    assert_eq!(change["discordId"], "900000000000000001");
    assert_eq!(
        change["old"],
        json!({"id": 2, "name": "Master League", "salary": 15.0, "discordEmojiId": null})
    );
    assert_eq!(
        change["new"],
        json!({"id": 3, "name": "Champion League", "salary": 12.5, "discordEmojiId": null})
    );
    let team = &events[1]["payload"];
    assert_eq!(team["old"]["name"], "Insanity");
    assert_eq!(team["new"], Value::Null, "a free agent now");
    assert_eq!(
        app.count("SELECT count(*) FROM core.roster_slots WHERE player_id = 1")
            .await,
        0
    );

    // The same again changes and announces nothing.
    let (_, saved) = app
        .admin(Method::PUT, "/admin/players/1", player(1, 3, 12.5, None))
        .await;
    assert_eq!(saved["written"], "UNCHANGED");
    assert_eq!(app.events("notifications.member_events").await.len(), 2);
}

#[tokio::test]
async fn a_player_event_commits_with_its_change_or_not_at_all() {
    let app = TestApp::with_demo_league().await;
    let moved = Player {
        id: None,
        member_id: Id::try_from(2).expect("id"),
        skill_group_id: Id::try_from(3).expect("id"),
        salary: core_events::input::Salary::try_from(12.0).expect("salary"),
        team_id: None,
    };
    let target = Target::Existing(Id::try_from(2).expect("id"));
    // Rolled back: neither the change nor its events remain.
    let mut tx = app.pool().begin().await.expect("begin");
    upsert_player(&mut tx, target, &moved)
        .await
        .expect("the change");
    tx.rollback().await.expect("rollback");
    assert_eq!(
        app.count("SELECT skill_group_id::bigint FROM core.players WHERE id = 2")
            .await,
        2
    );
    assert!(app.events("notifications.member_events").await.is_empty());
    // Committed: both.
    let mut tx = app.pool().begin().await.expect("begin");
    upsert_player(&mut tx, target, &moved)
        .await
        .expect("the change");
    tx.commit().await.expect("commit");
    assert_eq!(
        app.count("SELECT skill_group_id::bigint FROM core.players WHERE id = 2")
            .await,
        3
    );
    assert_eq!(
        app.topics("notifications.member_events").await,
        ["player.skillGroupChanged", "player.teamChanged"]
    );
}

#[tokio::test]
async fn a_team_change_publishes_player_team_changed_and_keeps_teams_in_the_skill_group() {
    let app = TestApp::with_demo_league().await;
    let team: i64 = app
        .count("SELECT id::bigint FROM core.teams WHERE franchise_id = 2 AND skill_group_id = 2")
        .await;
    // Tidalwave (player 3) moves from Insanity to AOS in the Master League.
    let (status, saved) = app
        .admin(
            Method::PUT,
            "/admin/players/3",
            player(3, 2, 15.0, Some(team as i32)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    let events = app.events("notifications.member_events").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["topic"], "player.teamChanged");
    assert_eq!(events[0]["payload"]["old"]["name"], "Insanity");
    assert_eq!(
        events[0]["payload"]["new"],
        json!({"teamId": team, "franchiseId": 2, "name": "AOS", "skillGroupId": 2})
    );

    // A team of another skill group is refused, and nothing is announced.
    let other = app
        .count("SELECT id::bigint FROM core.teams WHERE skill_group_id = 3 LIMIT 1")
        .await;
    let refused = app
        .admin(
            Method::PUT,
            "/admin/players/3",
            player(3, 2, 15.0, Some(other as i32)),
        )
        .await;
    assert_error(
        &refused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "UnknownReference",
    );
    assert_eq!(app.events("notifications.member_events").await.len(), 1);
    // A player's member never changes.
    let refused = app
        .admin(Method::PUT, "/admin/players/3", player(4, 2, 15.0, None))
        .await;
    assert_error(&refused, StatusCode::BAD_REQUEST, "InvalidRequest");
    let missing = app
        .admin(Method::PUT, "/admin/players/999", player(3, 2, 15.0, None))
        .await;
    assert_error(&missing, StatusCode::NOT_FOUND, "NotFound");
}

#[tokio::test]
async fn records_are_created_through_the_admin_api_with_their_rules_enforced() {
    let app = TestApp::spawn().await;
    let (status, org) = app.admin(Method::POST, "/admin/organizations", json!({"name": "Second League", "websiteUrl": null, "primaryColor": "#112233", "secondaryColor": null, "logoUrl": null})).await;
    assert_eq!(status, StatusCode::CREATED, "{org}");
    let org = org["id"].clone();
    let duplicate = app.admin(Method::POST, "/admin/organizations", json!({"name": "Second League", "websiteUrl": null, "primaryColor": null, "secondaryColor": null, "logoUrl": null})).await;
    assert_error(&duplicate, StatusCode::CONFLICT, "AlreadyExists");

    let (_, user) = app
        .admin(
            Method::POST,
            "/admin/users",
            json!({"displayName": "Someone", "discordId": "123456789"}),
        )
        .await;
    let (_, other_user) = app
        .admin(
            Method::POST,
            "/admin/users",
            json!({"displayName": "Other", "discordId": null}),
        )
        .await;
    let account =
        json!({"platform": "EPIC", "platformAccountId": "8e7b1cfe105b4da2ae491fa82bcaeab1"});
    let (status, member) = app
        .admin(Method::POST, "/admin/members", json!({"organizationId": org, "userId": user["id"], "name": "Someone", "accounts": [account]}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{member}");
    let taken = app
        .admin(Method::POST, "/admin/members", json!({"organizationId": org, "userId": other_user["id"], "name": "Other", "accounts": [account]}))
        .await;
    assert_error(&taken, StatusCode::CONFLICT, "AlreadyExists");
    assert!(
        taken.1["message"]
            .as_str()
            .expect("message")
            .contains("another member owns"),
        "{}",
        taken.1
    );
    let twice = app
        .admin(
            Method::POST,
            "/admin/members",
            json!({"organizationId": org, "userId": user["id"], "name": "Again"}),
        )
        .await;
    assert_error(&twice, StatusCode::CONFLICT, "AlreadyExists");
    let nowhere = app
        .admin(
            Method::POST,
            "/admin/members",
            json!({"organizationId": 99, "userId": user["id"], "name": "Lost"}),
        )
        .await;
    assert_error(
        &nowhere,
        StatusCode::UNPROCESSABLE_ENTITY,
        "UnknownReference",
    );

    let (_, game) = app
        .admin(
            Method::POST,
            "/admin/games",
            json!({"title": "Rocket League"}),
        )
        .await;
    let (status, mode) = app
        .admin(Method::POST, "/admin/game-modes", json!({"gameId": game["id"], "code": "RL_DOUBLES", "description": "Doubles", "teamSize": 2, "teamCount": 2}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{mode}");
    let (status, group) = app
        .admin(Method::POST, "/admin/skill-groups", json!({"organizationId": org, "gameId": game["id"], "ordinal": 1, "code": "PL", "description": "Premier", "salaryCap": null, "color": "#FFAA00", "discordEmojiId": null, "photoUrl": null, "scrimWebhookUrl": "https://discord.com/api/webhooks/1/abc", "scrimReportCardWebhookUrl": null, "matchReportCardWebhookUrl": null, "scrimDiscordRoleId": "42"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{group}");
    let bad_webhook = app
        .admin(Method::POST, "/admin/skill-groups", json!({"organizationId": org, "gameId": game["id"], "ordinal": 2, "code": "ML", "description": "Master", "salaryCap": null, "color": null, "discordEmojiId": null, "photoUrl": null, "scrimWebhookUrl": "https://evil.example/hook", "scrimReportCardWebhookUrl": null, "matchReportCardWebhookUrl": null, "scrimDiscordRoleId": null}))
        .await;
    assert_error(&bad_webhook, StatusCode::BAD_REQUEST, "InvalidRequest");
    assert!(
        bad_webhook.1["message"]
            .as_str()
            .expect("message")
            .contains("scrimWebhookUrl"),
        "{}",
        bad_webhook.1
    );

    let (status, franchise) = app
        .admin(Method::POST, "/admin/franchises", json!({"organizationId": org, "title": "Rockets", "code": "RKT", "primaryColor": null, "secondaryColor": null, "photoUrl": null, "scrimReportCardWebhookUrl": null, "matchReportCardWebhookUrl": null, "submissionWebhookUrl": null, "submissionDiscordRoleId": null, "staff": [{"memberId": member["id"], "role": "FM"}]}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{franchise}");
    let (status, team) = app
        .admin(
            Method::POST,
            "/admin/teams",
            json!({"franchiseId": franchise["id"], "skillGroupId": group["id"]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{team}");
    let (status, created) = app
        .admin(Method::POST, "/admin/players", json!({"memberId": member["id"], "skillGroupId": group["id"], "salary": 10.5, "teamId": team["id"]}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert!(
        app.events("notifications.member_events").await.is_empty(),
        "a new player's first team is no change"
    );
    let in_use = app
        .request(
            Method::DELETE,
            &format!("/admin/teams/{}", team["id"]),
            crate::common::Token::Admin,
            None,
        )
        .await;
    assert_error(&in_use, StatusCode::CONFLICT, "StillReferenced");

    let (status, staff) = app
        .admin(
            Method::PUT,
            &format!("/admin/franchises/{}/staff", franchise["id"]),
            json!([{"memberId": member["id"], "role": "GM"}]),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{staff}");
    assert_eq!(staff["written"], "UPDATED");
    assert_eq!(
        app.count("SELECT count(*) FROM core.franchise_staff_appointments WHERE role = 'GM'")
            .await,
        1
    );
}

#[tokio::test]
async fn organization_settings_are_typed_bounded_and_fall_back_to_their_defaults() {
    let app = TestApp::with_demo_league().await;
    let (status, setting) = app
        .admin(
            Method::PUT,
            "/admin/organizations/1/settings/SCRIM_REQUIRED_RATIFICATIONS",
            json!({"value": "3"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{setting}");
    assert_eq!(setting["value"], "3");
    assert_eq!(setting["isSet"], true);
    assert_eq!(setting["defaultValue"], "-1");

    let not_a_number = app
        .admin(
            Method::PUT,
            "/admin/organizations/1/settings/SCRIM_REQUIRED_RATIFICATIONS",
            json!({"value": "three"}),
        )
        .await;
    assert_error(&not_a_number, StatusCode::BAD_REQUEST, "InvalidRequest");
    let out_of_bounds = app
        .admin(
            Method::PUT,
            "/admin/organizations/1/settings/SCRIM_QUEUE_BAN_CHECKIN_TIMEOUT_MINUTES",
            json!({"value": "600"}),
        )
        .await;
    assert_error(&out_of_bounds, StatusCode::BAD_REQUEST, "InvalidRequest");
    let not_a_webhook = app
        .admin(
            Method::PUT,
            "/admin/organizations/1/settings/TRANSACTIONS_DISCORD_WEBHOOK_URL",
            json!({"value": "https://example.org"}),
        )
        .await;
    assert_error(&not_a_webhook, StatusCode::BAD_REQUEST, "InvalidRequest");
    let unknown = app
        .admin(
            Method::PUT,
            "/admin/organizations/1/settings/NO_SUCH_KEY",
            json!({"value": "1"}),
        )
        .await;
    assert_error(
        &unknown,
        StatusCode::UNPROCESSABLE_ENTITY,
        "UnknownReference",
    );

    // What matchmaking reads through its view.
    let matchmaking = app.db.pool_as(db::ServiceRole::Matchmaking).await;
    let read = |key: &'static str| {
        let pool = matchmaking.clone();
        async move {
            sqlx::query_scalar::<_, Option<String>>(
                "SELECT value FROM core.organization_settings WHERE organization_id = 1 AND key = $1",
            )
            .bind(key)
            .fetch_one(&pool)
            .await
            .expect("matchmaking reads the settings")
        }
    };
    assert_eq!(
        read("SCRIM_REQUIRED_RATIFICATIONS").await.as_deref(),
        Some("3")
    );
    assert_eq!(
        read("SCRIM_QUEUE_BAN_INITIAL_DURATION_MINUTES")
            .await
            .as_deref(),
        Some("1440")
    );
    assert_eq!(read("TRANSACTIONS_DISCORD_WEBHOOK_URL").await, None);

    let (status, reset) = app
        .request(
            Method::DELETE,
            "/admin/organizations/1/settings/SCRIM_REQUIRED_RATIFICATIONS",
            crate::common::Token::Admin,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{reset}");
    assert_eq!(reset["value"], "-1");
    assert_eq!(
        read("SCRIM_REQUIRED_RATIFICATIONS").await.as_deref(),
        Some("-1")
    );
    let (_, all) = app.admin_get("/admin/organizations/1/settings").await;
    assert_eq!(all.as_array().map(Vec::len), Some(8), "{all}");
}

#[tokio::test]
async fn the_scrims_switch_tells_matchmaking_and_the_dm_switch_is_a_platform_setting() {
    let app = TestApp::spawn().await;
    let (status, body) = app
        .admin(Method::POST, "/admin/scrims/disable", json!(null))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"disabled": true}));
    let events = app.events("matchmaking.core_events").await;
    assert_eq!(
        events,
        vec![json!({"topic": "scrims.disabled", "payload": true})]
    );

    let (status, dms) = app
        .admin(
            Method::PUT,
            "/admin/platform-settings/DISABLE_DISCORD_DMS",
            json!({"value": "true"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{dms}");
    let notifications = app.db.pool_as(db::ServiceRole::Notifications).await;
    let value: String = sqlx::query_scalar(
        "SELECT value FROM core.platform_settings WHERE key = 'DISABLE_DISCORD_DMS'",
    )
    .fetch_one(&notifications)
    .await
    .expect("notifications reads the switch");
    assert_eq!(value, "true");
    let not_boolean = app
        .admin(
            Method::PUT,
            "/admin/platform-settings/DISABLE_DISCORD_DMS",
            json!({"value": "yes"}),
        )
        .await;
    assert_error(&not_boolean, StatusCode::BAD_REQUEST, "InvalidRequest");
    let via_switch = app
        .admin(
            Method::PUT,
            "/admin/platform-settings/SCRIMS_DISABLED",
            json!({"value": "false"}),
        )
        .await;
    assert_error(&via_switch, StatusCode::BAD_REQUEST, "InvalidRequest");
}
