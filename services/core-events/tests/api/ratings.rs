//! Ratings (DOMAIN §3): Elo per game mode, game by game, zero-sum, applied once, history kept,
//! and the read API.

use core_events::ratings::RatingJob;
use db::ServiceRole;

use crate::common::{TestApp, Token};
use crate::fixtures;

/// Saves and rates the series as a competitive scrim; returns the saved match's id.
async fn rated_series(app: &TestApp) -> i64 {
    let event = fixtures::series_scrim(app, true).await;
    app.deliver_ratified(&event).await;
    app.run_finalization().await;
    let outcome = app.run_ratings().await;
    assert_eq!((outcome.acked, outcome.dead), (1, 0), "{outcome:?}");
    sqlx::query_scalar("SELECT id FROM core.matches WHERE submission_id = $1")
        .bind(&event.submission_id)
        .fetch_one(&app.owner)
        .await
        .expect("the saved match")
}

#[tokio::test]
async fn a_rated_match_moves_winners_up_and_losers_down_and_sums_to_zero() {
    let app = TestApp::with_demo_league().await;
    let match_id = rated_series(&app).await;

    // Every game's changes sum to zero, and so the match's.
    let per_game: Vec<(i64, f64)> = sqlx::query_as(
        "SELECT round_id, sum(rating_after - rating_before) FROM core.rating_history
         WHERE match_id = $1 GROUP BY round_id ORDER BY round_id",
    )
    .bind(match_id)
    .fetch_all(&app.owner)
    .await
    .expect("history");
    assert_eq!(per_game.len(), 3);
    for (round, sum) in &per_game {
        assert!(sum.abs() < 1e-9, "round {round} sums to {sum}");
    }
    // Game 1: everyone starts at 1000; AOS (players 4, 5, 6) won: +16 each, Insanity -16.
    let first: Vec<(i32, f64, f64)> = sqlx::query_as(
        "SELECT h.player_id, h.rating_before, h.rating_after FROM core.rating_history h
         JOIN core.rounds r ON r.id = h.round_id WHERE r.game_index = 0 ORDER BY h.player_id",
    )
    .fetch_all(&app.owner)
    .await
    .expect("game 1");
    for (player, before, after) in first {
        assert!((before - 1000.0).abs() < 1e-9);
        let expected = if player >= 4 { 1016.0 } else { 984.0 };
        assert!((after - expected).abs() < 1e-9, "player {player}: {after}");
    }
    // Game by game: game 2 starts from game 1's ratings.
    let (before_game_2,): (f64,) = sqlx::query_as(
        "SELECT h.rating_before FROM core.rating_history h JOIN core.rounds r ON r.id = h.round_id
         WHERE r.game_index = 1 AND h.player_id = 4",
    )
    .fetch_one(&app.owner)
    .await
    .expect("game 2");
    assert!((before_game_2 - 1016.0).abs() < 1e-9);
    // AOS won two of three: above 1000 at the end; Insanity below. Three games each.
    let ratings: Vec<(i32, f64, i32)> = sqlx::query_as(
        "SELECT player_id, rating, games FROM core.player_ratings WHERE game_mode_id = 14 ORDER BY player_id",
    )
    .fetch_all(&app.owner)
    .await
    .expect("ratings");
    assert_eq!(ratings.len(), 6);
    for (player, rating, games) in &ratings {
        assert_eq!(*games, 3);
        assert_eq!(*rating > 1000.0, *player >= 4, "player {player}: {rating}");
    }
    let total: f64 = ratings.iter().map(|(_, rating, _)| rating - 1000.0).sum();
    assert!(total.abs() < 1e-9, "the match is zero-sum: {total}");
}

#[tokio::test]
async fn a_rating_job_run_twice_applies_the_match_once() {
    let app = TestApp::with_demo_league().await;
    let match_id = rated_series(&app).await;
    let before: Vec<(i32, f64, i32)> = sqlx::query_as(
        "SELECT player_id, rating, games FROM core.player_ratings ORDER BY player_id",
    )
    .fetch_all(&app.owner)
    .await
    .expect("ratings");
    // The same job again (a redelivery after the first was acknowledged).
    let core = app.db.pool_as(ServiceRole::CoreEvents).await;
    pg_queue::enqueue(&core, &RatingJob { match_id })
        .await
        .expect("enqueue");
    let outcome = app.run_ratings().await;
    assert_eq!(outcome.acked, 1);
    let after: Vec<(i32, f64, i32)> = sqlx::query_as(
        "SELECT player_id, rating, games FROM core.player_ratings ORDER BY player_id",
    )
    .fetch_all(&app.owner)
    .await
    .expect("ratings");
    assert_eq!(before, after);
    assert_eq!(
        app.count("SELECT count(*) FROM core.rating_history").await,
        18
    );
}

#[tokio::test]
async fn the_ratings_api_shows_a_players_rating_and_history() {
    let app = TestApp::with_demo_league().await;
    rated_series(&app).await;
    let (status, ratings) = app.caller_get("/players/5/ratings").await;
    assert_eq!(status, 200, "{ratings}");
    assert_eq!(ratings[0]["gameModeId"], 14);
    assert_eq!(ratings[0]["games"], 3);
    assert!(ratings[0]["rating"].as_f64().expect("rating") > 1000.0);

    let (status, history) = app
        .caller_get("/players/5/ratings/14/history?limit=2")
        .await;
    assert_eq!(status, 200, "{history}");
    let history = history.as_array().expect("a list");
    assert_eq!(history.len(), 2, "the limit holds");
    assert_eq!(
        history[0]["ratingBefore"], history[1]["ratingAfter"],
        "newest first, each game starting where the previous ended"
    );

    let (status, _) = app.caller_get("/players/999/ratings").await;
    assert_eq!(status, 404);
    let (status, _) = app
        .request(
            reqwest::Method::GET,
            "/players/5/ratings",
            Token::None,
            None,
        )
        .await;
    assert_eq!(status, 401);
    let (status, _) = app
        .caller_get("/players/5/ratings/14/history?limit=0")
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn ratings_are_kept_per_game_mode() {
    let app = TestApp::with_demo_league().await;
    rated_series(&app).await;
    // A 2v2 (the Foundation League's doubles fixture, a forfeit won by orange) as an LFS.
    let directory = fixtures::directory(&app).await;
    let game = fixtures::game(&fixtures::fixture("4375.replay"), &directory, true, false);
    let players = fixtures::roster(std::slice::from_ref(&game));
    let lfs = fixtures::scrim(
        &format!("lfs-{}", uuid::Uuid::new_v4()),
        &players,
        5,
        13,
        true,
        false,
    );
    app.deliver_ratified(&fixtures::ratified_scrim(lfs, vec![game]))
        .await;
    app.run_finalization().await;
    app.run_ratings().await;
    assert_eq!(
        app.count("SELECT count(*) FROM core.player_ratings WHERE game_mode_id = 14")
            .await,
        6
    );
    assert_eq!(
        app.count("SELECT count(*) FROM core.player_ratings WHERE game_mode_id = 13")
            .await,
        4
    );
}
