//! Matchmaking against a real PostgreSQL: the lifecycle of DOMAIN §1.2, the rules and error
//! names of §1.3, the timers, the events, access control (§7), and the concurrency defects of §6.

mod admin;
mod bans;
mod common;
mod concurrency;
mod contract;
mod deadlocks;
mod events;
mod groups;
mod input;
mod lifecycle;
mod listing;
mod openapi;
mod reconcile;
mod security;
mod timers;
