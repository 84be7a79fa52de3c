//! Member restrictions (DOMAIN §1.5, §3): created by matchmaking (queue bans, through its
//! row-level-security grant) or by an admin, listed per member, lifted by an admin (forgiven: it
//! no longer counts toward the next ban), and expired by a message scheduled at the expiration
//! (no poller over the table).
//!
//! `member.restrictionExpired` is published once per restriction: `expiry_announced_at` records
//! it, whichever comes first (the scheduled expiry or a lift while the restriction is in force).

use chrono::{DateTime, Utc};
use domain::events::{MemberRestriction, RestrictionType};
use pg_queue::{EnqueueOptions, Enqueued, HandlerError, MessageContext, Queue, QueueTable};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{Result, invalid, not_found, rule, verdict};
use crate::events;
use crate::input::{Id, Reason};

/// A restriction runs out: the scheduled message of its expiry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RestrictionDue {
    pub restriction_id: i64,
    /// The expiration it was scheduled for: a restriction whose expiration changed since is not
    /// expired by this message.
    pub expiration: DateTime<Utc>,
}

impl Queue for RestrictionDue {
    const TABLE: QueueTable = QueueTable::new("core", "restriction_expiries");
}

fn expiry_key(id: i64, expiration: DateTime<Utc>) -> String {
    format!("restriction:{id}:{}", expiration.timestamp_micros())
}

/// A restriction as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Restriction {
    pub id: i64,
    /// The member it belongs to (`null` for a user who is no member of the organization).
    pub member_id: Option<i32>,
    pub user_id: i32,
    pub organization_id: i32,
    #[serde(rename = "type")]
    #[sqlx(rename = "type", try_from = "String")]
    pub restriction_type: Kind,
    pub reason: String,
    pub created_at: DateTime<Utc>,
    pub expiration: DateTime<Utc>,
    pub scrim_id: Option<Uuid>,
    /// When an admin lifted it, and why.
    pub manual_expiration: Option<DateTime<Utc>>,
    pub manual_expiration_reason: Option<String>,
    pub forgiven: bool,
    /// Whether it is in force now.
    pub active: bool,
}

/// [`RestrictionType`] as read from its text column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(transparent)]
pub struct Kind(pub RestrictionType);

impl TryFrom<String> for Kind {
    type Error = String;

    fn try_from(code: String) -> Result<Self, String> {
        RestrictionType::from_code(&code)
            .map(Kind)
            .ok_or_else(|| format!("unknown restriction type {code}"))
    }
}

impl Restriction {
    pub fn event(&self) -> MemberRestriction {
        MemberRestriction {
            id: self.id,
            user_id: self.user_id,
            organization_id: self.organization_id,
            restriction_type: self.restriction_type.0,
            reason: self.reason.clone(),
            created_at: self.created_at,
            expiration: self.expiration,
            scrim_id: self.scrim_id,
            manual_expiration: self.manual_expiration,
            manual_expiration_reason: self.manual_expiration_reason.clone(),
            forgiven: self.forgiven,
        }
    }
}

/// The columns of [`Restriction`] from `core.member_restrictions r`. Rows written before
/// restrictions had an organization are never shown.
const COLUMNS: &str = "r.id, m.id AS member_id, r.user_id, r.organization_id, r.type, r.reason,
    r.created_at, r.expiration, r.scrim_id, r.manually_expired_at AS manual_expiration,
    r.manual_expiration_reason, r.forgiven,
    (r.manually_expired_at IS NULL AND r.expiration > now()) AS active";
const FROM: &str = "core.member_restrictions r
    LEFT JOIN core.members m ON m.organization_id = r.organization_id AND m.user_id = r.user_id";

/// An admin's new restriction of a member.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewRestriction {
    #[serde(rename = "type")]
    pub restriction_type: RestrictionType,
    pub reason: Reason,
    /// How long it lasts, from now: 1 minute to 10 years.
    #[schema(minimum = 1, maximum = 5_256_000)]
    pub duration_minutes: u32,
}

/// Lifting a restriction.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Lift {
    pub reason: Reason,
}

/// Restricts a member, schedules its expiry and announces it.
pub async fn create(
    conn: &mut PgConnection,
    member: Id,
    new: &NewRestriction,
) -> Result<Restriction> {
    if !(1..=5_256_000).contains(&new.duration_minutes) {
        return Err(invalid("durationMinutes is 1 to 5256000 (ten years)"));
    }
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO core.member_restrictions (user_id, organization_id, type, reason, expiration)
         SELECT user_id, organization_id, $2, $3, now() + make_interval(mins => $4)
         FROM core.members WHERE id = $1
         RETURNING id",
    )
    .bind(member.get())
    .bind(new.restriction_type.code())
    .bind(new.reason.as_str())
    .bind(i32::try_from(new.duration_minutes).unwrap_or(i32::MAX))
    .fetch_optional(&mut *conn)
    .await?;
    let id = id.ok_or_else(|| not_found(format!("member {member}")))?;
    let restriction = read(conn, id).await?;
    // A new restriction's expiry cannot be waiting already.
    schedule_expiry(conn, restriction.id, restriction.expiration).await?;
    events::restriction_created(conn, &restriction.event()).await?;
    Ok(restriction)
}

