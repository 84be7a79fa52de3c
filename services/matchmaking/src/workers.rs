//! The queue workers matchmaking runs beside its HTTP server.

use std::time::Duration;

use pg_queue::{HandlerError, MessageContext, Periodic, QueueOptions, QueueWorker, Worker};
use service_kit::Background;
use sqlx::PgPool;

use crate::Matchmaking;
use crate::consumers::{self, FromCore, FromSubmission};
use crate::reconcile::Reconcile;
use crate::timers::{self, CheckInDue, LeaveDue};

/// How long in-flight handlers get after the stop signal before their messages are released.
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(10);

/// Check-in timeouts: cancel and ban.
#[derive(Debug, Clone)]
pub struct CheckInTimeouts(pub Matchmaking);

impl pg_queue::Handler<CheckInDue> for CheckInTimeouts {
    async fn handle(
        &self,
        ctx: &mut MessageContext<'_>,
        due: CheckInDue,
    ) -> Result<(), HandlerError> {
        timers::expire_check_in(ctx, due, self.0.settings.queue_ban).await
    }
}

/// Expired `leaveAt`s.
#[derive(Debug, Clone)]
pub struct LeaveExpiries;

impl pg_queue::Handler<LeaveDue> for LeaveExpiries {
    async fn handle(
        &self,
        ctx: &mut MessageContext<'_>,
        due: LeaveDue,
    ) -> Result<(), HandlerError> {
        timers::expire_leave(ctx, due).await
    }
}

/// Events from core and from submission.
#[derive(Debug, Clone)]
pub struct IncomingEvents;

impl pg_queue::Handler<FromCore> for IncomingEvents {
    async fn handle(
        &self,
        ctx: &mut MessageContext<'_>,
        event: FromCore,
    ) -> Result<(), HandlerError> {
        consumers::handle(ctx, event.0).await
    }
}

impl pg_queue::Handler<FromSubmission> for IncomingEvents {
    async fn handle(
        &self,
        ctx: &mut MessageContext<'_>,
        event: FromSubmission,
    ) -> Result<(), HandlerError> {
        consumers::handle(ctx, event.0).await
    }
}

/// Options of every matchmaking queue. One message per transaction: each handler locks a scrim
/// row, and a batch holding several scrim locks would only add waiting and deadlock risk for no
/// gain at these volumes.
pub fn queue_options(concurrency: usize) -> QueueOptions {
    QueueOptions {
        concurrency,
        batch_size: 1,
        ..QueueOptions::default()
    }
}

/// Starts the queue workers, the reconciliation sweep and the metrics publisher on
/// `workers_pool`, the workers' own connections: background work never takes the connections
/// that requests need.
pub fn start(matchmaking: &Matchmaking, workers_pool: &PgPool, background: &Background) {
    let pool = workers_pool.clone();
    let options = queue_options(matchmaking.settings.worker_concurrency);
    let worker = Worker::new(pool.clone())
        .queue(
            QueueWorker::new(pool.clone(), CheckInTimeouts(matchmaking.clone()))
                .options(options.clone()),
        )
        .queue(QueueWorker::new(pool.clone(), LeaveExpiries).options(options.clone()))
        .queue(
            QueueWorker::<FromCore, _>::new(pool.clone(), IncomingEvents).options(options.clone()),
        )
        .queue(QueueWorker::<FromSubmission, _>::new(pool, IncomingEvents).options(options))
        .shutdown_deadline(SHUTDOWN_DEADLINE);
    background.spawn("matchmaking queues", |stop| worker.run(stop));
    let settings = &matchmaking.settings;
    let sweep = Periodic::new(
        workers_pool.clone(),
        "matchmaking",
        "reconcile_timers",
        settings.reconcile_period(),
        Reconcile {
            policy: settings.queue_ban,
            grace: settings.reconcile_grace(),
            at: None,
        },
    );
    background.spawn("reconcile timers", |stop| sweep.run(stop));
    let pool = workers_pool.clone();
    let interval = matchmaking.settings.metrics_interval();
    background.spawn("scrim metrics", move |stop| {
        crate::events::run_metrics_publisher(pool, interval, stop)
    });
}
