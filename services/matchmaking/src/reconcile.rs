//! The reconciliation sweep (a periodic job, once per period across replicas). A timer that was
//! dead-lettered, or lost any other way, would leave a scrim POPPED or a player queued forever,
//! and those players could join nothing else. The sweep finds every popped scrim and queued
//! player whose timer is missing, or overdue by more than the grace period (workers down, queue
//! paused), and reconciles each in a transaction of its own (`matchmaking.reconcile_check_in`,
//! `matchmaking.reconcile_leave`, migration V7): what is due happens now (the check-in times out
//! with its bans, the player leaves), what is not is armed again.
//!
//! `matchmaking_stranded_timers{kind}` (a gauge) says how many the last sweep found.

use std::time::Duration;

use chrono::{DateTime, Utc};
use pg_queue::{JobResult, PeriodicJob};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::settings::QueueBanPolicy;
use crate::timers::minutes;

/// What one sweep found and did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sweep {
    /// Popped scrims whose check-in timer was missing or overdue.
    pub check_ins: usize,
    /// Queued players whose leave timer was missing or overdue.
    pub leaves: usize,
    /// Of those, how many were due and acted on (timed out, or left).
    pub acted: usize,
    /// Of those, how many had their timer armed again.
    pub rearmed: usize,
}

/// The job: reconcile as of the database's clock (`at = None`) or a test's.
#[derive(Debug, Clone)]
pub struct Reconcile {
    pub policy: QueueBanPolicy,
    pub grace: Duration,
    pub at: Option<DateTime<Utc>>,
}

impl Reconcile {
    /// Runs one sweep.
    pub async fn sweep(&self, conn: &mut PgConnection) -> sqlx::Result<Sweep> {
        let grace = self.grace.as_secs_f64();
        let stranded: Vec<(Uuid, Option<i32>)> = sqlx::query_as(
            "SELECT scrim_id, player_id
             FROM matchmaking.stranded_timers(coalesce($1, now()), make_interval(secs => $2))",
        )
        .bind(self.at)
        .bind(grace)
        .fetch_all(&mut *conn)
        .await?;
        let mut sweep = Sweep::default();
        for (scrim_id, player) in stranded {
            // Each in a transaction of its own: one scrim's lock at a time, as requests take them.
            let outcome: String = match player {
                None => {
                    sweep.check_ins += 1;
                    sqlx::query_scalar(
                        "SELECT matchmaking.reconcile_check_in($1, coalesce($2, now()),
                             make_interval(secs => $3), $4, $5, $6)",
                    )
                    .bind(scrim_id)
                    .bind(self.at)
                    .bind(grace)
                    .bind(minutes(self.policy.initial_minutes))
                    .bind(minutes(self.policy.modifier_minutes))
                    .bind(minutes(self.policy.fall_off_days))
                    .fetch_one(&mut *conn)
                    .await?
                }
                Some(player) => {
                    sweep.leaves += 1;
                    sqlx::query_scalar(
                        "SELECT matchmaking.reconcile_leave($1, $2, coalesce($3, now()),
                             make_interval(secs => $4))",
                    )
                    .bind(scrim_id)
                    .bind(player)
                    .bind(self.at)
                    .bind(grace)
                    .fetch_one(&mut *conn)
                    .await?
                }
            };
            match outcome.as_str() {
                "timed_out" | "expired" => sweep.acted += 1,
                "rearmed" => sweep.rearmed += 1,
                _ => {}
            }
            tracing::info!(scrim.id = %scrim_id, player.id = ?player, outcome, "reconciled a stranded timer");
        }
        metrics::gauge!("matchmaking_stranded_timers", "kind" => "check_in")
            .set(sweep.check_ins as f64);
        metrics::gauge!("matchmaking_stranded_timers", "kind" => "leave").set(sweep.leaves as f64);
        Ok(sweep)
    }
}

impl PeriodicJob for Reconcile {
    async fn run(&self, conn: &mut PgConnection) -> JobResult {
        self.sweep(conn).await?;
        Ok(())
    }
}
