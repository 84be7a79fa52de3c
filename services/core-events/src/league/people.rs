//! Users (with their Discord id), members of organizations, and members' platform accounts.

use domain::Platform;
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use utoipa::ToSchema;

use super::{Target, Written, lock_row, upserted};
use crate::error::{Result, invalid};
use crate::input::{AccountId, Id, Label, Snowflake};

/// A person using the platform. Scrim players are users (their scrim id is the user id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct User {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Id>,
    pub display_name: Label,
    /// The linked Discord account, if any (notifications skip users without one).
    pub discord_id: Option<Snowflake>,
}

pub async fn upsert_user(
    conn: &mut PgConnection,
    target: Target,
    user: &User,
) -> Result<(Id, Written)> {
    target.check_body_id(user.id)?;
    if let Target::Existing(id) = target {
        lock_row(conn, "users", id, "user").await?;
    }
    let row: Option<(i32, bool)> = sqlx::query_as(
        "INSERT INTO core.users AS u (id, display_name, discord_id)
         VALUES (coalesce($1, nextval('core.users_id_seq')), $2, $3)
         ON CONFLICT (id) DO UPDATE SET
             display_name = EXCLUDED.display_name, discord_id = EXCLUDED.discord_id
         WHERE $4 AND (u.display_name, u.discord_id) IS DISTINCT FROM (EXCLUDED.display_name, EXCLUDED.discord_id)
         RETURNING id, (xmax = 0)",
    )
    .bind(target.id())
    .bind(user.display_name.as_str())
    .bind(user.discord_id.as_ref().map(Snowflake::as_str))
    .bind(target.replaces())
    .fetch_optional(&mut *conn)
    .await?;
    upserted(row, target)
}

/// A platform account a member plays on (unique: one owner per platform and account id).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlatformAccount {
    pub platform: Platform,
    /// Steam id64, Xbox XUID, PSN or Switch id, or the Epic account id.
    pub platform_account_id: AccountId,
}

/// A user's membership of an organization, with the name the organization knows them by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Member {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Id>,
    /// Fixed once the member exists.
    pub organization_id: Id,
    /// Fixed once the member exists.
    pub user_id: Id,
    pub name: Label,
    /// The member's platform accounts (the whole set). Absent: left as they are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accounts: Option<Vec<PlatformAccount>>,
}

/// Whether a write may take a platform account from the member that owns it. The import may (a
/// snapshot says who owns what, and the file was checked to name each account once); the admin
/// API may not (it answers `AlreadyExists`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountMoves {
    Allowed,
    Refused,
}

pub async fn upsert_member(
    conn: &mut PgConnection,
    target: Target,
    member: &Member,
    moves: AccountMoves,
) -> Result<(Id, Written)> {
    target.check_body_id(member.id)?;
    if let Some(id) = target.id() {
        let stored: Option<(i32, i32)> = sqlx::query_as(
            "SELECT organization_id, user_id FROM core.members WHERE id = $1 FOR UPDATE",
        )
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
        match stored {
            None if matches!(target, Target::Existing(_)) => {
                return Err(crate::error::not_found(format!("member {id}")));
            }
            Some((organization, user))
                if (organization, user) != (member.organization_id.get(), member.user_id.get()) =>
            {
                return Err(invalid(format!(
                    "member {id} is user {user} in organization {organization}: a member's organization and user never change"
                )));
            }
            _ => {}
        }
    }
    let row: Option<(i32, bool)> = sqlx::query_as(
        "INSERT INTO core.members AS m (id, organization_id, user_id, name)
         VALUES (coalesce($1, nextval('core.members_id_seq')), $2, $3, $4)
         ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name
         WHERE $5 AND m.name IS DISTINCT FROM EXCLUDED.name
         RETURNING id, (xmax = 0)",
    )
    .bind(target.id())
    .bind(member.organization_id.get())
    .bind(member.user_id.get())
    .bind(member.name.as_str())
    .bind(target.replaces())
    .fetch_optional(&mut *conn)
    .await?;
    let (id, written) = upserted(row, target)?;
    let written = match &member.accounts {
        Some(accounts) => written.and(replace_accounts(conn, id, accounts, moves).await?),
        None => written,
    };
    Ok((id, written))
}

/// Makes `accounts` the member's whole set of platform accounts.
pub async fn replace_accounts(
    conn: &mut PgConnection,
    member: Id,
    accounts: &[PlatformAccount],
    moves: AccountMoves,
) -> Result<Written> {
    let platforms: Vec<&str> = accounts.iter().map(|a| a.platform.code()).collect();
    let ids: Vec<&str> = accounts
        .iter()
        .map(|a| a.platform_account_id.as_str())
        .collect();
    let removed = sqlx::query(
        "DELETE FROM core.member_platform_accounts
         WHERE member_id = $1
           AND (platform, platform_account_id) NOT IN
               (SELECT * FROM unnest($2::text[], $3::text[]))",
    )
    .bind(member.get())
    .bind(&platforms)
    .bind(&ids)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    // Without moves, an account another member owns breaks the unique key (AlreadyExists).
    let sql = match moves {
        AccountMoves::Allowed => {
            "INSERT INTO core.member_platform_accounts AS a (member_id, platform, platform_account_id)
             SELECT $1, platform, id FROM unnest($2::text[], $3::text[]) AS n(platform, id)
             ON CONFLICT (platform, platform_account_id) DO UPDATE SET member_id = EXCLUDED.member_id
             WHERE a.member_id <> EXCLUDED.member_id"
        }
        AccountMoves::Refused => {
            "INSERT INTO core.member_platform_accounts (member_id, platform, platform_account_id)
             SELECT $1, platform, id FROM unnest($2::text[], $3::text[]) AS n(platform, id)
             WHERE NOT EXISTS (SELECT 1 FROM core.member_platform_accounts o
                               WHERE o.member_id = $1 AND o.platform = n.platform
                                 AND o.platform_account_id = n.id)"
        }
    };
    let added = sqlx::query(sql)
        .bind(member.get())
        .bind(&platforms)
        .bind(&ids)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    Ok(Written::changed_if(removed + added > 0))
}
