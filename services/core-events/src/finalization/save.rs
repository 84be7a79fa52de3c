//! The writes of one finalization: scrim meta or league match, the match, per game a round, two
//! team lines and a line per resolved player, eligibility points, the rating job, and the saved
//! event. Runs inside the savepoint `finalize` opened.

use std::collections::BTreeSet;

use domain::Scrim;
use domain::events::{MatchSaved, SavedDatabaseIds, ScrimSaved};
use domain::results::{GameResult, GameResults, SubmissionRatified, SubmissionType};
use sqlx::PgConnection;

use super::{SaveError, eligibility};
use crate::{events, ratings};

/// Who played a league match, read under its row lock.
#[derive(Debug, sqlx::FromRow)]
struct LeagueMatchRow {
    organization_id: i32,
    skill_group_id: i32,
    game_mode_id: i32,
    submission_id: String,
    home_franchise_id: i32,
    away_franchise_id: i32,
}

/// The match's identity per submission type.
enum Subject<'a> {
    Scrim(&'a Scrim),
    LeagueMatch { id: i32, row: LeagueMatchRow },
}

fn invalid<T>(message: impl Into<String>) -> Result<T, SaveError> {
    Err(SaveError::Invalid(message.into()))
}

/// Saves the results; `None` when another finalization saved this submission first.
pub(super) async fn save(
    conn: &mut PgConnection,
    event: &SubmissionRatified,
) -> Result<Option<i64>, SaveError> {
    let subject = match (event.submission_type, &event.scrim, event.match_id) {
        (SubmissionType::Match, _, Some(id)) => {
            let row: Option<LeagueMatchRow> = sqlx::query_as(
                "SELECT organization_id, skill_group_id, game_mode_id, submission_id,
                        home_franchise_id, away_franchise_id
                 FROM core.league_matches WHERE id = $1 FOR UPDATE",
            )
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
            let Some(row) = row else {
                return invalid(format!("no league match {id}"));
            };
            if row.submission_id != event.submission_id
                || (row.organization_id, row.skill_group_id, row.game_mode_id)
                    != (
                        event.organization_id,
                        event.skill_group_id,
                        event.game_mode_id,
                    )
            {
                return invalid(format!(
                    "league match {id} has another submission, organization, skill group or game mode"
                ));
            }
            Subject::LeagueMatch { id, row }
        }
        (_, Some(scrim), _) => Subject::Scrim(scrim),
        _ => return invalid("neither a scrim nor a league match"),
    };

    let players = resolved_players(event);
    lock_players(conn, event.organization_id, &players).await?;

    let competitive = matches!(subject, Subject::Scrim(scrim) if scrim.settings.competitive);
    let rated = !event.is_test()
        && match event.submission_type {
            SubmissionType::Scrim => competitive,
            SubmissionType::Lfs | SubmissionType::Match => true,
        };
    let scrim_meta_id = match &subject {
        Subject::Scrim(scrim) => match insert_scrim_meta(conn, scrim, event.is_test()).await? {
            Some(id) => Some(id),
            None => return Ok(None),
        },
        Subject::LeagueMatch { .. } => None,
    };
    let league_match_id = match &subject {
        Subject::LeagueMatch { id, .. } => Some(*id),
        Subject::Scrim(_) => None,
    };
    let match_id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO core.matches (submission_id, submission_type, organization_id, skill_group_id,
                                   game_mode_id, scrim_meta_id, league_match_id, rated, ratified_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT (submission_id) DO NOTHING
         RETURNING id",
    )
    .bind(&event.submission_id)
    .bind(type_code(event.submission_type))
    .bind(event.organization_id)
    .bind(event.skill_group_id)
    .bind(event.game_mode_id)
    .bind(scrim_meta_id)
    .bind(league_match_id)
    .bind(rated)
    .bind(event.ratified_at)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(match_id) = match_id else {
        return Ok(None);
    };

    for (index, game) in event.games.iter().enumerate() {
        save_game(conn, event, &subject, match_id, index, game).await?;
    }
    if !event.is_test() {
        match event.submission_type {
            SubmissionType::Scrim if competitive => {
                eligibility::award_scrim(conn, match_id, &players).await?;
            }
            SubmissionType::Lfs if competitive => {
                eligibility::award_lfs(conn, match_id, event.skill_group_id, &players).await?;
            }
            _ => {}
        }
    }
    if rated {
        ratings::enqueue(conn, match_id)
            .await
            .map_err(|error| SaveError::Transient(anyhow::Error::new(error)))?;
    }
    let database_ids = SavedDatabaseIds {
        scrim_meta_id,
        match_id,
    };
    match subject {
        Subject::Scrim(scrim) => {
            let saved = ScrimSaved {
                submission_id: event.submission_id.clone(),
                scrim: scrim.clone(),
                database_ids,
                games: event.games.clone(),
            };
            events::scrim_saved(conn, &saved).await?;
        }
        Subject::LeagueMatch { id, row } => {
            let saved = MatchSaved {
                submission_id: event.submission_id.clone(),
                match_id: id,
                organization_id: row.organization_id,
                skill_group_id: row.skill_group_id,
                game_mode_id: row.game_mode_id,
                home_franchise_id: row.home_franchise_id,
                away_franchise_id: row.away_franchise_id,
                database_ids,
                games: event.games.clone(),
            };
            events::match_saved(conn, &saved).await?;
        }
    }
    // The live view of the submission has done its job.
    sqlx::query("DELETE FROM core.live_submissions WHERE submission_id = $1")
        .bind(&event.submission_id)
        .execute(&mut *conn)
        .await?;
    Ok(Some(match_id))
}

