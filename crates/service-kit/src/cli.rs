//! The command line every service binary shares, and the commands a service adds to it.

use std::future::Future;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use clap::{ArgMatches, FromArgMatches, Parser, Subcommand};
use serde::de::DeserializeOwned;
use sqlx::{ConnectOptions, Connection, PgPool};

use crate::{App, ServiceContext, ServiceSpec, load_config, shutdown_signal, telemetry};

#[derive(Debug, Parser)]
struct Cli<C: Subcommand> {
    /// A TOML configuration file (also `<PREFIX>CONFIG`). Environment variables override it.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command<C>>,
}

#[derive(Debug, Subcommand)]
enum Command<C: Subcommand> {
    /// Run the service (the default).
    Serve,
    /// Apply pending database migrations, then exit. Run it as the owner role
    /// (`<PREFIX>DATABASE__USER=scrim_owner`).
    Migrate,
    /// Load and validate the configuration, then exit.
    CheckConfig,
    /// Inspect this service's queues and manage their dead letters.
    Queues {
        #[command(subcommand)]
        command: crate::queues_cli::QueuesCommand,
    },
    /// The service's own commands.
    #[command(flatten)]
    Service(C),
}

/// Commands a service adds to the shared command line (for example `core-events import FILE`).
/// They run with the service's configuration, logged in as the service's own role.
pub trait ServiceCommand<S>: Subcommand + std::fmt::Debug + Send + 'static {
    /// Runs the command; an error is logged and makes the process exit with a failure.
    fn run(self, context: CommandContext<S>) -> impl Future<Output = anyhow::Result<()>> + Send;
}

/// What a [`ServiceCommand`] runs with.
#[derive(Debug)]
pub struct CommandContext<S> {
    pub spec: ServiceSpec,
    /// A pool logged in as the service's role (application name `<service>-cli`).
    pub pool: PgPool,
    pub settings: Arc<S>,
}

/// The commands of a service that has none of its own.
#[derive(Debug, Clone, Copy)]
pub enum NoCommands {}

impl FromArgMatches for NoCommands {
    fn from_arg_matches(_matches: &ArgMatches) -> Result<Self, clap::Error> {
        Err(clap::Error::new(clap::error::ErrorKind::InvalidSubcommand))
    }

    fn update_from_arg_matches(&mut self, _matches: &ArgMatches) -> Result<(), clap::Error> {
        match *self {}
    }
}

impl Subcommand for NoCommands {
    fn augment_subcommands(command: clap::Command) -> clap::Command {
        command
    }

    fn augment_subcommands_for_update(command: clap::Command) -> clap::Command {
        command
    }

    fn has_subcommand(_name: &str) -> bool {
        false
    }
}

impl<S: Send + Sync + 'static> ServiceCommand<S> for NoCommands {
    async fn run(self, _context: CommandContext<S>) -> anyhow::Result<()> {
        match self {}
    }
}

/// Parses the command line and runs the chosen command; the whole of a service's `main`.
pub fn run_cli<S>(spec: ServiceSpec, routes: fn(ServiceContext<S>) -> Router) -> ExitCode
where
    S: DeserializeOwned + Send + Sync + 'static,
{
    run_cli_with::<S, NoCommands>(spec, routes)
}

/// [`run_cli`] for a service with commands of its own (`C`).
pub fn run_cli_with<S, C>(spec: ServiceSpec, routes: fn(ServiceContext<S>) -> Router) -> ExitCode
where
    S: DeserializeOwned + Send + Sync + 'static,
    C: ServiceCommand<S>,
{
    let cli = Cli::<C>::parse();
    let file = cli
        .config
        .or_else(|| std::env::var_os(format!("{}CONFIG", spec.env_prefix)).map(PathBuf::from));
    let config = match load_config::<S>(&spec, file.as_deref()) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("{}: {err:#}", spec.name);
            return ExitCode::from(78); // EX_CONFIG
        }
    };
    telemetry::init(&config.log);

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("{}: cannot start the async runtime: {err}", spec.name);
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async move {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => {
                App::build(spec, config, routes)
                    .await?
                    .run_until(shutdown_signal())
                    .await
            }
            Command::Migrate => migrate(spec, &config.database).await,
            Command::CheckConfig => {
                tracing::info!(service = spec.name, "configuration is valid");
                Ok(())
            }
            Command::Queues { command } => {
                let pool = db::connect(&config.database, &format!("{}-cli", spec.name)).await?;
                let outcome = crate::queues_cli::run(&pool, spec.role.schema(), command).await;
                pool.close().await;
                outcome
            }
            Command::Service(command) => {
                let pool = db::connect(&config.database, &format!("{}-cli", spec.name)).await?;
                let context = CommandContext {
                    spec,
                    pool: pool.clone(),
                    settings: Arc::new(config.service),
                };
                let outcome = command.run(context).await;
                pool.close().await;
                outcome
            }
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(
                service = spec.name,
                error = format!("{err:#}"),
                "exiting on error"
            );
            ExitCode::FAILURE
        }
    }
}

async fn migrate(spec: ServiceSpec, database: &db::DatabaseConfig) -> anyhow::Result<()> {
    let mut conn = db::connect_options(database, &format!("{}-migrate", spec.name))
        .connect()
        .await
        .with_context(|| format!("connecting as {} to migrate", database.user))?;
    let summary = db::migrate(&mut conn).await.context("migrating")?;
    conn.close().await.ok();
    tracing::info!(
        applied = ?summary.applied,
        schema.version = summary.latest,
        "database schema is up to date"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A service's own commands, as a service declares them.
    #[derive(Debug, Subcommand)]
    enum Extra {
        /// Load a file.
        Import { file: PathBuf },
    }

    #[test]
    fn a_service_command_parses_beside_the_shared_ones() {
        let cli = Cli::<Extra>::try_parse_from(["svc", "import", "league.json"]).expect("parses");
        assert!(matches!(
            cli.command,
            Some(Command::Service(Extra::Import { file })) if file == std::path::Path::new("league.json")
        ));
        let cli =
            Cli::<Extra>::try_parse_from(["svc", "--config", "x.toml", "migrate"]).expect("parses");
        assert!(matches!(cli.command, Some(Command::Migrate)));
        assert_eq!(cli.config, Some(PathBuf::from("x.toml")));
    }

    #[test]
    fn a_service_without_commands_refuses_unknown_ones() {
        assert!(Cli::<NoCommands>::try_parse_from(["svc", "import", "league.json"]).is_err());
        let cli = Cli::<NoCommands>::try_parse_from(["svc"]).expect("parses");
        assert!(cli.command.is_none(), "serve is the default");
    }
}
