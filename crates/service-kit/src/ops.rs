//! Operational endpoints: liveness, readiness, metrics.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::json;
use sqlx::PgPool;

/// How long `/readyz` waits for the database before calling it unreachable.
const READINESS_QUERY_TIMEOUT: Duration = Duration::from_secs(2);
/// How long a scrape waits for the queue statistics; past it the gauges keep their last values,
/// so a slow database never makes `/metrics` itself time out.
const QUEUE_STATS_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Clone)]
pub(crate) struct OpsState {
    pub(crate) service: &'static str,
    /// The schema whose queues this service consumes (and may read the statistics of).
    pub(crate) schema: &'static str,
    pub(crate) pool: PgPool,
    pub(crate) draining: Arc<AtomicBool>,
}

pub(crate) fn router(state: OpsState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// Liveness: the process is up and its runtime answers. Deliberately does not touch the
/// database, so a database outage does not get every replica restarted.
async fn healthz() -> impl IntoResponse {
    axum::Json(json!({ "status": "ok" }))
}

/// Readiness: send traffic here only if the database answers and we are not shutting down.
async fn readyz(State(state): State<OpsState>) -> impl IntoResponse {
    if state.draining.load(Ordering::SeqCst) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({ "status": "draining" })),
        );
    }
    let ping = sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(&state.pool);
    match tokio::time::timeout(READINESS_QUERY_TIMEOUT, ping).await {
        Ok(Ok(_)) => (StatusCode::OK, axum::Json(json!({ "status": "ready" }))),
        Ok(Err(err)) => {
            tracing::warn!(error = %err, "readiness: database query failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(json!({ "status": "database unavailable" })),
            )
        }
        Err(_) => {
            tracing::warn!("readiness: database did not answer in time");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(json!({ "status": "database unavailable" })),
            )
        }
    }
}

async fn metrics(State(state): State<OpsState>) -> impl IntoResponse {
    // Pool gauges are sampled at scrape time: cheap, and always current.
    let labels = [("service", state.service)];
    let idle = state.pool.num_idle();
    let total = state.pool.size() as usize;
    metrics::gauge!(
        "db_pool_connections",
        &[("service", state.service), ("state", "idle")]
    )
    .set(idle as f64);
    metrics::gauge!(
        "db_pool_connections",
        &[("service", state.service), ("state", "in_use")]
    )
    .set(total.saturating_sub(idle) as f64);
    metrics::gauge!("service_draining", &labels).set(if state.draining.load(Ordering::SeqCst) {
        1.0
    } else {
        0.0
    });
    if tokio::time::timeout(
        QUEUE_STATS_TIMEOUT,
        record_queue_gauges(&state.pool, state.schema),
    )
    .await
    .is_err()
    {
        tracing::warn!("metrics: queue statistics did not arrive in time");
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        crate::metrics::handle().render(),
    )
}

/// Samples the statistics of every queue in `schema` into the `pgq_queue_*` gauges. Sampled at
/// scrape time, like the pool: the scraper's interval sets the cost, and the numbers are current.
async fn record_queue_gauges(pool: &PgPool, schema: &str) {
    let tables = match pg_queue::discover(pool, schema).await {
        Ok(tables) => tables,
        Err(err) => {
            tracing::warn!(error = %err, "metrics: listing the queues failed");
            return;
        }
    };
    for table in tables {
        match pg_queue::stats(pool, table).await {
            Ok(stats) => pg_queue::record_gauges(table, &stats),
            Err(err) => {
                tracing::warn!(error = %err, queue = %table.qualified(), "metrics: queue statistics failed")
            }
        }
    }
}
