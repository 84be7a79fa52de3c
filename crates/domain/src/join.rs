//! What a client sends to create or join a scrim.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{InvalidValue, NewScrimSettings, PlayerId};

/// A group code: exactly five lowercase ASCII letters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct GroupCode(String);

impl GroupCode {
    pub const LENGTH: usize = 5;

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for GroupCode {
    type Error = InvalidValue;

    fn try_from(code: String) -> Result<Self, Self::Error> {
        if crate::generation::is_valid_group_code(&code) {
            Ok(Self(code))
        } else {
            Err(InvalidValue(format!(
                "a group code is {} lowercase letters, not {code:?}",
                Self::LENGTH
            )))
        }
    }
}

impl From<GroupCode> for String {
    fn from(code: GroupCode) -> Self {
        code.0
    }
}

/// A player's name as shown to others: 1 to 64 characters after trimming.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PlayerName(String);

impl PlayerName {
    pub const MAX_CHARS: usize = 64;

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PlayerName {
    type Error = InvalidValue;

    /// 1 to [`PlayerName::MAX_CHARS`] characters as sent, at least one of them visible, no control
    /// characters (PostgreSQL cannot even store NUL); stored without surrounding whitespace. The
    /// OpenAPI schema states the same rule, so what the document allows is what is accepted.
    fn try_from(name: String) -> Result<Self, Self::Error> {
        if name.chars().any(char::is_control) {
            return Err(InvalidValue(
                "playerName must not contain control characters".to_owned(),
            ));
        }
        let trimmed = name.trim();
        if trimmed.is_empty() || name.chars().count() > Self::MAX_CHARS {
            return Err(InvalidValue(format!(
                "playerName must have 1 to {} characters, not all of them spaces",
                Self::MAX_CHARS
            )));
        }
        Ok(Self(trimmed.to_owned()))
    }
}

impl From<PlayerName> for String {
    fn from(name: PlayerName) -> Self {
        name.0
    }
}

/// How long a queued player waits for the scrim to pop before leaving it, in seconds: 0 to
/// [`LeaveAfter::MAX_SECS`] (a week; a queue entry meant to outlive that is a mistake).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "crate::wire::Whole", into = "u32")]
pub struct LeaveAfter(u32);

impl LeaveAfter {
    pub const MAX_SECS: u32 = 7 * 24 * 60 * 60;

    pub fn secs(self) -> u32 {
        self.0
    }
}

impl TryFrom<i64> for LeaveAfter {
    type Error = InvalidValue;

    fn try_from(secs: i64) -> Result<Self, Self::Error> {
        match u32::try_from(secs) {
            Ok(secs) if secs <= Self::MAX_SECS => Ok(Self(secs)),
            _ => Err(InvalidValue(format!(
                "leaveAfter must be between 0 and {} seconds, not {secs}",
                Self::MAX_SECS
            ))),
        }
    }
}

crate::settings::from_whole!(LeaveAfter);

impl From<LeaveAfter> for u32 {
    fn from(value: LeaveAfter) -> Self {
        value.0
    }
}

/// The LFS team a player belongs to: 0 or 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "crate::wire::Whole", into = "u8")]
pub struct LfsTeam(u8);

impl LfsTeam {
    pub fn index(self) -> u8 {
        self.0
    }
}

impl TryFrom<i64> for LfsTeam {
    type Error = InvalidValue;

    fn try_from(team: i64) -> Result<Self, Self::Error> {
        match team {
            0 | 1 => Ok(Self(team as u8)),
            _ => Err(InvalidValue(format!("team must be 0 or 1, not {team}"))),
        }
    }
}

crate::settings::from_whole!(LfsTeam);

impl From<LfsTeam> for u8 {
    fn from(team: LfsTeam) -> Self {
        team.0
    }
}

/// Join options (DOMAIN §1.1), exactly as sent. Use [`JoinOptions::group_choice`] rather than
/// the two raw group fields: it refuses the invalid combination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JoinOptions {
    /// The core user id of the player joining.
    #[serde(deserialize_with = "crate::wire::id")]
    #[schema(value_type = i32, minimum = 1, maximum = 2147483647)]
    pub player_id: PlayerId,
    pub player_name: PlayerName,
    /// Seconds until the player leaves the queue if the scrim has not popped.
    pub leave_after: LeaveAfter,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_group: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub join_group: Option<GroupCode>,
    /// LFS only: which of the two pre-formed teams the player is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<LfsTeam>,
    /// The player's skill group, required to join a competitive scrim (which only accepts
    /// players of its own skill group). Supplied by the caller, which knows the player.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::wire::optional_id"
    )]
    #[schema(minimum = 1, maximum = 2147483647)]
    pub skill_group_id: Option<i32>,
}

