//! Matchmaking's timers on pg-queue (they replace the original's Bull timers): the check-in
//! timeout of a popped scrim and each player's `leaveAt`. Both are scheduled messages with a
//! dedup key, armed and disarmed in the transaction of the change that arms or disarms them, and
//! handled by whichever replica claims them first. Their handlers act only if the scrim is still
//! in the state that armed them, so a late or repeated delivery changes nothing.

use chrono::{DateTime, Duration, Utc};
use domain::PlayerId;
use domain::events::{MemberRestriction, RestrictionType};
use pg_queue::{EnqueueOptions, Enqueued, HandlerError, MessageContext, Queue, QueueTable};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::ScrimError;
use crate::events::{ScrimChange, announce_restriction};
use crate::settings::QueueBanPolicy;
use crate::{lifecycle, store};

/// A popped scrim's check-in window closes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckInDue {
    pub scrim_id: Uuid,
    /// The pop this timer belongs to.
    pub submission_id: String,
}

impl Queue for CheckInDue {
    const TABLE: QueueTable = QueueTable::new("matchmaking", "checkin_timeouts");
}

/// A queued player's `leaveAt` has come.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LeaveDue {
    pub scrim_id: Uuid,
    pub player_id: PlayerId,
    /// The `leaveAt` of the join that armed this timer.
    pub leave_at: DateTime<Utc>,
}

impl Queue for LeaveDue {
    const TABLE: QueueTable = QueueTable::new("matchmaking", "leave_expiries");
}

fn check_in_key(scrim_id: Uuid) -> String {
    scrim_id.to_string()
}

fn leave_key(scrim_id: Uuid, player: PlayerId) -> String {
    format!("{scrim_id}:{player}")
}

/// Arms a popped scrim's check-in timer. Returns what the queue did: a check-in timer of this
/// scrim that is still waiting (not being handled) is kept, and the new one is skipped.
pub async fn arm_check_in(
    conn: &mut PgConnection,
    scrim_id: Uuid,
    submission_id: &str,
    from: DateTime<Utc>,
    timeout_ms: i32,
) -> Result<Enqueued, ScrimError> {
    let due = CheckInDue {
        scrim_id,
        submission_id: submission_id.to_owned(),
    };
    let at = from + Duration::milliseconds(i64::from(timeout_ms));
    let enqueued = pg_queue::enqueue_with(
        conn,
        &due,
        EnqueueOptions::at(at).dedup_key(check_in_key(scrim_id)),
    )
    .await?;
    if enqueued == Enqueued::Skipped {
        tracing::info!(scrim.id = %scrim_id, "a waiting check-in timer of this scrim stays in force; the new deadline was not armed");
    }
    Ok(enqueued)
}

pub async fn disarm_check_in(conn: &mut PgConnection, scrim_id: Uuid) -> Result<(), ScrimError> {
    pg_queue::consume::cancel(conn, CheckInDue::TABLE, &check_in_key(scrim_id)).await?;
    Ok(())
}

pub async fn arm_leave(
    conn: &mut PgConnection,
    scrim_id: Uuid,
    player_id: PlayerId,
    leave_at: DateTime<Utc>,
) -> Result<(), ScrimError> {
    let due = LeaveDue {
        scrim_id,
        player_id,
        leave_at,
    };
    let options = EnqueueOptions::at(leave_at).dedup_key(leave_key(scrim_id, player_id));
    match pg_queue::enqueue_with(conn, &due, options).await? {
        Enqueued::Inserted | Enqueued::Replaced => {}
        // Re-arming after an unlock: a timer still waiting for this join keeps it.
        Enqueued::Skipped => {
            tracing::debug!(scrim.id = %scrim_id, player.id = %player_id, "a waiting leave timer stays in force");
        }
    }
    Ok(())
}

pub async fn disarm_leave(
    conn: &mut PgConnection,
    scrim_id: Uuid,
    player: PlayerId,
) -> Result<(), ScrimError> {
    pg_queue::consume::cancel(conn, LeaveDue::TABLE, &leave_key(scrim_id, player)).await?;
    Ok(())
}

/// Arms the leave timer of every player of a scrim again (after an unlock back to PENDING);
/// timers still pending are kept by their dedup key.
pub async fn rearm_leaves(conn: &mut PgConnection, scrim_id: Uuid) -> Result<(), ScrimError> {
    let players: Vec<(PlayerId, DateTime<Utc>)> = sqlx::query_as(
        "SELECT player_id, leave_at FROM matchmaking.scrim_players WHERE scrim_id = $1",
    )
    .bind(scrim_id)
    .fetch_all(&mut *conn)
    .await?;
    for (player, leave_at) in players {
        arm_leave(conn, scrim_id, player, leave_at).await?;
    }
    Ok(())
}

