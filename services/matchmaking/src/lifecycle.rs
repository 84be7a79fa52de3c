//! Every change to a scrim (DOMAIN §1.2). Each operation is one call of its SQL function
//! (migration V7), which locks the scrim's row, checks the rules, writes, arms or disarms the
//! scrim's timers and publishes its events. Called on the pool, the call is its own transaction
//! and costs one round trip; called on a message's transaction, it commits with the message. An
//! event is therefore sent if and only if its change commits, and two changes of one scrim run
//! one after the other. What needs no database stays here: whether the request contradicts
//! itself, and randomness (group codes, teams and lobbies).

mod admin;
mod queue;
mod start;

pub use admin::{cancel, complete, lock, lock_by_submission, reset, set_disabled, unlock};
pub use queue::{create, create_lfs, create_test, join, leave};
pub use start::{StartNeeds, check_in};

/// How many times an operation draws new random values (a group code, a start plan) when the
/// database says the last ones no longer fit, before it gives up with an internal error. Once is
/// already rare: a group code that another group of the same scrim has, a roster that changed.
const ATTEMPTS: usize = 5;
