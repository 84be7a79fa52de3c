//! The queues core consumes (DOMAIN §5) and what each message does. Every handler runs in its
//! message's transaction and is safe to run twice (see each operation's contract).

use domain::DomainEvent;
use pg_queue::{HandlerError, MessageContext, Queue, QueueTable, RetryPolicy};
use serde::{Deserialize, Serialize};

use crate::error::verdict;
use crate::live::SubmissionEnvelope;
use crate::{finalization, live, restrictions};

/// `submission.ratified` from submission: finalization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RatifiedSubmission(pub DomainEvent);

impl Queue for RatifiedSubmission {
    const TABLE: QueueTable = QueueTable::new("core", "ratified_submissions");
}

/// The other submission topics (live views).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SubmissionEvent(pub SubmissionEnvelope);

impl Queue for SubmissionEvent {
    const TABLE: QueueTable = QueueTable::new("core", "submission_events");
}

/// Every scrim topic and `scrim.metricsUpdate` from matchmaking (live views).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ScrimEvent(pub DomainEvent);

impl Queue for ScrimEvent {
    const TABLE: QueueTable = QueueTable::new("core", "scrim_events");
}

/// `member.restrictionCreated` from matchmaking (queue bans): core schedules their expiry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MemberEvent(pub DomainEvent);

impl Queue for MemberEvent {
    const TABLE: QueueTable = QueueTable::new("core", "member_events");
}

pub async fn ratified(
    ctx: &mut MessageContext<'_>,
    event: RatifiedSubmission,
    retry: RetryPolicy,
) -> Result<(), HandlerError> {
    match event.0 {
        DomainEvent::SubmissionRatified(ratified) => {
            finalization::handle(ctx, &ratified, retry).await.map(drop)
        }
        other => Err(HandlerError::fatal(format!(
            "core.ratified_submissions does not carry {}",
            other.topic()
        ))),
    }
}

pub async fn member(ctx: &mut MessageContext<'_>, event: MemberEvent) -> Result<(), HandlerError> {
    match event.0 {
        DomainEvent::MemberRestrictionCreated(restriction) => {
            let conn = ctx.tx().await?;
            restrictions::learned_of(conn, &restriction)
                .await
                .map_err(verdict)
        }
        other => Err(HandlerError::fatal(format!(
            "core.member_events does not carry {}",
            other.topic()
        ))),
    }
}

pub async fn scrim(ctx: &mut MessageContext<'_>, event: ScrimEvent) -> Result<(), HandlerError> {
    live::scrim_event(ctx, event.0).await
}

pub async fn submission(
    ctx: &mut MessageContext<'_>,
    event: SubmissionEvent,
) -> Result<(), HandlerError> {
    live::submission_event(ctx, event.0).await
}
