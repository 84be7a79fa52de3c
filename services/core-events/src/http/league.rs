//! Admin routes (the admin token) over the league data.
//!
//! Each kind of record has `POST /admin/<records>` (create; the service picks the id) and
//! `PUT /admin/<records>/{id}` (replace an existing record; writes nothing when it is
//! unchanged). Both answer `{"id", "written"}`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{delete, post, put};
use axum::{Json, Router};
use serde::Serialize;
use sqlx::PgConnection;
use utoipa::{OpenApi, ToSchema};

use super::{Body, ErrorBody, Param, in_transaction};
use crate::CoreEvents;
use crate::error::Result;
use crate::input::Id;
use crate::league::franchises::{self, Franchise, StaffAppointment, Team};
use crate::league::games::{self, Game, GameMode, SkillGroup};
use crate::league::matches::{self, LeagueMatch};
use crate::league::organizations::{self, Organization};
use crate::league::people::{self, AccountMoves, Member, PlatformAccount, User};
use crate::league::players::{self, Player};
use crate::league::{Target, Written};

pub(super) fn routes() -> Router<CoreEvents> {
    Router::new()
        .route("/admin/organizations", post(create_organization))
        .route("/admin/organizations/{id}", put(replace_organization))
        .route("/admin/users", post(create_user))
        .route("/admin/users/{id}", put(replace_user))
        .route("/admin/members", post(create_member))
        .route("/admin/members/{id}", put(replace_member))
        .route("/admin/members/{id}/accounts", put(replace_accounts))
        .route("/admin/games", post(create_game))
        .route("/admin/games/{id}", put(replace_game))
        .route("/admin/game-modes", post(create_game_mode))
        .route("/admin/game-modes/{id}", put(replace_game_mode))
        .route("/admin/skill-groups", post(create_skill_group))
        .route("/admin/skill-groups/{id}", put(replace_skill_group))
        .route("/admin/franchises", post(create_franchise))
        .route("/admin/franchises/{id}", put(replace_franchise))
        .route("/admin/franchises/{id}/staff", put(replace_staff))
        .route("/admin/teams", post(create_team))
        .route("/admin/teams/{id}", delete(delete_team))
        .route("/admin/players", post(create_player))
        .route("/admin/players/{id}", put(replace_player))
        .route("/admin/league-matches", post(create_league_match))
        .route("/admin/league-matches/{id}", put(replace_league_match))
}

/// What a create or replace did.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Saved {
    pub id: Id,
    pub written: Written,
    /// League matches: the submission id their results are submitted under.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub submission_id: Option<String>,
}

type Upsert<T> =
    for<'c> fn(
        &'c mut PgConnection,
        Target,
        &'c T,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<(Id, Written)>> + Send + 'c>>;

async fn save<T: Sync>(
    core: &CoreEvents,
    target: Target,
    record: &T,
    upsert: Upsert<T>,
) -> Result<Json<Saved>> {
    let (id, written) = in_transaction(core, async |tx| upsert(tx, target, record).await).await?;
    Ok(Json(Saved {
        id,
        written,
        submission_id: None,
    }))
}

/// The two routes of one kind of record: `POST` creates, `PUT /{id}` replaces.
macro_rules! record_routes {
    ($create:ident, $replace:ident, $post_path:literal, $put_path:literal, $tag:literal,
     $record:ty, $what:literal, $upsert:expr) => {
        #[doc = concat!("Creates a ", $what, ".")]
        #[utoipa::path(post, path = $post_path, tag = $tag, request_body = $record,
            security(("admin_token" = [])),
            responses((status = 201, body = Saved),
                      (status = 400, description = "InvalidRequest", body = ErrorBody),
                      (status = 401, description = "Unauthorized", body = ErrorBody),
                      (status = 403, description = "Forbidden: a caller token, not the admin token", body = ErrorBody),
                      (status = 409, description = "AlreadyExists: a unique value is taken", body = ErrorBody),
                      (status = 413, description = "PayloadTooLarge", body = ErrorBody),
                      (status = 422, description = "UnknownReference: a referenced record does not exist or is in another organization", body = ErrorBody)))]
        async fn $create(
            State(core): State<CoreEvents>,
            Body(record): Body<$record>,
        ) -> Result<(StatusCode, Json<Saved>)> {
            let saved = save(&core, Target::New, &record, |conn, target, record| {
                Box::pin($upsert(conn, target, record))
            })
            .await?;
            Ok((StatusCode::CREATED, saved))
        }

        #[doc = concat!("Replaces a ", $what, " (writes nothing when it is unchanged).")]
        #[utoipa::path(put, path = $put_path, tag = $tag, request_body = $record,
            params(("id" = i32, Path)),
            security(("admin_token" = [])),
            responses((status = 200, body = Saved),
                      (status = 400, description = "InvalidRequest (also: a field that never changes was changed)", body = ErrorBody),
                      (status = 401, description = "Unauthorized", body = ErrorBody),
                      (status = 403, description = "Forbidden: a caller token, not the admin token", body = ErrorBody),
                      (status = 404, description = "NotFound", body = ErrorBody),
                      (status = 409, description = "AlreadyExists: a unique value is taken", body = ErrorBody),
                      (status = 413, description = "PayloadTooLarge", body = ErrorBody),
                      (status = 422, description = "UnknownReference", body = ErrorBody)))]
        async fn $replace(
            State(core): State<CoreEvents>,
            Param(id): Param<Id>,
            Body(record): Body<$record>,
        ) -> Result<Json<Saved>> {
            save(&core, Target::Existing(id), &record, |conn, target, record| {
                Box::pin($upsert(conn, target, record))
            })
            .await
        }
    };
}

