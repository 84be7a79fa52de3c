//! The queue workers core runs beside its HTTP server, and each queue's options.

use std::time::Duration;

use pg_queue::{HandlerError, MessageContext, QueueOptions, QueueWorker, RetryPolicy, Worker};
use service_kit::Background;
use sqlx::PgPool;

use crate::CoreEvents;
use crate::consumers::{self, MemberEvent, RatifiedSubmission, ScrimEvent, SubmissionEvent};
use crate::ratings::{self, RatingJob};
use crate::restrictions::{self, RestrictionDue};

/// How long in-flight handlers get after the stop signal before their messages are released.
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(10);

/// Finalization: one submission per transaction (a batch would hold several submissions' locks).
pub fn finalization_options(concurrency: usize) -> QueueOptions {
    QueueOptions {
        concurrency,
        batch_size: 1,
        ..QueueOptions::default()
    }
}

/// Ratings: one worker, one match at a time, so matches are rated in the order they were saved.
pub fn rating_options() -> QueueOptions {
    QueueOptions {
        concurrency: 1,
        batch_size: 1,
        ..QueueOptions::default()
    }
}

/// Live views and restriction expiries: small writes, in order, batched.
pub fn event_options() -> QueueOptions {
    QueueOptions {
        concurrency: 1,
        batch_size: 20,
        ..QueueOptions::default()
    }
}

/// Finalizes ratified submissions; knows the retry policy to tell when retries are spent.
#[derive(Debug, Clone)]
pub struct Finalizer {
    pub retry: RetryPolicy,
}

impl pg_queue::Handler<RatifiedSubmission> for Finalizer {
    async fn handle(
        &self,
        ctx: &mut MessageContext<'_>,
        event: RatifiedSubmission,
    ) -> Result<(), HandlerError> {
        consumers::ratified(ctx, event, self.retry).await
    }
}

/// The other incoming events and core's own jobs.
#[derive(Debug, Clone, Copy)]
pub struct Handlers;

impl pg_queue::Handler<SubmissionEvent> for Handlers {
    async fn handle(
        &self,
        ctx: &mut MessageContext<'_>,
        event: SubmissionEvent,
    ) -> Result<(), HandlerError> {
        consumers::submission(ctx, event).await
    }
}

impl pg_queue::Handler<ScrimEvent> for Handlers {
    async fn handle(
        &self,
        ctx: &mut MessageContext<'_>,
        event: ScrimEvent,
    ) -> Result<(), HandlerError> {
        consumers::scrim(ctx, event).await
    }
}

impl pg_queue::Handler<MemberEvent> for Handlers {
    async fn handle(
        &self,
        ctx: &mut MessageContext<'_>,
        event: MemberEvent,
    ) -> Result<(), HandlerError> {
        consumers::member(ctx, event).await
    }
}

impl pg_queue::Handler<RatingJob> for Handlers {
    async fn handle(
        &self,
        ctx: &mut MessageContext<'_>,
        job: RatingJob,
    ) -> Result<(), HandlerError> {
        ratings::rate(ctx, job).await
    }
}

impl pg_queue::Handler<RestrictionDue> for Handlers {
    async fn handle(
        &self,
        ctx: &mut MessageContext<'_>,
        due: RestrictionDue,
    ) -> Result<(), HandlerError> {
        restrictions::expire(ctx, due).await
    }
}

/// Starts the queue workers on `workers_pool`, the workers' own connections (seven slots with
/// the default settings, and the listener): busy queues never take the connections requests
/// need.
pub fn start(core: &CoreEvents, workers_pool: &PgPool, background: &Background) {
    let pool = workers_pool.clone();
    let finalization = finalization_options(core.settings.finalization_concurrency);
    let finalizer = Finalizer {
        retry: finalization.retry,
    };
    let worker = Worker::new(pool.clone())
        .queue(
            QueueWorker::<RatifiedSubmission, _>::new(pool.clone(), finalizer)
                .options(finalization),
        )
        .queue(QueueWorker::<RatingJob, _>::new(pool.clone(), Handlers).options(rating_options()))
        .queue(
            QueueWorker::<RestrictionDue, _>::new(pool.clone(), Handlers).options(event_options()),
        )
        .queue(QueueWorker::<MemberEvent, _>::new(pool.clone(), Handlers).options(event_options()))
        .queue(QueueWorker::<ScrimEvent, _>::new(pool.clone(), Handlers).options(event_options()))
        .queue(QueueWorker::<SubmissionEvent, _>::new(pool, Handlers).options(event_options()))
        .shutdown_deadline(SHUTDOWN_DEADLINE);
    background.spawn("core-events queues", |stop| worker.run(stop));
}
