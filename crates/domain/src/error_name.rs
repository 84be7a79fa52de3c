use serde::{Deserialize, Serialize};

/// The error names of the public contract: clients match on these strings, so they are spelled
/// exactly as in the original platform.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    thiserror::Error,
    utoipa::ToSchema,
)]
pub enum ErrorName {
    #[error("PlayerAlreadyInScrim")]
    PlayerAlreadyInScrim,
    #[error("PlayerNotInScrim")]
    PlayerNotInScrim,
    #[error("PlayerAlreadyCheckedIn")]
    PlayerAlreadyCheckedIn,
    #[error("ScrimGroupNotSupportedInMode")]
    ScrimGroupNotSupportedInMode,
    #[error("ScrimNotFound")]
    ScrimNotFound,
    #[error("ScrimAlreadyInProgress")]
    ScrimAlreadyInProgress,
    #[error("ScrimStatusNotPopped")]
    ScrimStatusNotPopped,
    #[error("ScrimSubmissionNotFound")]
    ScrimSubmissionNotFound,
    #[error("MaxGroupsCreated")]
    MaxGroupsCreated,
    #[error("GroupNotFound")]
    GroupNotFound,
    #[error("GroupFull")]
    GroupFull,
    #[error("ScrimGroupInviteWindowActive")]
    ScrimGroupInviteWindowActive,
    // Names below are this platform's additions: the original answered these cases without a
    // name (or not at all).
    /// The body or a parameter is malformed, has unknown or missing fields, or breaks a rule
    /// of its own (both createGroup and joinGroup, say).
    #[error("InvalidRequest")]
    InvalidRequest,
    /// No valid caller or admin token was presented.
    #[error("Unauthorized")]
    Unauthorized,
    /// A caller token was presented on a route that needs the admin token, or the caller acts
    /// for a user who may not do this.
    #[error("Forbidden")]
    Forbidden,
    /// No such route.
    #[error("NotFound")]
    NotFound,
    /// Scrims are disabled platform-wide: create and join are refused.
    #[error("ScrimsDisabled")]
    ScrimsDisabled,
    /// The player has an active queue ban.
    #[error("PlayerQueueBanned")]
    PlayerQueueBanned,
    /// A competitive scrim only takes players of its own skill group.
    #[error("ScrimSkillGroupMismatch")]
    ScrimSkillGroupMismatch,
    /// The request body is larger than the service accepts.
    #[error("PayloadTooLarge")]
    PayloadTooLarge,
    /// Something unexpected failed on the service's side (answered as an opaque 500; the cause
    /// is logged).
    #[error("InternalError")]
    InternalError,
    /// A value that must be unique is taken (a platform account another member owns, a name).
    #[error("AlreadyExists")]
    AlreadyExists,
    /// The request refers to something that does not exist, or that belongs to another
    /// organization (a skill group of another organization, say).
    #[error("UnknownReference")]
    UnknownReference,
    /// The record cannot be removed while others refer to it (a team with players).
    #[error("StillReferenced")]
    StillReferenced,
    /// The member restriction was lifted already.
    #[error("RestrictionAlreadyLifted")]
    RestrictionAlreadyLifted,
}

#[cfg(test)]
mod tests {
    use super::ErrorName;

    #[test]
    fn error_names_serialise_as_their_contract_names() {
        let json =
            serde_json::to_string(&ErrorName::ScrimGroupInviteWindowActive).expect("serialise");
        assert_eq!(json, r#""ScrimGroupInviteWindowActive""#);
        assert_eq!(ErrorName::GroupFull.to_string(), "GroupFull");
        let parsed: ErrorName = serde_json::from_str(r#""ScrimNotFound""#).expect("parse");
        assert_eq!(parsed, ErrorName::ScrimNotFound);
    }
}
