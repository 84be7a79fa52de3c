//! The events matchmaking publishes (DOMAIN §5), and to whom. They are written by the
//! operations' SQL function `matchmaking.publish` (migration V7), always in the transaction of
//! the change they announce; [`SUBSCRIBERS`] is that routing, stated here for readers and
//! checked against the SQL by the service's tests.
//!
//! `scrim.metricsUpdate` is the exception: a write transaction cannot count what the others have
//! not committed, so the writes publish no metrics. [`publish_metrics`] counts what has committed
//! and publishes when the counts changed, at most once per interval across all replicas; each
//! replica's workers run it a few times a second ([`run_metrics_publisher`]).

use std::time::Duration;

use pg_queue::QueueTable;
use sqlx::PgExecutor;
use tokio_util::sync::CancellationToken;

const CORE_SCRIM_EVENTS: QueueTable = QueueTable::new("core", "scrim_events");
const NOTIFICATIONS_SCRIM_EVENTS: QueueTable = QueueTable::new("notifications", "scrim_events");
const CORE_MEMBER_EVENTS: QueueTable = QueueTable::new("core", "member_events");
const NOTIFICATIONS_MEMBER_EVENTS: QueueTable = QueueTable::new("notifications", "member_events");

/// Core keeps live views of every scrim topic; notifications tells players about these.
const CORE_AND_NOTIFICATIONS: &[QueueTable] = &[CORE_SCRIM_EVENTS, NOTIFICATIONS_SCRIM_EVENTS];
const CORE_ONLY: &[QueueTable] = &[CORE_SCRIM_EVENTS];

/// Every topic matchmaking publishes, and the queues each is written to.
pub const SUBSCRIBERS: &[(&str, &[QueueTable])] = &[
    ("scrim.created", CORE_AND_NOTIFICATIONS),
    ("scrim.popped", CORE_AND_NOTIFICATIONS),
    ("scrim.started", CORE_AND_NOTIFICATIONS),
    ("scrim.updated", CORE_ONLY),
    ("scrim.destroyed", CORE_ONLY),
    ("scrim.cancelled", CORE_ONLY),
    ("scrim.complete", CORE_ONLY),
    ("scrim.metricsUpdate", CORE_ONLY),
    (
        "member.restrictionCreated",
        &[CORE_MEMBER_EVENTS, NOTIFICATIONS_MEMBER_EVENTS],
    ),
];

/// Publishes `scrim.metricsUpdate` if the live counts changed since the last one and that one is
/// at least `min_interval` old. Returns whether it published.
pub async fn publish_metrics(
    executor: impl PgExecutor<'_>,
    min_interval: Duration,
) -> sqlx::Result<bool> {
    sqlx::query_scalar("SELECT matchmaking.publish_metrics(make_interval(secs => $1))")
        .bind(min_interval.as_secs_f64())
        .fetch_one(executor)
        .await
}

/// Runs [`publish_metrics`] every `interval` until `stop`.
pub async fn run_metrics_publisher(
    pool: sqlx::PgPool,
    interval: Duration,
    stop: CancellationToken,
) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            () = stop.cancelled() => return,
        }
        if let Err(error) = publish_metrics(&pool, interval).await {
            tracing::warn!(error = %error, "publishing scrim metrics failed; the next tick tries again");
        }
    }
}
