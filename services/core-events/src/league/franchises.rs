//! Franchises (with their profile and staff) and their teams, one per skill group.

use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;

use super::games::fixed_parent;
use super::{Target, Written, upserted};
use crate::error::{Result, invalid, not_found, rule};
use crate::input::{Code, HexColour, Id, Label, Snowflake, WebUrl, WebhookUrl};

/// A franchise's staff roles: franchise manager, general manager, assistant GM, captain.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StaffRole {
    Fm,
    Gm,
    Agm,
    Cap,
}

impl StaffRole {
    /// The database's spelling (`core.staff_role`).
    pub fn code(self) -> &'static str {
        match self {
            StaffRole::Fm => "FM",
            StaffRole::Gm => "GM",
            StaffRole::Agm => "AGM",
            StaffRole::Cap => "CAP",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        [StaffRole::Fm, StaffRole::Gm, StaffRole::Agm, StaffRole::Cap]
            .into_iter()
            .find(|role| role.code() == code)
    }
}

/// A member holding a staff role on a franchise.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StaffAppointment {
    pub member_id: Id,
    pub role: StaffRole,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Franchise {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Id>,
    /// Fixed once the franchise exists.
    pub organization_id: Id,
    pub title: Label,
    /// Up to 8 uppercase letters, digits or underscores.
    pub code: Code,
    pub primary_color: Option<HexColour>,
    pub secondary_color: Option<HexColour>,
    pub photo_url: Option<WebUrl>,
    pub scrim_report_card_webhook_url: Option<WebhookUrl>,
    pub match_report_card_webhook_url: Option<WebhookUrl>,
    /// Where the franchise hears about its league matches' submissions.
    pub submission_webhook_url: Option<WebhookUrl>,
    pub submission_discord_role_id: Option<Snowflake>,
    /// The whole staff. Absent: left as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staff: Option<Vec<StaffAppointment>>,
}

pub async fn upsert_franchise(
    conn: &mut PgConnection,
    target: Target,
    franchise: &Franchise,
) -> Result<(Id, Written)> {
    target.check_body_id(franchise.id)?;
    fixed_parent(
        conn,
        target,
        "franchises",
        "organization_id",
        franchise.organization_id,
        "franchise",
        "organization",
    )
    .await?;
    let row = sqlx::query_as(
        "INSERT INTO core.franchises AS f
             (id, organization_id, title, code, primary_color, secondary_color, photo_url,
              scrim_report_card_webhook_url, match_report_card_webhook_url, submission_webhook_url,
              submission_discord_role_id)
         VALUES (coalesce($1, nextval('core.franchises_id_seq')), $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (id) DO UPDATE SET
             title = EXCLUDED.title, code = EXCLUDED.code, primary_color = EXCLUDED.primary_color,
             secondary_color = EXCLUDED.secondary_color, photo_url = EXCLUDED.photo_url,
             scrim_report_card_webhook_url = EXCLUDED.scrim_report_card_webhook_url,
             match_report_card_webhook_url = EXCLUDED.match_report_card_webhook_url,
             submission_webhook_url = EXCLUDED.submission_webhook_url,
             submission_discord_role_id = EXCLUDED.submission_discord_role_id
         WHERE $12 AND (f.title, f.code, f.primary_color, f.secondary_color, f.photo_url,
                f.scrim_report_card_webhook_url, f.match_report_card_webhook_url,
                f.submission_webhook_url, f.submission_discord_role_id)
               IS DISTINCT FROM
               (EXCLUDED.title, EXCLUDED.code, EXCLUDED.primary_color, EXCLUDED.secondary_color,
                EXCLUDED.photo_url, EXCLUDED.scrim_report_card_webhook_url,
                EXCLUDED.match_report_card_webhook_url, EXCLUDED.submission_webhook_url,
                EXCLUDED.submission_discord_role_id)
         RETURNING id, (xmax = 0)",
    )
    .bind(target.id())
    .bind(franchise.organization_id.get())
    .bind(franchise.title.as_str())
    .bind(franchise.code.as_str())
    .bind(franchise.primary_color.as_ref().map(HexColour::as_str))
    .bind(franchise.secondary_color.as_ref().map(HexColour::as_str))
    .bind(franchise.photo_url.as_ref().map(WebUrl::as_str))
    .bind(franchise.scrim_report_card_webhook_url.as_ref().map(WebhookUrl::as_str))
    .bind(franchise.match_report_card_webhook_url.as_ref().map(WebhookUrl::as_str))
    .bind(franchise.submission_webhook_url.as_ref().map(WebhookUrl::as_str))
    .bind(franchise.submission_discord_role_id.as_ref().map(Snowflake::as_str))
    .bind(target.replaces())
    .fetch_optional(&mut *conn)
    .await?;
    let (id, written) = upserted(row, target)?;
    let written = match &franchise.staff {
        Some(staff) => {
            written.and(replace_staff(conn, id, franchise.organization_id, staff).await?)
        }
        None => written,
    };
    Ok((id, written))
}

/// Makes `staff` the franchise's whole staff.
pub async fn replace_staff(
    conn: &mut PgConnection,
    franchise: Id,
    organization: Id,
    staff: &[StaffAppointment],
) -> Result<Written> {
    let members: Vec<i32> = staff.iter().map(|s| s.member_id.get()).collect();
    let roles: Vec<&str> = staff.iter().map(|s| s.role.code()).collect();
    let removed = sqlx::query(
        "DELETE FROM core.franchise_staff_appointments
         WHERE franchise_id = $1
           AND (member_id, role::text) NOT IN (SELECT * FROM unnest($2::int[], $3::text[]))",
    )
    .bind(franchise.get())
    .bind(&members)
    .bind(&roles)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let added = sqlx::query(
        "INSERT INTO core.franchise_staff_appointments (franchise_id, member_id, organization_id, role)
         SELECT $1, member_id, $4, role::core.staff_role
         FROM unnest($2::int[], $3::text[]) AS s(member_id, role)
         ON CONFLICT DO NOTHING",
    )
    .bind(franchise.get())
    .bind(&members)
    .bind(&roles)
    .bind(organization.get())
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok(Written::changed_if(removed + added > 0))
}

/// A franchise's team in one skill group (players' roster slots point at it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Team {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Id>,
    pub franchise_id: Id,
    pub skill_group_id: Id,
}

