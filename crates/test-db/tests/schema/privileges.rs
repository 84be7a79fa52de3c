//! The privilege matrix: for every service role and every table that exists, the operations it
//! should have succeed and every other one fails with `permission denied`.
//!
//! Extend [`MATRIX`] in the same change that adds a table: the test fails for a table that is not
//! listed, so a new table cannot ship without deciding who may touch it.

use db::ServiceRole::{self, CoreEvents, Matchmaking, Notifications, Submission};
use sqlx::{AssertSqlSafe, PgPool};
use test_db::TestDb;

/// A table privilege, by its SQL name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Privilege {
    Select,
    Insert,
    Update,
    Delete,
    Truncate,
    References,
    Trigger,
}
use Privilege::{Delete, Insert, References, Select, Trigger, Truncate, Update};

const ALL_PRIVILEGES: [Privilege; 7] = [
    Select, Insert, Update, Delete, Truncate, References, Trigger,
];

impl Privilege {
    fn sql(self) -> &'static str {
        match self {
            Select => "SELECT",
            Insert => "INSERT",
            Update => "UPDATE",
            Delete => "DELETE",
            Truncate => "TRUNCATE",
            References => "REFERENCES",
            Trigger => "TRIGGER",
        }
    }
}

/// What each service role may do with one table.
type TableGrants = (&'static str, &'static [(ServiceRole, &'static [Privilege])]);

/// Every table, and exactly what each service role may do with it. A role not listed for a
/// table may do nothing with it. Sequences are listed too (no role touches one directly:
/// identity columns need only INSERT on their table).
const MATRIX: &[TableGrants] = &[
    (
        // Read at start-up to check the schema is migrated; written only by the owner.
        "public.refinery_schema_history",
        &[
            (Matchmaking, &[Select]),
            (Submission, &[Select]),
            (Notifications, &[Select]),
            (CoreEvents, &[Select]),
        ],
    ),
    // Matchmaking's own tables.
    ("matchmaking.scrims", MATCHMAKING_OWNS),
    ("matchmaking.scrim_groups", MATCHMAKING_OWNS),
    ("matchmaking.scrim_players", MATCHMAKING_OWNS),
    ("matchmaking.scrim_players_position_seq", NOBODY),
    ("matchmaking.scrim_team_players", MATCHMAKING_OWNS),
    // The periods of matchmaking's periodic jobs (the reconciliation sweep; V7).
    (
        "matchmaking.periodic_jobs",
        &[(Matchmaking, &[Select, Insert, Update])],
    ),
    // The last scrim.metricsUpdate published (one row; V7).
    (
        "matchmaking.published_metrics",
        &[(Matchmaking, &[Select, Update])],
    ),
    (
        "matchmaking.platform_state",
        &[(Matchmaking, &[Select, Update])],
    ),
    // Queue bans: matchmaking reads and writes QUEUE_BAN rows only (row-level security).
    (
        "core.member_restrictions",
        &[
            (Matchmaking, &[Select, Insert]),
            (CoreEvents, &[Select, Insert, Update]),
        ],
    ),
    ("core.member_restrictions_id_seq", NOBODY),
    // Core's league data (V6): core_events alone; the other services read the views below.
    ("core.organizations", CORE_WRITES),
    ("core.organizations_id_seq", CORE_MOVES_SEQUENCE),
    ("core.organization_setting_keys", CORE_READS),
    ("core.organization_setting_values", CORE_OWNS),
    ("core.platform_configuration", CORE_READS_AND_UPDATES),
    ("core.users", CORE_WRITES),
    ("core.users_id_seq", CORE_MOVES_SEQUENCE),
    ("core.members", CORE_WRITES),
    ("core.members_id_seq", CORE_MOVES_SEQUENCE),
    ("core.platforms", CORE_READS),
    ("core.member_platform_accounts", CORE_OWNS),
    ("core.member_platform_accounts_id_seq", NOBODY),
    ("core.games", CORE_WRITES),
    ("core.games_id_seq", CORE_MOVES_SEQUENCE),
    ("core.game_mode_definitions", CORE_WRITES),
    ("core.game_mode_definitions_id_seq", CORE_MOVES_SEQUENCE),
    ("core.skill_group_definitions", CORE_WRITES),
    ("core.skill_group_definitions_id_seq", CORE_MOVES_SEQUENCE),
    ("core.players", CORE_WRITES),
    ("core.players_id_seq", CORE_MOVES_SEQUENCE),
    ("core.franchises", CORE_WRITES),
    ("core.franchises_id_seq", CORE_MOVES_SEQUENCE),
    ("core.teams", CORE_OWNS),
    ("core.teams_id_seq", CORE_MOVES_SEQUENCE),
    ("core.roster_slots", CORE_OWNS),
    (
        "core.franchise_staff_appointments",
        &[(CoreEvents, &[Select, Insert, Delete])],
    ),
    ("core.league_matches", CORE_WRITES),
    ("core.league_matches_id_seq", CORE_MOVES_SEQUENCE),
    // Saved results: written once, never changed (matches: rated_at by the rating job).
    ("core.scrim_metas", CORE_APPENDS),
    ("core.scrim_metas_id_seq", NOBODY),
    ("core.matches", CORE_WRITES),
    ("core.matches_id_seq", NOBODY),
    ("core.rounds", CORE_APPENDS),
    ("core.rounds_id_seq", NOBODY),
    ("core.team_stat_lines", CORE_APPENDS),
    ("core.team_stat_lines_id_seq", NOBODY),
    ("core.player_stat_lines", CORE_APPENDS),
    ("core.player_stat_lines_id_seq", NOBODY),
    ("core.eligibility_points", CORE_APPENDS),
    ("core.player_ratings", CORE_WRITES),
    ("core.rating_history", CORE_APPENDS),
    // Live views.
    ("core.scrim_metrics", CORE_READS_AND_UPDATES),
    ("core.live_submissions", CORE_OWNS),
    // The views core publishes (DOMAIN §8), each to exactly its readers.
    (
        "core.player_directory",
        &[(Submission, &[Select]), (Notifications, &[Select])],
    ),
    (
        "core.organization_settings",
        &[
            (Matchmaking, &[Select]),
            (Submission, &[Select]),
            (Notifications, &[Select]),
        ],
    ),
    (
        "core.game_modes",
        &[
            (Matchmaking, &[Select]),
            (Submission, &[Select]),
            (Notifications, &[Select]),
        ],
    ),
    (
        "core.skill_groups",
        &[(Submission, &[Select]), (Notifications, &[Select])],
    ),
    (
        "core.match_participants",
        &[(Submission, &[Select]), (Notifications, &[Select])],
    ),
    (
        "core.franchise_staff",
        &[(Submission, &[Select]), (Notifications, &[Select])],
    ),
    ("core.notification_skill_groups", NOTIFICATIONS_READ),
    ("core.notification_franchises", NOTIFICATIONS_READ),
    ("core.organization_branding", NOTIFICATIONS_READ),
    ("core.platform_settings", NOTIFICATIONS_READ),
    ("core.user_discord_ids", NOTIFICATIONS_READ),
    // Queues: the consumer reads, updates and deletes; producers only insert.
    ("matchmaking.checkin_timeouts", MATCHMAKING_OWNS),
    ("matchmaking.checkin_timeouts_id_seq", NOBODY),
    ("matchmaking.checkin_timeouts_dead", MATCHMAKING_OWNS),
    ("matchmaking.leave_expiries", MATCHMAKING_OWNS),
    ("matchmaking.leave_expiries_id_seq", NOBODY),
    ("matchmaking.leave_expiries_dead", MATCHMAKING_OWNS),
    (
        "matchmaking.core_events",
        &[(Matchmaking, CONSUMER), (CoreEvents, &[Insert])],
    ),
    ("matchmaking.core_events_id_seq", NOBODY),
    ("matchmaking.core_events_dead", MATCHMAKING_OWNS),
    (
        "matchmaking.submission_events",
        &[(Matchmaking, CONSUMER), (Submission, &[Insert])],
    ),
    ("matchmaking.submission_events_id_seq", NOBODY),
    ("matchmaking.submission_events_dead", MATCHMAKING_OWNS),
    (
        "core.scrim_events",
        &[(CoreEvents, CONSUMER), (Matchmaking, &[Insert])],
    ),
    ("core.scrim_events_id_seq", NOBODY),
    ("core.scrim_events_dead", &[(CoreEvents, CONSUMER)]),
    (
        "core.member_events",
        &[(CoreEvents, CONSUMER), (Matchmaking, &[Insert])],
    ),
    ("core.member_events_id_seq", NOBODY),
    ("core.member_events_dead", &[(CoreEvents, CONSUMER)]),
    (
        "notifications.scrim_events",
        &[(Notifications, CONSUMER), (Matchmaking, &[Insert])],
    ),
    ("notifications.scrim_events_id_seq", NOBODY),
    (
        "notifications.scrim_events_dead",
        &[(Notifications, CONSUMER)],
    ),
    (
        "notifications.member_events",
        &[
            (Notifications, CONSUMER),
            (Matchmaking, &[Insert]),
            (CoreEvents, &[Insert]),
        ],
    ),
    ("notifications.member_events_id_seq", NOBODY),
    (
        "notifications.member_events_dead",
        &[(Notifications, CONSUMER)],
    ),
    // pg-queue control rows (pause, rate limit, retention), one table per service schema: the
    // consumer reads and updates its queues' rows; the rows themselves are made by migrations.
    ("matchmaking.queue_state", &[(Matchmaking, QUEUE_CONTROL)]),
    ("submission.queue_state", &[(Submission, QUEUE_CONTROL)]),
    (
        "notifications.queue_state",
        &[(Notifications, QUEUE_CONTROL)],
    ),
    ("core.queue_state", &[(CoreEvents, QUEUE_CONTROL)]),
    // Core's queues (V6): finalization and live views fed by submission; core's own jobs.
    (
        "core.ratified_submissions",
        &[(CoreEvents, CONSUMER), (Submission, &[Insert])],
    ),
    ("core.ratified_submissions_id_seq", NOBODY),
    ("core.ratified_submissions_dead", &[(CoreEvents, CONSUMER)]),
    (
        "core.submission_events",
        &[(CoreEvents, CONSUMER), (Submission, &[Insert])],
    ),
    ("core.submission_events_id_seq", NOBODY),
    ("core.submission_events_dead", &[(CoreEvents, CONSUMER)]),
    ("core.rating_jobs", &[(CoreEvents, CONSUMER)]),
    ("core.rating_jobs_id_seq", NOBODY),
    ("core.rating_jobs_dead", &[(CoreEvents, CONSUMER)]),
    ("core.restriction_expiries", &[(CoreEvents, CONSUMER)]),
    ("core.restriction_expiries_id_seq", NOBODY),
    ("core.restriction_expiries_dead", &[(CoreEvents, CONSUMER)]),
];

/// What a schema's consumer may do with its queues' control rows.
const QUEUE_CONTROL: &[Privilege] = &[Select, Update];

/// What a queue's consumer (or a table's only user) may do.
const CONSUMER: &[Privilege] = &[Select, Insert, Update, Delete];
const MATCHMAKING_OWNS: &[(ServiceRole, &[Privilege])] = &[(Matchmaking, CONSUMER)];
const NOBODY: &[(ServiceRole, &[Privilege])] = &[];
/// Core's league tables: core_events reads and writes them, never deletes (history refers to them).
const CORE_WRITES: &[(ServiceRole, &[Privilege])] = &[(CoreEvents, &[Select, Insert, Update])];
/// Core tables whose rows come and go (accounts, roster slots, setting values...).
const CORE_OWNS: &[(ServiceRole, &[Privilege])] = &[(CoreEvents, CONSUMER)];
/// Rows written once and never changed (saved results, rating history).
const CORE_APPENDS: &[(ServiceRole, &[Privilege])] = &[(CoreEvents, &[Select, Insert])];
/// Rows made by the migration that core only reads.
const CORE_READS: &[(ServiceRole, &[Privilege])] = &[(CoreEvents, &[Select])];
const CORE_READS_AND_UPDATES: &[(ServiceRole, &[Privilege])] = &[(CoreEvents, &[Select, Update])];
/// An id sequence core moves past imported ids (reads its position; setval needs UPDATE).
const CORE_MOVES_SEQUENCE: &[(ServiceRole, &[Privilege])] = &[(CoreEvents, &[Select, Update])];
/// Views only notifications reads.
const NOTIFICATIONS_READ: &[(ServiceRole, &[Privilege])] = &[(Notifications, &[Select])];

/// Schemas each role may use (USAGE). No role may CREATE in any schema.
fn usable_schemas(role: ServiceRole) -> &'static [&'static str] {
    match role {
        // Matchmaking publishes into core's and notifications' queues and reads queue bans.
        Matchmaking => &["public", "matchmaking", "core", "notifications"],
        // Submission publishes into matchmaking's and core's queues and reads core's views.
        Submission => &["public", "submission", "matchmaking", "core"],
        // Notifications reads core's views.
        Notifications => &["public", "notifications", "core"],
        // Core publishes into matchmaking's and notifications' queues.
        CoreEvents => &["public", "core", "matchmaking", "notifications"],
    }
}

fn expected(table: &str, role: ServiceRole) -> &'static [Privilege] {
    MATRIX
        .iter()
        .find(|(name, _)| *name == table)
        .and_then(|(_, grants)| grants.iter().find(|(r, _)| *r == role))
        .map_or(&[], |(_, privileges)| privileges)
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn qualified(table: &str) -> String {
    let (schema, name) = table.split_once('.').expect("schema-qualified name");
    format!("{}.{}", quote_ident(schema), quote_ident(name))
}

/// Every relation in the platform's schemas (tables, views, sequences...), schema-qualified.
async fn all_relations(admin: &PgPool) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT n.nspname || '.' || c.relname
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
           AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
         ORDER BY 1",
    )
    .fetch_all(admin)
    .await
    .expect("list relations")
}

