//! Games, their modes, and organizations' skill groups (with their notification profile).

use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;

use super::{Target, Written, lock_row, upserted};
use crate::error::{Result, invalid, not_found};
use crate::input::{Code, HexColour, Id, Label, Salary, Snowflake, WebUrl, WebhookUrl};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Game {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Id>,
    pub title: Label,
}

pub async fn upsert_game(
    conn: &mut PgConnection,
    target: Target,
    game: &Game,
) -> Result<(Id, Written)> {
    target.check_body_id(game.id)?;
    if let Target::Existing(id) = target {
        lock_row(conn, "games", id, "game").await?;
    }
    let row = sqlx::query_as(
        "INSERT INTO core.games AS g (id, title)
         VALUES (coalesce($1, nextval('core.games_id_seq')), $2)
         ON CONFLICT (id) DO UPDATE SET title = EXCLUDED.title
         WHERE $3 AND g.title IS DISTINCT FROM EXCLUDED.title
         RETURNING id, (xmax = 0)",
    )
    .bind(target.id())
    .bind(game.title.as_str())
    .bind(target.replaces())
    .fetch_optional(&mut *conn)
    .await?;
    upserted(row, target)
}

/// A way to play a game (RL_DOUBLES: two teams of two).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GameMode {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Id>,
    /// Fixed once the mode exists.
    pub game_id: Id,
    pub code: Code,
    pub description: Label,
    #[schema(minimum = 1, maximum = 8)]
    pub team_size: u8,
    #[schema(minimum = 2, maximum = 8)]
    pub team_count: u8,
}

pub async fn upsert_game_mode(
    conn: &mut PgConnection,
    target: Target,
    mode: &GameMode,
) -> Result<(Id, Written)> {
    target.check_body_id(mode.id)?;
    if !(1..=8).contains(&mode.team_size) || !(2..=8).contains(&mode.team_count) {
        return Err(invalid("teamSize is 1 to 8 and teamCount 2 to 8"));
    }
    fixed_parent(
        conn,
        target,
        "game_mode_definitions",
        "game_id",
        mode.game_id,
        "game mode",
        "game",
    )
    .await?;
    let row = sqlx::query_as(
        "INSERT INTO core.game_mode_definitions AS m (id, game_id, code, description, team_size, team_count)
         VALUES (coalesce($1, nextval('core.game_mode_definitions_id_seq')), $2, $3, $4, $5, $6)
         ON CONFLICT (id) DO UPDATE SET
             code = EXCLUDED.code, description = EXCLUDED.description,
             team_size = EXCLUDED.team_size, team_count = EXCLUDED.team_count
         WHERE $7 AND (m.code, m.description, m.team_size, m.team_count)
               IS DISTINCT FROM (EXCLUDED.code, EXCLUDED.description, EXCLUDED.team_size, EXCLUDED.team_count)
         RETURNING id, (xmax = 0)",
    )
    .bind(target.id())
    .bind(mode.game_id.get())
    .bind(mode.code.as_str())
    .bind(mode.description.as_str())
    .bind(i16::from(mode.team_size))
    .bind(i16::from(mode.team_count))
    .bind(target.replaces())
    .fetch_optional(&mut *conn)
    .await?;
    upserted(row, target)
}

/// A level of play in one organization and game, with its Discord presentation and webhooks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SkillGroup {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Id>,
    /// Fixed once the skill group exists.
    pub organization_id: Id,
    /// Fixed once the skill group exists.
    pub game_id: Id,
    /// 1 is the top skill group.
    #[schema(minimum = 1, maximum = 100)]
    pub ordinal: u8,
    pub code: Code,
    pub description: Label,
    pub salary_cap: Option<Salary>,
    pub color: Option<HexColour>,
    pub discord_emoji_id: Option<Snowflake>,
    pub photo_url: Option<WebUrl>,
    /// Where competitive scrims of the skill group are announced.
    pub scrim_webhook_url: Option<WebhookUrl>,
    pub scrim_report_card_webhook_url: Option<WebhookUrl>,
    pub match_report_card_webhook_url: Option<WebhookUrl>,
    /// The role mentioned when a scrim is announced.
    pub scrim_discord_role_id: Option<Snowflake>,
}