fn type_code(submission_type: SubmissionType) -> &'static str {
    match submission_type {
        SubmissionType::Scrim => "SCRIM",
        SubmissionType::Lfs => "LFS",
        SubmissionType::Match => "MATCH",
    }
}

/// Every player id the games resolved, once each, in order.
fn resolved_players(event: &SubmissionRatified) -> Vec<i32> {
    let players: BTreeSet<i32> = event
        .games
        .iter()
        .flat_map(|game| &game.teams)
        .flat_map(|team| &team.players)
        .filter_map(|player| player.player_id)
        .collect();
    players.into_iter().collect()
}

/// Checks every player is a player of the organization, and locks them (in id order, so
/// finalizations sharing players serialise without deadlocks: an LFS eligibility cap reads
/// the points the other one is about to write).
async fn lock_players(
    conn: &mut PgConnection,
    organization: i32,
    players: &[i32],
) -> Result<(), SaveError> {
    let found: Vec<i32> = sqlx::query_scalar(
        "SELECT id FROM core.players WHERE id = ANY($1) AND organization_id = $2
         ORDER BY id FOR NO KEY UPDATE",
    )
    .bind(players)
    .bind(organization)
    .fetch_all(&mut *conn)
    .await?;
    if let Some(missing) = players.iter().find(|id| !found.contains(id)) {
        return invalid(format!(
            "player {missing} is not a player of organization {organization}"
        ));
    }
    Ok(())
}

/// The scrim's meta row; `None` when this scrim was saved already (by a racing finalization of
/// the same submission, which the caller then finds).
async fn insert_scrim_meta(
    conn: &mut PgConnection,
    scrim: &Scrim,
    test: bool,
) -> Result<Option<i64>, SaveError> {
    // The lobby's name and password are not kept.
    let mut kept = scrim.clone();
    kept.lobby = None;
    let scrim_json =
        serde_json::to_value(&kept).map_err(|err| SaveError::Invalid(err.to_string()))?;
    let mode = match scrim.settings.mode {
        domain::ScrimMode::Teams => "TEAMS",
        domain::ScrimMode::RoundRobin => "ROUND_ROBIN",
    };
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO core.scrim_metas (scrim_id, competitive, lfs, test, mode, scrim)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (scrim_id) DO NOTHING
         RETURNING id",
    )
    .bind(scrim.id)
    .bind(scrim.settings.competitive)
    .bind(scrim.settings.lfs)
    .bind(test)
    .bind(mode)
    .bind(scrim_json)
    .fetch_optional(&mut *conn)
    .await?;
    if id.is_none() {
        let saved_as: Option<String> = sqlx::query_scalar(
            "SELECT mt.submission_id FROM core.matches mt
             JOIN core.scrim_metas sm ON sm.id = mt.scrim_meta_id WHERE sm.scrim_id = $1",
        )
        .bind(scrim.id)
        .fetch_optional(&mut *conn)
        .await?;
        return match saved_as {
            Some(submission) if Some(submission.as_str()) != scrim.submission_id.as_deref() => {
                invalid(format!(
                    "scrim {} was saved under submission {submission}",
                    scrim.id
                ))
            }
            _ => Ok(None),
        };
    }
    Ok(id)
}

