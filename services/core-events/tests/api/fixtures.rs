//! Ratified submissions built from the real replay fixtures (their MANIFEST.json holds what a
//! parser reads from each header), with every account resolved through core's player directory,
//! read as the submission service reads it.

use std::collections::HashMap;

use chrono::Utc;
use db::ServiceRole;
use domain::Scrim;
use domain::results::{
    GameResult, GameResults, ParserInfo, Platform, PlayerGameStats, ReplayInfo, ResultPlayer,
    ResultTeam, SubmissionRatified, SubmissionType,
};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::common::{TestApp, fixtures_dir};

/// The fixtures' manifest: one object per replay file.
pub fn manifest() -> Vec<Value> {
    let path = fixtures_dir().join("MANIFEST.json");
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
    serde_json::from_str(&text).expect("MANIFEST.json is JSON")
}

/// The three games of the series, in playing order.
pub fn series() -> Vec<Value> {
    manifest()
        .into_iter()
        .filter(|entry| entry.get("series").is_some())
        .collect()
}

/// One fixture by file name.
pub fn fixture(file: &str) -> Value {
    manifest()
        .into_iter()
        .find(|entry| entry["file"] == file)
        .unwrap_or_else(|| panic!("no fixture {file}"))
}

/// A player of the directory: ids and franchise.
#[derive(Debug, Clone, Copy)]
pub struct Listed {
    pub player_id: i32,
    pub user_id: i32,
    pub franchise_id: Option<i32>,
}

/// The player directory, keyed by (platform code, account id), read as submission.
pub async fn directory(app: &TestApp) -> HashMap<(String, String), Listed> {
    let submission = app.db.pool_as(ServiceRole::Submission).await;
    let rows: Vec<(String, String, i32, i32, Option<i32>)> = sqlx::query_as(
        "SELECT platform, platform_account_id, player_id, user_id, franchise_id
         FROM core.player_directory",
    )
    .fetch_all(&submission)
    .await
    .expect("submission reads the player directory");
    submission.close().await;
    rows.into_iter()
        .map(|(platform, account, player_id, user_id, franchise_id)| {
            (
                (platform, account),
                Listed {
                    player_id,
                    user_id,
                    franchise_id,
                },
            )
        })
        .collect()
}

/// A fixture player's platform and account id, as submission's parser reports them.
pub fn account(player: &Value) -> (Platform, String) {
    let platform = match player["platform"].as_str().expect("platform") {
        "OnlinePlatform_Steam" => Platform::Steam,
        "OnlinePlatform_Epic" => Platform::Epic,
        "OnlinePlatform_Dingo" => Platform::Xbox,
        "OnlinePlatform_PS4" => Platform::Ps4,
        "OnlinePlatform_NNX" => Platform::Switch,
        other => panic!("no platform for {other}"),
    };
    let id = match platform {
        Platform::Epic => player["epic_account_id"].as_str(),
        _ => player["online_id"].as_str(),
    }
    .expect("an account id")
    .to_owned();
    (platform, id)
}

fn stat(player: &Value, name: &str) -> i32 {
    i32::try_from(player[name].as_i64().expect(name)).expect("small")
}

/// One fixture as a game of results. `resolve` false leaves every account unresolved (a test
/// scrim's unknown players); with `franchises`, each side carries its players' franchise.
pub fn game(
    entry: &Value,
    directory: &HashMap<(String, String), Listed>,
    resolve: bool,
    franchises: bool,
) -> GameResults {
    let goals = [stat(entry, "team0_score"), stat(entry, "team1_score")];
    let winner = entry["winning_team"].as_i64().map(|team| team as usize).or(
        match goals[0].cmp(&goals[1]) {
            std::cmp::Ordering::Greater => Some(0),
            std::cmp::Ordering::Less => Some(1),
            std::cmp::Ordering::Equal => None,
        },
    );
    let teams = (0..2)
        .map(|side| {
            let players: Vec<ResultPlayer> = entry["players"]
                .as_array()
                .expect("players")
                .iter()
                .filter(|player| player["team"] == side && player["bot"] == false)
                .map(|player| {
                    let (platform, platform_id) = account(player);
                    let listed = resolve
                        .then(|| directory.get(&(platform.code().to_owned(), platform_id.clone())))
                        .flatten();
                    ResultPlayer {
                        player_id: listed.map(|l| l.player_id),
                        user_id: listed.map(|l| l.user_id),
                        name: player["name"].as_str().expect("name").to_owned(),
                        platform,
                        platform_id,
                        stats: PlayerGameStats {
                            score: stat(player, "score"),
                            goals: stat(player, "goals"),
                            assists: stat(player, "assists"),
                            saves: stat(player, "saves"),
                            shots: stat(player, "shots"),
                            ..PlayerGameStats::default()
                        },
                    }
                })
                .collect();
            let franchise_id = franchises
                .then(|| {
                    players.iter().find_map(|player| {
                        directory
                            .get(&(
                                player.platform.code().to_owned(),
                                player.platform_id.clone(),
                            ))
                            .and_then(|listed| listed.franchise_id)
                    })
                })
                .flatten();
            ResultTeam {
                goals: goals[side],
                result: match winner {
                    Some(w) if w == side => GameResult::Win,
                    Some(_) => GameResult::Loss,
                    None => GameResult::Draw,
                },
                franchise_id,
                players,
            }
        })
        .collect();
    GameResults {
        replay: ReplayInfo {
            task_id: Uuid::new_v4(),
            original_filename: entry["file"].as_str().expect("file").to_owned(),
            sha256: entry["sha256"].as_str().expect("sha256").to_owned(),
            parser: ParserInfo {
                name: "boxcars".into(),
                version: "0.13.0".into(),
            },
            replay_id: None,
            match_guid: None,
            played_at: entry["date"].as_str().map(str::to_owned),
            map: entry["map_name"].as_str().map(str::to_owned),
            duration_seconds: None,
            overtime: None,
            forfeit: entry["forfeit"] == true,
        },
        teams,
    }
}

