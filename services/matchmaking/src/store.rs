//! Reading scrims. The contract shape of a scrim (DOMAIN §1.1) is built by one SQL function,
//! `matchmaking.scrim_json` (migration V7), which the operations also return and publish: reads,
//! answers and events cannot drift apart.

use domain::{PlayerId, Scrim, ScrimMetrics, ScrimStatus};
use sqlx::types::Json;
use sqlx::{PgExecutor, QueryBuilder};
use uuid::Uuid;

/// The SQL spelling of a stored status.
pub fn status_sql(status: ScrimStatus) -> &'static str {
    match status {
        ScrimStatus::Pending => "PENDING",
        ScrimStatus::Popped => "POPPED",
        ScrimStatus::Locked => "LOCKED",
        _ => "IN_PROGRESS",
    }
}

/// Which scrims a read returns.
#[derive(Debug, Clone, Default)]
pub struct ScrimFilter {
    pub id: Option<Uuid>,
    pub player_id: Option<PlayerId>,
    pub submission_id: Option<String>,
    pub status: Option<ScrimStatus>,
    pub organization_id: Option<i32>,
    /// Scrims a player of this skill group may join: every non-competitive one, and the
    /// competitive ones of this skill group.
    pub joinable_by_skill_group: Option<i32>,
    /// Only LFS scrims, or only the others.
    pub lfs: Option<bool>,
    /// Leaves out LOCKED scrims (lists do, unless they ask for that status).
    pub exclude_locked: bool,
}

/// Reads the scrims matching `filter`, oldest first, in their contract shape. Only the filters
/// that are set reach the SQL, so each combination gets a plan that uses its index. It is one
/// statement, so it reads one snapshot even outside a transaction (a scrim removed while it is
/// read never comes back with an empty roster).
pub async fn find(executor: impl PgExecutor<'_>, filter: &ScrimFilter) -> sqlx::Result<Vec<Scrim>> {
    let mut query =
        QueryBuilder::new("SELECT matchmaking.scrim_json(s) FROM matchmaking.scrims s WHERE true");
    if let Some(id) = filter.id {
        query.push(" AND s.id = ").push_bind(id);
    }
    if let Some(player) = filter.player_id {
        query
            .push(" AND s.id = (SELECT scrim_id FROM matchmaking.scrim_players WHERE player_id = ")
            .push_bind(player)
            .push(")");
    }
    if let Some(submission) = &filter.submission_id {
        query.push(" AND s.submission_id = ").push_bind(submission);
    }
    if let Some(status) = filter.status {
        query
            .push(" AND s.status = ")
            .push_bind(status_sql(status))
            .push("::matchmaking.scrim_status");
    }
    if let Some(organization) = filter.organization_id {
        query
            .push(" AND s.organization_id = ")
            .push_bind(organization);
    }
    if let Some(skill_group) = filter.joinable_by_skill_group {
        query
            .push(" AND (NOT s.competitive OR s.skill_group_id = ")
            .push_bind(skill_group)
            .push(")");
    }
    if let Some(lfs) = filter.lfs {
        query.push(" AND s.lfs = ").push_bind(lfs);
    }
    if filter.exclude_locked {
        query.push(" AND s.status <> 'LOCKED'");
    }
    query.push(" ORDER BY s.created_at, s.id");
    let rows: Vec<Json<Scrim>> = query.build_query_scalar().fetch_all(executor).await?;
    Ok(rows.into_iter().map(|Json(scrim)| scrim).collect())
}

/// The live counts (DOMAIN §1.1), as `scrim.metricsUpdate` publishes them.
pub async fn metrics(executor: impl PgExecutor<'_>) -> sqlx::Result<ScrimMetrics> {
    let Json(metrics) = sqlx::query_scalar("SELECT matchmaking.metrics()")
        .fetch_one(executor)
        .await?;
    Ok(metrics)
}

/// Whether scrims are disabled platform-wide.
pub async fn scrims_disabled(executor: impl PgExecutor<'_>) -> sqlx::Result<bool> {
    sqlx::query_scalar("SELECT scrims_disabled FROM matchmaking.platform_state")
        .fetch_one(executor)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_status_spellings_round_trip() {
        for status in [
            ScrimStatus::Pending,
            ScrimStatus::Popped,
            ScrimStatus::InProgress,
            ScrimStatus::Locked,
        ] {
            assert_eq!(
                serde_json::to_value(status).expect("json"),
                status_sql(status)
            );
        }
    }
}
