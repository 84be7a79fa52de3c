//! Players: a member's place in one game (skill group, salary) and on a team. Changing an
//! existing player's skill group or team publishes `player.skillGroupChanged` /
//! `player.teamChanged` in the transaction of the change (DOMAIN §3); a new player's first skill
//! group and team are not announced (importing a league announces nothing but changes).

use domain::events::{PlayerSkillGroup, PlayerSkillGroupChanged, PlayerTeam, PlayerTeamChanged};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;

use super::{Target, Written, upserted};
use crate::error::{Result, invalid, not_found, rule};
use crate::events;
use crate::input::{Id, Salary};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Player {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Id>,
    /// Fixed once the player exists.
    pub member_id: Id,
    /// A skill group of the member's organization; changing it moves the player (and takes them
    /// off a team of the old skill group unless `teamId` names one of the new).
    pub skill_group_id: Id,
    #[serde(default = "zero_salary")]
    pub salary: Salary,
    /// The team the player is rostered on (one of the skill group's); `null`: a free agent.
    pub team_id: Option<Id>,
}

fn zero_salary() -> Salary {
    Salary::ZERO
}

/// A player as events describe them, read under the player's row lock.
#[derive(Debug, Clone, sqlx::FromRow)]
struct Stored {
    member_id: i32,
    game_id: i32,
    skill_group_id: i32,
    salary: f64,
    team_id: Option<i32>,
    user_id: i32,
    organization_id: i32,
    name: String,
    discord_id: Option<String>,
}

