//! Core events: the league data (organizations, users, members, players, franchises, league
//! matches) and the views the other services read; finalization of ratified results, exactly
//! once; Elo ratings; member restrictions and their expiry; player events; and live views of
//! the scrim and submission topics.

pub mod consumers;
pub mod error;
pub mod events;
pub mod finalization;
pub mod http;
pub mod import;
pub mod input;
pub mod league;
pub mod live;
pub mod platform;
pub mod ratings;
pub mod restrictions;
pub mod settings;
pub mod workers;

use std::sync::Arc;

use axum::Router;
use db::ServiceRole;
use service_kit::{CommandContext, ServiceCommand, ServiceContext, ServiceSpec};
use sqlx::PgPool;

pub use settings::Settings;

/// How the `core-events` binary names itself, logs in, and listens.
pub const SPEC: ServiceSpec = ServiceSpec {
    name: "core-events",
    env_prefix: "CORE_EVENTS_",
    role: ServiceRole::CoreEvents,
    default_port: 8084,
};

/// The service's shared state.
#[derive(Debug, Clone)]
pub struct CoreEvents {
    pub pool: PgPool,
    pub settings: Arc<Settings>,
}

/// The service's HTTP routes (service-kit adds `/healthz`, `/readyz`, `/metrics`), and its queue
/// workers, started in the background.
pub fn routes(context: ServiceContext<Settings>) -> Router {
    context.access.warn_if_incomplete(SPEC.name);
    let core = CoreEvents {
        pool: context.pool.clone(),
        settings: context.settings.clone(),
    };
    if core.settings.workers {
        workers::start(&core, &context.workers_pool, &context.background);
    }
    http::router(core, context.access)
}

/// The commands core-events adds to the shared command line.
#[derive(Debug, clap::Subcommand)]
pub enum Commands {
    /// Load a league snapshot (JSON) in one transaction; importing it again changes nothing.
    Import(import::ImportArgs),
}

impl ServiceCommand<Settings> for Commands {
    async fn run(self, context: CommandContext<Settings>) -> anyhow::Result<()> {
        match self {
            Commands::Import(args) => {
                let summary = import::run(&context.pool, &args).await?;
                let verb = if args.dry_run {
                    "would import"
                } else {
                    "imported"
                };
                tracing::info!(file = %args.file.display(), %summary, "{verb} the league");
                println!("{}", serde_json::to_string(&summary)?);
                Ok(())
            }
        }
    }
}
