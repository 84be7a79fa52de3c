//! The HTTP API (JSON). Player routes under `/scrims`, `/players`, `/submissions` need a caller
//! token; admin routes under `/admin` the admin token (`service_kit::access`). Handlers are thin:
//! check who acts for whom, call one operation (one SQL function, its own transaction: see
//! `lifecycle`), and answer with the scrim as the caller may see it (`access`).

mod extract;
mod openapi;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post};
use axum::{Json, Router};
use domain::{CreateScrim, CreateTestScrim, ErrorName, JoinOptions, PlayerId, Scrim, ScrimStatus};
use serde::{Deserialize, Serialize};
use service_kit::Caller;
use service_kit::access::{AccessConfig, require_admin, require_caller};
use utoipa::ToSchema;
use uuid::Uuid;

use self::extract::{BODY_LIMIT, Body, Param, PathId, QueryParams, SubmissionId};
pub use self::openapi::{ApiDoc, ErrorBody};
use crate::access::{require_acting_for, visible_to};
use crate::error::{Result, ScrimError, rule};
use crate::store::{self, ScrimFilter};
use crate::{Matchmaking, lifecycle, not_found};

pub fn router(matchmaking: Matchmaking, access: Arc<AccessConfig>) -> Router {
    let admin = Router::new()
        .route("/admin/scrims/test", post(create_test))
        .route("/admin/scrims/{id}/cancel", post(cancel))
        .route("/admin/scrims/{id}/lock", post(lock))
        .route("/admin/scrims/{id}/unlock", post(unlock))
        .route("/admin/scrims/disable", post(disable))
        .route("/admin/scrims/enable", post(enable))
        .route_layer(from_fn_with_state(access.clone(), require_admin));
    let callers = Router::new()
        .route("/scrims", post(create).get(list))
        .route("/scrims/lfs", post(create_lfs))
        .route("/scrims/metrics", get(metrics))
        .route("/scrims/disabled", get(disabled))
        .route("/scrims/{id}", get(get_scrim))
        .route("/scrims/{id}/join", post(join))
        .route("/scrims/{id}/leave", post(leave))
        .route("/scrims/{id}/check-in", post(check_in))
        .route("/players/{player_id}/scrim", get(by_player))
        .route("/submissions/{submission_id}/scrim", get(by_submission))
        .route_layer(from_fn_with_state(access, require_caller));
    Router::new()
        .merge(callers)
        .merge(admin)
        // The document describes the API and holds nothing private: readable without a token,
        // like the operational routes, so tools and people can discover the API.
        .route("/openapi.json", get(openapi::document))
        .fallback(|| async { not_found("route") })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(matchmaking)
}

/// The user the gateway acts for (`x-acting-user-id`): bodies may only name this player.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
#[expect(
    dead_code,
    reason = "documents the header; service_kit::access reads it"
)]
struct ActingUser {
    /// The core user id of the player this request acts for.
    #[param(rename = "x-acting-user-id", value_type = i32, required = false, minimum = 1, maximum = 2147483647)]
    acting_user: Option<i32>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlayerRequest {
    #[serde(deserialize_with = "domain::wire::id")]
    #[schema(value_type = i32, minimum = 1, maximum = 2147483647)]
    pub player_id: PlayerId,
}

#[utoipa::path(post, path = "/scrims", tag = "scrims", request_body = CreateScrim, params(ActingUser), security(("caller_token" = []), ("admin_token" = [])),
    responses((status = 201, body = Scrim),
        (status = 403, description = "Forbidden (not acting for authorId and join.playerId), ScrimsDisabled, PlayerQueueBanned or ScrimSkillGroupMismatch", body = ErrorBody),
        (status = 404, description = "GroupNotFound (a new scrim has no groups to join)", body = ErrorBody),
        (status = 409, description = "PlayerAlreadyInScrim", body = ErrorBody),
        (status = 422, description = "ScrimGroupNotSupportedInMode, or InvalidRequest (createGroup with joinGroup)", body = ErrorBody)))]
async fn create(
    State(mm): State<Matchmaking>,
    caller: Caller,
    Body(request): Body<CreateScrim>,
) -> Result<(StatusCode, Json<Scrim>)> {
    require_acting_for(&caller, &[request.author_id, request.join.player_id])?;
    let scrim = lifecycle::create(&mm, &mm.pool, &request).await?;
    Ok((StatusCode::CREATED, Json(visible_to(&caller, scrim))))
}

