//! Database settings, deserialised by figment in each service's configuration.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// Where the database is and how a service logs in.
///
/// The defaults match a local development cluster; production values come from the
/// environment (for example `MATCHMAKING_DATABASE__PASSWORD`), never from the repository.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// Host name, IP address, or the directory of a Unix socket.
    pub host: String,
    pub port: u16,
    /// Database name.
    pub name: String,
    /// Login role. Defaults to the service's own role; `migrate` runs as the owner role.
    pub user: String,
    /// Password of `user`. Printed as `[REDACTED]`.
    pub password: SecretString,
    /// Pool limits.
    #[serde(default)]
    pub pool: PoolConfig,
}

/// Pool sizing and timeouts.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PoolConfig {
    /// Upper bound of open connections for this process.
    pub max_connections: u32,
    /// Connections kept open while idle.
    pub min_connections: u32,
    /// How long a request waits for a free connection before failing.
    pub acquire_timeout_ms: u64,
    /// Server-side `statement_timeout` for every connection: a runaway query cannot hold a
    /// connection (and its locks) forever.
    pub statement_timeout_ms: u64,
    /// Server-side `idle_in_transaction_session_timeout` for every connection: a session left
    /// idle inside a transaction (a hung client holding row locks) is ended by the server. Keep
    /// it above every queue's handler timeout.
    pub idle_in_transaction_timeout_ms: u64,
    /// Upper bound of the queue workers' own pool (see [`crate::connect_workers`]), apart from
    /// `max_connections`, so that busy workers never take the connections requests need.
    pub worker_max_connections: u32,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            max_connections: 10,
            min_connections: 1,
            acquire_timeout_ms: 5_000,
            statement_timeout_ms: 30_000,
            idle_in_transaction_timeout_ms: 60_000,
            worker_max_connections: 10,
        }
    }
}

/// A setting that cannot work, reported once at start-up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    #[error("database.{field} is invalid: {reason}")]
    Invalid {
        field: &'static str,
        reason: &'static str,
    },
}

impl DatabaseConfig {
    /// Checks the values that the type system does not.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |field, reason| Err(ConfigError::Invalid { field, reason });
        if self.host.trim().is_empty() {
            return invalid("host", "must not be empty");
        }
        if self.port == 0 {
            return invalid("port", "must be between 1 and 65535");
        }
        if self.name.trim().is_empty() {
            return invalid("name", "must not be empty");
        }
        if self.user.trim().is_empty() {
            return invalid("user", "must not be empty");
        }
        if self.password.expose_secret().is_empty() {
            return invalid("password", "must not be empty");
        }
        let pool = &self.pool;
        if pool.max_connections == 0 {
            return invalid("pool.max_connections", "must be at least 1");
        }
        if pool.min_connections > pool.max_connections {
            return invalid("pool.min_connections", "must not exceed max_connections");
        }
        if pool.acquire_timeout_ms == 0 {
            return invalid("pool.acquire_timeout_ms", "must be positive");
        }
        if pool.idle_in_transaction_timeout_ms == 0 {
            // 0 disables it: refuse, as for the statement timeout.
            return invalid("pool.idle_in_transaction_timeout_ms", "must be positive");
        }
        if pool.worker_max_connections == 0 {
            return invalid("pool.worker_max_connections", "must be at least 1");
        }
        if pool.statement_timeout_ms == 0 {
            // 0 means "no timeout" to Postgres: refuse it rather than silently disable the guard.
            return invalid("pool.statement_timeout_ms", "must be positive");
        }
        Ok(())
    }

    pub fn acquire_timeout(&self) -> Duration {
        Duration::from_millis(self.pool.acquire_timeout_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use figment::{Figment, providers::Serialized};

    fn sample() -> DatabaseConfig {
        DatabaseConfig {
            host: "127.0.0.1".into(),
            port: 5432,
            name: "scrims".into(),
            user: "matchmaking".into(),
            password: SecretString::from("hunter2-secret"),
            pool: PoolConfig::default(),
        }
    }

    #[test]
    fn the_password_never_appears_in_debug_output() {
        let printed = format!("{:?}", sample());
        assert!(!printed.contains("hunter2-secret"), "{printed}");
        assert!(printed.contains("REDACTED"), "{printed}");
    }

    #[test]
    fn a_valid_config_passes_validation() {
        sample().validate().expect("valid");
    }

    #[test]
    fn validation_rejects_impossible_pool_settings() {
        let mut config = sample();
        config.pool.min_connections = 20;
        config.pool.max_connections = 5;
        let err = config.validate().expect_err("min > max").to_string();
        assert!(err.contains("pool.min_connections"), "{err}");

        let mut config = sample();
        config.pool.statement_timeout_ms = 0;
        assert!(config.validate().is_err());

        let mut config = sample();
        config.password = SecretString::from("");
        assert!(config.validate().is_err());
    }

    #[test]
    fn unknown_fields_are_rejected_so_typos_do_not_pass_silently() {
        let figment = Figment::from(Serialized::defaults(serde_json_like()));
        let result: Result<DatabaseConfig, _> = figment.extract();
        let err = result.expect_err("typo must be refused").to_string();
        assert!(err.contains("pasword"), "{err}");
    }

    fn serde_json_like() -> std::collections::BTreeMap<&'static str, figment::value::Value> {
        use figment::value::Value;
        [
            ("host", Value::from("localhost")),
            ("port", Value::from(5432)),
            ("name", Value::from("scrims")),
            ("user", Value::from("matchmaking")),
            ("pasword", Value::from("x")),
        ]
        .into_iter()
        .collect()
    }
}
