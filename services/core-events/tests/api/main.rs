//! Core-events against a real PostgreSQL: the league import and admin API, the views other
//! services read, finalization exactly once, ratings, restrictions and their expiry, player
//! events, live views, who may call what, bad input, and the OpenAPI document.

mod access;
mod common;
mod failures;
mod finalization;
mod fixtures;
mod import;
mod input;
mod league;
mod live;
mod openapi;
mod ratings;
mod restrictions;
mod views;
