//! Reading scrims out of their tables into the contract's JSON shape, and the row lock that
//! serialises every change to one scrim.

use chrono::{DateTime, Utc};
use domain::{
    CheckinTimeout, GroupCode, Lobby, PlayerId, Scrim, ScrimGame, ScrimMetrics, ScrimMode,
    ScrimPlayer, ScrimSettings, ScrimStatus, ScrimTeam, TeamCount, TeamSize,
};
use serde::Deserialize;
use sqlx::types::Json;
use sqlx::{PgConnection, PgExecutor, QueryBuilder};
use uuid::Uuid;

/// The columns of `matchmaking.scrims` the service reads.
const SCRIM_COLUMNS: &str = "id, created_at, updated_at, status::text AS status,
    unlocked_status::text AS unlocked_status, author_id, organization_id, game_mode_id,
    skill_group_id, submission_id, group_invite_opens_at, popped_at, lobby_name, lobby_password,
    team_size, team_count, mode::text AS mode, competitive, observable, lfs, test,
    checkin_timeout_ms, player_count, group_count, game_count";

/// One row of `matchmaking.scrims`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ScrimRow {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub status: String,
    pub unlocked_status: Option<String>,
    pub author_id: i32,
    pub organization_id: i32,
    pub game_mode_id: i32,
    pub skill_group_id: i32,
    pub submission_id: Option<String>,
    pub group_invite_opens_at: Option<DateTime<Utc>>,
    pub popped_at: Option<DateTime<Utc>>,
    pub lobby_name: Option<String>,
    pub lobby_password: Option<String>,
    pub team_size: i16,
    pub team_count: i16,
    pub mode: String,
    pub competitive: bool,
    pub observable: bool,
    pub lfs: bool,
    pub test: bool,
    pub checkin_timeout_ms: i32,
    pub player_count: i16,
    pub group_count: i16,
    pub game_count: i16,
}

impl ScrimRow {
    pub fn status(&self) -> ScrimStatus {
        parse_status(&self.status)
    }

    pub fn mode(&self) -> ScrimMode {
        ScrimMode::parse(&self.mode).unwrap_or(ScrimMode::Teams)
    }

    pub fn capacity(&self) -> i16 {
        self.team_size * self.team_count
    }

    pub fn settings(&self) -> ScrimSettings {
        // The table's CHECKs hold the same bounds as the domain types, so these conversions
        // cannot fail on a stored row; the fallbacks are never used.
        ScrimSettings {
            team_size: TeamSize::try_from(i64::from(self.team_size))
                .unwrap_or_else(|_| unreachable_bound()),
            team_count: TeamCount::try_from(i64::from(self.team_count))
                .unwrap_or_else(|_| unreachable_bound()),
            mode: self.mode(),
            competitive: self.competitive,
            observable: self.observable,
            lfs: self.lfs,
            checkin_timeout: CheckinTimeout::try_from(i64::from(self.checkin_timeout_ms))
                .unwrap_or(CheckinTimeout::DEFAULT),
        }
    }
}

fn unreachable_bound<T>() -> T {
    unreachable!("the scrims table CHECKs the same bounds as the domain types")
}

fn parse_status(text: &str) -> ScrimStatus {
    match text {
        "PENDING" => ScrimStatus::Pending,
        "POPPED" => ScrimStatus::Popped,
        "LOCKED" => ScrimStatus::Locked,
        _ => ScrimStatus::InProgress,
    }
}

/// The SQL spelling of a stored status.
pub fn status_sql(status: ScrimStatus) -> &'static str {
    match status {
        ScrimStatus::Pending => "PENDING",
        ScrimStatus::Popped => "POPPED",
        ScrimStatus::Locked => "LOCKED",
        _ => "IN_PROGRESS",
    }
}

/// A player of the roster, as the read's JSON aggregate spells it.
#[derive(Debug, Deserialize)]
struct PlayerJson {
    player_id: i32,
    name: String,
    joined_at: DateTime<Utc>,
    leave_at: DateTime<Utc>,
    group_code: Option<String>,
    checked_in: bool,
}

/// One seat of the lineup: (game index, team index, player id), in seat order.
type Seat = (i16, i16, i32);

/// A scrim row with its roster and lineup, read by one statement.
#[derive(Debug, sqlx::FromRow)]
struct FullScrimRow {
    #[sqlx(flatten)]
    row: ScrimRow,
    roster: Json<Vec<PlayerJson>>,
    lineup: Json<Vec<Seat>>,
}

/// A scrim's roster and lineup as JSON aggregates, so that one statement reads whole scrims:
/// one round trip, and one snapshot (a scrim removed while it is read never comes back with an
/// empty roster).
const ROSTER_AND_LINEUP: &str = "
    (SELECT coalesce(json_agg(json_build_object(
                'player_id', p.player_id, 'name', p.name, 'joined_at', p.joined_at,
                'leave_at', p.leave_at, 'group_code', p.group_code, 'checked_in', p.checked_in)
              ORDER BY p.position), '[]')
       FROM matchmaking.scrim_players p WHERE p.scrim_id = s.id) AS roster,
    (SELECT coalesce(json_agg(json_build_array(t.game_index, t.team_index, t.player_id)
              ORDER BY t.game_index, t.team_index, p.position), '[]')
       FROM matchmaking.scrim_team_players t
       JOIN matchmaking.scrim_players p USING (scrim_id, player_id)
      WHERE t.scrim_id = s.id) AS lineup";

