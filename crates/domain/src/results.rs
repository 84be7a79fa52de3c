//! The results of a scrim or league match as they travel between services: what submission
//! publishes when a submission is ratified (`submission.ratified`), what core saves from it, and
//! what core announces once saved (`scrim.saved`, `match.saved`) or failed to save.
//!
//! These payloads are self-contained (no service asks another for the rest): finalization needs
//! nothing but the ratified event, and notifications render the results card from the saved
//! event. Team index 0 is blue (replay team 0), index 1 orange.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{PlayerId, Scrim};

/// What a submission's id says it is: `scrim-…` (also `scrim-test-…`), `lfs-…`, `match-…`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SubmissionType {
    Scrim,
    Lfs,
    Match,
}

impl SubmissionType {
    /// The type a submission id's prefix fixes, or `None` for an id of no known kind.
    pub fn of_submission_id(id: &str) -> Option<Self> {
        if id.starts_with("scrim-") {
            Some(Self::Scrim)
        } else if id.starts_with("lfs-") {
            Some(Self::Lfs)
        } else if id.starts_with("match-") {
            Some(Self::Match)
        } else {
            None
        }
    }
}

/// Whether a submission id is a test scrim's (`scrim-test-…`): one replay, accounts need not
/// map, ratified by the system.
pub fn is_test_submission_id(id: &str) -> bool {
    id.starts_with("scrim-test-")
}

/// The platforms a player account lives on (DOMAIN §2.3: Steam, Epic, Xbox "Dingo", PS4,
/// Switch "NNX").
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Platform {
    Steam,
    Epic,
    Xbox,
    Ps4,
    Switch,
}

impl Platform {
    pub const ALL: [Platform; 5] = [
        Platform::Steam,
        Platform::Epic,
        Platform::Xbox,
        Platform::Ps4,
        Platform::Switch,
    ];

    /// The code stored in the database and sent on the wire (`STEAM`, `PS4`...).
    pub fn code(self) -> &'static str {
        match self {
            Platform::Steam => "STEAM",
            Platform::Epic => "EPIC",
            Platform::Xbox => "XBOX",
            Platform::Ps4 => "PS4",
            Platform::Switch => "SWITCH",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|platform| platform.code() == code)
    }
}

/// A team's result in one game.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum GameResult {
    Win,
    Loss,
    Draw,
    Unknown,
}

/// One player's line in one game, as read from the replay.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlayerGameStats {
    pub score: i32,
    pub goals: i32,
    pub assists: i32,
    pub saves: i32,
    pub shots: i32,
    /// From the replay's network data, when it could be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mvp: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub demos_inflicted: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub demos_taken: Option<i32>,
}

impl PlayerGameStats {
    /// The league's MVP rating: goals + 0.75 assists + 0.6 saves + shots / 3.
    pub fn mvpr(&self) -> f64 {
        f64::from(self.goals)
            + 0.75 * f64::from(self.assists)
            + 0.6 * f64::from(self.saves)
            + f64::from(self.shots) / 3.0
    }
}

/// The parser that read a replay, so results can be re-read after an upgrade.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ParserInfo {
    pub name: String,
    pub version: String,
}

/// A player of one side of one game, resolved to the league's ids by submission's validation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResultPlayer {
    /// The core player (per organization and game); `None` only for a test scrim's unmapped
    /// accounts.
    pub player_id: Option<i32>,
    /// The core user (what scrim players' ids are); `None` as `player_id`.
    pub user_id: Option<PlayerId>,
    /// The name in the replay.
    pub name: String,
    pub platform: Platform,
    /// The platform account id (Epic players: the Epic account id).
    pub platform_id: String,
    pub stats: PlayerGameStats,
}

/// One side of one game.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResultTeam {
    /// Team goals (an absent header score is 0).
    pub goals: i32,
    pub result: GameResult,
    /// MATCH: the franchise that played this side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub franchise_id: Option<i32>,
    pub players: Vec<ResultPlayer>,
}

/// What is known of the replay a game was read from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReplayInfo {
    /// The submission item the replay was uploaded as.
    pub task_id: Uuid,
    pub original_filename: String,
    /// sha256 of the raw bytes (the object key is `replays/<sha256>.replay`).
    pub sha256: String,
    pub parser: ParserInfo,
    /// The header's replay id (32 hex), and the match GUID where the header has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_guid: Option<String>,
    /// The header's date as written (local time of the recording machine, no zone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub played_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overtime: Option<bool>,
    /// The winner came from the header's `WinningTeam` of a forfeited match, not from goals.
    #[serde(default)]
    pub forfeit: bool,
}

/// One game (one replay) of a series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GameResults {
    pub replay: ReplayInfo,
    /// Index 0 blue, 1 orange.
    pub teams: Vec<ResultTeam>,
}

