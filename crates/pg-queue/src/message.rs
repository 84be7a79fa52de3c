//! Handling one message inside its batch's transaction: decode, run the handler with its time
//! limit and panic guard, then bring the transaction back to a clean state (see `batch.rs` for
//! why each step keeps the message's failure its own).

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::FutureExt;
use sqlx::PgConnection;
use tracing::Instrument;

use crate::batch::Step;
use crate::consume::Claimed;
use crate::handler::LeaseHandle;
use crate::{Handler, HandlerError, MessageContext, Queue, QueueWorker};

/// How long a cancelled handler's connection gets to come back before the batch is given up.
pub(crate) const RECOVERY_TIMEOUT: Duration = Duration::from_secs(5);

/// Checks deferred constraints (inside a savepoint that is then rolled back, so that the
/// transaction's constraint modes are left as they were) and releases the message's savepoint.
const CHECK_AND_RELEASE: &str = "SAVEPOINT pgq_check; SET CONSTRAINTS ALL IMMEDIATE; \
     ROLLBACK TO SAVEPOINT pgq_check; RELEASE SAVEPOINT pgq_message";

impl<Q: Queue, H: Handler<Q>> QueueWorker<Q, H> {
    /// Runs the handler for one message inside the batch transaction, and brings the
    /// transaction back to a clean state for the next message.
    pub(crate) async fn handle_one(
        &self,
        conn: &mut PgConnection,
        message: Claimed,
        pid: i32,
        claimed_at: Instant,
    ) -> Step {
        let span = tracing::info_span!(
            "pgq.message",
            queue = %self.label,
            message.id = message.id,
            message.attempt = message.attempt,
        );
        // Due → start, in the clock's frame: the claim's time plus the time since the claim.
        let lag = (message.claimed_at - message.ready_at)
            .to_std()
            .unwrap_or(Duration::ZERO)
            + claimed_at.elapsed();
        metrics::histogram!("pgq_message_lag_seconds", "queue" => self.label.clone())
            .record(lag.as_secs_f64());
        let started = Instant::now();
        let deadline = Arc::new(Mutex::new(started + self.options.handler_timeout));
        let lease = LeaseHandle {
            pool: self.pool.clone(),
            table: Q::TABLE,
            clock: self.clock.clone(),
            deadline: deadline.clone(),
        };
        let mut ctx = MessageContext::new(
            conn,
            lease,
            message.id,
            message.attempt,
            message.enqueued_at,
            message.dedup_key,
        );
        // A timeout or a panic may leave a statement of the handler running on the connection.
        let mut interrupted = false;
        let mut verdict = match serde_json::from_value::<Q>(message.payload) {
            // Retried, not dead-lettered at once: during a rolling deploy the message may come
            // from a newer producer, and the newer consumer can read it.
            Err(error) => Err(HandlerError::retryable(format!(
                "cannot decode message: {error}"
            ))),
            Ok(decoded) => {
                let handled = AssertUnwindSafe(self.handler.handle(&mut ctx, decoded))
                    .catch_unwind()
                    .instrument(span.clone());
                match run_until_deadline(handled, &deadline).await {
                    Some(Ok(verdict)) => verdict,
                    Some(Err(panic)) => {
                        interrupted = true;
                        Err(HandlerError::retryable(format!(
                            "handler panicked: {}",
                            panic_message(&panic)
                        )))
                    }
                    None => {
                        interrupted = true;
                        metrics::counter!("pgq_handler_timeouts_total", "queue" => self.label.clone())
                            .increment(1);
                        Err(HandlerError::retryable(format!(
                            "handler timed out after {:?}",
                            self.options.handler_timeout
                        )))
                    }
                }
            }
        };
        metrics::histogram!("pgq_handler_duration_seconds", "queue" => self.label.clone())
            .record(started.elapsed().as_secs_f64());
        if ctx.used_transaction() {
            let conn = ctx.connection();
            if verdict.is_ok() {
                match sqlx::raw_sql(CHECK_AND_RELEASE).execute(&mut *conn).await {
                    Ok(_) => {}
                    Err(error) if is_connection_error(&error) => {
                        return Step::Lost {
                            error: format!("the batch's connection was lost: {error}"),
                            terminate: false,
                        };
                    }
                    Err(error) => {
                        verdict = Err(HandlerError::retryable(format!(
                            "the handler returned Ok but its transaction failed: {error}"
                        )));
                    }
                }
            }
            if verdict.is_err() {
                if interrupted {
                    self.signal_backend("pg_cancel_backend", pid).await;
                }
                if let Err((error, connection_lost)) = rollback_to_savepoint(conn).await {
                    return Step::Lost {
                        error: format!(
                            "{}; then its transaction could not be brought back: {error}",
                            verdict.err().map(|e| e.to_string()).unwrap_or_default()
                        ),
                        // A session that may still be alive must not keep the batch's rows.
                        terminate: !connection_lost,
                    };
                }
            }
        }
        if let Err(error) = &verdict {
            span.in_scope(|| tracing::warn!(error = %error, "message handler failed"));
        }
        Step::Verdict(verdict)
    }
}

/// Runs `future` until it finishes or the (movable) deadline passes.
async fn run_until_deadline<F: Future>(future: F, deadline: &Mutex<Instant>) -> Option<F::Output> {
    let read = || {
        *deadline
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    };
    tokio::pin!(future);
    loop {
        let until = read();
        tokio::select! {
            output = &mut future => return Some(output),
            () = tokio::time::sleep_until(until.into()) => {
                if Instant::now() >= read() {
                    return None;
                }
            }
        }
    }
}

/// Rolls the message's work back. A cancel aimed at a statement that had already ended may hit
/// the rollback itself, so a cancelled rollback is tried once more. The error says whether the
/// session is known to be gone.
async fn rollback_to_savepoint(conn: &mut PgConnection) -> Result<(), (String, bool)> {
    let attempt = async {
        for _ in 0..2 {
            match sqlx::query("ROLLBACK TO SAVEPOINT pgq_message")
                .execute(&mut *conn)
                .await
            {
                Ok(_) => return Ok(()),
                Err(sqlx::Error::Database(error)) if error.code().as_deref() == Some("57014") => {}
                Err(error) => return Err((error.to_string(), is_connection_error(&error))),
            }
        }
        Err(("the rollback was cancelled twice".to_owned(), false))
    };
    match tokio::time::timeout(RECOVERY_TIMEOUT, attempt).await {
        Ok(result) => result,
        Err(_) => Err((format!("no answer within {RECOVERY_TIMEOUT:?}"), false)),
    }
}

/// Whether `error` means the session is gone (as opposed to a statement that failed in it).
fn is_connection_error(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(error) => error
            .code()
            .is_some_and(|code| code.starts_with("08") || code.starts_with("57P")),
        _ => true,
    }
}

pub(crate) fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic".to_owned())
}
