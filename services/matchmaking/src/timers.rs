//! Matchmaking's timers on pg-queue (they replace the original's Bull timers): the check-in
//! timeout of a popped scrim and each player's `leaveAt`. The operations' SQL functions arm and
//! disarm them in the transaction of the change (migration V7: a scheduled message with a dedup
//! key per scrim, or per scrim and player), and whichever replica claims one first handles it.
//! Each handler is one SQL function that acts only if the scrim is still in the state that armed
//! the timer, so a late or repeated delivery changes nothing.

use chrono::{DateTime, Utc};
use domain::PlayerId;
use pg_queue::{HandlerError, MessageContext, Queue, QueueTable};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::ScrimError;
use crate::settings::QueueBanPolicy;

/// A popped scrim's check-in window closes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckInDue {
    pub scrim_id: Uuid,
    /// The pop this timer belongs to.
    pub submission_id: String,
    /// The check-in deadline this timer was armed for; the scrim's current one when the timer is
    /// current. Timers armed by the release before V7 have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<DateTime<Utc>>,
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

/// Turns an operation's error into the queue's verdict: a broken rule means the message no
/// longer applies (fatal, it goes to the dead letters for a look); anything else is retried.
pub fn verdict(error: ScrimError) -> HandlerError {
    match error {
        ScrimError::Rule { .. } => HandlerError::fatal(error),
        ScrimError::Internal(cause) => HandlerError::retryable(cause.into_boxed_dyn_error()),
    }
}

/// The check-in window closed: if the scrim is still popped by the same pop, and this timer is
/// for its current deadline (an unlock gives a fresh one), every player who did not check in is
/// queue banned (DOMAIN §1.5) and the scrim is cancelled, in the message's transaction.
pub async fn expire_check_in(
    ctx: &mut MessageContext<'_>,
    due: CheckInDue,
    policy: QueueBanPolicy,
) -> Result<(), HandlerError> {
    let conn = ctx.tx().await?;
    sqlx::query("SELECT matchmaking.expire_check_in($1, $2, $3, $4, $5, $6)")
        .bind(due.scrim_id)
        .bind(&due.submission_id)
        .bind(due.deadline)
        .bind(minutes(policy.initial_minutes))
        .bind(minutes(policy.modifier_minutes))
        .bind(minutes(policy.fall_off_days))
        .execute(conn)
        .await
        .map_err(|err| verdict(err.into()))?;
    Ok(())
}

/// A player's `leaveAt` came: if they are still queued in that scrim by that join, they leave; if
/// they were its only player, the scrim is cancelled (DOMAIN §1.2).
pub async fn expire_leave(ctx: &mut MessageContext<'_>, due: LeaveDue) -> Result<(), HandlerError> {
    let conn = ctx.tx().await?;
    sqlx::query("SELECT matchmaking.expire_leave($1, $2, $3)")
        .bind(due.scrim_id)
        .bind(due.player_id)
        .bind(due.leave_at)
        .execute(conn)
        .await
        .map_err(|err| verdict(err.into()))?;
    Ok(())
}

/// A policy number as SQL's `integer` (they are minutes and days, far below its range).
pub(crate) fn minutes(value: i64) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}
