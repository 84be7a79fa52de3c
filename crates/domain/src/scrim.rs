//! The scrim as clients see it (DOMAIN §1.1): the exact camelCase JSON.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{GroupCode, ScrimSettings, ScrimStatus};

/// A core user id: what a scrim player's `id` is.
pub type PlayerId = i32;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Scrim {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub status: ScrimStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unlocked_status: Option<ScrimStatus>,
    pub author_id: PlayerId,
    pub organization_id: i32,
    pub game_mode_id: i32,
    pub skill_group_id: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submission_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_invite_opens_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub popped_at: Option<DateTime<Utc>>,
    pub players: Vec<ScrimPlayer>,
    #[serde(default)]
    pub games: Vec<ScrimGame>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lobby: Option<Lobby>,
    pub settings: ScrimSettings,
}

impl Scrim {
    pub fn player(&self, id: PlayerId) -> Option<&ScrimPlayer> {
        self.players.iter().find(|player| player.id == id)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScrimPlayer {
    pub id: PlayerId,
    pub name: String,
    pub joined_at: DateTime<Utc>,
    pub leave_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<GroupCode>,
    #[serde(default)]
    pub checked_in: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ScrimGame {
    pub teams: Vec<ScrimTeam>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ScrimTeam {
    pub players: Vec<ScrimPlayer>,
}

/// The private match lobby, set once the scrim starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Lobby {
    pub name: String,
    pub password: String,
}

/// Live counts for dashboards (DOMAIN §1.1). PENDING scrims count as queued, every other live
/// scrim as scrimming.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScrimMetrics {
    pub pending_scrims: i64,
    pub total_scrims: i64,
    pub players_scrimming: i64,
    pub players_queued: i64,
    pub total_players: i64,
}