#[utoipa::path(post, path = "/scrims/lfs", tag = "scrims", request_body = CreateScrim, params(ActingUser), security(("caller_token" = []), ("admin_token" = [])),
    responses((status = 201, body = Scrim),
        (status = 403, description = "Forbidden (not acting for authorId and join.playerId), ScrimsDisabled, PlayerQueueBanned or ScrimSkillGroupMismatch", body = ErrorBody),
        (status = 409, description = "PlayerAlreadyInScrim", body = ErrorBody),
        (status = 422, description = "ScrimGroupNotSupportedInMode (an LFS scrim has no groups), or InvalidRequest (teamCount is not 2)", body = ErrorBody)))]
async fn create_lfs(
    State(mm): State<Matchmaking>,
    caller: Caller,
    Body(request): Body<CreateScrim>,
) -> Result<(StatusCode, Json<Scrim>)> {
    require_acting_for(&caller, &[request.author_id, request.join.player_id])?;
    let scrim = lifecycle::create_lfs(&mm, &mm.pool, &request).await?;
    Ok((StatusCode::CREATED, Json(visible_to(&caller, scrim))))
}

#[utoipa::path(post, path = "/admin/scrims/test", tag = "admin", request_body = CreateTestScrim, security(("admin_token" = [])),
    responses((status = 201, body = Scrim)))]
async fn create_test(
    State(mm): State<Matchmaking>,
    Body(request): Body<CreateTestScrim>,
) -> Result<(StatusCode, Json<Scrim>)> {
    let scrim = lifecycle::create_test(&mm, &mm.pool, &request).await?;
    Ok((StatusCode::CREATED, Json(scrim)))
}

#[utoipa::path(post, path = "/scrims/{id}/join", tag = "scrims", params(("id" = Uuid, Path, description = "The scrim id"), ActingUser), request_body = JoinOptions, security(("caller_token" = []), ("admin_token" = [])),
    responses((status = 200, body = Scrim),
        (status = 403, description = "Forbidden (not acting for playerId), ScrimsDisabled, PlayerQueueBanned or ScrimSkillGroupMismatch", body = ErrorBody),
        (status = 404, description = "ScrimNotFound or GroupNotFound", body = ErrorBody),
        (status = 409, description = "PlayerAlreadyInScrim, ScrimAlreadyInProgress, GroupFull, MaxGroupsCreated or ScrimGroupInviteWindowActive", body = ErrorBody),
        (status = 422, description = "ScrimGroupNotSupportedInMode, or InvalidRequest (createGroup with joinGroup)", body = ErrorBody)))]
async fn join(
    State(mm): State<Matchmaking>,
    caller: Caller,
    Param(id): Param<Uuid>,
    Body(options): Body<JoinOptions>,
) -> Result<Json<Scrim>> {
    require_acting_for(&caller, &[options.player_id])?;
    let scrim = lifecycle::join(&mm, &mm.pool, id, &options).await?;
    Ok(Json(visible_to(&caller, scrim)))
}

#[utoipa::path(post, path = "/scrims/{id}/leave", tag = "scrims", params(("id" = Uuid, Path, description = "The scrim id"), ActingUser), request_body = PlayerRequest, security(("caller_token" = []), ("admin_token" = [])),
    responses((status = 200, description = "The scrim after the change; status EMPTY if the last player left", body = Scrim),
        (status = 403, description = "Forbidden (not acting for playerId)", body = ErrorBody),
        (status = 404, description = "ScrimNotFound", body = ErrorBody),
        (status = 409, description = "PlayerNotInScrim or ScrimAlreadyInProgress", body = ErrorBody)))]
async fn leave(
    State(mm): State<Matchmaking>,
    caller: Caller,
    Param(id): Param<Uuid>,
    Body(request): Body<PlayerRequest>,
) -> Result<Json<Scrim>> {
    require_acting_for(&caller, &[request.player_id])?;
    let scrim = lifecycle::leave(&mm.pool, id, request.player_id).await?;
    // The player who left is no longer on the roster: they see the scrim as anyone does.
    Ok(Json(visible_to(&caller, scrim)))
}

#[utoipa::path(post, path = "/scrims/{id}/check-in", tag = "scrims", params(("id" = Uuid, Path, description = "The scrim id"), ActingUser), request_body = PlayerRequest, security(("caller_token" = []), ("admin_token" = [])),
    responses((status = 200, body = Scrim),
        (status = 403, description = "Forbidden (not acting for playerId)", body = ErrorBody),
        (status = 404, description = "ScrimNotFound", body = ErrorBody),
        (status = 409, description = "PlayerNotInScrim, PlayerAlreadyCheckedIn or ScrimStatusNotPopped", body = ErrorBody)))]
