#![doc = include_str!("../README.md")]

use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use db::{DatabaseConfig, OWNER_ROLE, PoolConfig, RolePasswords, ServiceRole};
use secrecy::SecretString;
use sqlx::postgres::PgConnectOptions;
use sqlx::{AssertSqlSafe, Connection, PgConnection, PgPool};
use tokio::sync::OnceCell;

/// Advisory lock key that serialises template builds across test processes ("scrimtpl").
const TEMPLATE_LOCK_KEY: i64 = 0x7363_7269_6d74_706c;
const TEMPLATE_PREFIX: &str = "scrims_tpl_";
const TEST_DB_PREFIX: &str = "scrims_test_";
/// Test databases older than this are leftovers of a killed run and are dropped.
const STALE_AFTER: Duration = Duration::from_secs(3 * 60 * 60);

/// The template's name once this process has made sure it exists. Holds only a name, not a
/// connection: every `#[tokio::test]` has its own runtime, and connections cannot outlive one.
static TEMPLATE: OnceCell<String> = OnceCell::const_new();

/// One test's own database, dropped when this value is dropped.
#[derive(Debug)]
pub struct TestDb {
    name: String,
    admin: PgConnectOptions,
}

impl TestDb {
    /// A fresh database holding the fully migrated schema.
    pub async fn new() -> Self {
        let admin = admin_options();
        let template = TEMPLATE
            .get_or_try_init(|| ensure_template(admin.clone()))
            .await
            .expect("could not prepare the template database (is PostgreSQL reachable via DATABASE_URL?)");
        Self::create(admin, Some(template)).await
    }

    /// A fresh database with the roles provisioned but no migration applied.
    pub async fn empty() -> Self {
        let admin = admin_options();
        let test_db = Self::create(admin.clone(), None).await;
        provision(&admin, &test_db.name)
            .await
            .expect("provision the roles in the empty test database");
        test_db
    }

