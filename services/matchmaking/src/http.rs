//! The HTTP API (JSON). Player routes under `/scrims`, `/players`, `/submissions`; admin routes
//! under `/admin`, behind the bearer token from configuration.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use domain::{CreateScrim, CreateTestScrim, ErrorName, JoinOptions, PlayerId, Scrim, ScrimStatus};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};
use uuid::Uuid;

use crate::error::{Result, ScrimError, rule};
use crate::store::{self, ScrimFilter};
use crate::{Matchmaking, lifecycle, not_found};

pub fn router(matchmaking: Matchmaking) -> Router {
    let admin = Router::new()
        .route("/admin/scrims/test", post(create_test))
        .route("/admin/scrims/{id}/cancel", post(cancel))
        .route("/admin/scrims/{id}/lock", post(lock))
        .route("/admin/scrims/{id}/unlock", post(unlock))
        .route("/admin/scrims/disable", post(disable))
        .route("/admin/scrims/enable", post(enable))
        .route_layer(middleware::from_fn_with_state(
            matchmaking.clone(),
            require_admin,
        ));
    Router::new()
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
        .route("/openapi.json", get(openapi))
        .merge(admin)
        .fallback(|| async { not_found("route") })
        .with_state(matchmaking)
}

/// `Json` whose rejections (malformed JSON, unknown or missing fields, invalid values) answer
/// 400 `InvalidRequest` in the error envelope.
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ScrimError;

    async fn from_request(request: Request, state: &S) -> Result<Self> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(Body(value)),
            Err(rejection) => Err(invalid(&rejection_text(&rejection))),
        }
    }
}

fn rejection_text(rejection: &JsonRejection) -> String {
    rejection.body_text()
}

/// Path parameters whose parse failures answer `InvalidRequest` (or `ScrimNotFound`...).
#[derive(Debug)]
pub struct Param<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned + Send> FromRequestParts<S> for Param<T> {
    type Rejection = ScrimError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Param(value))
            .map_err(|rejection: PathRejection| invalid(&rejection.body_text()))
    }
}

/// Query strings, the same way.
#[derive(Debug)]
pub struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ScrimError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| QueryParams(value))
            .map_err(|rejection: QueryRejection| invalid(&rejection.body_text()))
    }
}

fn invalid(message: &str) -> ScrimError {
    rule(ErrorName::InvalidRequest, message)
}

/// Admin routes need `Authorization: Bearer <admin token>`.
async fn require_admin(State(mm): State<Matchmaking>, request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    let authorised = match (&mm.settings.admin_token, presented) {
        (Some(token), Some(presented)) => {
            constant_time_eq(token.expose_secret().as_bytes(), presented.as_bytes())
        }
        _ => false,
    };
    if authorised {
        next.run(request).await
    } else {
        rule(
            ErrorName::Unauthorized,
            "admin routes need the admin bearer token",
        )
        .into_response()
    }
}