impl GameResults {
    /// The winning side's index, `None` for a draw or an unknown result.
    pub fn winner(&self) -> Option<usize> {
        self.teams
            .iter()
            .position(|team| team.result == GameResult::Win)
    }
}

/// `submission.ratified`: everything core's finalization needs, in one payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubmissionRatified {
    pub submission_id: String,
    #[serde(rename = "type")]
    pub submission_type: SubmissionType,
    pub organization_id: i32,
    pub game_mode_id: i32,
    pub skill_group_id: i32,
    /// SCRIM and LFS: the scrim as matchmaking held it when the submission was ratified (LFS
    /// line-ups included). Core saves its settings and echoes it in `scrim.saved`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrim: Option<Scrim>,
    /// MATCH: the core league match the submission belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_id: Option<i32>,
    pub games: Vec<GameResults>,
    /// Who ratified (core user ids; -1 = the system, for test scrims).
    pub ratifiers: Vec<PlayerId>,
    pub ratified_at: DateTime<Utc>,
}

impl SubmissionRatified {
    /// Whether this is a test scrim's submission (core saves it without eligibility or rating).
    pub fn is_test(&self) -> bool {
        is_test_submission_id(&self.submission_id)
    }
}

/// Core saved a scrim's results (`scrim.saved`): the scrim as it was, the new database ids, and
/// the results, for the results card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScrimSaved {
    pub submission_id: String,
    pub scrim: Scrim,
    pub database_ids: SavedDatabaseIds,
    pub games: Vec<GameResults>,
}

/// Core saved a league match's results (`match.saved`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MatchSaved {
    pub submission_id: String,
    pub match_id: i32,
    pub organization_id: i32,
    pub skill_group_id: i32,
    pub game_mode_id: i32,
    pub home_franchise_id: i32,
    pub away_franchise_id: i32,
    pub database_ids: SavedDatabaseIds,
    pub games: Vec<GameResults>,
}

/// The ids core gave the saved results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SavedDatabaseIds {
    /// The scrim's meta row (scrims and LFS only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrim_meta_id: Option<i64>,
    pub match_id: i64,
}

/// Core could not save ratified results (`scrim.saveFailed` / `match.saveFailed`): submission
/// rejects the submission as the system with the support reference, which core logged with the
/// cause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SaveFailed {
    pub submission_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrim_id: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_id: Option<i32>,
    pub support_reference: Uuid,
}

impl SaveFailed {
    /// The system rejection's reason, worded as the original platform did.
    pub fn rejection_reason(&self) -> String {
        let what = if self.match_id.is_some() {
            "match"
        } else {
            "scrim"
        };
        format!(
            "Failed to save {what}. Please contact support with this issue id: {}",
            self.support_reference
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn submission_ids_fix_their_type_by_prefix() {
        assert_eq!(
            SubmissionType::of_submission_id("scrim-4f0c"),
            Some(SubmissionType::Scrim)
        );
        assert_eq!(
            SubmissionType::of_submission_id("scrim-test-4f0c"),
            Some(SubmissionType::Scrim)
        );
        assert!(is_test_submission_id("scrim-test-4f0c"));
        assert!(!is_test_submission_id("scrim-4f0c"));
        assert_eq!(
            SubmissionType::of_submission_id("lfs-1"),
            Some(SubmissionType::Lfs)
        );
        assert_eq!(
            SubmissionType::of_submission_id("match-1"),
            Some(SubmissionType::Match)
        );
        assert_eq!(SubmissionType::of_submission_id("scrimx-1"), None);
        assert_eq!(
            serde_json::to_string(&SubmissionType::Lfs).expect("json"),
            r#""LFS""#
        );
    }

    #[test]
    fn platform_codes_round_trip_and_unknown_codes_are_refused() {
        for platform in Platform::ALL {
            assert_eq!(Platform::from_code(platform.code()), Some(platform));
            assert_eq!(
                serde_json::to_string(&platform).expect("json"),
                format!("\"{}\"", platform.code())
            );
        }
        assert_eq!(Platform::from_code("steam"), None);
    }

    #[test]
    fn mvpr_weighs_goals_assists_saves_and_shots() {
        let stats = PlayerGameStats {
            goals: 2,
            assists: 4,
            saves: 5,
            shots: 6,
            ..PlayerGameStats::default()
        };
        assert!((stats.mvpr() - (2.0 + 3.0 + 3.0 + 2.0)).abs() < 1e-9);
    }

    #[test]
    fn a_save_failure_words_its_rejection_with_the_support_reference() {
        let reference = Uuid::nil();
        let failed = SaveFailed {
            submission_id: "match-1".into(),
            scrim_id: None,
            match_id: Some(9),
            support_reference: reference,
        };
        assert_eq!(
            failed.rejection_reason(),
            format!("Failed to save match. Please contact support with this issue id: {reference}")
        );
    }
}