/// One game: its round, its two sides' lines, and a line per resolved player.
async fn save_game(
    conn: &mut PgConnection,
    event: &SubmissionRatified,
    subject: &Subject<'_>,
    match_id: i64,
    index: usize,
    game: &GameResults,
) -> Result<(), SaveError> {
    let number = index + 1;
    // Scrims count blue (replay team 0) as home; a league match the home franchise's side.
    let (home_side, franchises) = match subject {
        Subject::Scrim(_) => (0_usize, [None, None]),
        Subject::LeagueMatch { row, .. } => {
            let sides = [game.teams[0].franchise_id, game.teams[1].franchise_id];
            let home = (row.home_franchise_id, row.away_franchise_id);
            match sides {
                [Some(blue), Some(orange)] if (blue, orange) == home => {
                    (0, [Some(blue), Some(orange)])
                }
                [Some(blue), Some(orange)] if (orange, blue) == home => {
                    (1, [Some(blue), Some(orange)])
                }
                _ => {
                    return invalid(format!(
                        "game {number}: the sides are not the home and away franchises"
                    ));
                }
            }
        }
    };
    let winning_side = game.winner().map(|side| side as i16);
    let round_stats =
        serde_json::to_value(&game.replay).map_err(|err| SaveError::Invalid(err.to_string()))?;
    let sha256 = game.replay.sha256.to_ascii_lowercase();
    if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return invalid(format!(
            "game {number}: the replay's sha256 is not 64 hex digits"
        ));
    }
    let round_id: i64 = sqlx::query_scalar(
        "INSERT INTO core.rounds (match_id, game_index, game_mode_id, home_side, winning_side,
                                  parser, parser_version, replay_sha256, round_stats)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         RETURNING id",
    )
    .bind(match_id)
    .bind(i16::try_from(index).unwrap_or(i16::MAX))
    .bind(event.game_mode_id)
    .bind(home_side as i16)
    .bind(winning_side)
    .bind(&game.replay.parser.name)
    .bind(&game.replay.parser.version)
    .bind(&sha256)
    .bind(round_stats)
    .fetch_one(&mut *conn)
    .await?;

    for (side, team) in game.teams.iter().enumerate() {
        let is_home = side == home_side;
        let franchise = franchises[side];
        let (team_id, team_name): (Option<i32>, String) = match franchise {
            Some(franchise) => sqlx::query_as(
                "SELECT (SELECT id FROM core.teams WHERE franchise_id = f.id AND skill_group_id = $2),
                        f.title::text
                 FROM core.franchises f WHERE f.id = $1",
            )
            .bind(franchise)
            .bind(event.skill_group_id)
            .fetch_optional(&mut *conn)
            .await?
            .unwrap_or_else(|| (None, format!("franchise {franchise}"))),
            None => (None, if side == 0 { "Blue Team" } else { "Orange Team" }.to_owned()),
        };
        if team.goals < 0 {
            return invalid(format!("game {number}: negative goals"));
        }
        let line_id: i64 = sqlx::query_scalar(
            "INSERT INTO core.team_stat_lines (round_id, side, is_home, franchise_id, team_id,
                                               team_name, goals, result)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             RETURNING id",
        )
        .bind(round_id)
        .bind(side as i16)
        .bind(is_home)
        .bind(franchise)
        .bind(team_id)
        .bind(team_name)
        .bind(team.goals)
        .bind(result_code(team.result))
        .fetch_one(&mut *conn)
        .await?;

        // Only players resolved to a league player get a line (a test scrim's unmapped
        // accounts do not).
        let resolved: Vec<_> = team
            .players
            .iter()
            .filter_map(|player| player.player_id.map(|id| (id, player)))
            .collect();
        let column = |f: fn(&domain::results::ResultPlayer) -> i32| -> Vec<i32> {
            resolved.iter().map(|(_, player)| f(player)).collect()
        };
        sqlx::query(
            "INSERT INTO core.player_stat_lines
                 (round_id, team_stat_line_id, player_id, is_home, name, platform,
                  platform_account_id, score, goals, assists, saves, shots, mvp,
                  demos_inflicted, demos_taken)
             SELECT $1, $2, p.player_id, $3, p.name, p.platform, p.account, p.score, p.goals,
                    p.assists, p.saves, p.shots, p.mvp, p.demos_inflicted, p.demos_taken
             FROM unnest($4::int[], $5::text[], $6::text[], $7::text[], $8::int[], $9::int[],
                         $10::int[], $11::int[], $12::int[], $13::bool[], $14::int[], $15::int[])
                  AS p(player_id, name, platform, account, score, goals, assists, saves, shots,
                       mvp, demos_inflicted, demos_taken)",
        )
        .bind(round_id)
        .bind(line_id)
        .bind(is_home)
        .bind(resolved.iter().map(|(id, _)| *id).collect::<Vec<i32>>())
        .bind(
            resolved
                .iter()
                .map(|(_, p)| p.name.clone())
                .collect::<Vec<String>>(),
        )
        .bind(
            resolved
                .iter()
                .map(|(_, p)| p.platform.code())
                .collect::<Vec<&str>>(),
        )
        .bind(
            resolved
                .iter()
                .map(|(_, p)| p.platform_id.clone())
                .collect::<Vec<String>>(),
        )
        .bind(column(|p| p.stats.score))
        .bind(column(|p| p.stats.goals))
        .bind(column(|p| p.stats.assists))
        .bind(column(|p| p.stats.saves))
        .bind(column(|p| p.stats.shots))
        .bind(
            resolved
                .iter()
                .map(|(_, p)| p.stats.mvp)
                .collect::<Vec<Option<bool>>>(),
        )
        .bind(
            resolved
                .iter()
                .map(|(_, p)| p.stats.demos_inflicted)
                .collect::<Vec<Option<i32>>>(),
        )
        .bind(
            resolved
                .iter()
                .map(|(_, p)| p.stats.demos_taken)
                .collect::<Vec<Option<i32>>>(),
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

fn result_code(result: GameResult) -> &'static str {
    match result {
        GameResult::Win => "WIN",
        GameResult::Loss => "LOSS",
        GameResult::Draw => "DRAW",
        GameResult::Unknown => "UNKNOWN",
    }
}