#[tokio::test]
async fn every_table_is_in_the_privilege_matrix() {
    let test_db = TestDb::new().await;
    let admin = test_db.admin_pool().await;
    let relations = all_relations(&admin).await;
    for relation in &relations {
        assert!(
            MATRIX.iter().any(|(table, _)| table == relation),
            "{relation} exists but is not in the privilege matrix: decide who may touch it"
        );
    }
    for (table, _) in MATRIX {
        assert!(
            relations.iter().any(|r| r == table),
            "{table} is in the matrix but does not exist"
        );
    }
}

#[tokio::test]
async fn each_role_holds_exactly_the_table_privileges_in_the_matrix() {
    let test_db = TestDb::new().await;
    let admin = test_db.admin_pool().await;
    let mut mismatches = Vec::new();
    for relation in all_relations(&admin).await {
        for role in ServiceRole::ALL {
            let allowed = expected(&relation, role);
            for privilege in ALL_PRIVILEGES {
                let held: bool = sqlx::query_scalar("SELECT has_table_privilege($1, $2, $3)")
                    .bind(role.role_name())
                    .bind(qualified(&relation))
                    .bind(privilege.sql())
                    .fetch_one(&admin)
                    .await
                    .expect("has_table_privilege");
                if held != allowed.contains(&privilege) {
                    mismatches.push(format!(
                        "{} {} {} on {relation}",
                        role.role_name(),
                        if held { "holds" } else { "lacks" },
                        privilege.sql()
                    ));
                }
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "privileges differ from the matrix:\n{}",
        mismatches.join("\n")
    );
}

/// The statements that exercise each data privilege. `WHERE false` still runs the permission
/// check (it happens before execution) without changing rows.
async fn statement_for(admin: &PgPool, table: &str, privilege: Privilege) -> String {
    let target = qualified(table);
    match privilege {
        Select => format!("SELECT * FROM {target} LIMIT 0"),
        Insert => format!("INSERT INTO {target} DEFAULT VALUES"),
        Delete => format!("DELETE FROM {target} WHERE false"),
        Update => {
            let (schema, name) = table.split_once('.').expect("qualified");
            let column: String = sqlx::query_scalar(
                "SELECT column_name::text FROM information_schema.columns
                 WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position LIMIT 1",
            )
            .bind(schema)
            .bind(name)
            .fetch_one(admin)
            .await
            .expect("first column");
            format!(
                "UPDATE {target} SET {} = DEFAULT WHERE false",
                quote_ident(&column)
            )
        }
        other => unreachable!("{other:?} is checked through has_table_privilege"),
    }
}

#[tokio::test]
async fn operations_outside_the_matrix_fail_with_permission_denied_and_the_others_succeed() {
    let test_db = TestDb::new().await;
    let admin = test_db.admin_pool().await;
    // Sequences are covered by the catalogue test above; INSERT or DELETE on one is not a
    // permission question.
    let sequences: Vec<String> = sqlx::query_scalar(
        "SELECT n.nspname || '.' || c.relname FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind = 'S'",
    )
    .fetch_all(&admin)
    .await
    .expect("list sequences");
    let tables: Vec<&str> = MATRIX
        .iter()
        .map(|(table, _)| *table)
        .filter(|table| !sequences.iter().any(|sequence| sequence == table))
        .collect();
    let mut failures = Vec::new();
    for role in ServiceRole::ALL {
        let pool = test_db.pool_as(role).await;
        for table in &tables {
            for privilege in [Select, Insert, Update, Delete] {
                let statement = statement_for(&admin, table, privilege).await;
                let mut tx = pool.begin().await.expect("begin");
                let outcome = sqlx::raw_sql(AssertSqlSafe(statement.clone()))
                    .execute(&mut *tx)
                    .await;
                tx.rollback().await.ok();
                // Row-level security shares the SQLSTATE; only the privilege check says
                // "permission denied".
                let denied = matches!(
                    &outcome,
                    Err(sqlx::Error::Database(err)) if err.code().as_deref() == Some("42501")
                        && err.message().starts_with("permission denied")
                );
                // A view that joins tables cannot be written at all, whoever asks (the rewriter
                // refuses before any permission check): as good as denied.
                let impossible = matches!(
                    &outcome,
                    Err(sqlx::Error::Database(err)) if err.code().as_deref() == Some("55000")
                        && err.message().starts_with("cannot ")
                        && err.message().contains(" view ")
                );
                let denied = denied || impossible;
                // Any other error (a NOT NULL violation from DEFAULT VALUES, say) means the
                // permission check passed.
                let should_be_allowed = expected(table, role).contains(&privilege);
                if denied == should_be_allowed {
                    failures.push(format!(
                        "{}: `{statement}` was {} ({outcome:?})",
                        role.role_name(),
                        if denied { "denied" } else { "allowed" }
                    ));
                }
            }
        }
        pool.close().await;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn roles_use_only_their_own_schemas_and_create_nothing() {
    let test_db = TestDb::new().await;
    let admin = test_db.admin_pool().await;
    let schemas: Vec<String> = sqlx::query_scalar(
        "SELECT nspname::text FROM pg_namespace
         WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema' ORDER BY 1",
    )
    .fetch_all(&admin)
    .await
    .expect("list schemas");
    for role in ServiceRole::ALL {
        for schema in &schemas {
            let (usage, create): (bool, bool) = sqlx::query_as(
                "SELECT has_schema_privilege($1, $2, 'USAGE'), has_schema_privilege($1, $2, 'CREATE')",
            )
            .bind(role.role_name())
            .bind(schema)
            .fetch_one(&admin)
            .await
            .expect("schema privileges");
            let should_use = usable_schemas(role).contains(&schema.as_str());
            assert_eq!(
                usage,
                should_use,
                "{} USAGE on schema {schema}",
                role.role_name()
            );
            assert!(
                !create,
                "{} must not CREATE in schema {schema}",
                role.role_name()
            );
        }

        for function in [
            "pgq.create_queue(text, text, text, text[])",
            "pgq.create_periodic_jobs(text, text)",
            "pgq.create_wakeup_trigger(text, text)",
            "pgq.create_queue_tables(text, text, text, text[])",
            "pgq.create_queue_state(text, text)",
            "pgq.upgrade_queue(text, text, text)",
        ] {
            let may_execute: bool =
                sqlx::query_scalar("SELECT has_function_privilege($1, $2, 'EXECUTE')")
                    .bind(role.role_name())
                    .bind(function)
                    .fetch_one(&admin)
                    .await
                    .expect("function privilege");
            assert!(
                !may_execute,
                "{} must not create queues ({function})",
                role.role_name()
            );
        }

        let pool = test_db.pool_as(role).await;
        let temp = sqlx::query("CREATE TEMPORARY TABLE scratch (id int)")
            .execute(&pool)
            .await;
        assert!(
            matches!(&temp, Err(sqlx::Error::Database(err)) if err.code().as_deref() == Some("42501")),
            "{} must not create temporary tables: {temp:?}",
            role.role_name()
        );
        // Under the roles lock: a provisioning test may be narrowing a role it widened.
        let lock = test_db.lock_roles().await;
        let attributes: (bool, bool, bool, bool) = sqlx::query_as(
            "SELECT rolsuper, rolcreatedb, rolcreaterole, rolbypassrls FROM pg_roles WHERE rolname = current_user",
        )
        .fetch_one(&pool)
        .await
        .expect("role attributes");
        lock.release().await;
        assert_eq!(
            attributes,
            (false, false, false, false),
            "{} is a plain login",
            role.role_name()
        );
        pool.close().await;
    }
}

#[tokio::test]
async fn matchmaking_sees_and_writes_only_queue_bans_among_member_restrictions() {
    let test_db = TestDb::new().await;
    let core = test_db.pool_as(CoreEvents).await;
    sqlx::query(
        "INSERT INTO core.member_restrictions (user_id, organization_id, type, reason, expiration)
         VALUES (1, 1, 'RATIFICATION_BAN', 'core wrote it', now() + interval '1 day'),
                (1, 1, 'QUEUE_BAN', 'core wrote it', now() + interval '1 day')",
    )
    .execute(&core)
    .await
    .expect("core writes any restriction");

    let matchmaking = test_db.pool_as(Matchmaking).await;
    let visible: Vec<String> = sqlx::query_scalar("SELECT type FROM core.member_restrictions")
        .fetch_all(&matchmaking)
        .await
        .expect("matchmaking reads");
    assert_eq!(visible, ["QUEUE_BAN"]);
    sqlx::query(
        "INSERT INTO core.member_restrictions (user_id, organization_id, type, reason, expiration)
         VALUES (2, 1, 'QUEUE_BAN', 'missed check-in', now() + interval '1 day')",
    )
    .execute(&matchmaking)
    .await
    .expect("matchmaking writes a queue ban");
    for (what, statement) in [
        (
            "another type",
            "INSERT INTO core.member_restrictions (user_id, organization_id, type, reason, expiration)
             VALUES (2, 1, 'RATIFICATION_BAN', 'not its business', now() + interval '1 day')",
        ),
        (
            "a ban already lifted",
            "INSERT INTO core.member_restrictions (user_id, organization_id, type, reason, expiration,
                 manually_expired_at, manual_expiration_reason, forgiven)
             VALUES (2, 1, 'QUEUE_BAN', 'missed check-in', now() + interval '1 day', now(), 'x', true)",
        ),
    ] {
        let refused = sqlx::query(statement)
            .execute(&matchmaking)
            .await
            .expect_err(what);
        assert!(
            refused.to_string().contains("row-level security"),
            "{what}: {refused}"
        );
    }
    let without_organization = sqlx::query(
        "INSERT INTO core.member_restrictions (user_id, type, reason, expiration)
         VALUES (3, 'QUEUE_BAN', 'missed check-in', now() + interval '1 day')",
    )
    .execute(&matchmaking)
    .await
    .expect_err("a new restriction belongs to an organization");
    assert!(
        without_organization
            .to_string()
            .contains("restrictions_belong_to_an_organization"),
        "{without_organization}"
    );
}