    async fn create(admin: PgConnectOptions, template: Option<&str>) -> Self {
        let created = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs());
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        let name = format!("{TEST_DB_PREFIX}{created}_{}", &suffix[..12]);
        let mut conn = PgConnection::connect_with(&admin)
            .await
            .expect("connect to the test server as superuser");
        let statement = match template {
            Some(template) => {
                format!(r#"CREATE DATABASE "{name}" TEMPLATE "{template}" OWNER {OWNER_ROLE}"#)
            }
            // Roles may not exist yet on a brand new server: the owner is handed over by
            // provisioning in that case.
            None => format!(r#"CREATE DATABASE "{name}""#),
        };
        ddl(&mut conn, statement)
            .await
            .expect("create the test database");
        if template.is_some() {
            // Database-level privileges live in pg_database, which a template does not carry:
            // repeat the one that deploy/provision-roles.sql sets.
            ddl(
                &mut conn,
                format!(r#"REVOKE TEMPORARY ON DATABASE "{name}" FROM PUBLIC"#),
            )
            .await
            .expect("revoke TEMPORARY on the test database");
        }
        conn.close().await.ok();
        Self { name, admin }
    }

    /// Runs the provisioning script again in this database (it is idempotent), serialised with
    /// every other provisioning of the cluster's roles.
    pub async fn reprovision(&self) -> Result<(), sqlx::Error> {
        provision(&self.admin, &self.name).await
    }

    /// Takes the harness's cluster-wide lock on role changes, for a test that provisions roles
    /// itself. Concurrent `ALTER ROLE`s of one role fail with "tuple concurrently updated".
    pub async fn lock_roles(&self) -> RolesLock {
        let mut conn = PgConnection::connect_with(&self.admin)
            .await
            .expect("connect as superuser");
        lock(&mut conn).await.expect("take the roles lock");
        RolesLock { conn }
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Settings that log in to this database as `user` with the local-development password.
    pub fn config_for_user(&self, user: &str, password: SecretString) -> DatabaseConfig {
        DatabaseConfig {
            host: self.admin.get_host().to_owned(),
            port: self.admin.get_port(),
            name: self.name.clone(),
            user: user.to_owned(),
            password,
            pool: PoolConfig {
                max_connections: 5,
                min_connections: 0,
                ..PoolConfig::default()
            },
        }
    }

    /// Settings that log in to this database as `role`, as that service would.
    pub fn config_as(&self, role: ServiceRole) -> DatabaseConfig {
        let passwords = RolePasswords::local_development();
        self.config_for_user(role.role_name(), passwords.for_role(role).clone())
    }

    /// Settings that log in as the owner role (the one that runs migrations).
    pub fn owner_config(&self) -> DatabaseConfig {
        self.config_for_user(OWNER_ROLE, RolePasswords::local_development().owner)
    }

    /// A pool logged in as `role`, with exactly that role's privileges.
    pub async fn pool_as(&self, role: ServiceRole) -> PgPool {
        db::connect(&self.config_as(role), role.role_name())
            .await
            .unwrap_or_else(|err| panic!("log in as {}: {err}", role.role_name()))
    }

    /// A pool logged in as the owner role.
    pub async fn owner_pool(&self) -> PgPool {
        db::connect(&self.owner_config(), "test-owner")
            .await
            .expect("log in as the owner role")
    }

    /// A pool logged in as the server's superuser (for setting up rows a test needs).
    pub async fn admin_pool(&self) -> PgPool {
        sqlx::pool::PoolOptions::new()
            .max_connections(5)
            .connect_with(self.admin_options())
            .await
            .expect("log in as superuser")
    }

    fn admin_options(&self) -> PgConnectOptions {
        self.admin.clone().database(&self.name)
    }
}

/// The harness's lock on role changes; see [`TestDb::lock_roles`].
#[derive(Debug)]
pub struct RolesLock {
    conn: PgConnection,
}

impl RolesLock {
    /// Releases the lock (closing the session would too).
    pub async fn release(mut self) {
        unlock(&mut self.conn).await.ok();
        self.conn.close().await.ok();
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // Drop runs inside (or after) the test's runtime and cannot await: use a thread with a
        // runtime of its own. FORCE ends the test's remaining sessions first.
        let admin = self.admin.clone();
        let statement = format!(r#"DROP DATABASE IF EXISTS "{}" WITH (FORCE)"#, self.name);
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let mut conn = PgConnection::connect_with(&admin).await?;
                ddl(&mut conn, statement).await?;
                conn.close().await?;
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
            })
        })
        .join();
        if let Ok(Err(err)) = dropped {
            eprintln!("test-db: could not drop {}: {err}", self.name);
        }
    }
}

/// Runs a statement the harness composed itself. The only interpolated values are database names
/// the harness generated (a prefix, a number, hex digits), always double-quoted.
async fn ddl(conn: &mut PgConnection, statement: String) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(AssertSqlSafe(statement))
        .execute(conn)
        .await
        .map(drop)
}

/// The superuser connection from `DATABASE_URL`.
pub fn admin_options() -> PgConnectOptions {
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
    PgConnectOptions::from_str(&url).expect("DATABASE_URL is not a valid postgres:// URL")
}

/// Provisions the roles in `database` with the local-development passwords. Roles are
/// cluster-wide, so this holds the harness lock, which lives in the admin database: advisory
/// locks are scoped to the database they are taken in.
async fn provision(admin: &PgConnectOptions, database: &str) -> Result<(), sqlx::Error> {
    let mut lock_conn = PgConnection::connect_with(admin).await?;
    lock(&mut lock_conn).await?;
    let outcome = async {
        let mut conn = PgConnection::connect_with(&admin.clone().database(database)).await?;
        db::provision_roles(&mut conn, &RolePasswords::local_development()).await?;
        conn.close().await
    }
    .await;
    unlock(&mut lock_conn).await?;
    lock_conn.close().await?;
    outcome
}

