//! What admins and the other services' events do to a scrim: cancel, lock, unlock, complete
//! (core saved its results), reset (its submission was reset), and the platform-wide switch.

use domain::Scrim;
use sqlx::types::Json;
use sqlx::{PgConnection, PgExecutor, PgPool};
use uuid::Uuid;

use crate::error::Result;

/// Admin: cancels a scrim in any status (status CANCELLED). No queue bans: nobody missed a
/// check-in.
pub async fn cancel(pool: &PgPool, scrim_id: Uuid) -> Result<Scrim> {
    call(pool, "SELECT matchmaking.cancel_scrim($1)", scrim_id).await
}

/// Admin: locks a scrim for a look. Locking a locked scrim changes nothing (the original stored
/// LOCKED as the status to restore).
pub async fn lock(pool: &PgPool, scrim_id: Uuid) -> Result<Scrim> {
    call(pool, "SELECT matchmaking.lock_scrim($1)", scrim_id).await
}

/// Admin: restores a locked scrim's previous status (IN_PROGRESS if none was recorded) and arms
/// its timers again. Unlocking a scrim that is not locked changes nothing.
pub async fn unlock(pool: &PgPool, scrim_id: Uuid) -> Result<Scrim> {
    call(pool, "SELECT matchmaking.unlock_scrim($1)", scrim_id).await
}

async fn call(pool: &PgPool, sql: &'static str, scrim_id: Uuid) -> Result<Scrim> {
    let Json(scrim) = sqlx::query_scalar(sql)
        .bind(scrim_id)
        .fetch_one(pool)
        .await?;
    Ok(scrim)
}

/// Core saved the scrim's results: it completes (status COMPLETE) and leaves the live set.
/// `None` if it is gone already.
pub async fn complete(conn: &mut PgConnection, scrim_id: Uuid) -> Result<Option<Scrim>> {
    let scrim: Option<Json<Scrim>> = sqlx::query_scalar("SELECT matchmaking.complete_scrim($1)")
        .bind(scrim_id)
        .fetch_one(conn)
        .await?;
    Ok(scrim.map(|Json(scrim)| scrim))
}

/// Locks the scrim of a submission (its third rejection). `None` if no live scrim has it.
pub async fn lock_by_submission(
    conn: &mut PgConnection,
    submission_id: &str,
) -> Result<Option<Scrim>> {
    let scrim: Option<Json<Scrim>> = sqlx::query_scalar(
        "SELECT matchmaking.lock_scrim(s.id) FROM matchmaking.scrims s WHERE s.submission_id = $1",
    )
    .bind(submission_id)
    .fetch_optional(conn)
    .await?;
    Ok(scrim.map(|Json(scrim)| scrim))
}

/// The scrim's submission was reset: back to IN_PROGRESS. `None` if nothing changed.
pub async fn reset(conn: &mut PgConnection, submission_id: &str) -> Result<Option<Scrim>> {
    let scrim: Option<Json<Scrim>> = sqlx::query_scalar("SELECT matchmaking.reset_scrim($1)")
        .bind(submission_id)
        .fetch_one(conn)
        .await?;
    Ok(scrim.map(|Json(scrim)| scrim))
}

/// Sets the platform-wide switch. Returns whether it changed.
pub async fn set_disabled(executor: impl PgExecutor<'_>, disabled: bool) -> Result<bool> {
    let changed = sqlx::query(
        "UPDATE matchmaking.platform_state SET scrims_disabled = $1, changed_at = now()
         WHERE scrims_disabled IS DISTINCT FROM $1",
    )
    .bind(disabled)
    .execute(executor)
    .await?
    .rows_affected();
    Ok(changed == 1)
}
