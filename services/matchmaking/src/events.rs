//! The events matchmaking publishes (DOMAIN §5), each bound to its subscribers' queues. They are
//! always published in the transaction of the change they announce.

use domain::events::{MemberRestriction, topics};
use domain::{Scrim, ScrimMetrics, ScrimStatus};
use pg_queue::{Event, QueueTable};
use serde::Serialize;
use sqlx::PgConnection;

const CORE_SCRIM_EVENTS: QueueTable = QueueTable::new("core", "scrim_events");
const NOTIFICATIONS_SCRIM_EVENTS: QueueTable = QueueTable::new("notifications", "scrim_events");
const CORE_MEMBER_EVENTS: QueueTable = QueueTable::new("core", "member_events");
const NOTIFICATIONS_MEMBER_EVENTS: QueueTable = QueueTable::new("notifications", "member_events");

/// Core keeps live views of every scrim topic; notifications only tells players about these.
const CORE_AND_NOTIFICATIONS: &[QueueTable] = &[CORE_SCRIM_EVENTS, NOTIFICATIONS_SCRIM_EVENTS];
const CORE_ONLY: &[QueueTable] = &[CORE_SCRIM_EVENTS];

macro_rules! scrim_event {
    ($name:ident, $topic:expr, $subscribers:expr) => {
        #[derive(Debug, Serialize)]
        #[serde(transparent)]
        struct $name<'a>(&'a Scrim);

        impl Event for $name<'_> {
            const TOPIC: &'static str = $topic;
            const SUBSCRIBERS: &'static [QueueTable] = $subscribers;
        }
    };
}

scrim_event!(ScrimCreated, topics::SCRIM_CREATED, CORE_AND_NOTIFICATIONS);
scrim_event!(ScrimPopped, topics::SCRIM_POPPED, CORE_AND_NOTIFICATIONS);
scrim_event!(ScrimStarted, topics::SCRIM_STARTED, CORE_AND_NOTIFICATIONS);
scrim_event!(ScrimUpdated, topics::SCRIM_UPDATED, CORE_ONLY);
scrim_event!(ScrimDestroyed, topics::SCRIM_DESTROYED, CORE_ONLY);
scrim_event!(ScrimCancelled, topics::SCRIM_CANCELLED, CORE_ONLY);
scrim_event!(ScrimComplete, topics::SCRIM_COMPLETE, CORE_ONLY);

#[derive(Debug, Serialize)]
#[serde(transparent)]
struct MetricsUpdate(ScrimMetrics);

impl Event for MetricsUpdate {
    const TOPIC: &'static str = topics::SCRIM_METRICS_UPDATE;
    const SUBSCRIBERS: &'static [QueueTable] = CORE_ONLY;
}

#[derive(Debug, Serialize)]
#[serde(transparent)]
struct RestrictionCreated<'a>(&'a MemberRestriction);

impl Event for RestrictionCreated<'_> {
    const TOPIC: &'static str = topics::MEMBER_RESTRICTION_CREATED;
    const SUBSCRIBERS: &'static [QueueTable] = &[CORE_MEMBER_EVENTS, NOTIFICATIONS_MEMBER_EVENTS];
}

/// What happened to a scrim, as announced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScrimChange {
    Created,
    Updated,
    Popped,
    /// Announced as `scrim.updated` then `scrim.started` (DOMAIN §1.2).
    Started,
    /// The last player left (status EMPTY).
    Destroyed,
    Cancelled,
    Complete,
}

impl ScrimChange {
    /// The status the announced scrim carries: the stored one, or for a removal the status
    /// that is never stored.
    pub fn final_status(self) -> Option<ScrimStatus> {
        match self {
            ScrimChange::Destroyed => Some(ScrimStatus::Empty),
            ScrimChange::Cancelled => Some(ScrimStatus::Cancelled),
            ScrimChange::Complete => Some(ScrimStatus::Complete),
            _ => None,
        }
    }
}

/// Publishes `change` of `scrim`, followed by fresh metrics (live dashboards expect a
/// `scrim.metricsUpdate` with every scrim event).
pub async fn announce(
    conn: &mut PgConnection,
    change: ScrimChange,
    scrim: &Scrim,
) -> Result<(), pg_queue::Error> {
    match change {
        ScrimChange::Created => pg_queue::publish(&mut *conn, &ScrimCreated(scrim)).await?,
        ScrimChange::Updated => pg_queue::publish(&mut *conn, &ScrimUpdated(scrim)).await?,
        ScrimChange::Popped => pg_queue::publish(&mut *conn, &ScrimPopped(scrim)).await?,
        ScrimChange::Started => {
            pg_queue::publish(&mut *conn, &ScrimUpdated(scrim)).await?;
            pg_queue::publish(&mut *conn, &ScrimStarted(scrim)).await?;
        }
        ScrimChange::Destroyed => pg_queue::publish(&mut *conn, &ScrimDestroyed(scrim)).await?,
        ScrimChange::Cancelled => pg_queue::publish(&mut *conn, &ScrimCancelled(scrim)).await?,
        ScrimChange::Complete => pg_queue::publish(&mut *conn, &ScrimComplete(scrim)).await?,
    }
    let metrics = crate::store::metrics(&mut *conn).await?;
    pg_queue::publish(&mut *conn, &MetricsUpdate(metrics)).await
}

/// Publishes a queue ban that matchmaking wrote (see `timers::expire_check_in`).
pub async fn announce_restriction(
    conn: &mut PgConnection,
    restriction: &MemberRestriction,
) -> Result<(), pg_queue::Error> {
    pg_queue::publish(conn, &RestrictionCreated(restriction)).await
}