/// What a join does about groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupChoice {
    None,
    Create,
    Join(GroupCode),
}

impl JoinOptions {
    /// Supplying both a group code and `createGroup: true` is invalid (DOMAIN §1.3).
    pub fn group_choice(&self) -> Result<GroupChoice, InvalidValue> {
        match (self.create_group.unwrap_or(false), &self.join_group) {
            (true, Some(_)) => Err(InvalidValue(
                "supply either createGroup or joinGroup, not both".to_owned(),
            )),
            (true, None) => Ok(GroupChoice::Create),
            (false, Some(code)) => Ok(GroupChoice::Join(code.clone())),
            (false, None) => Ok(GroupChoice::None),
        }
    }
}

/// `POST /scrims` and `POST /scrims/lfs`: a new scrim whose author is its first player.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateScrim {
    #[serde(deserialize_with = "crate::wire::id")]
    #[schema(value_type = i32, minimum = 1, maximum = 2147483647)]
    pub author_id: PlayerId,
    #[serde(deserialize_with = "crate::wire::id")]
    #[schema(minimum = 1, maximum = 2147483647)]
    pub organization_id: i32,
    #[serde(deserialize_with = "crate::wire::id")]
    #[schema(minimum = 1, maximum = 2147483647)]
    pub game_mode_id: i32,
    #[serde(deserialize_with = "crate::wire::id")]
    #[schema(minimum = 1, maximum = 2147483647)]
    pub skill_group_id: i32,
    pub settings: NewScrimSettings,
    pub join: JoinOptions,
}

/// `POST /admin/scrims/test`: an IN_PROGRESS scrim with an empty roster, for end-to-end checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateTestScrim {
    #[serde(deserialize_with = "crate::wire::id")]
    #[schema(value_type = i32, minimum = 1, maximum = 2147483647)]
    pub author_id: PlayerId,
    #[serde(deserialize_with = "crate::wire::id")]
    #[schema(minimum = 1, maximum = 2147483647)]
    pub organization_id: i32,
    #[serde(deserialize_with = "crate::wire::id")]
    #[schema(minimum = 1, maximum = 2147483647)]
    pub game_mode_id: i32,
    #[serde(deserialize_with = "crate::wire::id")]
    #[schema(minimum = 1, maximum = 2147483647)]
    pub skill_group_id: i32,
    pub settings: NewScrimSettings,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn join(json: &str) -> Result<JoinOptions, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn join_options_parse_the_contract_fields() {
        let options =
            join(r#"{"playerId":7,"playerName":" Ann ","leaveAfter":3600,"joinGroup":"abcde"}"#)
                .expect("parse");
        assert_eq!(options.player_name.as_str(), "Ann");
        assert_eq!(
            options.group_choice(),
            Ok(GroupChoice::Join(
                GroupCode::try_from("abcde".to_owned()).expect("code")
            ))
        );
    }

    #[test]
    fn bad_join_options_are_refused() {
        for bad in [
            r#"{"playerId":7,"playerName":"Ann","leaveAfter":-1}"#,
            r#"{"playerId":7,"playerName":"Ann"}"#,
            r#"{"playerId":7,"playerName":"","leaveAfter":1}"#,
            r#"{"playerId":7,"playerName":"Ann","leaveAfter":1,"joinGroup":"ABCDE"}"#,
            r#"{"playerId":7,"playerName":"Ann","leaveAfter":1,"joinGroup":"abcdef"}"#,
            r#"{"playerId":7,"playerName":"Ann","leaveAfter":1,"team":2}"#,
            r#"{"playerId":7,"playerName":"Ann","leaveAfter":1,"extra":true}"#,
            r#"{"playerId":7,"playerName":"A\u0000nn","leaveAfter":1}"#,
            r#"{"playerId":7,"playerName":"Ann\n","leaveAfter":1}"#,
            r#"{"playerId":7,"playerName":"Ann","leaveAfter":604801}"#,
            r#"{"playerId":0,"playerName":"Ann","leaveAfter":1}"#,
            r#"{"playerId":7.5,"playerName":"Ann","leaveAfter":1}"#,
        ] {
            assert!(join(bad).is_err(), "accepted {bad}");
        }
        let both = join(r#"{"playerId":7,"playerName":"Ann","leaveAfter":1,"createGroup":true,"joinGroup":"abcde"}"#)
            .expect("parses; refused by group_choice");
        assert!(both.group_choice().is_err());
    }
}