async fn stored(conn: &mut PgConnection, id: i32) -> Result<Option<Stored>> {
    Ok(sqlx::query_as(
        "SELECT p.member_id, p.game_id, p.skill_group_id, p.salary::float8 AS salary, r.team_id,
                m.user_id, m.organization_id, m.name::text AS name, u.discord_id::text AS discord_id
         FROM core.players p
         JOIN core.members m ON m.id = p.member_id
         JOIN core.users u ON u.id = m.user_id
         LEFT JOIN core.roster_slots r ON r.player_id = p.id
         WHERE p.id = $1
         FOR UPDATE OF p",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?)
}

/// Creates or replaces a player, moving their roster slot and announcing what changed.
pub async fn upsert_player(
    conn: &mut PgConnection,
    target: Target,
    player: &Player,
) -> Result<(Id, Written)> {
    target.check_body_id(player.id)?;
    let before = match target.id() {
        Some(id) => stored(conn, id).await?,
        None => None,
    };
    if let (Target::Existing(id), None) = (target, &before) {
        return Err(not_found(format!("player {id}")));
    }
    let (member_organization, skill_group_organization, game): (
        Option<i32>,
        Option<i32>,
        Option<i32>,
    ) = sqlx::query_as(
        "SELECT (SELECT organization_id FROM core.members WHERE id = $1),
                    (SELECT organization_id FROM core.skill_group_definitions WHERE id = $2),
                    (SELECT game_id FROM core.skill_group_definitions WHERE id = $2)",
    )
    .bind(player.member_id.get())
    .bind(player.skill_group_id.get())
    .fetch_one(&mut *conn)
    .await?;
    let unknown = |message: String| rule(domain::ErrorName::UnknownReference, message);
    let organization = member_organization
        .ok_or_else(|| unknown(format!("no such member {}", player.member_id)))?;
    let (Some(group_organization), Some(game)) = (skill_group_organization, game) else {
        return Err(unknown(format!(
            "no such skill group {}",
            player.skill_group_id
        )));
    };
    if group_organization != organization {
        return Err(unknown(format!(
            "skill group {} is not in the member's organization {organization}",
            player.skill_group_id
        )));
    }
    if let Some(before) = &before {
        if before.member_id != player.member_id.get() {
            return Err(invalid(format!(
                "the player belongs to member {}: a player's member never changes",
                before.member_id
            )));
        }
        if before.game_id != game {
            return Err(invalid(format!(
                "the player plays game {}; skill group {} is of game {game}",
                before.game_id, player.skill_group_id
            )));
        }
    }

    let new_team = player.team_id.map(Id::get);
    let old_team = before.as_ref().and_then(|b| b.team_id);
    let skill_group_moves = before
        .as_ref()
        .is_some_and(|b| b.skill_group_id != player.skill_group_id.get());
    let slot_moves = old_team != new_team || (old_team.is_some() && skill_group_moves);
    if slot_moves && old_team.is_some() {
        // The slot's foreign key pins it to the old skill group: release it first.
        sqlx::query("DELETE FROM core.roster_slots WHERE player_id = $1")
            .bind(target.id())
            .execute(&mut *conn)
            .await?;
    }
    let row = sqlx::query_as(
        "INSERT INTO core.players AS p (id, member_id, organization_id, game_id, skill_group_id, salary)
         VALUES (coalesce($1, nextval('core.players_id_seq')), $2, $3, $4, $5, $6::float8::numeric)
         ON CONFLICT (id) DO UPDATE SET skill_group_id = EXCLUDED.skill_group_id, salary = EXCLUDED.salary
         WHERE $7 AND (p.skill_group_id, p.salary) IS DISTINCT FROM (EXCLUDED.skill_group_id, EXCLUDED.salary)
         RETURNING id, (xmax = 0)",
    )
    .bind(target.id())
    .bind(player.member_id.get())
    .bind(organization)
    .bind(game)
    .bind(player.skill_group_id.get())
    .bind(player.salary.get())
    .bind(target.replaces())
    .fetch_optional(&mut *conn)
    .await?;
    let (id, written) = upserted(row, target)?;
    if slot_moves && let Some(team) = new_team {
        sqlx::query("INSERT INTO core.roster_slots (player_id, team_id, skill_group_id) VALUES ($1, $2, $3)")
            .bind(id.get())
            .bind(team)
            .bind(player.skill_group_id.get())
            .execute(&mut *conn)
            .await?;
    }
    // A new player's first skill group and team are where they start, not a change.
    if let Some(before) = &before {
        announce(conn, id, before, player).await?;
    }
    Ok((id, written.and(Written::changed_if(slot_moves))))
}

/// Publishes what changed between `before` and the player as now given.
async fn announce(conn: &mut PgConnection, id: Id, before: &Stored, player: &Player) -> Result<()> {
    if before.skill_group_id != player.skill_group_id.get() {
        let old = skill_group(conn, before.skill_group_id, before.salary).await?;
        let new = skill_group(conn, player.skill_group_id.get(), player.salary.get()).await?;
        let change = PlayerSkillGroupChanged {
            player_id: id.get(),
            user_id: before.user_id,
            name: before.name.clone(),
            organization_id: before.organization_id,
            discord_id: before.discord_id.clone(),
            old,
            new,
        };
        events::skill_group_changed(conn, &change).await?;
    }
    let new_team = player.team_id.map(Id::get);
    if before.team_id != new_team {
        let old = team(conn, before.team_id).await?;
        let new = team(conn, new_team).await?;
        events::team_changed(conn, &team_change(id, before, old, new)).await?;
    }
    Ok(())
}

fn team_change(
    id: Id,
    player: &Stored,
    old: Option<PlayerTeam>,
    new: Option<PlayerTeam>,
) -> PlayerTeamChanged {
    PlayerTeamChanged {
        player_id: id.get(),
        user_id: player.user_id,
        name: player.name.clone(),
        organization_id: player.organization_id,
        discord_id: player.discord_id.clone(),
        old,
        new,
    }
}

async fn skill_group(conn: &mut PgConnection, id: i32, salary: f64) -> Result<PlayerSkillGroup> {
    let (name, discord_emoji_id): (String, Option<String>) = sqlx::query_as(
        "SELECT description::text, discord_emoji_id::text FROM core.skill_group_definitions WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&mut *conn)
    .await?;
    Ok(PlayerSkillGroup {
        id,
        name,
        salary,
        discord_emoji_id,
    })
}

async fn team(conn: &mut PgConnection, id: Option<i32>) -> Result<Option<PlayerTeam>> {
    let Some(id) = id else {
        return Ok(None);
    };
    let (franchise_id, name, skill_group_id): (i32, String, i32) = sqlx::query_as(
        "SELECT t.franchise_id, f.title::text, t.skill_group_id
         FROM core.teams t JOIN core.franchises f ON f.id = t.franchise_id WHERE t.id = $1",
    )
    .bind(id)
    .fetch_one(&mut *conn)
    .await?;
    Ok(Some(PlayerTeam {
        team_id: id,
        franchise_id,
        name,
        skill_group_id,
    }))
}