record_routes!(
    create_organization,
    replace_organization,
    "/admin/organizations",
    "/admin/organizations/{id}",
    "league",
    Organization,
    "organization (and its settings, when given)",
    organizations::upsert
);
record_routes!(
    create_user,
    replace_user,
    "/admin/users",
    "/admin/users/{id}",
    "league",
    User,
    "user",
    people::upsert_user
);
record_routes!(
    create_member,
    replace_member,
    "/admin/members",
    "/admin/members/{id}",
    "league",
    Member,
    "member (and their platform accounts, when given)",
    upsert_member
);
record_routes!(
    create_game,
    replace_game,
    "/admin/games",
    "/admin/games/{id}",
    "league",
    Game,
    "game",
    games::upsert_game
);
record_routes!(
    create_game_mode,
    replace_game_mode,
    "/admin/game-modes",
    "/admin/game-modes/{id}",
    "league",
    GameMode,
    "game mode",
    games::upsert_game_mode
);
record_routes!(
    create_skill_group,
    replace_skill_group,
    "/admin/skill-groups",
    "/admin/skill-groups/{id}",
    "league",
    SkillGroup,
    "skill group",
    games::upsert_skill_group
);
record_routes!(
    create_franchise,
    replace_franchise,
    "/admin/franchises",
    "/admin/franchises/{id}",
    "league",
    Franchise,
    "franchise (and its staff, when given)",
    franchises::upsert_franchise
);
record_routes!(
    create_player,
    replace_player,
    "/admin/players",
    "/admin/players/{id}",
    "league",
    Player,
    "player; a change of skill group or team publishes player.skillGroupChanged / player.teamChanged",
    players::upsert_player
);

/// The admin API refuses to take an account another member owns.
async fn upsert_member(
    conn: &mut PgConnection,
    target: Target,
    member: &Member,
) -> Result<(Id, Written)> {
    people::upsert_member(conn, target, member, AccountMoves::Refused).await
}

/// Creates a league match (its submission id is chosen when not given).
#[utoipa::path(post, path = "/admin/league-matches", tag = "league", request_body = LeagueMatch,
    security(("admin_token" = [])),
    responses((status = 201, body = Saved),
              (status = 400, description = "InvalidRequest", body = ErrorBody),
              (status = 401, description = "Unauthorized", body = ErrorBody),
              (status = 403, description = "Forbidden", body = ErrorBody),
              (status = 409, description = "AlreadyExists", body = ErrorBody),
              (status = 422, description = "UnknownReference", body = ErrorBody)))]
async fn create_league_match(
    State(core): State<CoreEvents>,
    Body(record): Body<LeagueMatch>,
) -> Result<(StatusCode, Json<Saved>)> {
    let saved = save_league_match(&core, Target::New, &record).await?;
    Ok((StatusCode::CREATED, saved))
}

/// Replaces a league match (its submission id never changes).
#[utoipa::path(put, path = "/admin/league-matches/{id}", tag = "league", request_body = LeagueMatch,
    params(("id" = i32, Path)),
    security(("admin_token" = [])),
    responses((status = 200, body = Saved),
              (status = 400, description = "InvalidRequest", body = ErrorBody),
              (status = 401, description = "Unauthorized", body = ErrorBody),
              (status = 403, description = "Forbidden", body = ErrorBody),
              (status = 404, description = "NotFound", body = ErrorBody),
              (status = 422, description = "UnknownReference", body = ErrorBody)))]
async fn replace_league_match(
    State(core): State<CoreEvents>,
    Param(id): Param<Id>,
    Body(record): Body<LeagueMatch>,
) -> Result<Json<Saved>> {
    save_league_match(&core, Target::Existing(id), &record).await
}

async fn save_league_match(
    core: &CoreEvents,
    target: Target,
    record: &LeagueMatch,
) -> Result<Json<Saved>> {
    let (id, written, submission_id) = in_transaction(core, async |tx| {
        matches::upsert_league_match(tx, target, record).await
    })
    .await?;
    Ok(Json(Saved {
        id,
        written,
        submission_id: Some(submission_id),
    }))
}

