//! Scrim settings: validated when parsed, so a scrim can never hold an impossible shape.

use std::fmt;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Lets serde read a bounded integer from any whole JSON number (`2` or `2.0`), then check it.
macro_rules! from_whole {
    ($type:ty) => {
        impl TryFrom<crate::wire::Whole> for $type {
            type Error = InvalidValue;

            fn try_from(value: crate::wire::Whole) -> Result<Self, Self::Error> {
                Self::try_from(value.0)
            }
        }
    };
}
pub(crate) use from_whole;

from_whole!(TeamSize);
from_whole!(TeamCount);
from_whole!(CheckinTimeout);

/// Why a value was refused. The message is shown to the client as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(pub String);

/// Players per team: 1 to [`TeamSize::MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "crate::wire::Whole", into = "u8")]
pub struct TeamSize(u8);

impl TeamSize {
    /// Larger teams than any game the league runs; a bound keeps capacity arithmetic trivial.
    pub const MAX: u8 = 8;

    pub fn get(self) -> u8 {
        self.0
    }
}

impl TryFrom<i64> for TeamSize {
    type Error = InvalidValue;

    fn try_from(value: i64) -> Result<Self, Self::Error> {
        match u8::try_from(value) {
            Ok(size) if (1..=Self::MAX).contains(&size) => Ok(Self(size)),
            _ => Err(InvalidValue(format!(
                "teamSize must be between 1 and {}, not {value}",
                Self::MAX
            ))),
        }
    }
}

impl From<TeamSize> for u8 {
    fn from(value: TeamSize) -> Self {
        value.0
    }
}

/// Teams per game: 2 to [`TeamCount::MAX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "crate::wire::Whole", into = "u8")]
pub struct TeamCount(u8);

impl TeamCount {
    pub const MAX: u8 = 8;

    pub fn get(self) -> u8 {
        self.0
    }
}

impl TryFrom<i64> for TeamCount {
    type Error = InvalidValue;

    fn try_from(value: i64) -> Result<Self, Self::Error> {
        match u8::try_from(value) {
            Ok(count) if (2..=Self::MAX).contains(&count) => Ok(Self(count)),
            _ => Err(InvalidValue(format!(
                "teamCount must be between 2 and {}, not {value}",
                Self::MAX
            ))),
        }
    }
}

impl From<TeamCount> for u8 {
    fn from(value: TeamCount) -> Self {
        value.0
    }
}

/// How players are put on teams (DOMAIN §1.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ScrimMode {
    /// Groups first, then random fill; one line-up plays three games.
    Teams,
    /// Three games, each a different random partition of the players.
    RoundRobin,
}

impl ScrimMode {
    /// The contract spelling, also stored in the database.
    pub const fn as_str(self) -> &'static str {
        match self {
            ScrimMode::Teams => "TEAMS",
            ScrimMode::RoundRobin => "ROUND_ROBIN",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "TEAMS" => Some(ScrimMode::Teams),
            "ROUND_ROBIN" => Some(ScrimMode::RoundRobin),
            _ => None,
        }
    }
}

impl fmt::Display for ScrimMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How long popped players have to check in, in milliseconds: 1 second to 1 hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "crate::wire::Whole", into = "i64")]
pub struct CheckinTimeout(i64);

impl CheckinTimeout {
    pub const MIN_MS: i64 = 1_000;
    pub const MAX_MS: i64 = 3_600_000;
    /// The organization default (DOMAIN §1.1).
    pub const DEFAULT: CheckinTimeout = CheckinTimeout(600_000);

    pub fn millis(self) -> i64 {
        self.0
    }
}

impl TryFrom<i64> for CheckinTimeout {
    type Error = InvalidValue;

    fn try_from(value: i64) -> Result<Self, Self::Error> {
        if (Self::MIN_MS..=Self::MAX_MS).contains(&value) {
            Ok(Self(value))
        } else {
            Err(InvalidValue(format!(
                "checkinTimeout must be between {} and {} milliseconds, not {value}",
                Self::MIN_MS,
                Self::MAX_MS
            )))
        }
    }
}

impl From<CheckinTimeout> for i64 {
    fn from(value: CheckinTimeout) -> Self {
        value.0
    }
}

/// A scrim's settings as they appear on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScrimSettings {
    pub team_size: TeamSize,
    pub team_count: TeamCount,
    pub mode: ScrimMode,
    pub competitive: bool,
    pub observable: bool,
    #[serde(default)]
    pub lfs: bool,
    pub checkin_timeout: CheckinTimeout,
}

impl ScrimSettings {
    /// Players needed to pop: teamSize × teamCount.
    pub fn capacity(&self) -> u16 {
        u16::from(self.team_size.get()) * u16::from(self.team_count.get())
    }
}

/// The settings a client chooses when creating a scrim. `lfs` follows from the endpoint and
/// `checkinTimeout` from the organization's configuration, so a client cannot set either.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewScrimSettings {
    pub team_size: TeamSize,
    pub team_count: TeamCount,
    pub mode: ScrimMode,
    pub competitive: bool,
    pub observable: bool,
}

impl NewScrimSettings {
    pub fn with(self, lfs: bool, checkin_timeout: CheckinTimeout) -> ScrimSettings {
        ScrimSettings {
            team_size: self.team_size,
            team_count: self.team_count,
            mode: self.mode,
            competitive: self.competitive,
            observable: self.observable,
            lfs,
            checkin_timeout,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_parse_from_the_contract_json() {
        let settings: ScrimSettings = serde_json::from_str(
            r#"{"teamSize":2,"teamCount":2,"mode":"ROUND_ROBIN","competitive":true,
                "observable":false,"checkinTimeout":600000}"#,
        )
        .expect("parse");
        assert_eq!(settings.capacity(), 4);
        assert!(!settings.lfs);
        assert_eq!(settings.mode, ScrimMode::RoundRobin);
        let json = serde_json::to_value(settings).expect("serialise");
        assert_eq!(json["teamSize"], 2);
        assert_eq!(json["checkinTimeout"], 600000);
    }

    #[test]
    fn impossible_shapes_are_refused() {
        for bad in [
            r#"{"teamSize":0,"teamCount":2,"mode":"TEAMS","competitive":false,"observable":false}"#,
            r#"{"teamSize":2,"teamCount":1,"mode":"TEAMS","competitive":false,"observable":false}"#,
            r#"{"teamSize":-3,"teamCount":2,"mode":"TEAMS","competitive":false,"observable":false}"#,
            r#"{"teamSize":2,"teamCount":2,"mode":"teams","competitive":false,"observable":false}"#,
            r#"{"teamSize":2,"teamCount":2,"mode":"TEAMS","competitive":false}"#,
            r#"{"teamSize":2,"teamCount":2,"mode":"TEAMS","competitive":false,"observable":false,"lfs":true}"#,
        ] {
            assert!(
                serde_json::from_str::<NewScrimSettings>(bad).is_err(),
                "accepted {bad}"
            );
        }
        let err = serde_json::from_str::<NewScrimSettings>(
            r#"{"teamSize":2,"teamCount":1,"mode":"TEAMS","competitive":false,"observable":false}"#,
        )
        .expect_err("teamCount 1");
        assert!(
            err.to_string().contains("teamCount must be between 2"),
            "{err}"
        );
    }

    #[test]
    fn checkin_timeouts_are_bounded() {
        assert!(CheckinTimeout::try_from(0).is_err());
        assert!(CheckinTimeout::try_from(3_600_001).is_err());
        assert_eq!(CheckinTimeout::DEFAULT.millis(), 600_000);
    }
}
