//! Helpers for tests that run a whole service against a test database.

use std::net::{IpAddr, Ipv4Addr};

use axum::Router;
use db::ServiceRole;
use test_db::TestDb;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::access::AccessConfig;
use crate::{
    App, HttpConfig, LogConfig, LogFormat, ServiceConfig, ServiceContext, ServiceSpec,
    ShutdownConfig,
};

/// The caller name, caller token and admin token that [`test_config`] configures.
pub const TEST_CALLER: &str = "gateway";
pub const TEST_CALLER_TOKEN: &str = "test-caller-token";
pub const TEST_ADMIN_TOKEN: &str = "test-admin-token";

/// A configuration that logs in to `test_db` as `role` and listens on a free local port.
pub fn test_config<S>(test_db: &TestDb, role: ServiceRole, settings: S) -> ServiceConfig<S> {
    ServiceConfig {
        http: HttpConfig {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
        },
        database: test_db.config_as(role),
        log: LogConfig {
            format: LogFormat::Pretty,
            filter: "warn".into(),
        },
        shutdown: ShutdownConfig {
            drain_delay_ms: 0,
            grace_period_ms: 5_000,
        },
        access: AccessConfig::new(TEST_CALLER, TEST_CALLER_TOKEN, TEST_ADMIN_TOKEN),
        service: settings,
    }
}

/// A service running in the background of a test, stopped by [`RunningApp::stop`].
#[derive(Debug)]
pub struct RunningApp {
    pub base_url: String,
    pub pool: sqlx::PgPool,
    stop: oneshot::Sender<()>,
    task: JoinHandle<anyhow::Result<()>>,
}

impl RunningApp {
    /// Builds `App` from `config` and serves it on a background task.
    pub async fn start<S>(
        spec: ServiceSpec,
        config: ServiceConfig<S>,
        routes: impl FnOnce(ServiceContext<S>) -> Router,
    ) -> anyhow::Result<Self> {
        let app = App::build(spec, config, routes).await?;
        let base_url = format!("http://{}", app.address());
        let pool = app.pool().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run_until(async {
            let _ = stopped.await;
        }));
        Ok(Self {
            base_url,
            pool,
            stop,
            task,
        })
    }

    /// Sends the stop signal and waits for the service to finish shutting down.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.task.await?
    }

    /// Sends the stop signal without waiting, returning the task to await later.
    pub fn begin_stop(self) -> JoinHandle<anyhow::Result<()>> {
        let _ = self.stop.send(());
        self.task
    }
}

/// Boots `spec` against a fresh test database and checks what every service promises: it logs in
/// as its own role (visible in `pg_stat_activity`), answers `/healthz`, `/readyz` and `/metrics`,
/// and stops cleanly.
pub async fn assert_boots_as_own_role<S: Default>(
    spec: ServiceSpec,
    routes: impl FnOnce(ServiceContext<S>) -> Router,
) {
    let test_db = TestDb::new().await;
    let config = test_config(&test_db, spec.role, S::default());
    let app = RunningApp::start(spec, config, routes)
        .await
        .expect("the service starts");
    let client = reqwest::Client::new();

    for (path, expected) in [("/healthz", 200), ("/readyz", 200), ("/metrics", 200)] {
        let response = client
            .get(format!("{}{path}", app.base_url))
            .send()
            .await
            .expect("request");
        assert_eq!(response.status().as_u16(), expected, "GET {path}");
    }
    let metrics = client
        .get(format!("{}/metrics", app.base_url))
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .expect("metrics")
        .text()
        .await
        .expect("metrics body");
    assert!(
        metrics.contains("http_requests_total") && metrics.contains(r#"route="/readyz""#),
        "request metrics are exported:\n{metrics}"
    );

    let admin = test_db.admin_pool().await;
    let sessions: Vec<String> = sqlx::query_scalar(
        "SELECT usename::text FROM pg_stat_activity WHERE datname = $1 AND application_name = $2",
    )
    .bind(test_db.name())
    .bind(spec.name)
    .fetch_all(&admin)
    .await
    .expect("read pg_stat_activity");
    assert!(!sessions.is_empty(), "the service holds a database session");
    assert!(
        sessions.iter().all(|user| user == spec.role.role_name()),
        "every session of {} is logged in as {}: {sessions:?}",
        spec.name,
        spec.role.role_name()
    );
    admin.close().await;

    app.stop().await.expect("the service stops cleanly");
}
