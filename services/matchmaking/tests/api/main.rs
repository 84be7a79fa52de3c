//! Matchmaking against a real PostgreSQL: the lifecycle of DOMAIN §1.2, the rules and error
//! names of §1.3, the timers, the events, and the concurrency defects of §6.

mod common;
mod concurrency;
mod events;
mod input;
mod lifecycle;
mod openapi;
mod timers;
