//! Events between the services (DOMAIN §5). Every queue row carrying an event is the envelope
//! `{"topic": "<topic>", "payload": <payload>}`; [`DomainEvent`] is that envelope as one Rust type,
//! so a consumer decodes any row of any topic with the same code and matches on the variant.
//!
//! Topics owned by services that do not exist yet get their variants when those services do.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use crate::results::{
    MatchSaved, SaveFailed, SavedDatabaseIds, ScrimSaved, SubmissionRatified,
};
use crate::{PlayerId, Scrim, ScrimMetrics};

/// The topic names, spelled as on the wire.
pub mod topics {
    pub const SCRIM_CREATED: &str = "scrim.created";
    pub const SCRIM_POPPED: &str = "scrim.popped";
    pub const SCRIM_STARTED: &str = "scrim.started";
    pub const SCRIM_UPDATED: &str = "scrim.updated";
    pub const SCRIM_DESTROYED: &str = "scrim.destroyed";
    pub const SCRIM_CANCELLED: &str = "scrim.cancelled";
    pub const SCRIM_COMPLETE: &str = "scrim.complete";
    pub const SCRIM_METRICS_UPDATE: &str = "scrim.metricsUpdate";
    pub const SCRIM_SAVED: &str = "scrim.saved";
    pub const SCRIM_SAVE_FAILED: &str = "scrim.saveFailed";
    pub const MATCH_SAVED: &str = "match.saved";
    pub const MATCH_SAVE_FAILED: &str = "match.saveFailed";
    pub const SUBMISSION_RATIFIED: &str = "submission.ratified";
    pub const SUBMISSION_REJECTION: &str = "submission.rejection";
    pub const SUBMISSION_RESET: &str = "submission.reset";
    pub const SCRIMS_DISABLED: &str = "scrims.disabled";
    pub const MEMBER_RESTRICTION_CREATED: &str = "member.restrictionCreated";
    pub const MEMBER_RESTRICTION_EXPIRED: &str = "member.restrictionExpired";
    pub const PLAYER_SKILL_GROUP_CHANGED: &str = "player.skillGroupChanged";
    pub const PLAYER_TEAM_CHANGED: &str = "player.teamChanged";
}

/// The envelope of every event: adjacently tagged by topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "topic", content = "payload")]
pub enum DomainEvent {
    #[serde(rename = "scrim.created")]
    ScrimCreated(Scrim),
    #[serde(rename = "scrim.popped")]
    ScrimPopped(Scrim),
    #[serde(rename = "scrim.started")]
    ScrimStarted(Scrim),
    #[serde(rename = "scrim.updated")]
    ScrimUpdated(Scrim),
    /// The last player left: the scrim, with status EMPTY, is gone.
    #[serde(rename = "scrim.destroyed")]
    ScrimDestroyed(Scrim),
    /// Status CANCELLED; the scrim is gone.
    #[serde(rename = "scrim.cancelled")]
    ScrimCancelled(Scrim),
    /// Status COMPLETE; the scrim is gone.
    #[serde(rename = "scrim.complete")]
    ScrimComplete(Scrim),
    #[serde(rename = "scrim.metricsUpdate")]
    ScrimMetricsUpdate(ScrimMetrics),
    #[serde(rename = "scrim.saved")]
    ScrimSaved(ScrimSaved),
    #[serde(rename = "scrim.saveFailed")]
    ScrimSaveFailed(SaveFailed),
    #[serde(rename = "match.saved")]
    MatchSaved(MatchSaved),
    #[serde(rename = "match.saveFailed")]
    MatchSaveFailed(SaveFailed),
    /// Everything core's finalization needs (see [`SubmissionRatified`]).
    #[serde(rename = "submission.ratified")]
    SubmissionRatified(Box<SubmissionRatified>),
    #[serde(rename = "submission.rejection")]
    SubmissionRejection(SubmissionRejection),
    #[serde(rename = "submission.reset")]
    SubmissionReset(SubmissionReset),
    /// `true` while scrims are disabled platform-wide.
    #[serde(rename = "scrims.disabled")]
    ScrimsDisabled(bool),
    #[serde(rename = "member.restrictionCreated")]
    MemberRestrictionCreated(MemberRestriction),
    /// The restriction ran out, or an admin lifted it (then `manualExpiration` is set).
    #[serde(rename = "member.restrictionExpired")]
    MemberRestrictionExpired(MemberRestriction),
    #[serde(rename = "player.skillGroupChanged")]
    PlayerSkillGroupChanged(PlayerSkillGroupChanged),
    #[serde(rename = "player.teamChanged")]
    PlayerTeamChanged(PlayerTeamChanged),
}

/// A submission was rejected; `rejectionCount` counts its current (non-stale) rejections, this
/// one included. At three, matchmaking locks the scrim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubmissionRejection {
    pub submission_id: String,
    pub rejection_count: u32,
    /// The rejecting player, or -1 for the system's validation.
    pub player_id: PlayerId,
    pub reason: String,
}

impl RestrictionType {
    /// The database's and the wire's spelling.
    pub fn code(self) -> &'static str {
        match self {
            RestrictionType::QueueBan => "QUEUE_BAN",
            RestrictionType::RatificationBan => "RATIFICATION_BAN",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        [RestrictionType::QueueBan, RestrictionType::RatificationBan]
            .into_iter()
            .find(|kind| kind.code() == code)
    }
}

