//! Admin routes (the admin token) for running the league: organization and platform settings,
//! the scrims switch, member restrictions, and the submissions in flight.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use super::{Body, ErrorBody, Param, in_transaction};
use crate::CoreEvents;
use crate::error::Result;
use crate::events;
use crate::input::{Id, SettingKey, SettingValue};
use crate::league::organizations::{self, Setting};
use crate::live::{self, LiveSubmission};
use crate::platform::{self, PlatformSetting};
use crate::restrictions::{self, Lift, NewRestriction, Restriction};

pub(super) fn routes() -> Router<CoreEvents> {
    Router::new()
        .route(
            "/admin/organizations/{id}/settings",
            get(organization_settings),
        )
        .route(
            "/admin/organizations/{id}/settings/{key}",
            put(set_setting).delete(reset_setting),
        )
        .route("/admin/members/{id}/restrictions", post(create_restriction))
        .route("/admin/restrictions/{id}/lift", post(lift_restriction))
        .route("/admin/submissions", get(live_submissions))
        .route("/admin/platform-settings", get(platform_settings))
        .route("/admin/platform-settings/{key}", put(set_platform_setting))
        .route("/admin/scrims/disable", post(disable_scrims))
        .route("/admin/scrims/enable", post(enable_scrims))
}

/// Every setting of an organization with the value in force.
#[utoipa::path(get, path = "/admin/organizations/{id}/settings", tag = "settings",
    params(("id" = i32, Path)), security(("admin_token" = [])),
    responses((status = 200, body = Vec<Setting>),
              (status = 401, description = "Unauthorized", body = ErrorBody),
              (status = 403, description = "Forbidden", body = ErrorBody),
              (status = 404, description = "NotFound", body = ErrorBody)))]
async fn organization_settings(
    State(core): State<CoreEvents>,
    Param(id): Param<Id>,
) -> Result<Json<Vec<Setting>>> {
    in_transaction(&core, async |tx| organizations::settings(tx, id).await)
        .await
        .map(Json)
}

/// A setting's new value.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingUpdate {
    /// Written as the key's type requires: `"10"`, `"true"`, `"[\"123\"]"`...
    pub value: SettingValue,
}

/// Sets an organization's value of a setting (checked against the key's type, bounds, format).
#[utoipa::path(put, path = "/admin/organizations/{id}/settings/{key}", tag = "settings",
    request_body = SettingUpdate,
    params(("id" = i32, Path), ("key" = String, Path)), security(("admin_token" = [])),
    responses((status = 200, body = Setting),
              (status = 400, description = "InvalidRequest: the value does not fit the key", body = ErrorBody),
              (status = 401, description = "Unauthorized", body = ErrorBody),
              (status = 403, description = "Forbidden", body = ErrorBody),
              (status = 404, description = "NotFound", body = ErrorBody),
              (status = 422, description = "UnknownReference: no such setting key", body = ErrorBody)))]
async fn set_setting(
    State(core): State<CoreEvents>,
    Param((id, key)): Param<(Id, SettingKey)>,
    Body(update): Body<SettingUpdate>,
) -> Result<Json<Setting>> {
    in_transaction(&core, async |tx| {
        organizations::set_setting(tx, id, &key, Some(&update.value)).await
    })
    .await
    .map(Json)
}

/// Returns a setting of an organization to its default.
#[utoipa::path(delete, path = "/admin/organizations/{id}/settings/{key}", tag = "settings",
    params(("id" = i32, Path), ("key" = String, Path)), security(("admin_token" = [])),
    responses((status = 200, body = Setting),
              (status = 401, description = "Unauthorized", body = ErrorBody),
              (status = 403, description = "Forbidden", body = ErrorBody),
              (status = 404, description = "NotFound", body = ErrorBody)))]
async fn reset_setting(
    State(core): State<CoreEvents>,
    Param((id, key)): Param<(Id, SettingKey)>,
) -> Result<Json<Setting>> {
    in_transaction(&core, async |tx| {
        organizations::set_setting(tx, id, &key, None).await
    })
    .await
    .map(Json)
}

/// Restricts a member; publishes member.restrictionCreated and schedules the expiry.
#[utoipa::path(post, path = "/admin/members/{id}/restrictions", tag = "restrictions",
    request_body = NewRestriction, params(("id" = i32, Path)), security(("admin_token" = [])),
    responses((status = 201, body = Restriction),
              (status = 400, description = "InvalidRequest", body = ErrorBody),
              (status = 401, description = "Unauthorized", body = ErrorBody),
              (status = 403, description = "Forbidden", body = ErrorBody),
              (status = 404, description = "NotFound: no such member", body = ErrorBody)))]
async fn create_restriction(
    State(core): State<CoreEvents>,
    Param(member): Param<Id>,
    Body(new): Body<NewRestriction>,
) -> Result<(StatusCode, Json<Restriction>)> {
    let restriction = in_transaction(&core, async |tx| {
        restrictions::create(tx, member, &new).await
    })
    .await?;
    Ok((StatusCode::CREATED, Json(restriction)))
}

/// Lifts a restriction with a reason: it ends now and is forgiven (it does not count toward the
/// member's next queue ban); publishes member.restrictionExpired unless its expiry was announced
/// already.
#[utoipa::path(post, path = "/admin/restrictions/{id}/lift", tag = "restrictions",
    request_body = Lift, params(("id" = i64, Path)), security(("admin_token" = [])),
    responses((status = 200, body = Restriction),
              (status = 400, description = "InvalidRequest", body = ErrorBody),
              (status = 401, description = "Unauthorized", body = ErrorBody),
              (status = 403, description = "Forbidden", body = ErrorBody),
              (status = 404, description = "NotFound", body = ErrorBody),
              (status = 409, description = "RestrictionAlreadyLifted", body = ErrorBody)))]