/// Creates a team (a franchise's team in one skill group).
#[utoipa::path(post, path = "/admin/teams", tag = "league", request_body = Team,
    security(("admin_token" = [])),
    responses((status = 201, body = Saved),
              (status = 400, description = "InvalidRequest", body = ErrorBody),
              (status = 401, description = "Unauthorized", body = ErrorBody),
              (status = 403, description = "Forbidden", body = ErrorBody),
              (status = 409, description = "AlreadyExists: the franchise has a team in the skill group", body = ErrorBody),
              (status = 422, description = "UnknownReference", body = ErrorBody)))]
async fn create_team(
    State(core): State<CoreEvents>,
    Body(team): Body<Team>,
) -> Result<(StatusCode, Json<Saved>)> {
    let saved = save(&core, Target::New, &team, |conn, target, team| {
        Box::pin(franchises::upsert_team(conn, target, team))
    })
    .await?;
    Ok((StatusCode::CREATED, saved))
}

/// Removes a team without players.
#[utoipa::path(delete, path = "/admin/teams/{id}", tag = "league", params(("id" = i32, Path)),
    security(("admin_token" = [])),
    responses((status = 204, description = "Removed"),
              (status = 401, description = "Unauthorized", body = ErrorBody),
              (status = 403, description = "Forbidden", body = ErrorBody),
              (status = 404, description = "NotFound", body = ErrorBody),
              (status = 409, description = "StillReferenced: players or saved results refer to it", body = ErrorBody)))]
async fn delete_team(State(core): State<CoreEvents>, Param(id): Param<Id>) -> Result<StatusCode> {
    in_transaction(&core, async |tx| franchises::delete_team(tx, id).await).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replaces a member's platform accounts (an account another member owns is refused).
#[utoipa::path(put, path = "/admin/members/{id}/accounts", tag = "league",
    request_body = Vec<PlatformAccount>, params(("id" = i32, Path)),
    security(("admin_token" = [])),
    responses((status = 200, body = Saved),
              (status = 400, description = "InvalidRequest", body = ErrorBody),
              (status = 401, description = "Unauthorized", body = ErrorBody),
              (status = 403, description = "Forbidden", body = ErrorBody),
              (status = 404, description = "NotFound", body = ErrorBody),
              (status = 409, description = "AlreadyExists: another member owns an account", body = ErrorBody)))]
async fn replace_accounts(
    State(core): State<CoreEvents>,
    Param(id): Param<Id>,
    Body(accounts): Body<Vec<PlatformAccount>>,
) -> Result<Json<Saved>> {
    let written = in_transaction(&core, async |tx| {
        crate::league::lock_row(tx, "members", id, "member").await?;
        people::replace_accounts(tx, id, &accounts, AccountMoves::Refused).await
    })
    .await?;
    Ok(Json(Saved {
        id,
        written,
        submission_id: None,
    }))
}

/// Replaces a franchise's staff.
#[utoipa::path(put, path = "/admin/franchises/{id}/staff", tag = "league",
    request_body = Vec<StaffAppointment>, params(("id" = i32, Path)),
    security(("admin_token" = [])),
    responses((status = 200, body = Saved),
              (status = 400, description = "InvalidRequest", body = ErrorBody),
              (status = 401, description = "Unauthorized", body = ErrorBody),
              (status = 403, description = "Forbidden", body = ErrorBody),
              (status = 404, description = "NotFound", body = ErrorBody),
              (status = 409, description = "AlreadyExists: the franchise has a franchise manager", body = ErrorBody),
              (status = 422, description = "UnknownReference: a member of another organization", body = ErrorBody)))]
async fn replace_staff(
    State(core): State<CoreEvents>,
    Param(id): Param<Id>,
    Body(staff): Body<Vec<StaffAppointment>>,
) -> Result<Json<Saved>> {
    let written = in_transaction(&core, async |tx| {
        let organization: Option<i32> = sqlx::query_scalar(
            "SELECT organization_id FROM core.franchises WHERE id = $1 FOR UPDATE",
        )
        .bind(id.get())
        .fetch_optional(&mut *tx)
        .await?;
        let organization =
            organization.ok_or_else(|| crate::error::not_found(format!("franchise {id}")))?;
        franchises::replace_staff(tx, id, Id::stored(organization), &staff).await
    })
    .await?;
    Ok(Json(Saved {
        id,
        written,
        submission_id: None,
    }))
}

#[derive(Debug, OpenApi)]
#[openapi(paths(
    create_organization,
    replace_organization,
    create_user,
    replace_user,
    create_member,
    replace_member,
    replace_accounts,
    create_game,
    replace_game,
    create_game_mode,
    replace_game_mode,
    create_skill_group,
    replace_skill_group,
    create_franchise,
    replace_franchise,
    replace_staff,
    create_team,
    delete_team,
    create_player,
    replace_player,
    create_league_match,
    replace_league_match,
))]
pub struct LeagueApi;
