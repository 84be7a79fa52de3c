//! Finalization of `submission.ratified` (DOMAIN §3): the ratified results of a scrim, LFS or
//! league match become saved rows, once.
//!
//! Contract: everything happens in the message's transaction. Finalizations of one submission
//! are serialised by a transaction-scoped advisory lock, the save is skipped when a match is
//! already saved under the submission id, and `matches.submission_id` is unique, so a redelivered
//! event, a duplicated one, or two workers racing save one match. The save runs in a savepoint:
//! if it fails, nothing of it remains, and the failure is published with a support reference
//! (logged with the cause) so that submission can reject the submission. A failure that may pass
//! (a lost connection, a deadlock) is retried first; the failure is published only once retries
//! are spent.

mod eligibility;
mod save;

use domain::events::SaveFailed;
use domain::results::{SubmissionRatified, SubmissionType};
use pg_queue::{HandlerError, MessageContext, RetryPolicy};
use sqlx::{Acquire, PgConnection};
use uuid::Uuid;

use crate::events;

/// Why results could not be saved.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    /// The event cannot be saved as it is (it names a player of another organization, a league
    /// match that does not exist...): retrying cannot help.
    #[error("{0}")]
    Invalid(String),
    /// A failure that may pass (connection, deadlock, serialisation).
    #[error("{0:#}")]
    Transient(anyhow::Error),
}

impl From<sqlx::Error> for SaveError {
    fn from(error: sqlx::Error) -> Self {
        let transient = match &error {
            // Integrity, data and raised errors describe the data; permission errors a
            // deployment that retries will not fix. Only these classes may pass by themselves:
            // 40 (serialisation, deadlock), 53 (resources), 57 (shutdown, cancel), 08
            // (connection), 55P03 (lock timeout).
            sqlx::Error::Database(db) => db.code().is_some_and(|code| {
                ["40", "53", "57", "08"]
                    .iter()
                    .any(|class| code.starts_with(class))
                    || code == "55P03"
            }),
            // The connection, not the data.
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => true,
            // A row that is not there, a value that does not decode: the data again.
            _ => false,
        };
        if transient {
            SaveError::Transient(anyhow::Error::new(error))
        } else {
            let message = match &error {
                sqlx::Error::Database(db) => match db.constraint() {
                    Some(constraint) => format!("{} ({constraint})", db.message()),
                    None => db.message().to_owned(),
                },
                other => other.to_string(),
            };
            SaveError::Invalid(message)
        }
    }
}

impl From<pg_queue::Error> for SaveError {
    fn from(error: pg_queue::Error) -> Self {
        match error {
            pg_queue::Error::Database(db) => db.into(),
            other => SaveError::Invalid(other.to_string()),
        }
    }
}

/// What finalization did with one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Saved now: the new match's id.
    Saved(i64),
    /// A match was already saved under this submission id: nothing was written.
    AlreadySaved,
    /// Could not be saved; the failure was published with this support reference.
    Failed(Uuid),
}

/// The handler of `core.ratified_submissions`.
pub async fn handle(
    ctx: &mut MessageContext<'_>,
    event: &SubmissionRatified,
    retry: RetryPolicy,
) -> Result<Outcome, HandlerError> {
    let attempt = ctx.attempt;
    let conn = ctx.tx().await?;
    match finalize(conn, event).await {
        Ok(outcome) => Ok(outcome),
        Err(SaveError::Transient(cause)) if retry.allows_another(attempt) => {
            Err(HandlerError::retryable(cause.into_boxed_dyn_error()))
        }
        Err(error) => {
            let reference = Uuid::new_v4();
            tracing::error!(
                support.reference = %reference,
                submission.id = %event.submission_id,
                error = %error,
                "could not save ratified results; publishing the failure"
            );
            let failed = SaveFailed {
                submission_id: event.submission_id.clone(),
                scrim_id: event.scrim.as_ref().map(|scrim| scrim.id),
                match_id: event.match_id,
                support_reference: reference,
            };
            events::save_failed(conn, &failed)
                .await
                .map_err(|err| HandlerError::retryable(Box::new(err)))?;
            Ok(Outcome::Failed(reference))
        }
    }
}

