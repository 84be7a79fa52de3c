//! The events matchmaking consumes (DOMAIN §5). Each handler runs in its message's transaction
//! and is safe to run twice: its SQL function locks the scrim's row and does nothing if the change
//! was already made.

use domain::DomainEvent;
use domain::events::SubmissionRejection;
use pg_queue::{HandlerError, MessageContext, Queue, QueueTable};
use serde::{Deserialize, Serialize};

use crate::lifecycle;
use crate::timers::verdict;

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
            lifecycle::complete(conn, saved.scrim.id)
                .await
                .map_err(verdict)?;
        }
        DomainEvent::SubmissionRejection(SubmissionRejection {
            submission_id,
            rejection_count,
            ..
        }) => {
            if rejection_count >= SubmissionRejection::LOCK_THRESHOLD {
                lifecycle::lock_by_submission(conn, &submission_id)
                    .await
                    .map_err(verdict)?;
            }
        }
        DomainEvent::SubmissionReset(reset) => {
            lifecycle::reset(conn, &reset.submission_id)
                .await
                .map_err(verdict)?;
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
