#![doc = include_str!("../README.md")]

pub mod access;
mod app;
mod background;
mod cli;
mod config;
mod metrics;
mod ops;
mod queues_cli;
mod shutdown;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;

pub use access::{AccessConfig, Caller};
pub use app::{App, ServiceContext};
pub use background::Background;
pub use cli::{CommandContext, NoCommands, ServiceCommand, run_cli, run_cli_with};
pub use config::{
    HttpConfig, LogConfig, LogFormat, NoSettings, ServiceConfig, ShutdownConfig, load_config,
};
pub use shutdown::shutdown_signal;

use db::ServiceRole;

/// What distinguishes one service binary from another.
#[derive(Debug, Clone, Copy)]
pub struct ServiceSpec {
    /// The service's name: binary, `application_name`, metrics label.
    pub name: &'static str,
    /// Prefix of its environment variables, e.g. `MATCHMAKING_`.
    pub env_prefix: &'static str,
    /// The Postgres role it logs in as.
    pub role: ServiceRole,
    /// The HTTP port it listens on unless configured otherwise.
    pub default_port: u16,
}