/// Saves `event` once, in a savepoint of the caller's transaction.
pub async fn finalize(
    conn: &mut PgConnection,
    event: &SubmissionRatified,
) -> Result<Outcome, SaveError> {
    // Racing finalizations of one submission wait here for each other; the first one's commit
    // makes the others find its match below.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(format!("finalize:{}", event.submission_id))
        .execute(&mut *conn)
        .await?;
    let saved: Option<i64> =
        sqlx::query_scalar("SELECT id FROM core.matches WHERE submission_id = $1")
            .bind(&event.submission_id)
            .fetch_optional(&mut *conn)
            .await?;
    if saved.is_some() {
        return Ok(Outcome::AlreadySaved);
    }
    check_shape(event)?;
    let mut savepoint = conn.begin().await?;
    match save::save(&mut savepoint, event).await {
        Ok(Some(match_id)) => {
            savepoint.commit().await?;
            Ok(Outcome::Saved(match_id))
        }
        Ok(None) => {
            savepoint.rollback().await?;
            Ok(Outcome::AlreadySaved)
        }
        Err(error) => {
            savepoint.rollback().await?;
            Err(error)
        }
    }
}

/// What the event must be before anything is written.
fn check_shape(event: &SubmissionRatified) -> Result<(), SaveError> {
    let invalid = |message: String| Err(SaveError::Invalid(message));
    let by_prefix = SubmissionType::of_submission_id(&event.submission_id);
    if by_prefix != Some(event.submission_type) {
        return invalid(format!(
            "submission {} is not of type {:?}",
            event.submission_id, event.submission_type
        ));
    }
    if event.games.is_empty() || event.games.len() > 16 {
        return invalid(format!("{} games: 1 to 16 are saved", event.games.len()));
    }
    if let Some((index, _)) = event
        .games
        .iter()
        .enumerate()
        .find(|(_, g)| g.teams.len() != 2)
    {
        return invalid(format!("game {} does not have two sides", index + 1));
    }
    match event.submission_type {
        SubmissionType::Scrim | SubmissionType::Lfs => match &event.scrim {
            None => invalid("a scrim's results need the scrim".to_owned()),
            Some(scrim)
                if (
                    scrim.organization_id,
                    scrim.skill_group_id,
                    scrim.game_mode_id,
                ) != (
                    event.organization_id,
                    event.skill_group_id,
                    event.game_mode_id,
                ) =>
            {
                invalid(
                    "the scrim's organization, skill group or game mode differs from the event's"
                        .to_owned(),
                )
            }
            Some(scrim) if scrim.submission_id.as_deref() != Some(event.submission_id.as_str()) => {
                invalid(format!("scrim {} has another submission", scrim.id))
            }
            Some(_) => Ok(()),
        },
        SubmissionType::Match if event.match_id.is_none() => {
            invalid("a league match's results need the match id".to_owned())
        }
        SubmissionType::Match => Ok(()),
    }?;
    if !event.is_test() {
        let unresolved = event.games.iter().enumerate().find(|(_, game)| {
            game.teams
                .iter()
                .any(|team| team.players.iter().any(|player| player.player_id.is_none()))
        });
        if let Some((index, _)) = unresolved {
            return invalid(format!(
                "game {} has a player that is not resolved to a league player",
                index + 1
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lost_connection_may_pass_but_missing_data_will_not() {
        assert!(matches!(
            SaveError::from(sqlx::Error::PoolTimedOut),
            SaveError::Transient(_)
        ));
        assert!(matches!(
            SaveError::from(sqlx::Error::RowNotFound),
            SaveError::Invalid(_)
        ));
    }
}
