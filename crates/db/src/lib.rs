#![doc = include_str!("../README.md")]

mod config;
mod migrate;
mod pool;
mod roles;

pub use config::{ConfigError, DatabaseConfig, PoolConfig};
pub use migrate::{
    MIGRATION_LOCK_KEY, MigrateError, MigrationSummary, embedded_migrations, migrate,
    migrations_fingerprint, verify_migrated,
};
pub use pool::{connect, connect_options, connect_workers};
pub use roles::{OWNER_ROLE, PROVISION_SQL, RolePasswords, ServiceRole, provision_roles};
