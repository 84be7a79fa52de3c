//! pg-queue against a real PostgreSQL. Test queues live in a `pgq_test` schema made per test
//! database with the same template as production queues: consumed by the `matchmaking` role,
//! produced to by `submission`.

mod common;

mod batches;
mod claiming;
mod defects;
mod failures;
mod features;
mod produce;
mod runtime;
mod time;
