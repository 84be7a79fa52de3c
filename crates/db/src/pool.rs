//! Connection pools.

use secrecy::ExposeSecret;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::DatabaseConfig;

/// Connection options for `config`, tagged with `application_name` so that every session of a
/// service is identifiable in `pg_stat_activity`, and with a server-side statement timeout.
pub fn connect_options(config: &DatabaseConfig, application_name: &str) -> PgConnectOptions {
    PgConnectOptions::new()
        .host(&config.host)
        .port(config.port)
        .database(&config.name)
        .username(&config.user)
        .password(config.password.expose_secret())
        .application_name(application_name)
        .options([
            (
                "statement_timeout",
                config.pool.statement_timeout_ms.to_string(),
            ),
            (
                "idle_in_transaction_session_timeout",
                config.pool.idle_in_transaction_timeout_ms.to_string(),
            ),
        ])
}

/// Opens a pool and proves it works with one connection before returning, so a service with a
/// wrong password or an unreachable database fails at start-up rather than on its first request.
#[tracing::instrument(skip_all, fields(db.host = %config.host, db.name = %config.name, db.user = %config.user), err)]
pub async fn connect(
    config: &DatabaseConfig,
    application_name: &str,
) -> Result<PgPool, sqlx::Error> {
    PgPoolOptions::new()
        .max_connections(config.pool.max_connections)
        .min_connections(config.pool.min_connections)
        .acquire_timeout(config.acquire_timeout())
        .connect_with(connect_options(config, application_name))
        .await
}

/// The queue workers' own pool: at most `pool.worker_max_connections`, named
/// `<application_name>-workers` in `pg_stat_activity`, with the same timeouts. It connects
/// lazily, so a service without workers opens none.
pub fn connect_workers(config: &DatabaseConfig, application_name: &str) -> PgPool {
    PgPoolOptions::new()
        .max_connections(config.pool.worker_max_connections)
        .min_connections(0)
        .acquire_timeout(config.acquire_timeout())
        .connect_lazy_with(connect_options(
            config,
            &format!("{application_name}-workers"),
        ))
}
