//! Queueing: create (PENDING, LFS, test), join (the join that fills a scrim pops it), leave.

use domain::{CreateScrim, CreateTestScrim, ErrorName, GroupChoice, JoinOptions, PlayerId, Scrim};
use sqlx::PgPool;
use sqlx::types::Json;
use uuid::Uuid;

use super::ATTEMPTS;
use crate::Matchmaking;
use crate::error::{Result, ScrimError, asks_for_retry, contradiction, rule};

/// Creates a PENDING scrim whose author is its first player (optionally with a group).
pub async fn create(mm: &Matchmaking, pool: &PgPool, request: &CreateScrim) -> Result<Scrim> {
    let group = request
        .join
        .group_choice()
        .map_err(|err| contradiction(err.0))?;
    let code = match group {
        GroupChoice::Join(_) => {
            return Err(rule(
                ErrorName::GroupNotFound,
                "a new scrim has no groups to join yet",
            ));
        }
        // A new scrim has no groups, so the first code always fits.
        GroupChoice::Create => Some(mm.group_code()?),
        GroupChoice::None => None,
    };
    insert(mm, pool, request, false, code.as_ref().map(|c| c.as_str())).await
}

/// Creates an LFS scrim: a pre-formed lobby, IN_PROGRESS at once, with placeholder games in
/// which the author is on the team they chose.
pub async fn create_lfs(mm: &Matchmaking, pool: &PgPool, request: &CreateScrim) -> Result<Scrim> {
    if request.join.create_group.unwrap_or(false) || request.join.join_group.is_some() {
        return Err(rule(
            ErrorName::ScrimGroupNotSupportedInMode,
            "an LFS scrim is a pre-formed lobby: it has no groups",
        ));
    }
    if request.settings.team_count.get() != 2 {
        return Err(contradiction(
            "an LFS scrim has exactly two teams (teamCount 2)",
        ));
    }
    insert(mm, pool, request, true, None).await
}

async fn insert(
    mm: &Matchmaking,
    pool: &PgPool,
    request: &CreateScrim,
    lfs: bool,
    group_code: Option<&str>,
) -> Result<Scrim> {
    let settings = &request.settings;
    let join = &request.join;
    let Json(scrim) = sqlx::query_scalar(
        "SELECT matchmaking.create_scrim($1, $2, $3, $4, $5, $6, $7, $8,
             $9::matchmaking.scrim_mode, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)",
    )
    .bind(Uuid::new_v4())
    .bind(lfs)
    .bind(request.author_id)
    .bind(request.organization_id)
    .bind(request.game_mode_id)
    .bind(request.skill_group_id)
    .bind(i16::from(settings.team_size.get()))
    .bind(i16::from(settings.team_count.get()))
    .bind(settings.mode.as_str())
    .bind(settings.competitive)
    .bind(settings.observable)
    .bind(checkin_timeout_ms(mm))
    .bind(join.player_id)
    .bind(join.player_name.as_str())
    .bind(leave_after(join))
    .bind(join.skill_group_id)
    .bind(group_code)
    .bind(i16::from(join.team.map_or(0, |team| team.index())))
    .bind(invite_window_secs(mm))
    .fetch_one(pool)
    .await?;
    Ok(scrim)
}

/// Creates an admin's test scrim: IN_PROGRESS, empty roster, one (empty) game.
pub async fn create_test(
    mm: &Matchmaking,
    pool: &PgPool,
    request: &CreateTestScrim,
) -> Result<Scrim> {
    let settings = &request.settings;
    let Json(scrim) = sqlx::query_scalar(
        "SELECT matchmaking.create_test_scrim($1, $2, $3, $4, $5, $6, $7,
             $8::matchmaking.scrim_mode, $9, $10, $11)",
    )
    .bind(Uuid::new_v4())
    .bind(request.author_id)
    .bind(request.organization_id)
    .bind(request.game_mode_id)
    .bind(request.skill_group_id)
    .bind(i16::from(settings.team_size.get()))
    .bind(i16::from(settings.team_count.get()))
    .bind(settings.mode.as_str())
    .bind(settings.competitive)
    .bind(settings.observable)
    .bind(checkin_timeout_ms(mm))
    .fetch_one(pool)
    .await?;
    Ok(scrim)
}

/// Adds a player to a PENDING scrim (creating or joining a group); the join that fills it pops
/// it.
pub async fn join(
    mm: &Matchmaking,
    pool: &PgPool,
    scrim_id: Uuid,
    options: &JoinOptions,
) -> Result<Scrim> {
    let group = options.group_choice().map_err(|err| contradiction(err.0))?;
    for _ in 0..ATTEMPTS {
        let (create_code, join_code) = match &group {
            GroupChoice::None => (None, None),
            GroupChoice::Create => (Some(mm.group_code()?), None),
            GroupChoice::Join(code) => (None, Some(code.clone())),
        };
        let answer =
            sqlx::query_scalar("SELECT matchmaking.join_scrim($1, $2, $3, $4, $5, $6, $7, $8)")
                .bind(scrim_id)
                .bind(options.player_id)
                .bind(options.player_name.as_str())
                .bind(leave_after(options))
                .bind(options.skill_group_id)
                .bind(create_code.as_ref().map(|code| code.as_str()))
                .bind(join_code.as_ref().map(|code| code.as_str()))
                .bind(invite_window_secs(mm))
                .fetch_one(pool)
                .await;
        match answer {
            Ok(Json(scrim)) => return Ok(scrim),
            // Another group of this scrim has the code just drawn: draw again.
            Err(error) if asks_for_retry(&error) => continue,
            Err(error) => return Err(error.into()),
        }
    }
    Err(ScrimError::Internal(anyhow::anyhow!(
        "no free group code for scrim {scrim_id} in {ATTEMPTS} draws"
    )))
}

/// Takes a player out of a PENDING scrim; the last one out empties it (status EMPTY).
pub async fn leave(pool: &PgPool, scrim_id: Uuid, player: PlayerId) -> Result<Scrim> {
    let Json(scrim) = sqlx::query_scalar("SELECT matchmaking.leave_scrim($1, $2)")
        .bind(scrim_id)
        .bind(player)
        .fetch_one(pool)
        .await?;
    Ok(scrim)
}

/// The check-in timeout new scrims get (the organization's configuration).
fn checkin_timeout_ms(mm: &Matchmaking) -> i32 {
    // Bounded to one hour by CheckinTimeout.
    i32::try_from(mm.settings.checkin_timeout_ms.millis()).unwrap_or(i32::MAX)
}

fn invite_window_secs(mm: &Matchmaking) -> i32 {
    i32::try_from(mm.settings.group_invite_window_secs).unwrap_or(i32::MAX)
}

fn leave_after(options: &JoinOptions) -> i32 {
    // Bounded to a week by LeaveAfter.
    i32::try_from(options.leave_after.secs()).unwrap_or(i32::MAX)
}