async fn check_in(
    State(mm): State<Matchmaking>,
    caller: Caller,
    Param(id): Param<Uuid>,
    Body(request): Body<PlayerRequest>,
) -> Result<Json<Scrim>> {
    require_acting_for(&caller, &[request.player_id])?;
    let scrim = lifecycle::check_in(&mm, &mm.pool, id, request.player_id).await?;
    Ok(Json(visible_to(&caller, scrim)))
}

#[utoipa::path(post, path = "/admin/scrims/{id}/cancel", tag = "admin", params(("id" = Uuid, Path, description = "The scrim id")), security(("admin_token" = [])),
    responses((status = 200, description = "The cancelled scrim (status CANCELLED)", body = Scrim),
        (status = 404, description = "ScrimNotFound", body = ErrorBody)))]
async fn cancel(State(mm): State<Matchmaking>, Param(id): Param<Uuid>) -> Result<Json<Scrim>> {
    lifecycle::cancel(&mm.pool, id).await.map(Json)
}

#[utoipa::path(post, path = "/admin/scrims/{id}/lock", tag = "admin", params(("id" = Uuid, Path, description = "The scrim id")), security(("admin_token" = [])),
    responses((status = 200, body = Scrim), (status = 404, description = "ScrimNotFound", body = ErrorBody)))]
async fn lock(State(mm): State<Matchmaking>, Param(id): Param<Uuid>) -> Result<Json<Scrim>> {
    lifecycle::lock(&mm.pool, id).await.map(Json)
}

#[utoipa::path(post, path = "/admin/scrims/{id}/unlock", tag = "admin", params(("id" = Uuid, Path, description = "The scrim id")), security(("admin_token" = [])),
    responses((status = 200, body = Scrim), (status = 404, description = "ScrimNotFound", body = ErrorBody)))]
async fn unlock(State(mm): State<Matchmaking>, Param(id): Param<Uuid>) -> Result<Json<Scrim>> {
    lifecycle::unlock(&mm.pool, id).await.map(Json)
}

#[utoipa::path(post, path = "/admin/scrims/disable", tag = "admin", security(("admin_token" = [])), responses((status = 200, body = Disabled)))]
async fn disable(State(mm): State<Matchmaking>) -> Result<Json<Disabled>> {
    set_disabled(&mm, true).await
}

#[utoipa::path(post, path = "/admin/scrims/enable", tag = "admin", security(("admin_token" = [])), responses((status = 200, body = Disabled)))]
async fn enable(State(mm): State<Matchmaking>) -> Result<Json<Disabled>> {
    set_disabled(&mm, false).await
}

async fn set_disabled(mm: &Matchmaking, disabled: bool) -> Result<Json<Disabled>> {
    lifecycle::set_disabled(&mm.pool, disabled).await?;
    Ok(Json(Disabled { disabled }))
}

#[utoipa::path(get, path = "/scrims/disabled", tag = "scrims", params(ActingUser), security(("caller_token" = []), ("admin_token" = [])), responses((status = 200, body = Disabled)))]
async fn disabled(State(mm): State<Matchmaking>) -> Result<Json<Disabled>> {
    let disabled = store::scrims_disabled(&mm.pool).await?;
    Ok(Json(Disabled { disabled }))
}

#[utoipa::path(get, path = "/scrims/{id}", tag = "scrims", params(("id" = Uuid, Path, description = "The scrim id"), ActingUser), security(("caller_token" = []), ("admin_token" = [])),
    responses((status = 200, description = "The scrim; lobby and group codes only for its own players and admins", body = Scrim),
        (status = 404, description = "ScrimNotFound", body = ErrorBody)))]
async fn get_scrim(
    State(mm): State<Matchmaking>,
    caller: Caller,
    Param(id): Param<Uuid>,
) -> Result<Json<Scrim>> {
    let filter = ScrimFilter {
        id: Some(id),
        ..ScrimFilter::default()
    };
    one(&mm, &caller, &filter, || {
        rule(ErrorName::ScrimNotFound, format!("no live scrim {id}"))
    })
    .await
}

#[utoipa::path(get, path = "/players/{player_id}/scrim", tag = "scrims", params(("player_id" = i32, Path, description = "The core user id", minimum = 1, maximum = 2147483647), ActingUser), security(("caller_token" = []), ("admin_token" = [])),
    responses((status = 200, description = "The player's live scrim; lobby and group codes only for its own players and admins", body = Scrim),
        (status = 404, description = "ScrimNotFound", body = ErrorBody)))]
