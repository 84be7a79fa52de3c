//! `core-events import`: a whole league in one transaction, idempotent, and all-or-nothing.

use core_events::import::{ImportArgs, ImportError, Rejected, Summary};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{TestApp, demo_league_json};

/// The rejection of a file (any other outcome fails the test).
fn rejection(outcome: Result<Summary, ImportError>) -> Rejected {
    match outcome {
        Err(ImportError::Rejected(rejected)) => rejected,
        other => panic!("a rejection, not {other:?}"),
    }
}

fn demo() -> Value {
    serde_json::from_str(&demo_league_json()).expect("the demo league is JSON")
}

#[tokio::test]
async fn the_demo_league_imports_every_record() {
    let app = TestApp::spawn().await;
    let summary = app.import(&demo_league_json()).await.expect("imports");
    let league = demo();
    for (kind, table) in [
        ("organizations", "core.organizations"),
        ("users", "core.users"),
        ("games", "core.games"),
        ("gameModes", "core.game_mode_definitions"),
        ("skillGroups", "core.skill_group_definitions"),
        ("members", "core.members"),
        ("franchises", "core.franchises"),
        ("teams", "core.teams"),
        ("players", "core.players"),
        ("leagueMatches", "core.league_matches"),
    ] {
        let expected = league[kind].as_array().expect(kind).len();
        assert_eq!(
            summary.created.get(kind),
            Some(&expected),
            "{kind}: {summary}"
        );
        assert_eq!(
            app.count(&format!("SELECT count(*) FROM {table}")).await,
            expected as i64,
            "{table}"
        );
    }
    assert!(
        summary.updated.is_empty() && summary.unchanged.is_empty(),
        "{summary}"
    );
    // Every player owns the account of one replay player; the series' six are rostered.
    assert_eq!(
        app.count("SELECT count(*) FROM core.member_platform_accounts")
            .await,
        34
    );
    assert_eq!(
        app.count("SELECT count(*) FROM core.roster_slots").await,
        28
    );
    assert_eq!(
        app.count("SELECT count(*) FROM core.franchise_staff_appointments")
            .await,
        16
    );
}

#[tokio::test]
async fn importing_the_same_file_twice_changes_nothing() {
    let app = TestApp::spawn().await;
    app.import(&demo_league_json()).await.expect("first import");
    let snapshot = |app: &TestApp| {
        let owner = app.owner.clone();
        async move {
            let rows: Vec<(String,)> = sqlx::query_as(
                "SELECT concat_ws('|', (SELECT string_agg(updated_at::text, ',' ORDER BY id) FROM core.players),
                                     (SELECT string_agg(updated_at::text, ',' ORDER BY id) FROM core.organizations),
                                     (SELECT string_agg(id::text, ',' ORDER BY id) FROM core.member_platform_accounts),
                                     (SELECT count(*)::text FROM core.franchise_staff_appointments))",
            )
            .fetch_all(&owner)
            .await
            .expect("snapshot");
            rows
        }
    };
    let before = snapshot(&app).await;
    let events_before = app.events("notifications.member_events").await.len();

    let sequence = |app: &TestApp| {
        let owner = app.owner.clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT last_value FROM core.players_id_seq")
                .fetch_one(&owner)
                .await
                .expect("sequence")
        }
    };
    let position = sequence(&app).await;

    let summary = app
        .import(&demo_league_json())
        .await
        .expect("second import");
    assert_eq!(
        sequence(&app).await,
        position,
        "the id sequences did not move"
    );
    assert!(
        !summary.changed(),
        "nothing is created or updated: {summary}"
    );
    assert_eq!(summary.unchanged.get("players"), Some(&34));
    assert_eq!(snapshot(&app).await, before, "no row was rewritten");
    assert_eq!(
        app.events("notifications.member_events").await.len(),
        events_before,
        "an unchanged league announces nothing"
    );
}

#[tokio::test]
async fn a_bad_record_rejects_the_whole_file_naming_its_path_and_reason() {
    let app = TestApp::spawn().await;
    let mut league = demo();
    // The fourth player's skill group does not exist.
    league["players"][3]["skillGroupId"] = json!(99);
    let rejected = rejection(app.import(&league.to_string()).await);
    assert_eq!(rejected.path, "$.players[3]");
    assert!(rejected.reason.contains("skill group 99"), "{rejected}");
    for table in [
        "core.organizations",
        "core.users",
        "core.members",
        "core.players",
    ] {
        assert_eq!(
            app.count(&format!("SELECT count(*) FROM {table}")).await,
            0,
            "{table}: nothing imported"
        );
    }
}

#[tokio::test]
async fn a_malformed_value_is_named_by_its_json_path() {
    let app = TestApp::spawn().await;
    let mut league = demo();
    league["users"][2]["discordId"] = json!("not-a-snowflake");
    let rejected = rejection(app.import(&league.to_string()).await);
    assert_eq!(rejected.path, "$.users[2].discordId");
    assert!(rejected.reason.contains("Discord id"), "{rejected}");

    let mut league = demo();
    league["members"][0]["name"] = json!("nul\u{0}byte");
    let rejected = rejection(app.import(&league.to_string()).await);
    assert_eq!(
        rejected.path, "$.members[0].name",
        "a NUL byte is refused: {rejected}"
    );
    assert_eq!(app.count("SELECT count(*) FROM core.users").await, 0);
}

#[tokio::test]
async fn a_platform_account_listed_twice_or_a_missing_id_rejects_the_file() {
    let app = TestApp::spawn().await;
    let mut league = demo();
    let account = league["members"][0]["accounts"][0].clone();
    league["members"][1]["accounts"] = json!([account]);
    let rejected = rejection(app.import(&league.to_string()).await);
    assert_eq!(rejected.path, "$.members[1].accounts[0]", "{rejected}");

    let mut league = demo();
    league["franchises"][2]
        .as_object_mut()
        .expect("object")
        .remove("id");
    let rejected = rejection(app.import(&league.to_string()).await);
    assert_eq!(rejected.path, "$.franchises[2]");
    assert!(rejected.reason.contains("every record"), "{rejected}");
}

#[tokio::test]
async fn records_created_after_an_import_take_ids_past_the_imported_ones() {
    let app = TestApp::with_demo_league().await;
    let (status, body) = app
        .admin(
            Method::POST,
            "/admin/users",
            json!({"displayName": "Newcomer", "discordId": null}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["id"], 35, "{body}");
    assert_eq!(body["written"], "CREATED");
}

#[tokio::test]
async fn the_import_command_reads_a_file_and_a_dry_run_writes_nothing() {
    let app = TestApp::spawn().await;
    let path = std::env::temp_dir().join(format!("league-{}.json", uuid::Uuid::new_v4()));
    std::fs::write(&path, demo_league_json()).expect("write the file");
    let dry = core_events::import::run(
        app.pool(),
        &ImportArgs {
            file: path.clone(),
            dry_run: true,
        },
    )
    .await
    .expect("dry run");
    assert!(dry.changed());
    assert_eq!(app.count("SELECT count(*) FROM core.players").await, 0);
    let imported = core_events::import::run(
        app.pool(),
        &ImportArgs {
            file: path.clone(),
            dry_run: false,
        },
    )
    .await
    .expect("import");
    assert_eq!(imported, dry, "the dry run reported what the import did");
    assert_eq!(app.count("SELECT count(*) FROM core.players").await, 34);
    std::fs::remove_file(path).ok();
}
