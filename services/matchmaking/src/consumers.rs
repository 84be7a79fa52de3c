//! The events matchmaking consumes (DOMAIN §5). Each handler runs in its message's transaction
//! and is safe to run twice: it re-reads the scrim under its row lock and does nothing if the
//! change was already made.

use domain::DomainEvent;
use domain::events::SubmissionRejection;
use pg_queue::{HandlerError, MessageContext, Queue, QueueTable};
use serde::{Deserialize, Serialize};

use crate::events::ScrimChange;
use crate::timers::verdict;
use crate::{lifecycle, store};

/// Events from core: `scrim.saved` and `scrims.disabled`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FromCore(pub DomainEvent);

impl Queue for FromCore {
    const TABLE: QueueTable = QueueTable::new("matchmaking", "core_events");
}

/// Events from submission: `submission.rejection` and `submission.reset`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FromSubmission(pub DomainEvent);

impl Queue for FromSubmission {
    const TABLE: QueueTable = QueueTable::new("matchmaking", "submission_events");
}

pub async fn handle(ctx: &mut MessageContext<'_>, event: DomainEvent) -> Result<(), HandlerError> {
    let conn = ctx.tx().await?;
    match event {
        // Core saved the results: the scrim completes and leaves the live set.
        DomainEvent::ScrimSaved(saved) => {
            if let Some(row) = store::lock(conn, saved.scrim.id).await? {
                lifecycle::remove(conn, row, ScrimChange::Complete)
                    .await
                    .map_err(verdict)?;
            }
        }
        DomainEvent::SubmissionRejection(SubmissionRejection {
            submission_id,
            rejection_count,
            ..
        }) => {
            if rejection_count >= SubmissionRejection::LOCK_THRESHOLD
                && let Some(row) = store::lock_by_submission(conn, &submission_id).await?
            {
                lifecycle::lock_scrim(conn, row).await.map_err(verdict)?;
            }
        }
        DomainEvent::SubmissionReset(reset) => {
            if let Some(row) = store::lock_by_submission(conn, &reset.submission_id).await? {
                lifecycle::set_in_progress(conn, row)
                    .await
                    .map_err(verdict)?;
            }
        }
        DomainEvent::ScrimsDisabled(disabled) => {
            lifecycle::set_disabled(conn, disabled)
                .await
                .map_err(verdict)?;
        }
        other => {
            return Err(HandlerError::fatal(format!(
                "matchmaking does not consume {}",
                other.topic()
            )));
        }
    }
    Ok(())
}