/// Creates a team (a team never changes: its franchise and skill group are what it is).
pub async fn upsert_team(
    conn: &mut PgConnection,
    target: Target,
    team: &Team,
) -> Result<(Id, Written)> {
    target.check_body_id(team.id)?;
    if let Some(id) = target.id() {
        let stored: Option<(i32, i32)> =
            sqlx::query_as("SELECT franchise_id, skill_group_id FROM core.teams WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *conn)
                .await?;
        match stored {
            Some(stored) if stored == (team.franchise_id.get(), team.skill_group_id.get()) => {
                return Ok((Id::stored(id), Written::Unchanged));
            }
            Some(_) => {
                return Err(invalid(format!(
                    "team {id} has another franchise or skill group: a team never changes"
                )));
            }
            None if matches!(target, Target::Existing(_)) => {
                return Err(not_found(format!("team {id}")));
            }
            None => {}
        }
    }
    // The organization comes from the franchise; the skill group must be in it (foreign key).
    let id: Option<i32> = sqlx::query_scalar(
        "INSERT INTO core.teams (id, franchise_id, skill_group_id, organization_id)
         SELECT coalesce($1, nextval('core.teams_id_seq')), f.id, $3, f.organization_id
         FROM core.franchises f WHERE f.id = $2
         RETURNING id",
    )
    .bind(target.id())
    .bind(team.franchise_id.get())
    .bind(team.skill_group_id.get())
    .fetch_optional(&mut *conn)
    .await?;
    match id {
        Some(id) => Ok((Id::stored(id), Written::Created)),
        None => Err(rule(
            domain::ErrorName::UnknownReference,
            format!("no such franchise {}", team.franchise_id),
        )),
    }
}

/// Removes a team that has no players (`StillReferenced` otherwise).
pub async fn delete_team(conn: &mut PgConnection, id: Id) -> Result<()> {
    let deleted = sqlx::query("DELETE FROM core.teams WHERE id = $1")
        .bind(id.get())
        .execute(&mut *conn)
        .await?
        .rows_affected();
    if deleted == 0 {
        return Err(not_found(format!("team {id}")));
    }
    Ok(())
}
