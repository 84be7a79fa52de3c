//! Notifications: Discord direct messages and webhooks for platform events.

use axum::Router;
use db::ServiceRole;
use service_kit::{NoSettings, ServiceContext, ServiceSpec};

/// How the `notifications` binary names itself, logs in, and listens.
pub const SPEC: ServiceSpec = ServiceSpec {
    name: "notifications",
    env_prefix: "NOTIFICATIONS_",
    role: ServiceRole::Notifications,
    default_port: 8083,
};

/// The service's own HTTP routes. The operational endpoints (`/healthz`, `/readyz`,
/// `/metrics`) are added by service-kit.
pub fn routes(_context: ServiceContext<NoSettings>) -> Router {
    Router::new()
}
