//! LISTEN/NOTIFY wake-ups on one dedicated connection.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::QueueTable;

/// How a queue's slots are woken.
#[derive(Debug, Clone)]
pub(crate) struct Wake {
    pub notify: Arc<Notify>,
    /// The longest a slot of the queue sleeps before it reads the next due time by itself.
    pub poll_interval: Duration,
}

/// Slack for a notification's rounded-up delay and for the producer's transaction, which may
/// commit a little after the trigger measured the delay.
const WAKE_MARGIN: Duration = Duration::from_secs(1);

impl Wake {
    /// Whether a notification needs the slots woken. Its payload is empty when a new message is
    /// due at once, and otherwise the whole seconds until the earliest new message is due (see
    /// `pgq.notify_enqueued`). A message due after the poll interval is found in time by the
    /// slots' own next look, so waking them for it would only cost an empty claim.
    pub fn wanted_for(&self, payload: &str) -> bool {
        match payload.parse::<u64>() {
            Ok(seconds) => Duration::from_secs(seconds) <= self.poll_interval + WAKE_MARGIN,
            Err(_) => true,
        }
    }
}

/// Wakes the slots of a queue when its table is notified. PostgreSQL drops notifications sent
/// while a listener is disconnected, so after every (re)connection all queues are woken for a
/// catch-up claim; the slots' poll interval covers the time the listener is down.
pub(crate) async fn listen(
    pool: PgPool,
    wakes: HashMap<QueueTable, Wake>,
    stop: CancellationToken,
) {
    let channels: HashMap<String, Wake> = wakes
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
            wake.notify.notify_waiters();
        }
        metrics::counter!("pgq_listener_connects_total").increment(1);

        loop {
            let received = tokio::select! {
                received = listener.try_recv() => received,
                () = stop.cancelled() => return,
            };
            match received {
                Ok(Some(notification)) => {
                    // One slot per notification (one committed producer transaction); a slot
                    // whose claim comes back full wakes the next one itself.
                    if let Some(wake) = channels.get(notification.channel())
                        && wake.wanted_for(notification.payload())
                    {
                        wake.notify.notify_one();
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

#[cfg(test)]
mod tests {
    use super::*;

    fn wake(poll_secs: u64) -> Wake {
        Wake {
            notify: Arc::new(Notify::new()),
            poll_interval: Duration::from_secs(poll_secs),
        }
    }

    #[test]
    fn messages_due_now_or_within_the_poll_interval_wake_the_slots() {
        let wake = wake(5);
        assert!(wake.wanted_for(""));
        assert!(wake.wanted_for("1"));
        assert!(wake.wanted_for("5"));
        assert!(wake.wanted_for("6"), "the margin covers rounding up");
    }

    #[test]
    fn messages_due_after_the_poll_interval_do_not() {
        assert!(!wake(5).wanted_for("7"));
        assert!(!wake(5).wanted_for("3600"));
        assert!(wake(3_600).wanted_for("3600"));
    }

    #[test]
    fn an_unknown_payload_wakes_the_slots() {
        assert!(wake(5).wanted_for("soon"));
        assert!(wake(5).wanted_for("-1"));
    }
}
