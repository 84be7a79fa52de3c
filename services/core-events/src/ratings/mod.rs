//! Ratings: the job that applies a saved match to its players' Elo ratings (one per player and
//! game mode), the history of every change, and the reads behind the ratings API.
//!
//! Applied once: the job claims the match by setting `matches.rated_at` (a second run, a
//! redelivery or a racing worker finds it set and does nothing), and the history's key (round,
//! player) could not take a second change anyway. Ratings are locked in player order, so jobs
//! over shared players serialise without deadlocks; one worker runs them, in the order the
//! matches were saved.

pub mod elo;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use pg_queue::{EnqueueOptions, Enqueued, HandlerError, MessageContext, Queue, QueueTable};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;

use crate::error::Result;
use crate::input::Id;

/// Rate a saved match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RatingJob {
    /// The saved match (`core.matches.id`).
    pub match_id: i64,
}

impl Queue for RatingJob {
    const TABLE: QueueTable = QueueTable::new("core", "rating_jobs");
}

/// Enqueues the rating of a saved match (in the transaction that saved it).
pub async fn enqueue(conn: &mut PgConnection, match_id: i64) -> Result<()> {
    let enqueued = pg_queue::enqueue_with(
        conn,
        &RatingJob { match_id },
        EnqueueOptions::default().dedup_key(format!("match:{match_id}")),
    )
    .await?;
    match enqueued {
        // Skipped: a job for this match is waiting already; the match is rated once either way.
        Enqueued::Inserted | Enqueued::Skipped => Ok(()),
        Enqueued::Replaced => Err(crate::error::CoreError::Internal(anyhow::anyhow!(
            "a rating job was replaced, which this enqueue never asks for"
        ))),
    }
}

/// One player's line in one game: who, on which side.
#[derive(Debug, sqlx::FromRow)]
struct Line {
    round_id: i64,
    winning_side: Option<i16>,
    player_id: i32,
    side: i16,
}