async fn lock(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(TEMPLATE_LOCK_KEY)
        .execute(conn)
        .await
        .map(drop)
}

async fn unlock(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(TEMPLATE_LOCK_KEY)
        .execute(conn)
        .await
        .map(drop)
}

/// Makes sure the template for the current migrations exists, building it if needed.
async fn ensure_template(
    admin: PgConnectOptions,
) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    let name = format!("{TEMPLATE_PREFIX}{}", &db::migrations_fingerprint()[..16]);
    let mut conn = PgConnection::connect_with(&admin).await?;
    lock(&mut conn).await?;
    let outcome = build_template_if_missing(&admin, &mut conn, &name).await;
    unlock(&mut conn).await?;
    outcome?;
    drop_stale_test_databases(&mut conn).await;
    conn.close().await?;
    Ok(name)
}

async fn build_template_if_missing(
    admin: &PgConnectOptions,
    conn: &mut PgConnection,
    name: &str,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    // A template is marked IS_TEMPLATE only once fully migrated, so a half-built one (a run killed
    // mid-build) is rebuilt rather than reused.
    let ready: Option<bool> =
        sqlx::query_scalar("SELECT datistemplate FROM pg_database WHERE datname = $1")
            .bind(name)
            .fetch_optional(&mut *conn)
            .await?;
    if ready == Some(true) {
        return Ok(());
    }
    ddl(
        conn,
        format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#),
    )
    .await?;
    ddl(conn, format!(r#"CREATE DATABASE "{name}""#)).await?;

    // The harness lock is held by `conn`, so provisioning the cluster-wide roles cannot race.
    let mut template_conn = PgConnection::connect_with(&admin.clone().database(name)).await?;
    db::provision_roles(&mut template_conn, &RolePasswords::local_development()).await?;
    template_conn.close().await?;

    let owner = admin.clone().database(name).username(OWNER_ROLE).password(
        secrecy::ExposeSecret::expose_secret(&RolePasswords::local_development().owner),
    );
    let mut owner_conn = PgConnection::connect_with(&owner).await?;
    db::migrate(&mut owner_conn).await?;
    owner_conn.close().await?;

    // No connections allowed: CREATE DATABASE ... TEMPLATE refuses a template someone is using.
    ddl(
        conn,
        format!(r#"ALTER DATABASE "{name}" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false"#),
    )
    .await?;

    let stale: Vec<String> = sqlx::query_scalar(
        "SELECT datname FROM pg_database WHERE datname LIKE $1 AND datname <> $2",
    )
    .bind(format!("{TEMPLATE_PREFIX}%"))
    .bind(name)
    .fetch_all(&mut *conn)
    .await?;
    for old in stale {
        let dropped = ddl(
            conn,
            format!(
                r#"ALTER DATABASE "{old}" IS_TEMPLATE false; DROP DATABASE "{old}" WITH (FORCE)"#
            ),
        )
        .await;
        if let Err(err) = dropped {
            eprintln!("test-db: could not drop stale template {old}: {err}");
        }
    }
    Ok(())
}

/// Drops test databases left by killed runs (their names carry their creation time).
async fn drop_stale_test_databases(conn: &mut PgConnection) {
    let Ok(names) =
        sqlx::query_scalar::<_, String>("SELECT datname FROM pg_database WHERE datname LIKE $1")
            .bind(format!("{TEST_DB_PREFIX}%"))
            .fetch_all(&mut *conn)
            .await
    else {
        return;
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    for name in names {
        let created = name
            .trim_start_matches(TEST_DB_PREFIX)
            .split('_')
            .next()
            .and_then(|secs| secs.parse::<u64>().ok());
        if created.is_some_and(|created| now.saturating_sub(created) > STALE_AFTER.as_secs()) {
            let _ = ddl(
                conn,
                format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#),
            )
            .await;
        }
    }
}