pub async fn upsert_skill_group(
    conn: &mut PgConnection,
    target: Target,
    group: &SkillGroup,
) -> Result<(Id, Written)> {
    target.check_body_id(group.id)?;
    if !(1..=100).contains(&group.ordinal) {
        return Err(invalid("ordinal is 1 to 100"));
    }
    if let Some(id) = target.id() {
        let stored: Option<(i32, i32)> = sqlx::query_as(
            "SELECT organization_id, game_id FROM core.skill_group_definitions WHERE id = $1 FOR UPDATE",
        )
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
        match stored {
            None if matches!(target, Target::Existing(_)) => {
                return Err(not_found(format!("skill group {id}")));
            }
            Some(stored) if stored != (group.organization_id.get(), group.game_id.get()) => {
                return Err(invalid(format!(
                    "skill group {id} belongs to organization {} and game {}: they never change",
                    stored.0, stored.1
                )));
            }
            _ => {}
        }
    }
    let row = sqlx::query_as(
        "INSERT INTO core.skill_group_definitions AS s
             (id, organization_id, game_id, ordinal, code, description, salary_cap, color,
              discord_emoji_id, photo_url, scrim_webhook_url, scrim_report_card_webhook_url,
              match_report_card_webhook_url, scrim_discord_role_id)
         VALUES (coalesce($1, nextval('core.skill_group_definitions_id_seq')), $2, $3, $4, $5, $6,
                 $7::float8::numeric, $8, $9, $10, $11, $12, $13, $14)
         ON CONFLICT (id) DO UPDATE SET
             ordinal = EXCLUDED.ordinal, code = EXCLUDED.code, description = EXCLUDED.description,
             salary_cap = EXCLUDED.salary_cap, color = EXCLUDED.color,
             discord_emoji_id = EXCLUDED.discord_emoji_id, photo_url = EXCLUDED.photo_url,
             scrim_webhook_url = EXCLUDED.scrim_webhook_url,
             scrim_report_card_webhook_url = EXCLUDED.scrim_report_card_webhook_url,
             match_report_card_webhook_url = EXCLUDED.match_report_card_webhook_url,
             scrim_discord_role_id = EXCLUDED.scrim_discord_role_id
         WHERE $15 AND (s.ordinal, s.code, s.description, s.salary_cap, s.color, s.discord_emoji_id,
                s.photo_url, s.scrim_webhook_url, s.scrim_report_card_webhook_url,
                s.match_report_card_webhook_url, s.scrim_discord_role_id)
               IS DISTINCT FROM
               (EXCLUDED.ordinal, EXCLUDED.code, EXCLUDED.description, EXCLUDED.salary_cap,
                EXCLUDED.color, EXCLUDED.discord_emoji_id, EXCLUDED.photo_url,
                EXCLUDED.scrim_webhook_url, EXCLUDED.scrim_report_card_webhook_url,
                EXCLUDED.match_report_card_webhook_url, EXCLUDED.scrim_discord_role_id)
         RETURNING id, (xmax = 0)",
    )
    .bind(target.id())
    .bind(group.organization_id.get())
    .bind(group.game_id.get())
    .bind(i16::from(group.ordinal))
    .bind(group.code.as_str())
    .bind(group.description.as_str())
    .bind(group.salary_cap.map(Salary::get))
    .bind(group.color.as_ref().map(HexColour::as_str))
    .bind(group.discord_emoji_id.as_ref().map(Snowflake::as_str))
    .bind(group.photo_url.as_ref().map(WebUrl::as_str))
    .bind(group.scrim_webhook_url.as_ref().map(WebhookUrl::as_str))
    .bind(
        group
            .scrim_report_card_webhook_url
            .as_ref()
            .map(WebhookUrl::as_str),
    )
    .bind(
        group
            .match_report_card_webhook_url
            .as_ref()
            .map(WebhookUrl::as_str),
    )
    .bind(group.scrim_discord_role_id.as_ref().map(Snowflake::as_str))
    .bind(target.replaces())
    .fetch_optional(&mut *conn)
    .await?;
    upserted(row, target)
}

/// For a record with a parent that never changes (a game mode's game): locks the stored row and
/// refuses a different parent; answers `NotFound` for a `PUT` of a missing record. `table` and
/// `column` are constant identifiers.
pub(crate) async fn fixed_parent(
    conn: &mut PgConnection,
    target: Target,
    table: &'static str,
    column: &'static str,
    parent: Id,
    what: &str,
    parent_what: &str,
) -> Result<()> {
    let Some(id) = target.id() else {
        return Ok(());
    };
    let sql = format!("SELECT {column} FROM core.{table} WHERE id = $1 FOR UPDATE");
    let stored: Option<i32> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    match stored {
        None if matches!(target, Target::Existing(_)) => Err(not_found(format!("{what} {id}"))),
        Some(stored) if stored != parent.get() => Err(invalid(format!(
            "{what} {id} belongs to {parent_what} {stored}: that never changes"
        ))),
        _ => Ok(()),
    }
}
