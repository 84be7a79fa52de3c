#![doc = include_str!("../README.md")]

mod batch;
mod clock;
pub mod consume;
mod control;
mod cursor;
pub mod dead;
mod handler;
mod listener;
mod message;
mod options;
mod periodic;
mod produce;
mod queue;
mod retry;
mod runtime;
pub mod settle;
mod stats;
mod worker;

pub use clock::{Clock, DatabaseClock, ManualClock};
pub use control::{pause, paused_until, resume};
pub use handler::{Handler, HandlerError, MessageContext, When};
pub use options::{InvalidOptions, QueueOptions, RateLimit};
pub use periodic::{JobResult, Periodic, PeriodicJob};
pub use produce::{
    EnqueueOptions, Enqueued, OnDuplicate, enqueue, enqueue_batch, enqueue_with, publish,
};
pub use queue::{Event, Queue, QueueTable};
pub use retry::RetryPolicy;
pub use runtime::Worker;
pub use stats::{QueueStats, discover, record_gauges, stats};
pub use worker::{BatchOutcome, QueueWorker};

/// What can go wrong in the queue itself (handlers report through [`HandlerError`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("database error in pg-queue")]
    Database(#[from] sqlx::Error),
    #[error("cannot encode the message as JSON")]
    Encode(#[source] serde_json::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