/// A scrim of the given players (user ids and names) in the demo league's organization,
/// IN_PROGRESS under `submission_id`.
pub fn scrim(
    submission_id: &str,
    players: &[(i32, String)],
    skill_group: i32,
    game_mode: i32,
    lfs: bool,
    competitive: bool,
) -> Scrim {
    let now = Utc::now();
    let team_size = players.len() / 2;
    serde_json::from_value(json!({
        "id": Uuid::new_v4(),
        "createdAt": now,
        "updatedAt": now,
        "status": "IN_PROGRESS",
        "authorId": players[0].0,
        "organizationId": 1,
        "gameModeId": game_mode,
        "skillGroupId": skill_group,
        "submissionId": submission_id,
        "players": players.iter().map(|(id, name)| json!({
            "id": id, "name": name, "joinedAt": now, "leaveAt": now, "checkedIn": true
        })).collect::<Vec<_>>(),
        "games": [],
        "lobby": {"name": "secret lobby", "password": "secret password"},
        "settings": {
            "teamSize": team_size, "teamCount": 2, "mode": "TEAMS", "competitive": competitive,
            "observable": false, "lfs": lfs, "checkinTimeout": 600000
        }
    }))
    .expect("a valid scrim")
}

/// The players of `games`, as a scrim's roster (user ids, names).
pub fn roster(games: &[GameResults]) -> Vec<(i32, String)> {
    let mut roster: Vec<(i32, String)> = games[0]
        .teams
        .iter()
        .flat_map(|team| &team.players)
        .filter_map(|player| player.user_id.map(|id| (id, player.name.clone())))
        .collect();
    roster.sort();
    roster
}

/// `submission.ratified` for a scrim (or LFS) of the demo league.
pub fn ratified_scrim(scrim: Scrim, games: Vec<GameResults>) -> SubmissionRatified {
    let submission_id = scrim.submission_id.clone().expect("a submission id");
    SubmissionRatified {
        submission_type: SubmissionType::of_submission_id(&submission_id).expect("a known prefix"),
        submission_id,
        organization_id: scrim.organization_id,
        game_mode_id: scrim.game_mode_id,
        skill_group_id: scrim.skill_group_id,
        scrim: Some(scrim),
        match_id: None,
        ratifiers: vec![1, 4],
        ratified_at: Utc::now(),
        games,
    }
}

/// `submission.ratified` for a league match.
pub fn ratified_match(
    match_id: i32,
    submission_id: &str,
    skill_group: i32,
    game_mode: i32,
    games: Vec<GameResults>,
) -> SubmissionRatified {
    SubmissionRatified {
        submission_id: submission_id.to_owned(),
        submission_type: SubmissionType::Match,
        organization_id: 1,
        game_mode_id: game_mode,
        skill_group_id: skill_group,
        scrim: None,
        match_id: Some(match_id),
        games,
        ratifiers: vec![1, 6],
        ratified_at: Utc::now(),
    }
}

/// The demo league's series as a competitive scrim of its Master League (skill group 2,
/// standard mode 14).
pub async fn series_scrim(app: &TestApp, competitive: bool) -> SubmissionRatified {
    let directory = directory(app).await;
    let games: Vec<GameResults> = series()
        .iter()
        .map(|entry| game(entry, &directory, true, false))
        .collect();
    let submission = format!("scrim-{}", Uuid::new_v4());
    let scrim = scrim(&submission, &roster(&games), 2, 14, false, competitive);
    ratified_scrim(scrim, games)
}
