//! Reading scrims out of their tables into the contract's JSON shape, and the row lock that
//! serialises every change to one scrim.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use domain::{
    CheckinTimeout, GroupCode, Lobby, PlayerId, Scrim, ScrimGame, ScrimMetrics, ScrimMode,
    ScrimPlayer, ScrimSettings, ScrimStatus, ScrimTeam, TeamCount, TeamSize,
};
use sqlx::{PgConnection, PgExecutor};
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

#[derive(Debug, Clone, sqlx::FromRow)]
struct PlayerRow {
    scrim_id: Uuid,
    player_id: i32,
    name: String,
    joined_at: DateTime<Utc>,
    leave_at: DateTime<Utc>,
    group_code: Option<String>,
    checked_in: bool,
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct TeamPlayerRow {
    scrim_id: Uuid,
    game_index: i16,
    team_index: i16,
    player_id: i32,
}

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
    pub skill_group_id: Option<i32>,
}

/// Reads the scrims matching `filter`, oldest first, in their contract shape (three queries
/// whatever the number of scrims).
pub async fn find(conn: &mut PgConnection, filter: &ScrimFilter) -> sqlx::Result<Vec<Scrim>> {
    let rows: Vec<ScrimRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {SCRIM_COLUMNS} FROM matchmaking.scrims s
         WHERE ($1::uuid IS NULL OR id = $1)
           AND ($2::integer IS NULL OR EXISTS (
                 SELECT 1 FROM matchmaking.scrim_players p WHERE p.scrim_id = s.id AND p.player_id = $2))
           AND ($3::text IS NULL OR submission_id = $3)
           AND ($4::text IS NULL OR status::text = $4)
           AND ($5::integer IS NULL OR organization_id = $5)
           AND ($6::integer IS NULL OR skill_group_id = $6)
         ORDER BY created_at, id"
    )))
    .bind(filter.id)
    .bind(filter.player_id)
    .bind(filter.submission_id.as_deref())
    .bind(filter.status.map(status_sql))
    .bind(filter.organization_id)
    .bind(filter.skill_group_id)
    .fetch_all(&mut *conn)
    .await?;
    assemble(conn, rows).await
}

/// Reads one scrim (already locked or not) in its contract shape.
pub async fn load(conn: &mut PgConnection, row: ScrimRow) -> sqlx::Result<Scrim> {
    let mut scrims = assemble(conn, vec![row]).await?;
    Ok(scrims.remove(0))
}

async fn assemble(conn: &mut PgConnection, rows: Vec<ScrimRow>) -> sqlx::Result<Vec<Scrim>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
    let players: Vec<PlayerRow> = sqlx::query_as(
        "SELECT scrim_id, player_id, name, joined_at, leave_at, group_code, checked_in
         FROM matchmaking.scrim_players WHERE scrim_id = ANY($1) ORDER BY position",
    )
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;
    let assignments: Vec<TeamPlayerRow> = sqlx::query_as(
        "SELECT t.scrim_id, t.game_index, t.team_index, t.player_id
         FROM matchmaking.scrim_team_players t
         JOIN matchmaking.scrim_players p USING (scrim_id, player_id)
         WHERE t.scrim_id = ANY($1) ORDER BY t.game_index, t.team_index, p.position",
    )
    .bind(&ids)
    .fetch_all(&mut *conn)
    .await?;

    let mut rosters: HashMap<Uuid, Vec<ScrimPlayer>> = HashMap::new();
    for row in players {
        rosters.entry(row.scrim_id).or_default().push(ScrimPlayer {
            id: row.player_id,
            name: row.name,
            joined_at: row.joined_at,
            leave_at: row.leave_at,
            group: row
                .group_code
                .and_then(|code| GroupCode::try_from(code).ok()),
            checked_in: row.checked_in,
        });
    }
    let mut lineups: HashMap<Uuid, Vec<TeamPlayerRow>> = HashMap::new();
    for row in assignments {
        lineups.entry(row.scrim_id).or_default().push(row);
    }

    Ok(rows
        .into_iter()
        .map(|row| {
            let players = rosters.remove(&row.id).unwrap_or_default();
            let lineup = lineups.remove(&row.id).unwrap_or_default();
            to_scrim(row, players, &lineup)
        })
        .collect())
}

fn to_scrim(row: ScrimRow, players: Vec<ScrimPlayer>, lineup: &[TeamPlayerRow]) -> Scrim {
    let games = (0..row.game_count)
        .map(|game| ScrimGame {
            teams: (0..row.team_count)
                .map(|team| ScrimTeam {
                    players: lineup
                        .iter()
                        .filter(|a| a.game_index == game && a.team_index == team)
                        .filter_map(|a| players.iter().find(|p| p.id == a.player_id).cloned())
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

/// Whether the player has a queue ban in force.
pub async fn queue_banned(executor: impl PgExecutor<'_>, player: PlayerId) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM core.member_restrictions
                        WHERE user_id = $1 AND type = 'QUEUE_BAN' AND expiration > now()
                          AND manually_expired_at IS NULL)",
    )
    .bind(player)
    .fetch_one(executor)
    .await
}
