//! Layered configuration: code defaults, an optional TOML file, then prefixed environment variables.

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use db::DatabaseConfig;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::ServiceSpec;
use crate::access::AccessConfig;

/// A service's whole configuration. `S` holds the settings only that service has (its `service`
/// section); [`NoSettings`] for a service with none yet.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig<S = NoSettings> {
    pub http: HttpConfig,
    pub database: DatabaseConfig,
    pub log: LogConfig,
    pub shutdown: ShutdownConfig,
    /// Who may call: the caller tokens and the admin token (`<PREFIX>ACCESS__...`).
    #[serde(default)]
    pub access: AccessConfig,
    pub service: S,
}

/// The settings of a service that has no settings of its own.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoSettings {}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Address to bind. `127.0.0.1` by default; containers set `0.0.0.0`.
    pub host: IpAddr,
    /// Port to bind; 0 picks a free port (tests).
    pub port: u16,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// `pretty` for people, `json` for log shippers.
    pub format: LogFormat,
    /// A `tracing` filter such as `info,sqlx=warn`.
    pub filter: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShutdownConfig {
    /// After a stop signal, how long `/readyz` answers 503 while requests are still served, so
    /// that load balancers stop routing here before the listener closes.
    pub drain_delay_ms: u64,
    /// How long in-flight requests get to finish once the listener has closed.
    pub grace_period_ms: u64,
}

impl ShutdownConfig {
    pub fn drain_delay(&self) -> Duration {
        Duration::from_millis(self.drain_delay_ms)
    }

    pub fn grace_period(&self) -> Duration {
        Duration::from_millis(self.grace_period_ms)
    }
}

/// The defaults, as figment values, for `spec`. There is deliberately no default password.
fn defaults(spec: &ServiceSpec) -> serde_json::Value {
    json!({
        "http": { "host": "127.0.0.1", "port": spec.default_port },
        "database": {
            "host": "127.0.0.1",
            "port": 5432,
            "name": "scrims",
            "user": spec.role.role_name(),
        },
        "log": { "format": "pretty", "filter": "info,sqlx=warn" },
        "shutdown": { "drain_delay_ms": 0, "grace_period_ms": 10_000 },
        "service": {},
    })
}

/// The figment for `spec`: defaults, then `file` (when given), then the environment.
pub fn figment(spec: &ServiceSpec, file: Option<&Path>) -> Figment {
    let mut figment = Figment::from(Serialized::defaults(defaults(spec)));
    if let Some(file) = file {
        // `Toml::file` silently ignores a missing file; a path someone typed must exist.
        figment = figment.merge(Toml::file_exact(file));
    }
    figment.merge(
        Env::prefixed(spec.env_prefix)
            .split("__")
            // The config file's path is read by the CLI, not a setting.
            .ignore(&["config"]),
    )
}

/// Loads and validates a service's configuration.
pub fn load_config<S: DeserializeOwned>(
    spec: &ServiceSpec,
    file: Option<&Path>,
) -> anyhow::Result<ServiceConfig<S>> {
    let config: ServiceConfig<S> = figment(spec, file).extract().map_err(|err| {
        // figment errors name the key and the source (file or variable) at fault.
        anyhow::anyhow!("invalid configuration for {}: {err}", spec.name)
    })?;
    config.database.validate()?;
    Ok(config)
}

#[cfg(test)]
// figment's Jail API fixes the closure's error type; its size is not ours to choose.
#[expect(clippy::result_large_err)]
mod tests {
    use super::*;
    use db::ServiceRole;
    use figment::Jail;
    use secrecy::ExposeSecret;

    const SPEC: ServiceSpec = ServiceSpec {
        name: "matchmaking",
        env_prefix: "MATCHMAKING_",
        role: ServiceRole::Matchmaking,
        default_port: 8081,
    };

    #[test]
    fn defaults_then_file_then_environment_take_precedence_in_that_order() {
        Jail::expect_with(|jail| {
            jail.create_file(
                "matchmaking.toml",
                r#"
                [http]
                port = 9000
                [database]
                name = "from_file"
                password = "file-password"
                "#,
            )?;
            jail.set_env("MATCHMAKING_DATABASE__NAME", "from_env");
            jail.set_env("MATCHMAKING_DATABASE__POOL__MAX_CONNECTIONS", "3");
            let config: ServiceConfig = load_config(&SPEC, Some(Path::new("matchmaking.toml")))
                .map_err(|e| e.to_string())?;
            assert_eq!(config.http.port, 9000, "file overrides default");
            assert_eq!(config.database.name, "from_env", "env overrides file");
            assert_eq!(config.database.pool.max_connections, 3, "nested env key");
            assert_eq!(config.database.user, "matchmaking", "default role");
            assert_eq!(config.database.password.expose_secret(), "file-password");
            Ok(())
        });
    }

    #[test]
    fn a_missing_password_is_refused_at_start() {
        Jail::expect_with(|_jail| {
            let err = load_config::<NoSettings>(&SPEC, None).expect_err("no password");
            assert!(err.to_string().contains("password"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_and_missing_files_are_errors() {
        Jail::expect_with(|jail| {
            jail.set_env("MATCHMAKING_DATABASE__PASSWORD", "x");
            jail.set_env("MATCHMAKING_HTTP__PROT", "1");
            let err = load_config::<NoSettings>(&SPEC, None).expect_err("typo");
            assert!(err.to_string().contains("prot"), "{err}");
            Ok(())
        });
        Jail::expect_with(|jail| {
            jail.set_env("MATCHMAKING_DATABASE__PASSWORD", "x");
            let err = load_config::<NoSettings>(&SPEC, Some(Path::new("nope.toml")))
                .expect_err("missing file");
            assert!(err.to_string().contains("nope.toml"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn the_loaded_configuration_never_prints_the_password() {
        Jail::expect_with(|jail| {
            jail.set_env("MATCHMAKING_DATABASE__PASSWORD", "s3cr3t-value");
            let config: ServiceConfig = load_config(&SPEC, None).map_err(|e| e.to_string())?;
            let printed = format!("{config:?}");
            assert!(!printed.contains("s3cr3t-value"), "{printed}");
            Ok(())
        });
    }
}
