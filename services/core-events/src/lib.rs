//! Core events: finalisation of ratified results and the core domain events.

use axum::Router;
use db::ServiceRole;
use service_kit::{NoSettings, ServiceContext, ServiceSpec};

/// How the `core-events` binary names itself, logs in, and listens.
pub const SPEC: ServiceSpec = ServiceSpec {
    name: "core-events",
    env_prefix: "CORE_EVENTS_",
    role: ServiceRole::CoreEvents,
    default_port: 8084,
};

/// The service's own HTTP routes. The operational endpoints (`/healthz`, `/readyz`,
/// `/metrics`) are added by service-kit.
pub fn routes(_context: ServiceContext<NoSettings>) -> Router {
    Router::new()
}
