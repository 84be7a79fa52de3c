//! Schema migrations: refinery's embedded migrations applied over an sqlx connection.
//!
//! refinery ships drivers for `postgres`/`tokio-postgres`, but we implement its async traits over
//! sqlx instead so that the tree carries one Postgres driver. refinery does not lock, so
//! [`migrate`] holds a session-level advisory lock for the whole run: several replicas starting
//! at once queue up, and the later ones find nothing left to apply.

use std::collections::BTreeMap;

use refinery::{AsyncMigrate, Migration};
use sha2::{Digest, Sha256};
use sqlx::{AssertSqlSafe, Connection, PgConnection, PgExecutor, Row};

mod embedded {
    refinery::embed_migrations!("../../migrations");
}

/// Advisory lock key that serialises migration runs ("scrimmig" in ASCII).
pub const MIGRATION_LOCK_KEY: i64 = 0x7363_7269_6d6d_6967;

/// Why migrating or verifying the schema failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MigrateError {
    #[error("database error while migrating")]
    Database(#[from] sqlx::Error),
    #[error("migration failed")]
    Refinery(#[from] refinery::Error),
    #[error(
        "the database schema is not migrated: missing migration(s) {missing:?}; run `<service> migrate` first"
    )]
    NotMigrated { missing: Vec<i32> },
    #[error(
        "applied migration V{version} differs from the one in this build (was it edited after it was applied?)"
    )]
    Divergent { version: i32 },
}

/// What a migration run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationSummary {
    /// Versions this run applied (empty when the schema was already current).
    pub applied: Vec<i32>,
    /// The newest version this build knows.
    pub latest: i32,
}

/// The migrations compiled into this build, oldest first.
pub fn embedded_migrations() -> Vec<Migration> {
    let mut migrations = embedded::migrations::runner().get_migrations().clone();
    migrations.sort();
    migrations
}

/// A digest of every migration and of the provisioning script. The test harness names its
/// template database after it, so a template is rebuilt exactly when the schema changes.
pub fn migrations_fingerprint() -> String {
    let mut hasher = Sha256::new();
    for migration in embedded_migrations() {
        hasher.update(migration.version().to_le_bytes());
        hasher.update(migration.name().as_bytes());
        hasher.update(migration.checksum().to_le_bytes());
    }
    hasher.update(crate::PROVISION_SQL.as_bytes());
    hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Applies every pending migration, one transaction per migration, while holding the migration
/// advisory lock. Refuses to run when an applied migration was edited or removed.
#[tracing::instrument(skip_all, err)]
pub async fn migrate(conn: &mut PgConnection) -> Result<MigrationSummary, MigrateError> {
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(MIGRATION_LOCK_KEY)
        .execute(&mut *conn)
        .await?;
    let outcome = embedded::migrations::runner()
        .set_abort_divergent(true)
        .set_abort_missing(true)
        .run_async(&mut SqlxMigrator(&mut *conn))
        .await;
    // Unlock even when a migration failed; if the connection itself broke, Postgres releases the
    // session lock as the session ends.
    let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(MIGRATION_LOCK_KEY)
        .execute(&mut *conn)
        .await;
    let report = outcome?;
    unlocked?;

    let applied: Vec<i32> = report
        .applied_migrations()
        .iter()
        .map(Migration::version)
        .collect();
    for version in &applied {
        tracing::info!(migration.version = version, "applied migration");
    }
    Ok(MigrationSummary {
        applied,
        latest: latest_version(),
    })
}

fn latest_version() -> i32 {
    embedded_migrations().last().map_or(0, Migration::version)
}

/// Checks that every migration of this build is applied, unchanged. Newer migrations than this
/// build knows are fine: during a rolling update old replicas run against the new schema.
#[tracing::instrument(skip_all, err)]
pub async fn verify_migrated(executor: impl PgExecutor<'_>) -> Result<(), MigrateError> {
    let rows = match sqlx::query("SELECT version, checksum FROM public.refinery_schema_history")
        .fetch_all(executor)
        .await
    {
        Ok(rows) => rows,
        // undefined_table: nothing was ever migrated.
        Err(sqlx::Error::Database(err)) if err.code().as_deref() == Some("42P01") => Vec::new(),
        Err(err) => return Err(err.into()),
    };
    let applied: BTreeMap<i32, String> = rows
        .iter()
        .map(|row| Ok((row.try_get("version")?, row.try_get("checksum")?)))
        .collect::<Result<_, sqlx::Error>>()?;

    let mut missing = Vec::new();
    for migration in embedded_migrations() {
        match applied.get(&migration.version()) {
            None => missing.push(migration.version()),
            Some(checksum) if *checksum != migration.checksum().to_string() => {
                return Err(MigrateError::Divergent {
                    version: migration.version(),
                });
            }
            Some(_) => {}
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(MigrateError::NotMigrated { missing })
    }
}

/// refinery's async driver traits, implemented over one sqlx connection.
struct SqlxMigrator<'c>(&'c mut PgConnection);

impl refinery_core::traits::r#async::AsyncTransaction for SqlxMigrator<'_> {
    type Error = sqlx::Error;

    async fn execute<'a, T: Iterator<Item = &'a str> + Send + 'a>(
        &'a mut self,
        queries: T,
    ) -> Result<usize, Self::Error> {
        let mut transaction = self.0.begin().await?;
        let mut count = 0;
        for query in queries {
            // raw_sql: a migration file holds many statements, which only the simple query
            // protocol accepts. The text is our own migration, compiled into the binary.
            sqlx::raw_sql(AssertSqlSafe(query.to_owned()))
                .execute(&mut *transaction)
                .await?;
            count += 1;
        }
        transaction.commit().await?;
        Ok(count)
    }
}

impl refinery_core::traits::r#async::AsyncQuery<Vec<Migration>> for SqlxMigrator<'_> {
    async fn query<'a>(&'a mut self, query: &'a str) -> Result<Vec<Migration>, Self::Error> {
        // refinery's own fixed query on its history table.
        let rows = sqlx::query(AssertSqlSafe(query.to_owned()))
            .fetch_all(&mut *self.0)
            .await?;
        rows.iter()
            .map(|row| {
                let applied_on: String = row.try_get(2)?;
                let applied_on = time::OffsetDateTime::parse(
                    &applied_on,
                    &time::format_description::well_known::Rfc3339,
                )
                .map_err(|err| sqlx::Error::Decode(Box::new(err)))?;
                let checksum: String = row.try_get(3)?;
                let checksum = checksum
                    .parse::<u64>()
                    .map_err(|err| sqlx::Error::Decode(Box::new(err)))?;
                Ok(Migration::applied(
                    row.try_get(0)?,
                    row.try_get(1)?,
                    applied_on,
                    checksum,
                ))
            })
            .collect()
    }
}

impl AsyncMigrate for SqlxMigrator<'_> {}
