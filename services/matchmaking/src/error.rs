//! The one error type of matchmaking's operations and its HTTP answer (STYLE.md: a fixed
//! envelope `{"error": <name>, "message": ...}` for client errors, an opaque 500 otherwise).

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use domain::ErrorName;
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum ScrimError {
    /// The request broke a rule of DOMAIN §1.3 (or was malformed): the client's to fix.
    #[error("{name}: {message}")]
    Rule {
        name: ErrorName,
        message: String,
        /// The HTTP status: [`status_of`] the name, except for [`contradiction`]s.
        status: StatusCode,
    },
    /// Anything else: logged with its cause chain, answered as an opaque 500.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

pub type Result<T, E = ScrimError> = std::result::Result<T, E>;

/// A rule violation named `name`.
pub fn rule(name: ErrorName, message: impl Into<String>) -> ScrimError {
    ScrimError::Rule {
        name,
        message: message.into(),
        status: status_of(name),
    }
}

/// A request that matches the published schema but whose values contradict each other or the
/// route (both `createGroup` and `joinGroup`; an LFS scrim without two teams): `InvalidRequest`,
/// answered 422 rather than 400, which is kept for requests the schema itself refuses.
pub fn contradiction(message: impl Into<String>) -> ScrimError {
    ScrimError::Rule {
        name: ErrorName::InvalidRequest,
        message: message.into(),
        status: StatusCode::UNPROCESSABLE_ENTITY,
    }
}

impl ScrimError {
    /// The error's contract name, if it is a rule violation.
    pub fn name(&self) -> Option<ErrorName> {
        match self {
            ScrimError::Rule { name, .. } => Some(*name),
            ScrimError::Internal(_) => None,
        }
    }
}

/// The SQLSTATE of a rule the operations' SQL functions enforce (migration V7): the message is
/// the contract's error name, the detail the message for the client.
const RULE_SQLSTATE: &str = "MM001";

/// The SQLSTATE of "try again with another random value" (a group code the scrim already has).
const RETRY_SQLSTATE: &str = "MM002";

/// Whether the operation asked to be tried again with fresh randomness.
pub fn asks_for_retry(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.code().as_deref() == Some(RETRY_SQLSTATE))
}

/// The rule a SQL function reported, if it reported one.
fn sql_rule(db: &dyn sqlx::error::DatabaseError) -> Option<ScrimError> {
    if db.code().as_deref() != Some(RULE_SQLSTATE) {
        return None;
    }
    let name: ErrorName =
        serde_json::from_value(serde_json::Value::String(db.message().to_owned())).ok()?;
    let message = db
        .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
        .and_then(|pg| pg.detail())
        .unwrap_or(db.message())
        .to_owned();
    Some(rule(name, message))
}

/// The database is the last line of defence: a constraint it enforces is reported by the same
/// name as the application's own check would have used, and the rules the operations' SQL
/// functions check arrive by name.
impl From<sqlx::Error> for ScrimError {
    fn from(error: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &error {
            if let Some(rule) = sql_rule(db.as_ref()) {
                return rule;
            }
            let named = match db.constraint() {
                Some("one_live_scrim_per_player" | "scrim_players_pkey") => Some((
                    ErrorName::PlayerAlreadyInScrim,
                    "the player is already in a scrim",
                )),
                Some("scrim_capacity" | "popped_scrims_are_full") => {
                    Some((ErrorName::ScrimAlreadyInProgress, "the scrim is full"))
                }
                Some("group_full") => Some((ErrorName::GroupFull, "the group is full")),
                Some("scrim_group_limit") => Some((
                    ErrorName::MaxGroupsCreated,
                    "the scrim has as many groups as teams",
                )),
                Some("groups_only_in_teams_mode") => Some((
                    ErrorName::ScrimGroupNotSupportedInMode,
                    "groups exist only in TEAMS mode",
                )),
                _ => None,
            };
            if let Some((name, message)) = named {
                return rule(name, message);
            }
        }
        ScrimError::Internal(anyhow::Error::new(error))
    }
}

impl From<pg_queue::Error> for ScrimError {
    fn from(error: pg_queue::Error) -> Self {
        match error {
            pg_queue::Error::Database(db) => db.into(),
            other => ScrimError::Internal(anyhow::Error::new(other)),
        }
    }
}

/// The HTTP status of each error name.
pub fn status_of(name: ErrorName) -> StatusCode {
    use ErrorName::*;
    match name {
        ScrimNotFound | ScrimSubmissionNotFound | GroupNotFound | NotFound => StatusCode::NOT_FOUND,
        InvalidRequest => StatusCode::BAD_REQUEST,
        PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        InternalError => StatusCode::INTERNAL_SERVER_ERROR,
        ScrimGroupNotSupportedInMode => StatusCode::UNPROCESSABLE_ENTITY,
        Unauthorized => StatusCode::UNAUTHORIZED,
        Forbidden | ScrimsDisabled | PlayerQueueBanned | ScrimSkillGroupMismatch => {
            StatusCode::FORBIDDEN
        }
        PlayerAlreadyInScrim
        | PlayerNotInScrim
        | PlayerAlreadyCheckedIn
        | ScrimAlreadyInProgress
        | ScrimStatusNotPopped
        | MaxGroupsCreated
        | GroupFull
        | ScrimGroupInviteWindowActive
        | AlreadyExists
        | StillReferenced
        | RestrictionAlreadyLifted => StatusCode::CONFLICT,
        UnknownReference => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

impl IntoResponse for ScrimError {
    fn into_response(self) -> Response {
        match self {
            ScrimError::Rule {
                name,
                message,
                status,
            } => (status, Json(json!({ "error": name, "message": message }))).into_response(),
            ScrimError::Internal(error) => {
                tracing::error!(error = format!("{error:#}"), "request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Json(json!({
                        "error": ErrorName::InternalError,
                        "message": "something went wrong on our side"
                    })),
                )
                    .into_response()
            }
        }
    }
}
