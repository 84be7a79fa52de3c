//! Building and running a service's HTTP application.

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use axum::Router;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tower_http::trace::TraceLayer;

use crate::access::AccessConfig;
use crate::background::Background;
use crate::ops::{self, OpsState};
use crate::{ServiceConfig, ServiceSpec, ShutdownConfig};

/// What a service's routes and workers are built from.
#[derive(Debug, Clone)]
pub struct ServiceContext<S> {
    pub spec: ServiceSpec,
    /// Pool logged in as the service's own role, for requests.
    pub pool: PgPool,
    /// The queue workers' own pool (same role, `database.pool.worker_max_connections`,
    /// connected lazily): workers that take every connection of theirs leave `pool` alone.
    pub workers_pool: PgPool,
    /// The service's own settings (the `service` section of its configuration).
    pub settings: Arc<S>,
    /// Where queue workers and periodic jobs are started; they stop with the service.
    pub background: Background,
    /// Who may call the service's routes (see [`crate::access`]).
    pub access: Arc<AccessConfig>,
}

/// A service, connected and bound, ready to serve.
#[derive(Debug)]
pub struct App {
    spec: ServiceSpec,
    listener: TcpListener,
    address: SocketAddr,
    router: Router,
    pool: PgPool,
    draining: Arc<AtomicBool>,
    shutdown: ShutdownConfig,
    background: Background,
}

impl App {
    /// Connects as the service's role, checks the schema, binds the listener, and assembles the
    /// router from the service's `routes` plus the operational endpoints.
    pub async fn build<S>(
        spec: ServiceSpec,
        config: ServiceConfig<S>,
        routes: impl FnOnce(ServiceContext<S>) -> Router,
    ) -> anyhow::Result<Self> {
        let pool = db::connect(&config.database, spec.name)
            .await
            .with_context(|| {
                format!(
                    "connecting to database {:?} at {}:{} as {}",
                    config.database.name,
                    config.database.host,
                    config.database.port,
                    config.database.user
                )
            })?;
        db::verify_migrated(&pool)
            .await
            .context("checking that the database schema is migrated")?;

        let listener = TcpListener::bind((config.http.host, config.http.port))
            .await
            .with_context(|| format!("binding {}:{}", config.http.host, config.http.port))?;
        let address = listener.local_addr()?;

        let draining = Arc::new(AtomicBool::new(false));
        let background = Background::default();
        let context = ServiceContext {
            spec,
            pool: pool.clone(),
            workers_pool: db::connect_workers(&config.database, spec.name),
            settings: Arc::new(config.service),
            background: background.clone(),
            access: Arc::new(config.access),
        };
        let ops = ops::router(OpsState {
            service: spec.name,
            schema: spec.role.schema(),
            pool: pool.clone(),
            draining: draining.clone(),
        });
        let router = routes(context)
            .merge(ops)
            .layer(axum::middleware::from_fn(crate::metrics::track_http))
            .layer(TraceLayer::new_for_http());
        // Make sure the recorder exists before the first request is counted.
        crate::metrics::handle();
        metrics::gauge!(
            "service_info",
            &[
                ("service", spec.name),
                ("version", env!("CARGO_PKG_VERSION"))
            ]
        )
        .set(1.0);

        Ok(Self {
            spec,
            listener,
            address,
            router,
            pool,
            draining,
            shutdown: config.shutdown,
            background,
        })
    }

    /// The address the listener is bound to (useful with port 0).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The service's pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The full router, for tests that call it without a socket.
    pub fn router(&self) -> Router {
        self.router.clone()
    }

    /// Serves until `stop` resolves, then drains: readiness answers 503 for
    /// `shutdown.drain_delay`, the listener closes, and in-flight requests get
    /// `shutdown.grace_period` to finish before they are dropped.
    pub async fn run_until(
        self,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Self {
            spec,
            listener,
            address,
            router,
            pool,
            draining,
            shutdown,
            background,
        } = self;
        tracing::info!(service = spec.name, %address, "listening");

        let listener_closing = Arc::new(Notify::new());
        let graceful = {
            let listener_closing = listener_closing.clone();
            let drain_delay = shutdown.drain_delay();
            let background = background.clone();
            async move {
                stop.await;
                draining.store(true, Ordering::SeqCst);
                // Workers stop claiming now; their in-flight messages finish within the
                // workers' own deadline (and are released for another replica after it).
                background.stop();
                tracing::info!(service = spec.name, ?drain_delay, "draining");
                tokio::time::sleep(drain_delay).await;
                listener_closing.notify_one();
            }
        };
        let server = axum::serve(listener, router)
            .with_graceful_shutdown(graceful)
            .into_future();
        let grace_expired = async {
            listener_closing.notified().await;
            tokio::time::sleep(shutdown.grace_period()).await;
        };
        tokio::select! {
            served = server => served.context("serving HTTP")?,
            () = grace_expired => {
                tracing::warn!(service = spec.name, "grace period over; dropping unfinished requests");
            }
        }
        // Also when the server ended without a stop signal (an accept error).
        background.stop();
        background.wait().await;
        pool.close().await;
        tracing::info!(service = spec.name, "stopped");
        Ok(())
    }
}
