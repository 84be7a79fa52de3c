use std::sync::Arc;

use db::{MigrateError, OWNER_ROLE, RolePasswords};
use sqlx::{ConnectOptions, PgConnection};
use test_db::TestDb;
use tokio::sync::Barrier;

async fn owner_connection(test_db: &TestDb) -> PgConnection {
    db::connect_options(&test_db.owner_config(), "migration-test")
        .connect()
        .await
        .expect("log in as the owner")
}

#[tokio::test]
async fn two_migrate_runs_started_together_on_an_empty_database_both_succeed_and_apply_each_migration_once()
 {
    let test_db = TestDb::empty().await;
    let mut first = owner_connection(&test_db).await;
    let mut second = owner_connection(&test_db).await;
    let barrier = Arc::new(Barrier::new(2));

    async fn run(
        conn: &mut PgConnection,
        barrier: Arc<Barrier>,
    ) -> Result<db::MigrationSummary, MigrateError> {
        barrier.wait().await;
        db::migrate(conn).await
    }
    let (a, b) = tokio::join!(
        run(&mut first, barrier.clone()),
        run(&mut second, barrier.clone())
    );
    let (a, b) = (
        a.expect("first run succeeds"),
        b.expect("second run succeeds"),
    );

    let every_version: Vec<i32> = db::embedded_migrations()
        .iter()
        .map(|migration| migration.version())
        .collect();
    let mut applied = [a.applied, b.applied].concat();
    applied.sort_unstable();
    assert_eq!(
        applied, every_version,
        "each migration applied by exactly one run"
    );

    let history: Vec<i32> =
        sqlx::query_scalar("SELECT version FROM refinery_schema_history ORDER BY version")
            .fetch_all(&mut first)
            .await
            .expect("read history");
    assert_eq!(history, every_version, "history holds each migration once");
    db::verify_migrated(&mut first)
        .await
        .expect("schema is current");
}

#[tokio::test]
async fn a_second_migrate_on_a_current_schema_applies_nothing() {
    let test_db = TestDb::new().await;
    let mut conn = owner_connection(&test_db).await;
    let summary = db::migrate(&mut conn).await.expect("migrate");
    assert!(summary.applied.is_empty(), "{summary:?}");
    assert_eq!(
        summary.latest,
        db::embedded_migrations()
            .last()
            .expect("at least one migration")
            .version()
    );
}

#[tokio::test]
async fn an_unmigrated_schema_is_refused_until_migrate_runs() {
    let test_db = TestDb::empty().await;
    let mut conn = owner_connection(&test_db).await;
    match db::verify_migrated(&mut conn).await {
        Err(MigrateError::NotMigrated { missing }) => {
            assert_eq!(missing.len(), db::embedded_migrations().len());
        }
        other => panic!("expected NotMigrated, got {other:?}"),
    }
    db::migrate(&mut conn).await.expect("migrate");
    db::verify_migrated(&mut conn).await.expect("now migrated");
}

#[tokio::test]
async fn a_migration_edited_after_it_was_applied_is_detected() {
    let test_db = TestDb::new().await;
    let admin = test_db.admin_pool().await;
    sqlx::query("UPDATE refinery_schema_history SET checksum = '1' WHERE version = 1")
        .execute(&admin)
        .await
        .expect("tamper with the history");

    let mut conn = owner_connection(&test_db).await;
    assert!(matches!(
        db::verify_migrated(&mut conn).await,
        Err(MigrateError::Divergent { version: 1 })
    ));
    assert!(
        db::migrate(&mut conn).await.is_err(),
        "migrate refuses a divergent history"
    );
}

#[tokio::test]
async fn provisioning_again_keeps_roles_narrow_and_passwords_working() {
    let test_db = TestDb::new().await;
    let admin = test_db.admin_pool().await;
    // Someone widened a role by hand; provisioning again narrows it. Both steps hold the roles
    // lock, so no other test sees the widened role.
    let lock = test_db.lock_roles().await;
    let mut conn = admin.acquire().await.expect("connection");
    let widen_then_provision = async {
        sqlx::query("ALTER ROLE matchmaking CREATEDB")
            .execute(&mut *conn)
            .await?;
        db::provision_roles(&mut conn, &RolePasswords::local_development()).await
    }
    .await;
    lock.release().await;
    widen_then_provision.expect("widen, then provision again");
    drop(conn);

    let widened: bool =
        sqlx::query_scalar("SELECT rolcreatedb FROM pg_roles WHERE rolname = 'matchmaking'")
            .fetch_one(&admin)
            .await
            .expect("read role");
    assert!(!widened);
    let owner: String = sqlx::query_scalar(
        "SELECT pg_get_userbyid(datdba)::text FROM pg_database WHERE datname = current_database()",
    )
    .fetch_one(&admin)
    .await
    .expect("read owner");
    assert_eq!(owner, OWNER_ROLE);

    let pool = test_db.pool_as(db::ServiceRole::Matchmaking).await;
    sqlx::query("SELECT 1")
        .execute(&pool)
        .await
        .expect("still logs in");
}

#[tokio::test]
async fn provisioning_leaves_no_password_readable_in_the_session() {
    let test_db = TestDb::new().await;
    let admin = test_db.admin_pool().await;
    let mut conn = admin.acquire().await.expect("connection");
    // Role changes are cluster-wide: hold the harness's lock like every provisioner does.
    let lock = test_db.lock_roles().await;
    let provisioned = db::provision_roles(&mut conn, &RolePasswords::local_development()).await;
    lock.release().await;
    provisioned.expect("provision");

    let leftover: Option<String> =
        sqlx::query_scalar("SELECT current_setting('provision.matchmaking_password', true)")
            .fetch_one(&mut *conn)
            .await
            .expect("read setting");
    assert!(
        leftover.unwrap_or_default().is_empty(),
        "passwords are not left in the session"
    );
}