/// A member's restrictions, newest first (only those in force with `active_only`).
pub async fn list(
    conn: &mut PgConnection,
    member: Id,
    active_only: bool,
) -> Result<Vec<Restriction>> {
    crate::league::ensure_exists(conn, "members", member, "member").await?;
    let sql = format!(
        "SELECT {COLUMNS} FROM {FROM}
         WHERE m.id = $1 AND (NOT $2 OR (r.manually_expired_at IS NULL AND r.expiration > now()))
         ORDER BY r.created_at DESC, r.id DESC"
    );
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(member.get())
        .bind(active_only)
        .fetch_all(&mut *conn)
        .await?)
}

async fn read(conn: &mut PgConnection, id: i64) -> Result<Restriction> {
    let sql =
        format!("SELECT {COLUMNS} FROM {FROM} WHERE r.id = $1 AND r.organization_id IS NOT NULL");
    sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| not_found(format!("restriction {id}")))
}

/// An admin lifts a restriction: it ends now and is forgiven (it no longer lengthens the
/// member's next queue ban). Lifting one that already ran out still forgives it. The expiry is
/// announced here unless it was announced already (a restriction that ran out moments ago but
/// whose scheduled expiry has not run yet is announced now; its message then finds it lifted).
pub async fn lift(conn: &mut PgConnection, id: i64, reason: &Reason) -> Result<Restriction> {
    let state: Option<(Option<DateTime<Utc>>, bool)> = sqlx::query_as(
        "SELECT manually_expired_at, expiry_announced_at IS NULL
         FROM core.member_restrictions WHERE id = $1 AND organization_id IS NOT NULL FOR UPDATE",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((lifted_at, unannounced)) = state else {
        return Err(not_found(format!("restriction {id}")));
    };
    if lifted_at.is_some() {
        return Err(rule(
            domain::ErrorName::RestrictionAlreadyLifted,
            format!("restriction {id} was lifted already"),
        ));
    }
    let expiration: DateTime<Utc> = sqlx::query_scalar(
        "UPDATE core.member_restrictions
         SET manually_expired_at = now(), manual_expiration_reason = $2, forgiven = true,
             expiry_announced_at = CASE WHEN $3 THEN now() ELSE expiry_announced_at END
         WHERE id = $1
         RETURNING expiration",
    )
    .bind(id)
    .bind(reason.as_str())
    .bind(unannounced)
    .fetch_one(&mut *conn)
    .await?;
    let restriction = read(conn, id).await?;
    if unannounced {
        pg_queue::consume::cancel(
            &mut *conn,
            RestrictionDue::TABLE,
            &expiry_key(id, expiration),
        )
        .await?;
        events::restriction_expired(conn, &restriction.event()).await?;
    }
    Ok(restriction)
}

/// Schedules the expiry of restriction `id` at `expiration`, once per expiration: while that
/// message waits, a repeat is skipped (and a repeat after it ran finds the expiry announced).
/// Returns whether a message was written.
pub async fn schedule_expiry(
    conn: &mut PgConnection,
    id: i64,
    expiration: DateTime<Utc>,
) -> Result<bool> {
    let due = RestrictionDue {
        restriction_id: id,
        expiration,
    };
    let enqueued = pg_queue::enqueue_with(
        conn,
        &due,
        EnqueueOptions::at(expiration).dedup_key(expiry_key(id, expiration)),
    )
    .await?;
    match enqueued {
        Enqueued::Inserted => Ok(true),
        // The same expiry is waiting already.
        Enqueued::Skipped => Ok(false),
        Enqueued::Replaced => Err(crate::error::CoreError::Internal(anyhow::anyhow!(
            "an expiry was replaced, which this enqueue never asks for"
        ))),
    }
}

/// Core learns of a restriction another service created (`member.restrictionCreated` from
/// matchmaking): its expiry is scheduled, unless it is over or lifted already. Safe twice.
pub async fn learned_of(conn: &mut PgConnection, restriction: &MemberRestriction) -> Result<()> {
    let pending: Option<DateTime<Utc>> = sqlx::query_scalar(
        "SELECT expiration FROM core.member_restrictions
         WHERE id = $1 AND expiry_announced_at IS NULL AND manually_expired_at IS NULL
           AND organization_id IS NOT NULL",
    )
    .bind(restriction.id)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(expiration) = pending {
        let scheduled = schedule_expiry(conn, restriction.id, expiration).await?;
        tracing::debug!(
            restriction.id = restriction.id,
            scheduled,
            "learned of a restriction"
        );
    }
    Ok(())
}

/// The scheduled expiry came: the restriction ran out, unless it was lifted, announced or given
/// another expiration since. The queue delivers the message no earlier than the expiration (by
/// the queue's clock), so the handler trusts the schedule rather than reading a clock.
pub async fn expire(ctx: &mut MessageContext<'_>, due: RestrictionDue) -> Result<(), HandlerError> {
    let conn = ctx.tx().await?;
    let expired: Option<i64> = sqlx::query_scalar(
        "UPDATE core.member_restrictions SET expiry_announced_at = now()
         WHERE id = $1 AND expiration = $2 AND expiry_announced_at IS NULL
           AND manually_expired_at IS NULL AND organization_id IS NOT NULL
         RETURNING id",
    )
    .bind(due.restriction_id)
    .bind(due.expiration)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(id) = expired {
        let restriction = read(conn, id).await.map_err(verdict)?;
        events::restriction_expired(conn, &restriction.event())
            .await
            .map_err(|error| verdict(error.into()))?;
    }
    Ok(())
}
