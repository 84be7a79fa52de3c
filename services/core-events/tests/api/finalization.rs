//! Finalization of `submission.ratified` (DOMAIN §3): the series as a scrim, a competitive LFS
//! with its eligibility cap, a league match, a test scrim; exactly once under redelivery and
//! racing workers.

use domain::results::GameResults;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::TestApp;
use crate::fixtures::{
    self, directory, fixture, game, ratified_match, ratified_scrim, roster, scrim, series,
};

const RESULT_TABLES: [&str; 7] = [
    "core.scrim_metas",
    "core.matches",
    "core.rounds",
    "core.team_stat_lines",
    "core.player_stat_lines",
    "core.eligibility_points",
    "core.rating_jobs",
];

pub(crate) async fn saved_rows(app: &TestApp) -> Vec<i64> {
    let mut counts = Vec::new();
    for table in RESULT_TABLES {
        counts.push(app.count(&format!("SELECT count(*) FROM {table}")).await);
    }
    counts
}

#[tokio::test]
async fn the_three_game_series_saves_as_a_competitive_scrim() {
    let app = TestApp::with_demo_league().await;
    let event = fixtures::series_scrim(&app, true).await;
    app.deliver_ratified(&event).await;
    let outcome = app.run_finalization().await;
    assert_eq!((outcome.acked, outcome.dead), (1, 0), "{outcome:?}");

    assert_eq!(
        saved_rows(&app).await,
        vec![1, 1, 3, 6, 18, 6, 1],
        "meta, match, 3 rounds, 6 sides, 18 players, 6 eligibility rows, 1 rating job"
    );
    // Team 1 (AOS) won games 1 and 3, team 0 (Insanity) game 2; scrims count blue as home.
    let rounds: Vec<(i16, Option<i16>, bool, i16)> = sqlx::query_as(
        "SELECT game_index, winning_side, home_won, home_side FROM core.rounds ORDER BY game_index",
    )
    .fetch_all(&app.owner)
    .await
    .expect("rounds");
    assert_eq!(
        rounds,
        vec![
            (0, Some(1), false, 0),
            (1, Some(0), true, 0),
            (2, Some(1), false, 0)
        ]
    );
    let sides: Vec<(String, i32, String)> = sqlx::query_as(
        "SELECT team_name, goals, result FROM core.team_stat_lines t JOIN core.rounds r ON r.id = t.round_id
         ORDER BY r.game_index, t.side",
    )
    .fetch_all(&app.owner)
    .await
    .expect("sides");
    assert_eq!(sides[0], ("Blue Team".to_owned(), 1, "LOSS".to_owned()));
    assert_eq!(sides[5], ("Orange Team".to_owned(), 5, "WIN".to_owned()));
    // Series totals of one player (MANIFEST: Tidalwave 4 goals, 1 assist, 2 saves, 14 shots),
    // and the mvpr derived from them game by game.
    let (goals, shots, mvpr): (i64, i64, f64) = sqlx::query_as(
        "SELECT sum(goals), sum(shots), sum(mvpr) FROM core.player_stat_lines WHERE name = 'Tidalwave'",
    )
    .fetch_one(&app.owner)
    .await
    .expect("totals");
    assert_eq!((goals, shots), (4, 14));
    assert!(
        (mvpr - (4.0 + 0.75 + 1.2 + 14.0 / 3.0)).abs() < 1e-9,
        "{mvpr}"
    );
    let points: Vec<i16> = sqlx::query_scalar("SELECT points FROM core.eligibility_points")
        .fetch_all(&app.owner)
        .await
        .expect("points");
    assert_eq!(points, vec![3; 6]);

    // scrim.saved goes to matchmaking with the scrim and the new ids; the lobby is not kept.
    let saved = app.events("matchmaking.core_events").await;
    assert_eq!(saved.len(), 1);
    assert_eq!(saved[0]["topic"], "scrim.saved");
    let payload = &saved[0]["payload"];
    assert_eq!(payload["submissionId"], event.submission_id.as_str());
    assert_eq!(
        payload["scrim"]["id"],
        event.scrim.as_ref().expect("scrim").id.to_string()
    );
    assert_eq!(payload["games"].as_array().map(Vec::len), Some(3));
    let match_id: i64 = sqlx::query_scalar("SELECT id FROM core.matches")
        .fetch_one(&app.owner)
        .await
        .expect("match");
    assert_eq!(payload["databaseIds"]["matchId"], match_id);
    assert!(payload["databaseIds"]["scrimMetaId"].is_i64());
    let kept: Value = sqlx::query_scalar("SELECT scrim FROM core.scrim_metas")
        .fetch_one(&app.owner)
        .await
        .expect("meta");
    assert!(kept.get("lobby").is_none(), "{kept}");
}

