//! Matchmaking: the scrim lifecycle (queueing, pops, check-ins, teams, lobbies).

use axum::Router;
use db::ServiceRole;
use service_kit::{NoSettings, ServiceContext, ServiceSpec};

/// How the `matchmaking` binary names itself, logs in, and listens.
pub const SPEC: ServiceSpec = ServiceSpec {
    name: "matchmaking",
    env_prefix: "MATCHMAKING_",
    role: ServiceRole::Matchmaking,
    default_port: 8081,
};

/// The service's own HTTP routes. The operational endpoints (`/healthz`, `/readyz`,
/// `/metrics`) are added by service-kit.
pub fn routes(_context: ServiceContext<NoSettings>) -> Router {
    Router::new()
}
