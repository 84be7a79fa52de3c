//! Read routes for the platform's callers (a caller token): ratings, a member's restrictions,
//! and the live scrim metrics.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::OpenApi;

use super::{ErrorBody, Param, QueryParams, in_transaction};
use crate::CoreEvents;
use crate::error::{Result, invalid};
use crate::input::Id;
use crate::live::LiveMetrics;
use crate::ratings::{self, Rating, RatingChange};
use crate::restrictions::{self, Restriction};

pub(super) fn routes() -> Router<CoreEvents> {
    Router::new()
        .route("/players/{player_id}/ratings", get(player_ratings))
        .route(
            "/players/{player_id}/ratings/{game_mode_id}/history",
            get(rating_history),
        )
        .route(
            "/members/{member_id}/restrictions",
            get(member_restrictions),
        )
        .route("/scrims/metrics", get(scrim_metrics))
}

#[utoipa::path(get, path = "/players/{player_id}/ratings", tag = "ratings",
    params(("player_id" = i32, Path, description = "The core player id")),
    security(("caller_token" = [])),
    responses((status = 200, description = "One rating per game mode the player was rated in", body = Vec<Rating>),
              (status = 400, description = "InvalidRequest", body = ErrorBody),
              (status = 401, description = "Unauthorized", body = ErrorBody),
              (status = 404, description = "NotFound: no such player", body = ErrorBody)))]
async fn player_ratings(
    State(core): State<CoreEvents>,
    Param(player): Param<Id>,
) -> Result<Json<Vec<Rating>>> {
    in_transaction(&core, async |tx| ratings::ratings(tx, player).await)
        .await
        .map(Json)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HistoryQuery {
    /// How many changes, newest first (1 to 500; 50 by default).
    pub limit: Option<i64>,
}

#[utoipa::path(get, path = "/players/{player_id}/ratings/{game_mode_id}/history", tag = "ratings",
    params(("player_id" = i32, Path, description = "The core player id"),
           ("game_mode_id" = i32, Path, description = "The game mode"),
           ("limit" = Option<i64>, Query, description = "How many changes, newest first (1 to 500; 50 by default)")),
    security(("caller_token" = [])),
    responses((status = 200, description = "The player's rating changes in the mode, newest first", body = Vec<RatingChange>),
              (status = 400, description = "InvalidRequest", body = ErrorBody),
              (status = 401, description = "Unauthorized", body = ErrorBody),
              (status = 404, description = "NotFound: no such player", body = ErrorBody)))]
async fn rating_history(
    State(core): State<CoreEvents>,
    Param((player, game_mode)): Param<(Id, Id)>,
    QueryParams(query): QueryParams<HistoryQuery>,
) -> Result<Json<Vec<RatingChange>>> {
    let limit = query.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(invalid("limit is 1 to 500"));
    }
    in_transaction(&core, async |tx| {
        ratings::history(tx, player, game_mode, limit).await
    })
    .await
    .map(Json)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RestrictionsQuery {
    /// Only the restrictions in force now.
    pub active: Option<bool>,
}

#[utoipa::path(get, path = "/members/{member_id}/restrictions", tag = "restrictions",
    params(("member_id" = i32, Path, description = "The core member id"),
           ("active" = Option<bool>, Query, description = "Only the restrictions in force now")),
    security(("caller_token" = [])),
    responses((status = 200, description = "The member's restrictions, newest first", body = Vec<Restriction>),
              (status = 400, description = "InvalidRequest", body = ErrorBody),
              (status = 401, description = "Unauthorized", body = ErrorBody),
              (status = 404, description = "NotFound: no such member", body = ErrorBody)))]
async fn member_restrictions(
    State(core): State<CoreEvents>,
    Param(member): Param<Id>,
    QueryParams(query): QueryParams<RestrictionsQuery>,
) -> Result<Json<Vec<Restriction>>> {
    let active = query.active.unwrap_or(false);
    in_transaction(&core, async |tx| {
        restrictions::list(tx, member, active).await
    })
    .await
    .map(Json)
}

#[utoipa::path(get, path = "/scrims/metrics", tag = "live",
    security(("caller_token" = [])),
    responses((status = 200, description = "The latest scrim metrics matchmaking published", body = LiveMetrics),
              (status = 401, description = "Unauthorized", body = ErrorBody)))]
async fn scrim_metrics(State(core): State<CoreEvents>) -> Result<Json<LiveMetrics>> {
    let mut conn = core.pool.acquire().await?;
    Ok(Json(crate::live::metrics(&mut conn).await?))
}

#[derive(Debug, OpenApi)]
#[openapi(paths(player_ratings, rating_history, member_restrictions, scrim_metrics))]
pub struct ReadApi;