/// Locks the scrim's row until the transaction ends: every change to a scrim goes through this,
/// so concurrent joins, leaves and check-ins of one scrim run one after another.
pub async fn lock(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<ScrimRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {SCRIM_COLUMNS} FROM matchmaking.scrims WHERE id = $1 FOR UPDATE"
    )))
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// Like [`lock`], finding the scrim by its submission id.
pub async fn lock_by_submission(
    conn: &mut PgConnection,
    submission_id: &str,
) -> sqlx::Result<Option<ScrimRow>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {SCRIM_COLUMNS} FROM matchmaking.scrims WHERE submission_id = $1 FOR UPDATE"
    )))
    .bind(submission_id)
    .fetch_optional(conn)
    .await
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
/// that are set reach the SQL, so each combination gets a plan that uses its index.
/// It is one statement, so it reads one snapshot even outside a transaction.
pub async fn find(executor: impl PgExecutor<'_>, filter: &ScrimFilter) -> sqlx::Result<Vec<Scrim>> {
    let mut query = QueryBuilder::new(format!(
        "SELECT {SCRIM_COLUMNS}, {ROSTER_AND_LINEUP} FROM matchmaking.scrims s WHERE true"
    ));
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
    let rows: Vec<FullScrimRow> = query.build_query_as().fetch_all(executor).await?;
    Ok(rows.into_iter().map(to_scrim).collect())
}

/// Reads one scrim (locked by this transaction or not) in its contract shape, as this
/// transaction sees it.
pub async fn load(conn: &mut PgConnection, id: Uuid) -> sqlx::Result<Option<Scrim>> {
    let filter = ScrimFilter {
        id: Some(id),
        ..ScrimFilter::default()
    };
    Ok(find(conn, &filter).await?.into_iter().next())
}

fn to_scrim(full: FullScrimRow) -> Scrim {
    let FullScrimRow {
        row,
        roster,
        lineup,
    } = full;
    let players: Vec<ScrimPlayer> = roster
        .0
        .into_iter()
        .map(|p| ScrimPlayer {
            id: p.player_id,
            name: p.name,
            joined_at: p.joined_at,
            leave_at: p.leave_at,
            group: p.group_code.and_then(|code| GroupCode::try_from(code).ok()),
            checked_in: p.checked_in,
        })
        .collect();
    let games = (0..row.game_count)
        .map(|game| ScrimGame {
            teams: (0..row.team_count)
                .map(|team| ScrimTeam {
                    players: lineup
                        .iter()
                        .filter(|(g, t, _)| *g == game && *t == team)
                        .filter_map(|(_, _, id)| players.iter().find(|p| p.id == *id).cloned())
                        .collect(),
                })
                .collect(),
        })
        .collect();
    let lobby = match (&row.lobby_name, &row.lobby_password) {
        (Some(name), Some(password)) => Some(Lobby {
            name: name.clone(),
            password: password.clone(),
        }),
        _ => None,
    };
    Scrim {
        id: row.id,
        created_at: row.created_at,
        updated_at: row.updated_at,
        status: row.status(),
        unlocked_status: row.unlocked_status.as_deref().map(parse_status),
        author_id: row.author_id,
        organization_id: row.organization_id,
        game_mode_id: row.game_mode_id,
        skill_group_id: row.skill_group_id,
        submission_id: row.submission_id.clone(),
        group_invite_opens_at: row.group_invite_opens_at,
        popped_at: row.popped_at,
        settings: row.settings(),
        players,
        games,
        lobby,
    }
}

/// The live counts (DOMAIN §1.1).
pub async fn metrics(executor: impl PgExecutor<'_>) -> sqlx::Result<ScrimMetrics> {
    let (pending_scrims, total_scrims, players_queued, players_scrimming): (i64, i64, i64, i64) =
        sqlx::query_as(
            "SELECT count(*) FILTER (WHERE status = 'PENDING'),
                    count(*),
                    coalesce(sum(player_count) FILTER (WHERE status = 'PENDING'), 0)::bigint,
                    coalesce(sum(player_count) FILTER (WHERE status <> 'PENDING'), 0)::bigint
             FROM matchmaking.scrims",
        )
        .fetch_one(executor)
        .await?;
    Ok(ScrimMetrics {
        pending_scrims,
        total_scrims,
        players_scrimming,
        players_queued,
        total_players: players_queued + players_scrimming,
    })
}

/// Whether scrims are disabled platform-wide.
pub async fn scrims_disabled(executor: impl PgExecutor<'_>) -> sqlx::Result<bool> {
    sqlx::query_scalar("SELECT scrims_disabled FROM matchmaking.platform_state")
        .fetch_one(executor)
        .await
}

/// What a create or join must know before it touches a scrim, read by one statement.
#[derive(Debug, sqlx::FromRow)]
pub struct Admission {
    /// Scrims are disabled platform-wide.
    pub scrims_disabled: bool,
    /// The player has a queue ban in force.
    pub queue_banned: bool,
}

/// Reads the [`Admission`] of `player`.
pub async fn admission(executor: impl PgExecutor<'_>, player: PlayerId) -> sqlx::Result<Admission> {
    sqlx::query_as(
        "SELECT (SELECT scrims_disabled FROM matchmaking.platform_state) AS scrims_disabled,
                EXISTS (SELECT 1 FROM core.member_restrictions
                        WHERE user_id = $1 AND type = 'QUEUE_BAN' AND expiration > now()
                          AND manually_expired_at IS NULL) AS queue_banned",
    )
    .bind(player)
    .fetch_one(executor)
    .await
}