impl SubmissionRejection {
    /// Rejections at which the scrim is locked for an admin to look at (DOMAIN §2.7).
    pub const LOCK_THRESHOLD: u32 = 3;
}

/// A submission was deleted so its players can submit again; the scrim goes back to IN_PROGRESS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubmissionReset {
    pub submission_id: String,
}

/// The kinds of member restriction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RestrictionType {
    QueueBan,
    RatificationBan,
}

/// A member restriction (a queue ban when a player missed a check-in). It belongs to the member
/// of one organization: the user `userId` in organization `organizationId`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberRestriction {
    pub id: i64,
    /// The restricted member's core user id (the id scrim players have).
    pub user_id: PlayerId,
    /// The organization whose scrims it blocks.
    pub organization_id: i32,
    #[serde(rename = "type")]
    pub restriction_type: RestrictionType,
    pub reason: String,
    pub created_at: DateTime<Utc>,
    pub expiration: DateTime<Utc>,
    /// The scrim that caused it, when a scrim did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrim_id: Option<Uuid>,
    /// When an admin lifted it, and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manual_expiration: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manual_expiration_reason: Option<String>,
    /// Lifted by an admin: it does not count toward the length of the member's next queue ban.
    #[serde(default)]
    pub forgiven: bool,
}

/// `player.skillGroupChanged`: a player moved to another skill group (a rankout, a promotion).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlayerSkillGroupChanged {
    pub player_id: i32,
    pub user_id: PlayerId,
    /// The member's name in the organization.
    pub name: String,
    pub organization_id: i32,
    /// The user's Discord id, when linked.
    pub discord_id: Option<String>,
    pub old: PlayerSkillGroup,
    pub new: PlayerSkillGroup,
}

/// A player's skill group as announced: its id, its name (description), the player's salary in
/// it, and the skill group's Discord emoji.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlayerSkillGroup {
    pub id: i32,
    pub name: String,
    pub salary: f64,
    pub discord_emoji_id: Option<String>,
}

/// `player.teamChanged`: a player joined, left or changed team. `old` or `new` is `null` for a
/// free agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlayerTeamChanged {
    pub player_id: i32,
    pub user_id: PlayerId,
    pub name: String,
    pub organization_id: i32,
    pub discord_id: Option<String>,
    pub old: Option<PlayerTeam>,
    pub new: Option<PlayerTeam>,
}

/// A team as announced: the franchise's team in one skill group, named after the franchise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlayerTeam {
    pub team_id: i32,
    pub franchise_id: i32,
    /// The franchise's title.
    pub name: String,
    pub skill_group_id: i32,
}

impl DomainEvent {
    /// The topic this event travels under.
    pub fn topic(&self) -> &'static str {
        use topics::*;
        match self {
            DomainEvent::ScrimCreated(_) => SCRIM_CREATED,
            DomainEvent::ScrimPopped(_) => SCRIM_POPPED,
            DomainEvent::ScrimStarted(_) => SCRIM_STARTED,
            DomainEvent::ScrimUpdated(_) => SCRIM_UPDATED,
            DomainEvent::ScrimDestroyed(_) => SCRIM_DESTROYED,
            DomainEvent::ScrimCancelled(_) => SCRIM_CANCELLED,
            DomainEvent::ScrimComplete(_) => SCRIM_COMPLETE,
            DomainEvent::ScrimMetricsUpdate(_) => SCRIM_METRICS_UPDATE,
            DomainEvent::ScrimSaved(_) => SCRIM_SAVED,
            DomainEvent::ScrimSaveFailed(_) => SCRIM_SAVE_FAILED,
            DomainEvent::MatchSaved(_) => MATCH_SAVED,
            DomainEvent::MatchSaveFailed(_) => MATCH_SAVE_FAILED,
            DomainEvent::SubmissionRatified(_) => SUBMISSION_RATIFIED,
            DomainEvent::SubmissionRejection(_) => SUBMISSION_REJECTION,
            DomainEvent::SubmissionReset(_) => SUBMISSION_RESET,
            DomainEvent::ScrimsDisabled(_) => SCRIMS_DISABLED,
            DomainEvent::MemberRestrictionCreated(_) => MEMBER_RESTRICTION_CREATED,
            DomainEvent::MemberRestrictionExpired(_) => MEMBER_RESTRICTION_EXPIRED,
            DomainEvent::PlayerSkillGroupChanged(_) => PLAYER_SKILL_GROUP_CHANGED,
            DomainEvent::PlayerTeamChanged(_) => PLAYER_TEAM_CHANGED,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_is_topic_and_payload() {
        let event = DomainEvent::SubmissionReset(SubmissionReset {
            submission_id: "scrim-1".to_owned(),
        });
        let json = serde_json::to_value(&event).expect("serialise");
        assert_eq!(
            json,
            serde_json::json!({"topic": "submission.reset", "payload": {"submissionId": "scrim-1"}})
        );
        assert_eq!(event.topic(), json["topic"]);
        let disabled: DomainEvent =
            serde_json::from_str(r#"{"topic":"scrims.disabled","payload":true}"#).expect("parse");
        assert_eq!(disabled, DomainEvent::ScrimsDisabled(true));
        assert!(serde_json::from_str::<DomainEvent>(r#"{"topic":"no.such","payload":1}"#).is_err());
    }
}