async fn by_player(
    State(mm): State<Matchmaking>,
    caller: Caller,
    Param(PathId(player)): Param<PathId>,
) -> Result<Json<Scrim>> {
    let filter = ScrimFilter {
        player_id: Some(player),
        ..ScrimFilter::default()
    };
    one(&mm, &caller, &filter, || {
        rule(
            ErrorName::ScrimNotFound,
            format!("player {player} is not in a live scrim"),
        )
    })
    .await
}

#[utoipa::path(get, path = "/submissions/{submission_id}/scrim", tag = "scrims", params(("submission_id" = String, Path, description = "The scrim's submission id", min_length = 1, max_length = 128, pattern = "^[^\\x00-\\x1f\\x7f-\\x9f]+$"), ActingUser), security(("caller_token" = []), ("admin_token" = [])),
    responses((status = 200, description = "The scrim; lobby and group codes only for its own players and admins", body = Scrim),
        (status = 404, description = "ScrimSubmissionNotFound", body = ErrorBody)))]
async fn by_submission(
    State(mm): State<Matchmaking>,
    caller: Caller,
    Param(SubmissionId(submission)): Param<SubmissionId>,
) -> Result<Json<Scrim>> {
    let filter = ScrimFilter {
        submission_id: Some(submission.clone()),
        ..ScrimFilter::default()
    };
    one(&mm, &caller, &filter, || {
        rule(
            ErrorName::ScrimSubmissionNotFound,
            format!("no live scrim has submission {submission}"),
        )
    })
    .await
}

async fn one(
    mm: &Matchmaking,
    caller: &Caller,
    filter: &ScrimFilter,
    missing: impl FnOnce() -> ScrimError,
) -> Result<Json<Scrim>> {
    store::find(&mm.pool, filter)
        .await?
        .into_iter()
        .next()
        .map(|scrim| Json(visible_to(caller, scrim)))
        .ok_or_else(missing)
}

/// The list's filters, as the clients use them.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only scrims in this status. Without it, every live scrim but the LOCKED ones (which an
    /// admin is looking at) is listed.
    #[param(value_type = ScrimStatus, required = false)]
    pub status: Option<ScrimStatus>,
    #[serde(default, deserialize_with = "extract::optional_query_id")]
    #[param(value_type = i32, required = false, minimum = 1, maximum = 2147483647)]
    pub organization_id: Option<i32>,
    /// The scrims a player of this skill group may join: every non-competitive scrim, and the
    /// competitive ones of this skill group.
    #[serde(default, deserialize_with = "extract::optional_query_id")]
    #[param(value_type = i32, required = false, minimum = 1, maximum = 2147483647)]
    pub skill_group_id: Option<i32>,
    /// Only LFS scrims (`true`) or only the others (`false`).
    #[param(value_type = bool, required = false)]
    pub lfs: Option<bool>,
}

#[utoipa::path(get, path = "/scrims", tag = "scrims", params(ListQuery, ActingUser), security(("caller_token" = []), ("admin_token" = [])),
    responses((status = 200, description = "Live scrims, oldest first; lobby and group codes only for their own players and admins", body = Vec<Scrim>)))]
async fn list(
    State(mm): State<Matchmaking>,
    caller: Caller,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<Vec<Scrim>>> {
    if query.status.is_some_and(|status| !status.is_stored()) {
        return Ok(Json(Vec::new())); // EMPTY, CANCELLED and COMPLETE scrims are not live.
    }
    let filter = ScrimFilter {
        status: query.status,
        organization_id: query.organization_id,
        joinable_by_skill_group: query.skill_group_id,
        lfs: query.lfs,
        exclude_locked: query.status.is_none(),
        ..ScrimFilter::default()
    };
    let scrims = store::find(&mm.pool, &filter).await?;
    Ok(Json(
        scrims
            .into_iter()
            .map(|scrim| visible_to(&caller, scrim))
            .collect(),
    ))
}

#[utoipa::path(get, path = "/scrims/metrics", tag = "scrims", params(ActingUser), security(("caller_token" = []), ("admin_token" = [])), responses((status = 200, body = domain::ScrimMetrics)))]
async fn metrics(State(mm): State<Matchmaking>) -> Result<Json<domain::ScrimMetrics>> {
    Ok(Json(store::metrics(&mm.pool).await?))
}

/// Whether scrims are disabled platform-wide.
#[derive(Debug, Serialize, ToSchema)]
pub struct Disabled {
    pub disabled: bool,
}