/// Compares without stopping at the first difference, so timing does not reveal the token.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Runs one operation in its own transaction and commits it.
async fn in_transaction<T>(
    mm: &Matchmaking,
    operation: impl AsyncFnOnce(&mut sqlx::PgConnection) -> Result<T>,
) -> Result<T> {
    let mut tx = mm.pool.begin().await?;
    let value = operation(&mut tx).await?;
    tx.commit().await?;
    Ok(value)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlayerRequest {
    pub player_id: PlayerId,
}

#[utoipa::path(post, path = "/scrims", tag = "scrims", request_body = CreateScrim, responses((status = 201, body = Scrim), (status = 400, description = "InvalidRequest", body = ErrorBody), (status = 403, description = "ScrimsDisabled, PlayerQueueBanned or ScrimSkillGroupMismatch", body = ErrorBody), (status = 404, description = "ScrimNotFound", body = ErrorBody), (status = 409, description = "a state rule: PlayerAlreadyInScrim, ScrimAlreadyInProgress, GroupFull...", body = ErrorBody), (status = 422, description = "ScrimGroupNotSupportedInMode", body = ErrorBody)))]
async fn create(
    State(mm): State<Matchmaking>,
    Body(request): Body<CreateScrim>,
) -> Result<(StatusCode, Json<Scrim>)> {
    let scrim = in_transaction(&mm, async |tx| lifecycle::create(&mm, tx, &request).await).await?;
    Ok((StatusCode::CREATED, Json(scrim)))
}

#[utoipa::path(post, path = "/scrims/lfs", tag = "scrims", request_body = CreateScrim, responses((status = 201, body = Scrim), (status = 400, description = "InvalidRequest", body = ErrorBody), (status = 403, description = "ScrimsDisabled, PlayerQueueBanned or ScrimSkillGroupMismatch", body = ErrorBody), (status = 409, description = "a state rule: PlayerAlreadyInScrim, ScrimAlreadyInProgress, GroupFull...", body = ErrorBody), (status = 422, description = "ScrimGroupNotSupportedInMode", body = ErrorBody)))]
async fn create_lfs(
    State(mm): State<Matchmaking>,
    Body(request): Body<CreateScrim>,
) -> Result<(StatusCode, Json<Scrim>)> {
    let scrim = in_transaction(&mm, async |tx| {
        lifecycle::create_lfs(&mm, tx, &request).await
    })
    .await?;
    Ok((StatusCode::CREATED, Json(scrim)))
}

#[utoipa::path(post, path = "/admin/scrims/test", tag = "admin", request_body = CreateTestScrim, security(("admin_token" = [])), responses((status = 201, body = Scrim), (status = 400, description = "InvalidRequest", body = ErrorBody), (status = 401, description = "Unauthorized: the admin token is missing or wrong", body = ErrorBody)))]
async fn create_test(
    State(mm): State<Matchmaking>,
    Body(request): Body<CreateTestScrim>,
) -> Result<(StatusCode, Json<Scrim>)> {
    let scrim = in_transaction(&mm, async |tx| {
        lifecycle::create_test(&mm, tx, &request).await
    })
    .await?;
    Ok((StatusCode::CREATED, Json(scrim)))
}

#[utoipa::path(post, path = "/scrims/{id}/join", tag = "scrims", params(("id" = Uuid, Path, description = "The scrim id")), request_body = JoinOptions, responses((status = 200, body = Scrim), (status = 400, description = "InvalidRequest", body = ErrorBody), (status = 403, description = "ScrimsDisabled, PlayerQueueBanned or ScrimSkillGroupMismatch", body = ErrorBody), (status = 404, description = "ScrimNotFound", body = ErrorBody), (status = 409, description = "a state rule: PlayerAlreadyInScrim, ScrimAlreadyInProgress, GroupFull...", body = ErrorBody), (status = 422, description = "ScrimGroupNotSupportedInMode", body = ErrorBody)))]
async fn join(
    State(mm): State<Matchmaking>,
    Param(id): Param<Uuid>,
    Body(options): Body<JoinOptions>,
) -> Result<Json<Scrim>> {
    in_transaction(&mm, async |tx| lifecycle::join(&mm, tx, id, &options).await)
        .await
        .map(Json)
}

#[utoipa::path(post, path = "/scrims/{id}/leave", tag = "scrims", params(("id" = Uuid, Path, description = "The scrim id")), request_body = PlayerRequest, responses((status = 200, description = "The scrim after the change; status EMPTY if the last player left", body = Scrim), (status = 400, description = "InvalidRequest", body = ErrorBody), (status = 404, description = "ScrimNotFound", body = ErrorBody), (status = 409, description = "a state rule: PlayerAlreadyInScrim, ScrimAlreadyInProgress, GroupFull...", body = ErrorBody)))]
async fn leave(
    State(mm): State<Matchmaking>,
    Param(id): Param<Uuid>,
    Body(request): Body<PlayerRequest>,
) -> Result<Json<Scrim>> {
    in_transaction(&mm, async |tx| {
        lifecycle::leave(tx, id, request.player_id).await
    })
    .await
    .map(Json)
}

#[utoipa::path(post, path = "/scrims/{id}/check-in", tag = "scrims", params(("id" = Uuid, Path, description = "The scrim id")), request_body = PlayerRequest, responses((status = 200, body = Scrim), (status = 400, description = "InvalidRequest", body = ErrorBody), (status = 404, description = "ScrimNotFound", body = ErrorBody), (status = 409, description = "a state rule: PlayerAlreadyInScrim, ScrimAlreadyInProgress, GroupFull...", body = ErrorBody)))]
async fn check_in(
    State(mm): State<Matchmaking>,
    Param(id): Param<Uuid>,
    Body(request): Body<PlayerRequest>,
) -> Result<Json<Scrim>> {
    in_transaction(&mm, async |tx| {
        lifecycle::check_in(&mm, tx, id, request.player_id).await
    })
    .await
    .map(Json)
}

#[utoipa::path(post, path = "/admin/scrims/{id}/cancel", tag = "admin", params(("id" = Uuid, Path, description = "The scrim id")), security(("admin_token" = [])), responses((status = 200, description = "The cancelled scrim (status CANCELLED)", body = Scrim), (status = 401, description = "Unauthorized: the admin token is missing or wrong", body = ErrorBody), (status = 404, description = "ScrimNotFound", body = ErrorBody)))]
async fn cancel(State(mm): State<Matchmaking>, Param(id): Param<Uuid>) -> Result<Json<Scrim>> {
    in_transaction(&mm, async |tx| lifecycle::cancel(tx, id).await)
        .await
        .map(Json)
}

#[utoipa::path(post, path = "/admin/scrims/{id}/lock", tag = "admin", params(("id" = Uuid, Path, description = "The scrim id")), security(("admin_token" = [])), responses((status = 200, body = Scrim), (status = 401, description = "Unauthorized: the admin token is missing or wrong", body = ErrorBody), (status = 404, description = "ScrimNotFound", body = ErrorBody)))]
async fn lock(State(mm): State<Matchmaking>, Param(id): Param<Uuid>) -> Result<Json<Scrim>> {
    in_transaction(&mm, async |tx| {
        let row = lifecycle::lock(tx, id).await?;
        lifecycle::lock_scrim(tx, row).await
    })
    .await
    .map(Json)
}

#[utoipa::path(post, path = "/admin/scrims/{id}/unlock", tag = "admin", params(("id" = Uuid, Path, description = "The scrim id")), security(("admin_token" = [])), responses((status = 200, body = Scrim), (status = 401, description = "Unauthorized: the admin token is missing or wrong", body = ErrorBody), (status = 404, description = "ScrimNotFound", body = ErrorBody)))]
async fn unlock(State(mm): State<Matchmaking>, Param(id): Param<Uuid>) -> Result<Json<Scrim>> {
    in_transaction(&mm, async |tx| lifecycle::unlock(tx, id).await)
        .await
        .map(Json)
}

#[utoipa::path(post, path = "/admin/scrims/disable", tag = "admin", security(("admin_token" = [])), responses((status = 200, body = Disabled), (status = 401, description = "Unauthorized: the admin token is missing or wrong", body = ErrorBody)))]
async fn disable(State(mm): State<Matchmaking>) -> Result<Json<Disabled>> {
    set_disabled(&mm, true).await
}

#[utoipa::path(post, path = "/admin/scrims/enable", tag = "admin", security(("admin_token" = [])), responses((status = 200, body = Disabled), (status = 401, description = "Unauthorized: the admin token is missing or wrong", body = ErrorBody)))]
async fn enable(State(mm): State<Matchmaking>) -> Result<Json<Disabled>> {
    set_disabled(&mm, false).await
}

async fn set_disabled(mm: &Matchmaking, disabled: bool) -> Result<Json<Disabled>> {
    in_transaction(mm, async |tx| lifecycle::set_disabled(tx, disabled).await).await?;
    Ok(Json(Disabled { disabled }))
}

#[utoipa::path(get, path = "/scrims/disabled", tag = "scrims", responses((status = 200, body = Disabled)))]
async fn disabled(State(mm): State<Matchmaking>) -> Result<Json<Disabled>> {
    let disabled = store::scrims_disabled(&mm.pool).await?;
    Ok(Json(Disabled { disabled }))
}

#[utoipa::path(get, path = "/scrims/{id}", tag = "scrims", params(("id" = Uuid, Path, description = "The scrim id")), responses((status = 200, body = Scrim), (status = 400, description = "InvalidRequest", body = ErrorBody), (status = 404, description = "ScrimNotFound", body = ErrorBody)))]
async fn get_scrim(State(mm): State<Matchmaking>, Param(id): Param<Uuid>) -> Result<Json<Scrim>> {
    let filter = ScrimFilter {
        id: Some(id),
        ..ScrimFilter::default()
    };
    one(&mm, &filter, || {
        rule(ErrorName::ScrimNotFound, format!("no live scrim {id}"))
    })
    .await
}

#[utoipa::path(get, path = "/players/{player_id}/scrim", tag = "scrims", params(("player_id" = i32, Path, description = "The core user id")), responses((status = 200, body = Scrim), (status = 400, description = "InvalidRequest", body = ErrorBody), (status = 404, description = "ScrimNotFound", body = ErrorBody)))]
async fn by_player(
    State(mm): State<Matchmaking>,
    Param(player): Param<PlayerId>,
) -> Result<Json<Scrim>> {
    let filter = ScrimFilter {
        player_id: Some(player),
        ..ScrimFilter::default()
    };
    one(&mm, &filter, || {
        rule(
            ErrorName::ScrimNotFound,
            format!("player {player} is not in a live scrim"),
        )
    })
    .await
}

#[utoipa::path(get, path = "/submissions/{submission_id}/scrim", tag = "scrims", params(("submission_id" = String, Path)), responses((status = 200, body = Scrim), (status = 404, description = "ScrimSubmissionNotFound", body = ErrorBody)))]
async fn by_submission(
    State(mm): State<Matchmaking>,
    Param(submission): Param<String>,
) -> Result<Json<Scrim>> {
    let filter = ScrimFilter {
        submission_id: Some(submission.clone()),
        ..ScrimFilter::default()
    };
    one(&mm, &filter, || {
        rule(
            ErrorName::ScrimSubmissionNotFound,
            format!("no live scrim has submission {submission}"),
        )
    })
    .await
}

async fn one(
    mm: &Matchmaking,
    filter: &ScrimFilter,
    missing: impl FnOnce() -> ScrimError,
) -> Result<Json<Scrim>> {
    store::find(&mm.pool, filter)
        .await?
        .into_iter()
        .next()
        .map(Json)
        .ok_or_else(missing)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListQuery {
    pub status: Option<ScrimStatus>,
    pub organization_id: Option<i32>,
    pub skill_group_id: Option<i32>,
}

#[utoipa::path(get, path = "/scrims", tag = "scrims", params(("status" = Option<ScrimStatus>, Query), ("organizationId" = Option<i32>, Query), ("skillGroupId" = Option<i32>, Query)), responses((status = 200, body = Vec<Scrim>), (status = 400, description = "InvalidRequest", body = ErrorBody)))]
async fn list(
    State(mm): State<Matchmaking>,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<Vec<Scrim>>> {
    if query.status.is_some_and(|status| !status.is_stored()) {
        return Ok(Json(Vec::new())); // EMPTY, CANCELLED and COMPLETE scrims are not live.
    }
    let filter = ScrimFilter {
        status: query.status,
        organization_id: query.organization_id,
        skill_group_id: query.skill_group_id,
        ..ScrimFilter::default()
    };
    Ok(Json(store::find(&mm.pool, &filter).await?))
}

#[utoipa::path(get, path = "/scrims/metrics", tag = "scrims", responses((status = 200, body = domain::ScrimMetrics)))]
async fn metrics(State(mm): State<Matchmaking>) -> Result<Json<domain::ScrimMetrics>> {
    Ok(Json(store::metrics(&mm.pool).await?))
}

/// Whether scrims are disabled platform-wide.
#[derive(Debug, Serialize, ToSchema)]
pub struct Disabled {
    pub disabled: bool,
}

/// The error envelope of every client error.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorName,
    pub message: String,
}

#[derive(Debug, OpenApi)]
#[openapi(
    info(title = "matchmaking", description = "The scrim lifecycle: queueing, pops, check-ins, teams and lobbies."),
    paths(create, create_lfs, list, metrics, disabled, get_scrim, join, leave, check_in, by_player,
          by_submission, create_test, cancel, lock, unlock, disable, enable),
    components(schemas(ErrorBody, Disabled, PlayerRequest)),
    modifiers(&AdminToken),
)]
pub struct ApiDoc;

struct AdminToken;

impl Modify for AdminToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin_token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// `GET /openapi.json`: this API's OpenAPI document.
async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