#[tokio::test]
async fn the_same_ratified_event_delivered_twice_saves_one_match() {
    let app = TestApp::with_demo_league().await;
    let event = fixtures::series_scrim(&app, true).await;
    app.deliver_ratified(&event).await;
    app.deliver_ratified(&event).await;
    let outcome = app.run_finalization().await;
    assert_eq!(
        (outcome.acked, outcome.dead, outcome.retried),
        (2, 0, 0),
        "{outcome:?}"
    );
    // And once more, after the first two were handled.
    app.deliver_ratified(&event).await;
    app.run_finalization().await;
    assert_eq!(saved_rows(&app).await, vec![1, 1, 3, 6, 18, 6, 1]);
    assert_eq!(app.topics("matchmaking.core_events").await, ["scrim.saved"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_workers_racing_over_a_duplicated_event_save_one_match() {
    let app = TestApp::with_demo_league().await;
    let mut submissions = Vec::new();
    for _ in 0..6 {
        let event = fixtures::series_scrim(&app, true).await;
        // Two copies of each event, claimed by two workers at the same time.
        app.deliver_ratified(&event).await;
        app.deliver_ratified(&event).await;
        submissions.push(event.submission_id);
    }
    let (first, second) = (app.finalizer(), app.finalizer());
    let (a, b) = tokio::join!(first.run_until_idle(), second.run_until_idle());
    let (a, b) = (a.expect("first worker"), b.expect("second worker"));
    assert_eq!(a.acked + b.acked, 12, "{a:?} {b:?}");
    assert_eq!(a.dead + b.dead + a.retried + b.retried, 0, "{a:?} {b:?}");
    assert_eq!(
        app.count("SELECT count(*) FROM core.matches").await,
        6,
        "one match per submission"
    );
    assert_eq!(app.count("SELECT count(*) FROM core.rounds").await, 18);
    assert_eq!(
        app.topics("matchmaking.core_events").await.len(),
        6,
        "one scrim.saved per submission"
    );
    let saved: Vec<String> =
        sqlx::query_scalar("SELECT submission_id FROM core.matches ORDER BY submission_id")
            .fetch_all(&app.owner)
            .await
            .expect("saved");
    submissions.sort();
    assert_eq!(saved, submissions);
}

#[tokio::test]
async fn the_database_refuses_a_second_match_for_one_submission() {
    let app = TestApp::with_demo_league().await;
    let insert =
        "INSERT INTO core.matches (submission_id, submission_type, organization_id, skill_group_id,
                      game_mode_id, league_match_id, rated, ratified_at)
                  VALUES ('match-demo-s1w1-master', 'MATCH', 1, 2, 14, 1, true, now())";
    sqlx::query(insert)
        .execute(app.pool())
        .await
        .expect("the first save");
    let second = sqlx::query(insert)
        .execute(app.pool())
        .await
        .expect_err("a second save");
    assert!(
        second.to_string().contains("one_save_per_submission")
            || second.to_string().contains("duplicate key"),
        "{second}"
    );
}

#[tokio::test]
async fn a_competitive_lfs_awards_eligibility_up_to_the_cap() {
    let app = TestApp::with_demo_league().await;
    let directory = directory(&app).await;
    // Series players (Master League, cap 15): Gearhead206 (4) has 13 recent points, ItsAloof
    // (5) 15, HyperNova (1) 14 from 40 days ago (outside the window).
    sqlx::query(
        "WITH m AS (
             INSERT INTO core.matches (submission_id, submission_type, organization_id, skill_group_id,
                                       game_mode_id, league_match_id, rated, ratified_at)
             VALUES ('match-demo-s1w1-champion', 'MATCH', 1, 3, 14, 2, false, now()) RETURNING id)
         INSERT INTO core.eligibility_points (match_id, player_id, points, earned_at)
         SELECT m.id, p.player_id, p.points, now() - p.age
         FROM m, (VALUES (4, 13, interval '1 day'), (5, 15, interval '2 days'), (1, 14, interval '40 days'))
                 AS p(player_id, points, age)",
    )
    .execute(&app.owner)
    .await
    .expect("earlier points");
    let games: Vec<GameResults> = series()
        .iter()
        .map(|entry| game(entry, &directory, true, false))
        .collect();
    let lfs = scrim(
        &format!("lfs-{}", Uuid::new_v4()),
        &roster(&games),
        2,
        14,
        true,
        true,
    );
    app.deliver_ratified(&ratified_scrim(lfs, games)).await;
    app.run_finalization().await;
    let awarded: Vec<(i32, i16)> = sqlx::query_as(
        "SELECT e.player_id, e.points FROM core.eligibility_points e
         JOIN core.matches m ON m.id = e.match_id WHERE m.submission_type = 'LFS' ORDER BY e.player_id",
    )
    .fetch_all(&app.owner)
    .await
    .expect("awards");
    assert_eq!(
        awarded,
        vec![(1, 3), (2, 3), (3, 3), (4, 2), (6, 3)],
        "ItsAloof (5) is at the cap"
    );

    // The top skill group's cap is 7: spike_rush's players are in the Premier League.
    sqlx::query(
        "INSERT INTO core.eligibility_points (match_id, player_id, points)
         SELECT id, 19, 6 FROM core.matches WHERE submission_type = 'MATCH'",
    )
    .execute(&app.owner)
    .await
    .expect("points of a Premier player");
    let premier = game(&fixture("spike_rush.replay"), &directory, true, false);
    let players = roster(std::slice::from_ref(&premier));
    let lfs = scrim(
        &format!("lfs-{}", Uuid::new_v4()),
        &players,
        1,
        14,
        true,
        true,
    );
    let premier_player: i32 = 19;
    app.deliver_ratified(&ratified_scrim(lfs, vec![premier]))
        .await;
    app.run_finalization().await;
    let top: Vec<(i32, i16)> = sqlx::query_as(
        "SELECT e.player_id, e.points FROM core.eligibility_points e
         JOIN core.matches m ON m.id = e.match_id WHERE m.skill_group_id = 1 ORDER BY e.player_id",
    )
    .fetch_all(&app.owner)
    .await
    .expect("premier awards");
    assert_eq!(top.len(), 6, "{top:?}");
    assert!(
        top.contains(&(premier_player, 1)),
        "6 recent points leave room for 1 under 7: {top:?}"
    );
}

#[tokio::test]
async fn a_league_match_saves_home_and_away_sides_without_eligibility() {
    let app = TestApp::with_demo_league().await;
    // A second Master League match where AOS (orange in the replays) is at home.
    let (status, created) = app
        .admin(
            Method::POST,
            "/admin/league-matches",
            json!({"organizationId": 1, "skillGroupId": 2, "gameModeId": 14, "homeFranchiseId": 2,
                   "awayFranchiseId": 1, "season": 1, "week": 2, "scheduledAt": null}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let match_id = i32::try_from(created["id"].as_i64().expect("id")).expect("small");
    let submission = created["submissionId"]
        .as_str()
        .expect("a submission id")
        .to_owned();
    assert!(submission.starts_with("match-"), "{submission}");

    let directory = directory(&app).await;
    let games: Vec<GameResults> = series()
        .iter()
        .map(|entry| game(entry, &directory, true, true))
        .collect();
    app.deliver_ratified(&ratified_match(match_id, &submission, 2, 14, games))
        .await;
    let outcome = app.run_finalization().await;
    assert_eq!(outcome.acked, 1, "{outcome:?}");

    let rounds: Vec<(i16, bool)> =
        sqlx::query_as("SELECT home_side, home_won FROM core.rounds ORDER BY game_index")
            .fetch_all(&app.owner)
            .await
            .expect("rounds");
    assert_eq!(
        rounds,
        vec![(1, true), (1, false), (1, true)],
        "AOS at home on orange won games 1 and 3"
    );
    let sides: Vec<(String, bool, Option<i32>)> = sqlx::query_as(
        "SELECT t.team_name, t.is_home, t.team_id FROM core.team_stat_lines t
         JOIN core.rounds r ON r.id = t.round_id WHERE r.game_index = 0 ORDER BY t.side",
    )
    .fetch_all(&app.owner)
    .await
    .expect("sides");
    assert_eq!(sides[0].0, "Insanity");
    assert_eq!(sides[1].0, "AOS");
    assert!(!sides[0].1 && sides[1].1);
    assert!(
        sides.iter().all(|side| side.2.is_some()),
        "each side's team in the skill group"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM core.eligibility_points")
            .await,
        0
    );
    assert_eq!(
        app.count("SELECT count(*) FROM core.rating_jobs").await,
        1,
        "league matches are rated"
    );
    assert_eq!(
        app.count(&format!("SELECT count(*) FROM core.match_participants WHERE match_id = {match_id} AND results_saved")).await,
        1
    );
    // No consumer has a queue for match.saved yet: nothing reaches matchmaking.
    assert!(app.events("matchmaking.core_events").await.is_empty());
}

#[tokio::test]
async fn a_test_scrim_saves_resolved_players_only_without_eligibility_or_rating() {
    let app = TestApp::with_demo_league().await;
    let directory = directory(&app).await;
    // One replay; its accounts are unknown to the league except the series' HyperNova, whom
    // the test maps by hand.
    let mut game = game(&fixture("51235.replay"), &directory, false, false);
    let listed = directory[&("STEAM".to_owned(), "76561198308362588".to_owned())];
    game.teams[0].players[0].player_id = Some(listed.player_id);
    game.teams[0].players[0].user_id = Some(listed.user_id);
    let submission = format!("scrim-test-{}", Uuid::new_v4());
    let test_scrim = scrim(
        &submission,
        &[(1, "HyperNova".into()), (4, "Gearhead206".into())],
        2,
        14,
        false,
        false,
    );
    app.deliver_ratified(&ratified_scrim(test_scrim, vec![game]))
        .await;
    let outcome = app.run_finalization().await;
    assert_eq!(outcome.acked, 1, "{outcome:?}");
    assert_eq!(
        saved_rows(&app).await,
        vec![1, 1, 1, 2, 1, 0, 0],
        "one player line; no eligibility or rating job"
    );
    let (test, rated): (bool, bool) = sqlx::query_as(
        "SELECT s.test, m.rated FROM core.matches m JOIN core.scrim_metas s ON s.id = m.scrim_meta_id",
    )
    .fetch_one(&app.owner)
    .await
    .expect("saved");
    assert!(test && !rated);
    assert_eq!(
        app.topics("matchmaking.core_events").await,
        ["scrim.saved"],
        "the test scrim completes"
    );
}

#[tokio::test]
async fn a_casual_scrim_earns_no_eligibility_and_no_rating() {
    let app = TestApp::with_demo_league().await;
    let event = fixtures::series_scrim(&app, false).await;
    app.deliver_ratified(&event).await;
    app.run_finalization().await;
    assert_eq!(saved_rows(&app).await, vec![1, 1, 3, 6, 18, 0, 0]);
}
