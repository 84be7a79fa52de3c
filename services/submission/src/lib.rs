//! Submission: replay uploads, parsing, validation and ratification.

use axum::Router;
use db::ServiceRole;
use service_kit::{NoSettings, ServiceContext, ServiceSpec};

/// How the `submission` binary names itself, logs in, and listens.
pub const SPEC: ServiceSpec = ServiceSpec {
    name: "submission",
    env_prefix: "SUBMISSION_",
    role: ServiceRole::Submission,
    default_port: 8082,
};

/// The service's own HTTP routes. The operational endpoints (`/healthz`, `/readyz`,
/// `/metrics`) are added by service-kit.
pub fn routes(_context: ServiceContext<NoSettings>) -> Router {
    Router::new()
}
