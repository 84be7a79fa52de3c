//! LISTEN/NOTIFY wake-ups on one dedicated connection.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::QueueTable;

/// Wakes the slots of a queue when its table is notified. PostgreSQL drops notifications sent
/// while a listener is disconnected, so after every (re)connection all queues are woken for a
/// catch-up claim; the slots' poll interval covers the time the listener is down.
pub(crate) async fn listen(
    pool: PgPool,
    wakes: HashMap<QueueTable, Arc<Notify>>,
    stop: CancellationToken,
) {
    let channels: HashMap<String, Arc<Notify>> = wakes
        .iter()
        .map(|(table, wake)| (table.channel(), wake.clone()))
        .collect();
    let names: Vec<&str> = channels.keys().map(String::as_str).collect();
    let mut retry_delay = Duration::from_millis(100);

    while !stop.is_cancelled() {
        let connected = async {
            let mut listener = PgListener::connect_with(&pool).await?;
            listener.listen_all(names.iter().copied()).await?;
            Ok::<_, sqlx::Error>(listener)
        }
        .await;
        let mut listener = match connected {
            Ok(listener) => listener,
            Err(error) => {
                tracing::warn!(error = %error, "pg-queue listener cannot connect; slots fall back to polling");
                tokio::select! {
                    () = tokio::time::sleep(retry_delay) => {}
                    () = stop.cancelled() => return,
                }
                retry_delay = (retry_delay * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        retry_delay = Duration::from_millis(100);
        // Catch up on whatever was enqueued while we were not listening.
        for wake in channels.values() {
            wake.notify_waiters();
        }
        metrics::counter!("pgq_listener_connects_total").increment(1);

        loop {
            let received = tokio::select! {
                received = listener.try_recv() => received,
                () = stop.cancelled() => return,
            };
            match received {
                Ok(Some(notification)) => {
                    if let Some(wake) = channels.get(notification.channel()) {
                        wake.notify_waiters();
                    }
                }
                // The connection was lost: reconnect explicitly (and catch up) above.
                Ok(None) | Err(_) => {
                    tracing::warn!("pg-queue listener lost its connection; reconnecting");
                    break;
                }
            }
        }
    }
}
