//! Live views (issue item 8): what core keeps of the scrim and submission topics it receives.
//! Only two small things: the latest scrim metrics (one row), and the status of submissions in
//! flight (a row per submission, removed when its results are saved, it is reset, its scrim
//! leaves the live set, or it has been silent for 30 days). Every other event is acknowledged and
//! dropped. An older event never overwrites a newer one (events are compared by enqueue time).

use chrono::{DateTime, Utc};
use domain::{DomainEvent, ScrimMetrics};
use pg_queue::{HandlerError, MessageContext};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;

/// How long a submission's live row survives without news.
const SILENT_SUBMISSION_DAYS: i32 = 30;

/// Applies one event of `core.scrim_events`.
pub async fn scrim_event(
    ctx: &mut MessageContext<'_>,
    event: DomainEvent,
) -> Result<(), HandlerError> {
    let published_at = ctx.enqueued_at;
    let conn = ctx.tx().await?;
    match event {
        DomainEvent::ScrimMetricsUpdate(metrics) => {
            sqlx::query(
                "UPDATE core.scrim_metrics
                 SET pending_scrims = $1, total_scrims = $2, players_scrimming = $3,
                     players_queued = $4, total_players = $5, published_at = $6
                 WHERE published_at <= $6",
            )
            .bind(metrics.pending_scrims)
            .bind(metrics.total_scrims)
            .bind(metrics.players_scrimming)
            .bind(metrics.players_queued)
            .bind(metrics.total_players)
            .bind(published_at)
            .execute(&mut *conn)
            .await?;
        }
        // The scrim left the live set: its submission is no longer in flight.
        DomainEvent::ScrimComplete(scrim)
        | DomainEvent::ScrimCancelled(scrim)
        | DomainEvent::ScrimDestroyed(scrim) => {
            if let Some(submission) = scrim.submission_id {
                forget_submission(conn, &submission).await?;
            }
        }
        DomainEvent::ScrimCreated(_)
        | DomainEvent::ScrimPopped(_)
        | DomainEvent::ScrimStarted(_)
        | DomainEvent::ScrimUpdated(_) => {}
        other => {
            return Err(HandlerError::fatal(format!(
                "core.scrim_events does not carry {}",
                other.topic()
            )));
        }
    }
    Ok(())
}

/// A submission event as it arrives: core reads only the topic and the submission's id (and the
/// ratification counts), so it does not depend on the rest of each topic's payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubmissionEnvelope {
    pub topic: String,
    pub payload: serde_json::Value,
}

/// Applies one event of `core.submission_events`.
pub async fn submission_event(
    ctx: &mut MessageContext<'_>,
    event: SubmissionEnvelope,
) -> Result<(), HandlerError> {
    let event_at = ctx.enqueued_at;
    let Some(submission) = event
        .payload
        .get("submissionId")
        .and_then(serde_json::Value::as_str)
        .filter(|id| (1..=128).contains(&id.len()))
        .map(str::to_owned)
    else {
        return Err(HandlerError::fatal(format!(
            "{} without a submissionId",
            event.topic
        )));
    };
    let status = match event.topic.as_str() {
        "submission.started" | "submission.progress" => Some("PROCESSING"),
        "submission.validating" => Some("VALIDATING"),
        "submission.ratifying" | "submission.ratification" => Some("RATIFYING"),
        "submission.ratified" => Some("RATIFIED"),
        "submission.rejection" | "submission.rejected" => Some("REJECTED"),
        // LFS line-ups written back: nothing core keeps changes.
        "submission.updated" => None,
        "submission.reset" => {
            let conn = ctx.tx().await?;
            forget_submission(conn, &submission).await?;
            return Ok(());
        }
        topic if topic.starts_with("submission.") => {
            tracing::debug!(topic, "a submission topic core keeps nothing of");
            None
        }
        topic => {
            return Err(HandlerError::fatal(format!(
                "core.submission_events does not carry {topic}"
            )));
        }
    };
    let count = |field: &str| {
        event
            .payload
            .get(field)
            .and_then(serde_json::Value::as_i64)
            .and_then(|n| i32::try_from(n).ok())
            .filter(|n| *n >= 0)
    };
    let conn = ctx.tx().await?;
    if let Some(status) = status {
        sqlx::query(
            "INSERT INTO core.live_submissions AS s
                 (submission_id, status, current_ratifications, required_ratifications, last_topic, event_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (submission_id) DO UPDATE SET
                 status = EXCLUDED.status,
                 current_ratifications = coalesce(EXCLUDED.current_ratifications,
                     CASE WHEN EXCLUDED.status = 'RATIFYING' THEN s.current_ratifications END),
                 required_ratifications = coalesce(EXCLUDED.required_ratifications,
                     CASE WHEN EXCLUDED.status = 'RATIFYING' THEN s.required_ratifications END),
                 last_topic = EXCLUDED.last_topic, event_at = EXCLUDED.event_at
             WHERE s.event_at <= EXCLUDED.event_at",
        )
        .bind(&submission)
        .bind(status)
        .bind(count("currentRatifications"))
        .bind(count("requiredRatifications"))
        .bind(&event.topic)
        .bind(event_at)
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query(
        "DELETE FROM core.live_submissions WHERE event_at < now() - make_interval(days => $1)",
    )
    .bind(SILENT_SUBMISSION_DAYS)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn forget_submission(conn: &mut PgConnection, submission: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM core.live_submissions WHERE submission_id = $1")
        .bind(submission)
        .execute(conn)
        .await
        .map(drop)
}

/// The latest scrim metrics, and when matchmaking published them (`null`: none yet).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LiveMetrics {
    #[serde(flatten)]
    pub metrics: ScrimMetrics,
    pub published_at: Option<DateTime<Utc>>,
}

pub async fn metrics(conn: &mut PgConnection) -> Result<LiveMetrics, sqlx::Error> {
    let row: (i64, i64, i64, i64, i64, Option<DateTime<Utc>>) = sqlx::query_as(
        "SELECT pending_scrims, total_scrims, players_scrimming, players_queued, total_players,
                CASE WHEN published_at = '-infinity' THEN NULL ELSE published_at END
         FROM core.scrim_metrics",
    )
    .fetch_one(conn)
    .await?;
    Ok(LiveMetrics {
        metrics: ScrimMetrics {
            pending_scrims: row.0,
            total_scrims: row.1,
            players_scrimming: row.2,
            players_queued: row.3,
            total_players: row.4,
        },
        published_at: row.5,
    })
}

/// A submission in flight, as its events describe it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LiveSubmission {
    pub submission_id: String,
    /// PROCESSING, VALIDATING, RATIFYING, RATIFIED or REJECTED.
    pub status: String,
    pub current_ratifications: Option<i32>,
    pub required_ratifications: Option<i32>,
    pub last_topic: String,
    pub event_at: DateTime<Utc>,
}

pub async fn submissions(conn: &mut PgConnection) -> Result<Vec<LiveSubmission>, sqlx::Error> {
    sqlx::query_as(
        "SELECT submission_id, status, current_ratifications, required_ratifications, last_topic,
                event_at
         FROM core.live_submissions ORDER BY event_at DESC, submission_id",
    )
    .fetch_all(conn)
    .await
}
