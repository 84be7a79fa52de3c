//! The shared service runtime against a real database.

use axum::Router;
use db::ServiceRole;
use service_kit::testing::{RunningApp, test_config};
use service_kit::{App, NoSettings, ServiceSpec};
use test_db::TestDb;

const SPEC: ServiceSpec = ServiceSpec {
    name: "kit-test",
    env_prefix: "KIT_TEST_",
    role: ServiceRole::Matchmaking,
    default_port: 0,
};

fn no_routes(_: service_kit::ServiceContext<NoSettings>) -> Router {
    Router::new()
}

async fn get(url: &str) -> reqwest::StatusCode {
    reqwest::get(url).await.expect("request").status()
}

#[tokio::test]
async fn a_service_refuses_to_start_on_an_unmigrated_database() {
    let test_db = TestDb::empty().await;
    let config = test_config(&test_db, ServiceRole::Matchmaking, NoSettings {});
    let err = App::build(SPEC, config, no_routes)
        .await
        .expect_err("must refuse");
    assert!(format!("{err:#}").contains("not migrated"), "{err:#}");
}

#[tokio::test]
async fn a_failed_login_stops_start_up_naming_the_role_but_never_the_password() {
    let test_db = TestDb::new().await;
    let mut config = test_config(&test_db, ServiceRole::Matchmaking, NoSettings {});
    // The test server may trust local logins, so fail on the role rather than the password.
    config.database.user = "no_such_role".to_owned();
    config.database.password = "not-the-password".to_owned().into();
    let err = App::build(SPEC, config, no_routes)
        .await
        .expect_err("must refuse");
    let message = format!("{err:#}");
    assert!(message.contains("as no_such_role"), "{message}");
    assert!(!message.contains("not-the-password"), "{message}");
}

#[tokio::test]
async fn readiness_turns_503_when_the_database_is_unreachable_while_liveness_stays_200() {
    let test_db = TestDb::new().await;
    let config = test_config(&test_db, ServiceRole::Matchmaking, NoSettings {});
    let app = RunningApp::start(SPEC, config, no_routes)
        .await
        .expect("start");
    assert_eq!(get(&format!("{}/readyz", app.base_url)).await, 200);

    // Cut the service off from its database: every pooled connection is gone and new ones fail.
    app.pool.close().await;
    assert_eq!(get(&format!("{}/readyz", app.base_url)).await, 503);
    assert_eq!(get(&format!("{}/healthz", app.base_url)).await, 200);
    app.stop().await.expect("stop");
}

#[tokio::test]
async fn readiness_turns_503_while_draining_and_the_service_then_stops() {
    let test_db = TestDb::new().await;
    let mut config = test_config(&test_db, ServiceRole::Matchmaking, NoSettings {});
    // Long enough that the drain cannot end before we look; the test does not wait for it
    // except through the final join.
    config.shutdown.drain_delay_ms = 1_500;
    let app = RunningApp::start(SPEC, config, no_routes)
        .await
        .expect("start");
    let base_url = app.base_url.clone();
    let client = reqwest::Client::new();
    assert_eq!(
        client
            .get(format!("{base_url}/readyz"))
            .send()
            .await
            .expect("ready")
            .status(),
        200
    );
    let stopped = app.begin_stop();

    // The stop signal is delivered asynchronously: poll (bounded) until readiness reflects it.
    let mut status = 200;
    for _ in 0..200 {
        status = client
            .get(format!("{base_url}/readyz"))
            .send()
            .await
            .expect("still serving while draining")
            .status()
            .as_u16();
        if status != 200 {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(status, 503, "readiness reports draining");
    stopped.await.expect("join").expect("clean stop");
    assert!(
        client
            .get(format!("{base_url}/healthz"))
            .send()
            .await
            .is_err(),
        "the listener is closed after shutdown"
    );
}

#[tokio::test]
async fn metrics_report_requests_by_route_template_the_pool_and_the_queues() {
    let test_db = TestDb::new().await;
    // A queue in the service's own schema, with two messages waiting.
    let owner = test_db.owner_pool().await;
    sqlx::query(
        "SELECT pgq.create_queue('matchmaking', 'metrics_probe', 'matchmaking', ARRAY[]::text[])",
    )
    .execute(&owner)
    .await
    .expect("create queue");
    sqlx::query("INSERT INTO matchmaking.metrics_probe (payload) VALUES ('{}'), ('{}')")
        .execute(&owner)
        .await
        .expect("enqueue");
    let config = test_config(&test_db, ServiceRole::Matchmaking, NoSettings {});
    let app = RunningApp::start(SPEC, config, no_routes)
        .await
        .expect("start");
    assert_eq!(get(&format!("{}/no-such-page", app.base_url)).await, 404);
    let body = reqwest::get(format!("{}/metrics", app.base_url))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("body");
    assert!(body.contains(r#"route="unmatched""#), "{body}");
    assert!(body.contains("db_pool_connections"), "{body}");
    assert!(body.contains("http_request_duration_seconds"), "{body}");
    assert!(
        body.contains(r#"pgq_queue_ready{queue="matchmaking.metrics_probe"} 2"#),
        "{body}"
    );
    app.stop().await.expect("stop");
}

/// Background work that holds every connection of the workers' pool (as busy queue workers
/// would), until the test ends.
fn workers_hold_every_connection(context: service_kit::ServiceContext<NoSettings>) -> Router {
    let pool = context.workers_pool.clone();
    context
        .background
        .spawn("busy workers", move |stop| async move {
            let mut held = Vec::new();
            for _ in 0..pool.options().get_max_connections() {
                held.push(pool.acquire().await.expect("a worker connection"));
            }
            stop.cancelled().await;
            drop(held);
        });
    Router::new()
}

#[tokio::test]
async fn workers_that_take_every_connection_of_theirs_leave_requests_theirs() {
    let test_db = TestDb::new().await;
    let mut config = test_config(&test_db, ServiceRole::Matchmaking, NoSettings {});
    config.database.pool.max_connections = 2;
    config.database.pool.worker_max_connections = 3;
    let app = RunningApp::start(SPEC, config, workers_hold_every_connection)
        .await
        .expect("start");
    // Wait (bounded) until the workers hold their three connections.
    let admin = test_db.admin_pool().await;
    for _ in 0..600 {
        let held: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity
             WHERE datname = current_database() AND application_name = 'kit-test-workers'",
        )
        .fetch_one(&admin)
        .await
        .expect("count");
        if held == 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    for _ in 0..3 {
        assert_eq!(get(&format!("{}/readyz", app.base_url)).await, 200);
    }
    app.stop().await.expect("stop");
}

#[tokio::test]
async fn service_sessions_end_a_transaction_left_idle() {
    let test_db = TestDb::new().await;
    let config = test_config(&test_db, ServiceRole::Matchmaking, NoSettings {});
    let pool = db::connect(&config.database, "kit-test")
        .await
        .expect("pool");
    let timeout: String = sqlx::query_scalar("SHOW idle_in_transaction_session_timeout")
        .fetch_one(&pool)
        .await
        .expect("show");
    assert_eq!(timeout, "1min");
}
