//! The one error type of core's operations and its HTTP answer: client errors are 4xx with the
//! envelope `{"error": <name>, "message": ...}`, anything else an opaque 500 whose cause chain
//! is logged once.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use domain::ErrorName;
use serde_json::json;

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The request broke a rule or was malformed: the client's to fix.
    #[error("{name}: {message}")]
    Rule { name: ErrorName, message: String },
    /// Anything else: logged with its cause chain, answered as an opaque 500.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

pub type Result<T, E = CoreError> = std::result::Result<T, E>;

/// A rule violation named `name`.
pub fn rule(name: ErrorName, message: impl Into<String>) -> CoreError {
    CoreError::Rule {
        name,
        message: message.into(),
    }
}

/// `InvalidRequest`: the input is malformed or breaks a rule of its own.
pub fn invalid(message: impl Into<String>) -> CoreError {
    rule(ErrorName::InvalidRequest, message)
}

/// `NotFound` for a record the request names.
pub fn not_found(what: impl std::fmt::Display) -> CoreError {
    rule(ErrorName::NotFound, format!("no such {what}"))
}

impl CoreError {
    /// The error's contract name, if it is a rule violation.
    pub fn name(&self) -> Option<ErrorName> {
        match self {
            CoreError::Rule { name, .. } => Some(*name),
            CoreError::Internal(_) => None,
        }
    }
}

/// What a constraint violation means to the client, by the constraint's name. The database is
/// the last line of defence: each constraint a request can break is reported with a message the
/// client can act on.
fn constraint_message(constraint: &str) -> Option<&'static str> {
    Some(match constraint {
        "organization_names_are_unique" => "another organization has this name",
        "one_user_per_discord_account" => "another user has this Discord id",
        "one_membership_per_organization" => {
            "the user is a member of this organization already (as another member)"
        }
        "one_owner_per_platform_account" => "another member owns this platform account",
        "game_titles_are_unique" => "another game has this title",
        "game_mode_codes_are_unique" => "the game has another mode with this code",
        "skill_group_ordinals_are_unique" => {
            "another skill group of the organization and game has this ordinal"
        }
        "skill_group_codes_are_unique" => {
            "another skill group of the organization and game has this code"
        }
        "franchise_titles_are_unique" => "another franchise of the organization has this title",
        "franchise_codes_are_unique" => "another franchise of the organization has this code",
        "one_team_per_franchise_and_skill_group" => {
            "the franchise has a team in this skill group already"
        }
        "one_franchise_manager_per_franchise" => "the franchise has a franchise manager already",
        "one_player_per_member_and_game" => "the member has a player in this game already",
        "one_league_match_per_submission" => "another league match has this submission id",
        "player_is_a_member" => "the member does not exist",
        "player_skill_group_in_member_organization" => {
            "the skill group does not exist or is not in the member's organization"
        }
        "team_franchise_in_organization" => "the franchise does not exist",
        "team_skill_group_in_organization" => {
            "the skill group does not exist or is not in the franchise's organization"
        }
        "roster_team_in_skill_group" => {
            "the team does not exist or is not in the player's skill group"
        }
        "roster_player_in_skill_group" => "the player is not in the team's skill group",
        "staff_member_in_organization" => {
            "the member does not exist or is not in the franchise's organization"
        }
        "match_skill_group_in_organization" => {
            "the skill group does not exist or is not in the organization"
        }
        "match_game_mode_of_the_game" => {
            "the game mode does not exist or is not a mode of the skill group's game"
        }
        "home_franchise_in_organization" => {
            "the home franchise does not exist or is not in the organization"
        }
        "away_franchise_in_organization" => {
            "the away franchise does not exist or is not in the organization"
        }
        "home_and_away_differ" => "the home and away franchises must differ",
        "setting_key_exists" => "no such setting key",
        "setting_value_fits_type" => "the value does not have the setting's type",
        "setting_value_within_bounds" => "the value is outside the setting's bounds",
        "setting_value_matches_pattern" => "the value does not have the setting's format",
        _ => return None,
    })
}

