//! The database roles: one LOGIN role per service, and the owner role that runs migrations.

use secrecy::{ExposeSecret, SecretString};
use sqlx::PgConnection;

/// The role that owns the database, its schemas and tables, and runs the migrations. Services
/// never log in as it.
pub const OWNER_ROLE: &str = "scrim_owner";

/// The provisioning script, shared by `deploy/provision-roles.sh` (compose, Nomad), `just up` and
/// the test harness. It reads passwords from `provision.<role>_password` settings.
pub const PROVISION_SQL: &str = include_str!("../../../deploy/provision-roles.sql");

/// A service's own LOGIN role. Each role may touch only its own schema (plus the queues it
/// produces to), which the privilege-matrix test checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServiceRole {
    Matchmaking,
    Submission,
    Notifications,
    CoreEvents,
}

impl ServiceRole {
    /// Every service role, in a stable order.
    pub const ALL: [ServiceRole; 4] = [
        ServiceRole::Matchmaking,
        ServiceRole::Submission,
        ServiceRole::Notifications,
        ServiceRole::CoreEvents,
    ];

    /// The Postgres role name.
    pub const fn role_name(self) -> &'static str {
        match self {
            ServiceRole::Matchmaking => "matchmaking",
            ServiceRole::Submission => "submission",
            ServiceRole::Notifications => "notifications",
            ServiceRole::CoreEvents => "core_events",
        }
    }

    /// The schema that holds this service's tables and its incoming queues.
    pub const fn schema(self) -> &'static str {
        match self {
            ServiceRole::Matchmaking => "matchmaking",
            ServiceRole::Submission => "submission",
            ServiceRole::Notifications => "notifications",
            ServiceRole::CoreEvents => "core",
        }
    }
}

/// Passwords for every role that provisioning creates.
#[derive(Debug, Clone)]
pub struct RolePasswords {
    pub owner: SecretString,
    pub matchmaking: SecretString,
    pub submission: SecretString,
    pub notifications: SecretString,
    pub core_events: SecretString,
}

impl RolePasswords {
    /// The local-development passwords, also written in `deploy/dev.env`. They are NOT secret and
    /// must never be used outside a developer's machine or a test cluster.
    pub fn local_development() -> Self {
        let dev = |role: &str| SecretString::from(format!("dev-only-{role}"));
        Self {
            owner: dev(OWNER_ROLE),
            matchmaking: dev("matchmaking"),
            submission: dev("submission"),
            notifications: dev("notifications"),
            core_events: dev("core_events"),
        }
    }

    pub fn for_role(&self, role: ServiceRole) -> &SecretString {
        match role {
            ServiceRole::Matchmaking => &self.matchmaking,
            ServiceRole::Submission => &self.submission,
            ServiceRole::Notifications => &self.notifications,
            ServiceRole::CoreEvents => &self.core_events,
        }
    }
}

/// Creates (or updates the passwords of) the owner and service roles, and hands the current
/// database to the owner. Runs [`PROVISION_SQL`]; needs a superuser (or CREATEROLE + database
/// ownership) connection to the target database.
///
/// Roles are cluster-wide, so concurrent provisioners must be serialised by the caller.
pub async fn provision_roles(
    conn: &mut PgConnection,
    passwords: &RolePasswords,
) -> Result<(), sqlx::Error> {
    let settings = [
        (OWNER_ROLE, &passwords.owner),
        ("matchmaking", &passwords.matchmaking),
        ("submission", &passwords.submission),
        ("notifications", &passwords.notifications),
        ("core_events", &passwords.core_events),
    ];
    for (role, password) in settings {
        // Transaction-local would vanish before the script runs; session-level is reset below.
        sqlx::query("SELECT set_config($1, $2, false)")
            .bind(format!("provision.{role}_password"))
            .bind(password.expose_secret())
            .execute(&mut *conn)
            .await?;
    }
    let outcome = sqlx::raw_sql(PROVISION_SQL).execute(&mut *conn).await;
    // Do not leave passwords readable in a pooled session.
    sqlx::raw_sql("RESET ALL").execute(&mut *conn).await?;
    outcome.map(drop)
}
