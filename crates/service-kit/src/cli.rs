//! The command line every service binary shares.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use axum::Router;
use clap::{Parser, Subcommand};
use serde::de::DeserializeOwned;
use sqlx::{ConnectOptions, Connection};

use crate::{App, ServiceContext, ServiceSpec, load_config, shutdown_signal, telemetry};

#[derive(Debug, Parser)]
struct Cli {
    /// A TOML configuration file (also `<PREFIX>CONFIG`). Environment variables override it.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
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
}

/// Parses the command line and runs the chosen command; the whole of a service's `main`.
pub fn run_cli<S>(spec: ServiceSpec, routes: fn(ServiceContext<S>) -> Router) -> ExitCode
where
    S: DeserializeOwned + Send + Sync + 'static,
{
    let cli = Cli::parse();
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