async fn lift_restriction(
    State(core): State<CoreEvents>,
    Param(id): Param<RestrictionId>,
    Body(lift): Body<Lift>,
) -> Result<Json<Restriction>> {
    in_transaction(&core, async |tx| {
        restrictions::lift(tx, id.0, &lift.reason).await
    })
    .await
    .map(Json)
}

/// A restriction's id in a path: a positive 64-bit integer.
#[derive(Debug, Clone, Copy)]
pub struct RestrictionId(i64);

impl<'de> Deserialize<'de> for RestrictionId {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        let id = i64::deserialize(deserializer)?;
        if id > 0 {
            Ok(Self(id))
        } else {
            Err(serde::de::Error::custom(
                "a restriction id is a positive integer",
            ))
        }
    }
}

/// Submissions in flight, as their events describe them.
#[utoipa::path(get, path = "/admin/submissions", tag = "live", security(("admin_token" = [])),
    responses((status = 200, body = Vec<LiveSubmission>),
              (status = 401, description = "Unauthorized", body = ErrorBody),
              (status = 403, description = "Forbidden", body = ErrorBody)))]
async fn live_submissions(State(core): State<CoreEvents>) -> Result<Json<Vec<LiveSubmission>>> {
    let mut conn = core.pool.acquire().await?;
    Ok(Json(live::submissions(&mut conn).await?))
}

/// Whether scrims are disabled platform-wide.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScrimsSwitch {
    pub disabled: bool,
}

/// Disables scrims platform-wide (publishes scrims.disabled true to matchmaking).
#[utoipa::path(post, path = "/admin/scrims/disable", tag = "scrims", security(("admin_token" = [])),
    responses((status = 200, body = ScrimsSwitch),
              (status = 401, description = "Unauthorized", body = ErrorBody),
              (status = 403, description = "Forbidden", body = ErrorBody)))]
async fn disable_scrims(State(core): State<CoreEvents>) -> Result<Json<ScrimsSwitch>> {
    switch_scrims(&core, true).await
}

/// Enables scrims again (publishes scrims.disabled false to matchmaking).
#[utoipa::path(post, path = "/admin/scrims/enable", tag = "scrims", security(("admin_token" = [])),
    responses((status = 200, body = ScrimsSwitch),
              (status = 401, description = "Unauthorized", body = ErrorBody),
              (status = 403, description = "Forbidden", body = ErrorBody)))]
async fn enable_scrims(State(core): State<CoreEvents>) -> Result<Json<ScrimsSwitch>> {
    switch_scrims(&core, false).await
}

async fn switch_scrims(core: &CoreEvents, disabled: bool) -> Result<Json<ScrimsSwitch>> {
    in_transaction(core, async |tx| {
        platform::set(tx, platform::SCRIMS_DISABLED, &disabled.to_string()).await?;
        events::scrims_disabled(tx, disabled).await?;
        Ok(())
    })
    .await?;
    Ok(Json(ScrimsSwitch { disabled }))
}

/// The platform-wide settings (DISABLE_DISCORD_DMS, SCRIMS_DISABLED).
#[utoipa::path(get, path = "/admin/platform-settings", tag = "settings", security(("admin_token" = [])),
    responses((status = 200, body = Vec<PlatformSetting>),
              (status = 401, description = "Unauthorized", body = ErrorBody),
              (status = 403, description = "Forbidden", body = ErrorBody)))]
async fn platform_settings(State(core): State<CoreEvents>) -> Result<Json<Vec<PlatformSetting>>> {
    let mut conn = core.pool.acquire().await?;
    Ok(Json(platform::list(&mut conn).await?))
}

/// Sets a platform-wide setting (SCRIMS_DISABLED is changed through /admin/scrims/...).
#[utoipa::path(put, path = "/admin/platform-settings/{key}", tag = "settings",
    request_body = SettingUpdate, params(("key" = String, Path)), security(("admin_token" = [])),
    responses((status = 200, body = PlatformSetting),
              (status = 400, description = "InvalidRequest: the value does not fit the key", body = ErrorBody),
              (status = 401, description = "Unauthorized", body = ErrorBody),
              (status = 403, description = "Forbidden", body = ErrorBody),
              (status = 404, description = "NotFound: no such key", body = ErrorBody)))]
async fn set_platform_setting(
    State(core): State<CoreEvents>,
    Param(key): Param<SettingKey>,
    Body(update): Body<SettingUpdate>,
) -> Result<Json<PlatformSetting>> {
    if key.as_str() == platform::SCRIMS_DISABLED {
        return Err(crate::error::invalid(
            "SCRIMS_DISABLED changes with POST /admin/scrims/disable or /enable (they tell matchmaking)",
        ));
    }
    in_transaction(&core, async |tx| {
        platform::set(tx, key.as_str(), update.value.as_str()).await
    })
    .await
    .map(Json)
}

#[derive(Debug, OpenApi)]
#[openapi(paths(
    organization_settings,
    set_setting,
    reset_setting,
    create_restriction,
    lift_restriction,
    live_submissions,
    platform_settings,
    set_platform_setting,
    disable_scrims,
    enable_scrims,
))]
pub struct OperationsApi;