/// Turns an operation's error into the queue's verdict: a broken rule means the message no
/// longer applies (fatal, it goes to the dead letters for a look); anything else is retried.
pub fn verdict(error: ScrimError) -> HandlerError {
    match error {
        ScrimError::Rule { .. } => HandlerError::fatal(error),
        ScrimError::Internal(cause) => HandlerError::retryable(cause.into_boxed_dyn_error()),
    }
}

/// The check-in window closed: if the scrim is still popped by the same pop, it is cancelled and
/// every player who did not check in is queue banned, all in the message's transaction.
pub async fn expire_check_in(
    ctx: &mut MessageContext<'_>,
    due: CheckInDue,
    policy: QueueBanPolicy,
) -> Result<(), HandlerError> {
    let conn = ctx.tx().await?;
    let Some(row) = store::lock(conn, due.scrim_id).await? else {
        return Ok(()); // Gone already (started and completed, or cancelled).
    };
    if row.status() != domain::ScrimStatus::Popped
        || row.submission_id.as_deref() != Some(due.submission_id.as_str())
    {
        return Ok(());
    }
    let missing: Vec<PlayerId> = sqlx::query_scalar(
        "SELECT player_id FROM matchmaking.scrim_players
         WHERE scrim_id = $1 AND NOT checked_in ORDER BY position",
    )
    .bind(row.id)
    .fetch_all(&mut *conn)
    .await?;
    for player in missing {
        if let Some(ban) = queue_ban(conn, player, row.id, row.organization_id, policy).await? {
            announce_restriction(conn, &ban)
                .await
                .map_err(|err| verdict(err.into()))?;
        }
    }
    lifecycle::remove(conn, row, ScrimChange::Cancelled)
        .await
        .map_err(verdict)?;
    Ok(())
}

/// Writes one QUEUE_BAN (DOMAIN §1.5) for the player as a member of the scrim's organization:
/// `initial + modifier × recent bans` long. `None` if this scrim already banned this player (the
/// unique constraint makes a repeat a no-op).
async fn queue_ban(
    conn: &mut PgConnection,
    player: PlayerId,
    scrim_id: Uuid,
    organization_id: i32,
    policy: QueueBanPolicy,
) -> Result<Option<MemberRestriction>, sqlx::Error> {
    let row: Option<(i64, DateTime<Utc>, DateTime<Utc>)> = sqlx::query_as(
        "WITH recent AS (
             SELECT count(*) AS bans FROM core.member_restrictions
             WHERE user_id = $1 AND type = 'QUEUE_BAN'
               AND created_at > now() - make_interval(days => $3::integer))
         INSERT INTO core.member_restrictions (user_id, type, reason, expiration, scrim_id,
                                               organization_id)
         SELECT $1, 'QUEUE_BAN', 'Did not check in to a popped scrim', now()
                    + make_interval(mins => ($4 + $5 * recent.bans)::integer), $2, $6
         FROM recent
         ON CONFLICT DO NOTHING
         RETURNING id, created_at, expiration",
    )
    .bind(player)
    .bind(scrim_id)
    .bind(policy.fall_off_days)
    .bind(policy.initial_minutes)
    .bind(policy.modifier_minutes)
    .bind(organization_id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|(id, created_at, expiration)| MemberRestriction {
        id,
        user_id: player,
        organization_id,
        restriction_type: RestrictionType::QueueBan,
        reason: "Did not check in to a popped scrim".to_owned(),
        created_at,
        expiration,
        scrim_id: Some(scrim_id),
        manual_expiration: None,
        manual_expiration_reason: None,
        forgiven: false,
    }))
}

/// A player's `leaveAt` came: if they are still queued in that scrim by that join, they leave;
/// if they were its only player the scrim is cancelled (DOMAIN §1.2).
pub async fn expire_leave(ctx: &mut MessageContext<'_>, due: LeaveDue) -> Result<(), HandlerError> {
    let conn = ctx.tx().await?;
    let Some(row) = store::lock(conn, due.scrim_id).await? else {
        return Ok(());
    };
    if row.status() != domain::ScrimStatus::Pending {
        return Ok(()); // Popped players stay; an unlock back to PENDING re-arms the timer.
    }
    let current: Option<DateTime<Utc>> = sqlx::query_scalar(
        "SELECT leave_at FROM matchmaking.scrim_players WHERE scrim_id = $1 AND player_id = $2",
    )
    .bind(row.id)
    .bind(due.player_id)
    .fetch_optional(&mut *conn)
    .await?;
    if current != Some(due.leave_at) {
        return Ok(()); // Left already, or this is an older join's timer.
    }
    lifecycle::remove_player(conn, &row, due.player_id, ScrimChange::Cancelled)
        .await
        .map_err(verdict)?;
    Ok(())
}