/// Applies a saved match to its players' ratings, game by game.
pub async fn rate(ctx: &mut MessageContext<'_>, job: RatingJob) -> Result<(), HandlerError> {
    let conn = ctx.tx().await?;
    let game_mode: Option<i32> = sqlx::query_scalar(
        "UPDATE core.matches SET rated_at = now()
         WHERE id = $1 AND rated AND rated_at IS NULL
         RETURNING game_mode_id",
    )
    .bind(job.match_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(game_mode) = game_mode else {
        return Ok(()); // Rated already, or a match that is not rated (a test scrim).
    };
    let lines: Vec<Line> = sqlx::query_as(
        "SELECT r.id AS round_id, r.winning_side, l.player_id, t.side
         FROM core.rounds r
         JOIN core.team_stat_lines t ON t.round_id = r.id
         JOIN core.player_stat_lines l ON l.team_stat_line_id = t.id
         WHERE r.match_id = $1
         ORDER BY r.game_index, t.side, l.player_id",
    )
    .bind(job.match_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut players: Vec<i32> = lines.iter().map(|line| line.player_id).collect();
    players.sort_unstable();
    players.dedup();

    // Players rated for the first time start at the initial rating; then every rating of the
    // match is locked, in player order.
    sqlx::query(
        "INSERT INTO core.player_ratings (player_id, game_mode_id, rating)
         SELECT player_id, $2, $3 FROM unnest($1::int[]) AS p(player_id)
         ON CONFLICT DO NOTHING",
    )
    .bind(&players)
    .bind(game_mode)
    .bind(elo::INITIAL_RATING)
    .execute(&mut *conn)
    .await?;
    let current: Vec<(i32, f64)> = sqlx::query_as(
        "SELECT player_id, rating FROM core.player_ratings
         WHERE game_mode_id = $2 AND player_id = ANY($1)
         ORDER BY player_id FOR UPDATE",
    )
    .bind(&players)
    .bind(game_mode)
    .fetch_all(&mut *conn)
    .await?;
    let mut ratings: BTreeMap<i32, f64> = current.into_iter().collect();
    let mut games: BTreeMap<i32, i32> = BTreeMap::new();
    let mut history = History::default();

    for round in lines.chunk_by(|a, b| a.round_id == b.round_id) {
        let Some(winning_side) = round[0].winning_side else {
            continue; // No winner: no rating changes.
        };
        let (winners, losers): (Vec<&Line>, Vec<&Line>) =
            round.iter().partition(|line| line.side == winning_side);
        let rating_of = |line: &&Line| {
            ratings
                .get(&line.player_id)
                .copied()
                .unwrap_or(elo::INITIAL_RATING)
        };
        let winner_ratings: Vec<f64> = winners.iter().map(rating_of).collect();
        let loser_ratings: Vec<f64> = losers.iter().map(rating_of).collect();
        let (wins, losses) = elo::game_changes(&winner_ratings, &loser_ratings);
        let changes = winners
            .iter()
            .zip(winner_ratings.iter().zip(wins))
            .chain(losers.iter().zip(loser_ratings.iter().zip(losses)));
        for (line, (before, change)) in changes {
            let after = before + change;
            history.push(line.round_id, line.player_id, *before, after);
            ratings.insert(line.player_id, after);
            *games.entry(line.player_id).or_default() += 1;
        }
    }

    let (ids, values): (Vec<i32>, Vec<f64>) = ratings.iter().map(|(id, r)| (*id, *r)).unzip();
    let counts: Vec<i32> = ids
        .iter()
        .map(|id| games.get(id).copied().unwrap_or(0))
        .collect();
    sqlx::query(
        "UPDATE core.player_ratings r
         SET rating = n.rating, games = r.games + n.games, updated_at = now()
         FROM unnest($1::int[], $2::float8[], $3::int[]) AS n(player_id, rating, games)
         WHERE r.player_id = n.player_id AND r.game_mode_id = $4 AND n.games > 0",
    )
    .bind(&ids)
    .bind(&values)
    .bind(&counts)
    .bind(game_mode)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO core.rating_history
             (round_id, player_id, game_mode_id, match_id, rating_before, rating_after)
         SELECT round_id, player_id, $5, $6, before, after
         FROM unnest($1::bigint[], $2::int[], $3::float8[], $4::float8[])
              AS h(round_id, player_id, before, after)",
    )
    .bind(&history.rounds)
    .bind(&history.players)
    .bind(&history.before)
    .bind(&history.after)
    .bind(game_mode)
    .bind(job.match_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// History rows, column by column (for one `unnest` insert).
#[derive(Debug, Default)]
struct History {
    rounds: Vec<i64>,
    players: Vec<i32>,
    before: Vec<f64>,
    after: Vec<f64>,
}

impl History {
    fn push(&mut self, round: i64, player: i32, before: f64, after: f64) {
        self.rounds.push(round);
        self.players.push(player);
        self.before.push(before);
        self.after.push(after);
    }
}

/// A player's rating in one game mode.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Rating {
    pub game_mode_id: i32,
    pub rating: f64,
    /// Rated games played in the mode.
    pub games: i32,
    pub updated_at: DateTime<Utc>,
}

/// A player's ratings, one per game mode they were rated in.
pub async fn ratings(conn: &mut PgConnection, player: Id) -> Result<Vec<Rating>> {
    crate::league::ensure_exists(conn, "players", player, "player").await?;
    Ok(sqlx::query_as(
        "SELECT game_mode_id, rating, games, updated_at FROM core.player_ratings
         WHERE player_id = $1 ORDER BY game_mode_id",
    )
    .bind(player.get())
    .fetch_all(&mut *conn)
    .await?)
}

/// One game's change of a player's rating.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RatingChange {
    /// The saved match and round (game) that changed it.
    pub match_id: i64,
    pub round_id: i64,
    pub rating_before: f64,
    pub rating_after: f64,
    pub rated_at: DateTime<Utc>,
}

/// A player's rating history in one game mode, newest first.
pub async fn history(
    conn: &mut PgConnection,
    player: Id,
    game_mode: Id,
    limit: i64,
) -> Result<Vec<RatingChange>> {
    crate::league::ensure_exists(conn, "players", player, "player").await?;
    Ok(sqlx::query_as(
        "SELECT h.match_id, h.round_id, h.rating_before, h.rating_after, h.rated_at
         FROM core.rating_history h
         JOIN core.rounds r ON r.id = h.round_id
         WHERE h.player_id = $1 AND h.game_mode_id = $2
         ORDER BY h.match_id DESC, r.game_index DESC
         LIMIT $3",
    )
    .bind(player.get())
    .bind(game_mode.get())
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?)
}
