//! League matches: the schedule (home and away franchise, skill group, game mode, season and
//! week) and the submission id under which the match's results are submitted and saved.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;

use super::{Target, Written, upserted};
use crate::error::{Result, invalid, not_found};
use crate::input::{Id, MatchSubmissionId};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LeagueMatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Id>,
    pub organization_id: Id,
    /// A skill group of the organization.
    pub skill_group_id: Id,
    /// A mode of the skill group's game.
    pub game_mode_id: Id,
    pub home_franchise_id: Id,
    pub away_franchise_id: Id,
    #[schema(minimum = 1, maximum = 1000)]
    pub season: u16,
    #[schema(minimum = 1, maximum = 100)]
    pub week: u8,
    pub scheduled_at: Option<DateTime<Utc>>,
    /// `match-…`: chosen by the service when absent, and fixed once the match exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submission_id: Option<MatchSubmissionId>,
}

pub async fn upsert_league_match(
    conn: &mut PgConnection,
    target: Target,
    league_match: &LeagueMatch,
) -> Result<(Id, Written, String)> {
    target.check_body_id(league_match.id)?;
    if !(1..=1000).contains(&league_match.season) || !(1..=100).contains(&league_match.week) {
        return Err(invalid("season is 1 to 1000 and week 1 to 100"));
    }
    let stored: Option<String> = match target.id() {
        Some(id) => {
            sqlx::query_scalar(
                "SELECT submission_id FROM core.league_matches WHERE id = $1 FOR UPDATE",
            )
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?
        }
        None => None,
    };
    if let (Target::Existing(id), None) = (target, &stored) {
        return Err(not_found(format!("league match {id}")));
    }
    let submission_id = match (&stored, &league_match.submission_id) {
        (Some(stored), Some(given)) if stored != given.as_str() => {
            return Err(invalid(format!(
                "the match's submission id is {stored}: it never changes"
            )));
        }
        (Some(stored), _) => stored.clone(),
        (None, Some(given)) => given.as_str().to_owned(),
        (None, None) => format!("match-{}", uuid::Uuid::new_v4()),
    };
    // The game comes from the skill group; foreign keys check the rest.
    let row = sqlx::query_as(
        "INSERT INTO core.league_matches AS lm
             (id, organization_id, skill_group_id, game_id, game_mode_id, home_franchise_id,
              away_franchise_id, season, week, scheduled_at, submission_id)
         VALUES (coalesce($1, nextval('core.league_matches_id_seq')), $2, $3,
                 coalesce((SELECT game_id FROM core.skill_group_definitions WHERE id = $3), 0),
                 $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (id) DO UPDATE SET
             organization_id = EXCLUDED.organization_id, skill_group_id = EXCLUDED.skill_group_id,
             game_id = EXCLUDED.game_id, game_mode_id = EXCLUDED.game_mode_id,
             home_franchise_id = EXCLUDED.home_franchise_id,
             away_franchise_id = EXCLUDED.away_franchise_id, season = EXCLUDED.season,
             week = EXCLUDED.week, scheduled_at = EXCLUDED.scheduled_at
         WHERE $11 AND (lm.organization_id, lm.skill_group_id, lm.game_mode_id, lm.home_franchise_id,
                lm.away_franchise_id, lm.season, lm.week, lm.scheduled_at)
               IS DISTINCT FROM
               (EXCLUDED.organization_id, EXCLUDED.skill_group_id, EXCLUDED.game_mode_id,
                EXCLUDED.home_franchise_id, EXCLUDED.away_franchise_id, EXCLUDED.season,
                EXCLUDED.week, EXCLUDED.scheduled_at)
         RETURNING id, (xmax = 0)",
    )
    .bind(target.id())
    .bind(league_match.organization_id.get())
    .bind(league_match.skill_group_id.get())
    .bind(league_match.game_mode_id.get())
    .bind(league_match.home_franchise_id.get())
    .bind(league_match.away_franchise_id.get())
    .bind(i16::try_from(league_match.season).unwrap_or(i16::MAX))
    .bind(i16::from(league_match.week))
    .bind(league_match.scheduled_at)
    .bind(&submission_id)
    .bind(target.replaces())
    .fetch_optional(&mut *conn)
    .await?;
    let (id, written) = upserted(row, target)?;
    Ok((id, written, submission_id))
}