/// Constraint violations become named client errors; anything else is internal.
impl From<sqlx::Error> for CoreError {
    fn from(error: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &error {
            let constraint = db.constraint().unwrap_or_default();
            let deleting = db.message().starts_with("update or delete on table");
            let explained = constraint_message(constraint)
                .filter(|_| !deleting)
                .map(str::to_owned);
            let named = match db.code().as_deref() {
                // unique_violation
                Some("23505") => Some(ErrorName::AlreadyExists),
                // foreign_key_violation: a reference to nothing (insert, update), or a row that
                // others still refer to (delete).
                Some("23503") if db.message().starts_with("update or delete on table") => {
                    Some(ErrorName::StillReferenced)
                }
                Some("23503") => Some(ErrorName::UnknownReference),
                // check_violation, not_null_violation: input the checks before SQL let through.
                Some("23514" | "23502") => Some(ErrorName::InvalidRequest),
                _ => None,
            };
            if let Some(name) = named {
                let message = explained.unwrap_or_else(|| match name {
                    ErrorName::StillReferenced => "other records still refer to this one".into(),
                    _ => format!("the change breaks the rule {constraint:?}"),
                });
                return rule(name, message);
            }
        }
        CoreError::Internal(anyhow::Error::new(error))
    }
}

/// A queue handler's verdict on an operation's error: a broken rule will not mend by retrying
/// (fatal: the message goes to the dead letters for a look), anything else is retried.
pub fn verdict(error: CoreError) -> pg_queue::HandlerError {
    match error {
        CoreError::Rule { .. } => pg_queue::HandlerError::fatal(error),
        CoreError::Internal(cause) => {
            pg_queue::HandlerError::retryable(cause.into_boxed_dyn_error())
        }
    }
}

impl From<pg_queue::Error> for CoreError {
    fn from(error: pg_queue::Error) -> Self {
        match error {
            pg_queue::Error::Database(db) => db.into(),
            other => CoreError::Internal(anyhow::Error::new(other)),
        }
    }
}

/// The HTTP status of each error name core answers with.
pub fn status_of(name: ErrorName) -> StatusCode {
    use ErrorName::*;
    match name {
        InvalidRequest => StatusCode::BAD_REQUEST,
        Unauthorized => StatusCode::UNAUTHORIZED,
        Forbidden => StatusCode::FORBIDDEN,
        NotFound | ScrimNotFound | ScrimSubmissionNotFound | GroupNotFound => StatusCode::NOT_FOUND,
        PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        UnknownReference | ScrimGroupNotSupportedInMode => StatusCode::UNPROCESSABLE_ENTITY,
        InternalError => StatusCode::INTERNAL_SERVER_ERROR,
        ScrimsDisabled | PlayerQueueBanned | ScrimSkillGroupMismatch => StatusCode::FORBIDDEN,
        AlreadyExists
        | StillReferenced
        | RestrictionAlreadyLifted
        | PlayerAlreadyInScrim
        | PlayerNotInScrim
        | PlayerAlreadyCheckedIn
        | ScrimAlreadyInProgress
        | ScrimStatusNotPopped
        | MaxGroupsCreated
        | GroupFull
        | ScrimGroupInviteWindowActive => StatusCode::CONFLICT,
    }
}

impl IntoResponse for CoreError {
    fn into_response(self) -> Response {
        match self {
            CoreError::Rule { name, message } => (
                status_of(name),
                Json(json!({ "error": name, "message": message })),
            )
                .into_response(),
            CoreError::Internal(error) => {
                tracing::error!(error = format!("{error:#}"), "request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    Json(json!({
                        "error": ErrorName::InternalError,
                        "message": "something went wrong on our side",
                    })),
                )
                    .into_response()
            }
        }
    }
}
