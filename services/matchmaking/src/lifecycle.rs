//! Every change to a scrim (DOMAIN §1.2): each runs in the caller's transaction, starts by
//! locking the scrim's row, checks the rules, writes, and publishes its events before the
//! caller commits. Two requests on one scrim therefore run one after the other, and an event is
//! sent if and only if its change commits.

use domain::{
    CreateScrim, CreateTestScrim, ErrorName, GroupChoice, GroupCode, JoinOptions, PlayerId, Scrim,
    ScrimMode, ScrimStatus,
};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::Matchmaking;
use crate::error::{Result, contradiction, rule};
use crate::events::{ScrimChange, announce};
use crate::store::{self, ScrimRow};
use crate::timers;

/// Creates a PENDING scrim whose author is its first player.
pub async fn create(
    mm: &Matchmaking,
    conn: &mut PgConnection,
    request: &CreateScrim,
) -> Result<Scrim> {
    let group = request
        .join
        .group_choice()
        .map_err(|err| contradiction(err.0))?;
    if let GroupChoice::Join(_) = group {
        return Err(rule(
            ErrorName::GroupNotFound,
            "a new scrim has no groups to join yet",
        ));
    }
    admit(
        conn,
        &request.join,
        request.skill_group_id,
        request.settings.competitive,
    )
    .await?;
    let settings = request.settings.with(false, mm.settings.checkin_timeout_ms);
    if group == GroupChoice::Create && settings.mode != ScrimMode::Teams {
        return Err(group_mode_error());
    }
    let id = Uuid::new_v4();
    insert_scrim(conn, &NewScrim::from_request(id, request, &settings)).await?;
    let group_code = match group {
        GroupChoice::Create => Some(create_group(mm, conn, id).await?),
        _ => None,
    };
    add_player(conn, id, &request.join, group_code.as_ref()).await?;
    finish(conn, id, ScrimChange::Created).await
}

/// Creates an LFS scrim: a pre-formed lobby, IN_PROGRESS at once, with placeholder games in
/// which the author is on the team they chose.
pub async fn create_lfs(
    mm: &Matchmaking,
    conn: &mut PgConnection,
    request: &CreateScrim,
) -> Result<Scrim> {
    if request.join.create_group.unwrap_or(false) || request.join.join_group.is_some() {
        return Err(group_mode_error());
    }
    if request.settings.team_count.get() != 2 {
        return Err(contradiction(
            "an LFS scrim has exactly two teams (teamCount 2)",
        ));
    }
    admit(
        conn,
        &request.join,
        request.skill_group_id,
        request.settings.competitive,
    )
    .await?;
    let settings = request.settings.with(true, mm.settings.checkin_timeout_ms);
    let id = Uuid::new_v4();
    let submission = format!("lfs-{id}");
    let row = NewScrim {
        status: "IN_PROGRESS",
        submission_id: Some(&submission),
        game_count: 3,
        ..NewScrim::from_request(id, request, &settings)
    };
    insert_scrim(conn, &row).await?;
    add_player(conn, id, &request.join, None).await?;
    let team = request.join.team.map_or(0, |team| team.index());
    sqlx::query(
        "INSERT INTO matchmaking.scrim_team_players (scrim_id, game_index, team_index, player_id)
         SELECT $1, game, $2, $3 FROM generate_series(0, 2) AS game",
    )
    .bind(id)
    .bind(i16::from(team))
    .bind(request.join.player_id)
    .execute(&mut *conn)
    .await?;
    finish(conn, id, ScrimChange::Created).await
}

/// Creates an admin's test scrim: IN_PROGRESS, empty roster, one (empty) game.
pub async fn create_test(
    mm: &Matchmaking,
    conn: &mut PgConnection,
    request: &CreateTestScrim,
) -> Result<Scrim> {
    let settings = request.settings.with(false, mm.settings.checkin_timeout_ms);
    let id = Uuid::new_v4();
    let submission = format!("scrim-test-{}", Uuid::new_v4());
    let row = NewScrim {
        id,
        author_id: request.author_id,
        organization_id: request.organization_id,
        game_mode_id: request.game_mode_id,
        skill_group_id: request.skill_group_id,
        settings: &settings,
        status: "IN_PROGRESS",
        submission_id: Some(&submission),
        // Test scrims expect exactly one replay.
        game_count: 1,
        test: true,
    };
    insert_scrim(conn, &row).await?;
    finish(conn, id, ScrimChange::Created).await
}

/// Adds a player to a PENDING scrim; the join that fills it pops it.
pub async fn join(
    mm: &Matchmaking,
    conn: &mut PgConnection,
    scrim_id: Uuid,
    options: &JoinOptions,
) -> Result<Scrim> {
    let group = options.group_choice().map_err(|err| contradiction(err.0))?;
    let row = lock(conn, scrim_id).await?;
    admit(conn, options, row.skill_group_id, row.competitive).await?;
    if row.status() != ScrimStatus::Pending {
        return Err(rule(
            ErrorName::ScrimAlreadyInProgress,
            "the scrim is no longer taking players",
        ));
    }
    if group != GroupChoice::None && row.mode() != ScrimMode::Teams {
        return Err(group_mode_error());
    }
    if group == GroupChoice::None && invite_window_open(conn, &row).await? {
        return Err(rule(
            ErrorName::ScrimGroupInviteWindowActive,
            "a group was just created: only its members may join until the invite window closes",
        ));
    }
    let group_code = match group {
        GroupChoice::None => None,
        GroupChoice::Create => {
            if row.group_count >= row.team_count {
                return Err(rule(
                    ErrorName::MaxGroupsCreated,
                    "the scrim has as many groups as teams",
                ));
            }
            Some(create_group(mm, conn, scrim_id).await?)
        }
        GroupChoice::Join(code) => {
            check_group_has_room(conn, scrim_id, &code).await?;
            Some(code)
        }
    };
    add_player(conn, scrim_id, options, group_code.as_ref()).await?;

    // The row lock was taken before the insert, so the count it read plus this player is exact.
    if row.player_count + 1 < row.capacity() {
        return finish(conn, scrim_id, ScrimChange::Updated).await;
    }
    // Full: pop. The row lock makes this the only join that can see the scrim full.
    let submission = format!("scrim-{}", Uuid::new_v4());
    let popped_at: chrono::DateTime<chrono::Utc> = sqlx::query_scalar(
        "UPDATE matchmaking.scrims SET status = 'POPPED', popped_at = now(), submission_id = $2,
             group_invite_opens_at = NULL, updated_at = now()
         WHERE id = $1 RETURNING popped_at",
    )
    .bind(scrim_id)
    .bind(&submission)
    .fetch_one(&mut *conn)
    .await?;
    // A scrim pops once per submission id, so no timer of it can be waiting.
    let armed = timers::arm_check_in(
        conn,
        scrim_id,
        &submission,
        popped_at,
        row.checkin_timeout_ms,
    )
    .await?;
    if armed != pg_queue::Enqueued::Inserted {
        tracing::warn!(scrim.id = %scrim_id, ?armed, "a popping scrim already had a waiting check-in timer");
    }
    finish(conn, scrim_id, ScrimChange::Popped).await
}

/// Removes a player from a PENDING scrim; the last one out destroys it.
pub async fn leave(conn: &mut PgConnection, scrim_id: Uuid, player: PlayerId) -> Result<Scrim> {
    let row = lock(conn, scrim_id).await?;
    if row.status() != ScrimStatus::Pending {
        return Err(rule(
            ErrorName::ScrimAlreadyInProgress,
            "players cannot leave a scrim that has popped",
        ));
    }
    remove_player(conn, &row, player, ScrimChange::Destroyed).await
}

/// Takes `player` out of a PENDING scrim. When nobody is left the scrim is removed and
/// announced as `when_empty` (EMPTY for a leave, CANCELLED for an expired `leaveAt`).
pub async fn remove_player(
    conn: &mut PgConnection,
    row: &ScrimRow,
    player: PlayerId,
    when_empty: ScrimChange,
) -> Result<Scrim> {
    let removed =
        sqlx::query("DELETE FROM matchmaking.scrim_players WHERE scrim_id = $1 AND player_id = $2")
            .bind(row.id)
            .bind(player)
            .execute(&mut *conn)
            .await?
            .rows_affected();
    if removed == 0 {
        return Err(rule(
            ErrorName::PlayerNotInScrim,
            "the player is not in this scrim",
        ));
    }
    timers::disarm_leave(conn, row.id, player).await?;
    if row.player_count > 1 {
        touch(conn, row.id).await?;
        return finish(conn, row.id, ScrimChange::Updated).await;
    }
    remove(conn, row.clone(), when_empty).await
}

/// Checks a player in; the last check-in starts the scrim with its teams and lobby.
pub async fn check_in(
    mm: &Matchmaking,
    conn: &mut PgConnection,
    scrim_id: Uuid,
    player: PlayerId,
) -> Result<Scrim> {
    let row = lock(conn, scrim_id).await?;
    if row.status() != ScrimStatus::Popped {
        return Err(rule(
            ErrorName::ScrimStatusNotPopped,
            "check-in is open only while the scrim is popped",
        ));
    }
    let checked_in: Option<bool> = sqlx::query_scalar(
        "SELECT checked_in FROM matchmaking.scrim_players WHERE scrim_id = $1 AND player_id = $2",
    )
    .bind(scrim_id)
    .bind(player)
    .fetch_optional(&mut *conn)
    .await?;
    match checked_in {
        None => {
            return Err(rule(
                ErrorName::PlayerNotInScrim,
                "the player is not in this scrim",
            ));
        }
        Some(true) => {
            return Err(rule(
                ErrorName::PlayerAlreadyCheckedIn,
                "the player has already checked in",
            ));
        }
        Some(false) => {}
    }
    // One UPDATE per player row, under the scrim lock: no check-in can be lost (the original's
    // whole-array read-modify-write lost concurrent ones).
    sqlx::query("UPDATE matchmaking.scrim_players SET checked_in = true WHERE scrim_id = $1 AND player_id = $2")
        .bind(scrim_id)
        .bind(player)
        .execute(&mut *conn)
        .await?;
    let waiting: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM matchmaking.scrim_players WHERE scrim_id = $1 AND NOT checked_in",
    )
    .bind(scrim_id)
    .fetch_one(&mut *conn)
    .await?;
    if waiting > 0 {
        touch(conn, scrim_id).await?;
        return finish(conn, scrim_id, ScrimChange::Updated).await;
    }
    start(mm, conn, &row).await
}

/// POPPED → IN_PROGRESS: teams, games and the lobby are generated, the check-in timer disarmed.
async fn start(mm: &Matchmaking, conn: &mut PgConnection, row: &ScrimRow) -> Result<Scrim> {
    let roster: Vec<(i32, Option<String>)> = sqlx::query_as(
        "SELECT player_id, group_code FROM matchmaking.scrim_players WHERE scrim_id = $1 ORDER BY position",
    )
    .bind(row.id)
    .fetch_all(&mut *conn)
    .await?;
    let (games, lobby) = mm.generate(row, &roster)?;
    let mut game_indexes = Vec::new();
    let mut team_indexes = Vec::new();
    let mut player_ids = Vec::new();
    for (game_index, game) in games.iter().enumerate() {
        for (team_index, team) in game.teams.iter().enumerate() {
            for player in team {
                game_indexes.push(game_index as i16);
                team_indexes.push(team_index as i16);
                player_ids.push(*player);
            }
        }
    }
    sqlx::query(
        "INSERT INTO matchmaking.scrim_team_players (scrim_id, game_index, team_index, player_id)
         SELECT $1, * FROM unnest($2::smallint[], $3::smallint[], $4::integer[])",
    )
    .bind(row.id)
    .bind(&game_indexes)
    .bind(&team_indexes)
    .bind(&player_ids)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE matchmaking.scrims SET status = 'IN_PROGRESS', game_count = $2, lobby_name = $3,
             lobby_password = $4, updated_at = now()
         WHERE id = $1",
    )
    .bind(row.id)
    .bind(games.len() as i16)
    .bind(&lobby.name)
    .bind(&lobby.password)
    .execute(&mut *conn)
    .await?;
    timers::disarm_check_in(conn, row.id).await?;
    finish(conn, row.id, ScrimChange::Started).await
}

/// Admin: cancels a scrim in any status. No queue bans: nobody missed a check-in.
pub async fn cancel(conn: &mut PgConnection, scrim_id: Uuid) -> Result<Scrim> {
    let row = lock(conn, scrim_id).await?;
    remove(conn, row, ScrimChange::Cancelled).await
}

/// Locks a scrim for an admin to look at. Locking a locked scrim changes nothing: it must not
/// record LOCKED as the status to restore (the original's lock-twice defect).
pub async fn lock_scrim(conn: &mut PgConnection, row: ScrimRow) -> Result<Scrim> {
    if row.status() == ScrimStatus::Locked {
        return read(conn, row.id).await;
    }
    sqlx::query(
        "UPDATE matchmaking.scrims SET unlocked_status = status, status = 'LOCKED', updated_at = now()
         WHERE id = $1",
    )
    .bind(row.id)
    .execute(&mut *conn)
    .await?;
    finish(conn, row.id, ScrimChange::Updated).await
}

/// Restores a locked scrim's previous status (IN_PROGRESS if none was recorded). Unlocking a
/// scrim that is not locked changes nothing. Timers that fired while it was locked are armed
/// again, so a scrim unlocked back to POPPED or PENDING cannot get stuck.
pub async fn unlock(conn: &mut PgConnection, scrim_id: Uuid) -> Result<Scrim> {
    let row = lock(conn, scrim_id).await?;
    if row.status() != ScrimStatus::Locked {
        return read(conn, row.id).await;
    }
    let restored: String = sqlx::query_scalar(
        "UPDATE matchmaking.scrims SET status = coalesce(unlocked_status, 'IN_PROGRESS'),
             unlocked_status = NULL, updated_at = now()
         WHERE id = $1 RETURNING status::text",
    )
    .bind(scrim_id)
    .fetch_one(&mut *conn)
    .await?;
    match restored.as_str() {
        "POPPED" => {
            if let (Some(submission), Some(_)) = (&row.submission_id, row.popped_at) {
                let now = db_now(conn).await?;
                // Today's behaviour: a check-in timer still waiting keeps its deadline
                // (arm_check_in logs it). Re-arming it is matchmaking 2's (issue 13).
                let _kept_or_armed =
                    timers::arm_check_in(conn, scrim_id, submission, now, row.checkin_timeout_ms)
                        .await?;
            }
        }
        "PENDING" => timers::rearm_leaves(conn, scrim_id).await?,
        _ => {}
    }
    finish(conn, scrim_id, ScrimChange::Updated).await
}

/// Sets a scrim back to IN_PROGRESS (its submission was reset). Already IN_PROGRESS: nothing.
pub async fn set_in_progress(conn: &mut PgConnection, row: ScrimRow) -> Result<Option<Scrim>> {
    if row.status() == ScrimStatus::InProgress {
        return Ok(None);
    }
    sqlx::query(
        "UPDATE matchmaking.scrims SET status = 'IN_PROGRESS', unlocked_status = NULL, updated_at = now()
         WHERE id = $1",
    )
    .bind(row.id)
    .execute(&mut *conn)
    .await?;
    timers::disarm_check_in(conn, row.id).await?;
    finish(conn, row.id, ScrimChange::Updated).await.map(Some)
}

/// Removes a scrim from the live set and announces it with its final status.
pub async fn remove(conn: &mut PgConnection, row: ScrimRow, change: ScrimChange) -> Result<Scrim> {
    let mut scrim = read(conn, row.id).await?;
    sqlx::query("DELETE FROM matchmaking.scrims WHERE id = $1")
        .bind(scrim.id)
        .execute(&mut *conn)
        .await?;
    timers::disarm_check_in(conn, scrim.id).await?;
    for player in &scrim.players {
        timers::disarm_leave(conn, scrim.id, player.id).await?;
    }
    scrim.status = change.final_status().unwrap_or(scrim.status);
    scrim.unlocked_status = None;
    scrim.updated_at = db_now(conn).await?;
    announce(conn, change, &scrim).await?;
    Ok(scrim)
}

/// Sets the platform-wide switch. Returns whether it changed.
pub async fn set_disabled(conn: &mut PgConnection, disabled: bool) -> Result<bool> {
    let changed = sqlx::query(
        "UPDATE matchmaking.platform_state SET scrims_disabled = $1, changed_at = now()
         WHERE scrims_disabled IS DISTINCT FROM $1",
    )
    .bind(disabled)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(changed == 1)
}

pub async fn lock(conn: &mut PgConnection, scrim_id: Uuid) -> Result<ScrimRow> {
    store::lock(conn, scrim_id)
        .await?
        .ok_or_else(|| not_found(scrim_id))
}

/// Reads a scrim in its contract shape, as this transaction sees it.
async fn read(conn: &mut PgConnection, scrim_id: Uuid) -> Result<Scrim> {
    store::load(conn, scrim_id)
        .await?
        .ok_or_else(|| not_found(scrim_id))
}

fn not_found(scrim_id: Uuid) -> crate::error::ScrimError {
    rule(
        ErrorName::ScrimNotFound,
        format!("no live scrim {scrim_id}"),
    )
}

/// The checks every create and join makes before touching a scrim.
async fn admit(
    conn: &mut PgConnection,
    options: &JoinOptions,
    skill_group: i32,
    competitive: bool,
) -> Result<()> {
    let admission = store::admission(&mut *conn, options.player_id).await?;
    if admission.scrims_disabled {
        return Err(rule(
            ErrorName::ScrimsDisabled,
            "scrims are disabled right now",
        ));
    }
    if admission.queue_banned {
        return Err(rule(
            ErrorName::PlayerQueueBanned,
            "the player is queue banned",
        ));
    }
    if competitive && options.skill_group_id != Some(skill_group) {
        return Err(rule(
            ErrorName::ScrimSkillGroupMismatch,
            "a competitive scrim only takes players of its skill group (send skillGroupId)",
        ));
    }
    Ok(())
}

fn group_mode_error() -> crate::error::ScrimError {
    rule(
        ErrorName::ScrimGroupNotSupportedInMode,
        "groups exist only in TEAMS mode",
    )
}

async fn invite_window_open(conn: &mut PgConnection, row: &ScrimRow) -> Result<bool> {
    let Some(opens_at) = row.group_invite_opens_at else {
        return Ok(false);
    };
    Ok(db_now(conn).await? < opens_at)
}

async fn check_group_has_room(
    conn: &mut PgConnection,
    scrim_id: Uuid,
    code: &GroupCode,
) -> Result<()> {
    let group: Option<(i16, i16)> = sqlx::query_as(
        "SELECT member_count, capacity FROM matchmaking.scrim_groups WHERE scrim_id = $1 AND code = $2",
    )
    .bind(scrim_id)
    .bind(code.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    match group {
        None => Err(rule(
            ErrorName::GroupNotFound,
            format!("no group {} in this scrim", code.as_str()),
        )),
        Some((members, capacity)) if members >= capacity => Err(rule(
            ErrorName::GroupFull,
            "the group is as large as a team",
        )),
        Some(_) => Ok(()),
    }
}

/// Creates a group with a fresh code and opens the invite window.
async fn create_group(
    mm: &Matchmaking,
    conn: &mut PgConnection,
    scrim_id: Uuid,
) -> Result<GroupCode> {
    loop {
        let code = mm.group_code()?;
        let inserted = sqlx::query(
            "INSERT INTO matchmaking.scrim_groups (scrim_id, code, capacity) VALUES ($1, $2, 0)
             ON CONFLICT DO NOTHING",
        )
        .bind(scrim_id)
        .bind(code.as_str())
        .execute(&mut *conn)
        .await?
        .rows_affected();
        if inserted == 1 {
            sqlx::query(
                "UPDATE matchmaking.scrims SET group_invite_opens_at = now() + make_interval(secs => $2)
                 WHERE id = $1",
            )
            .bind(scrim_id)
            .bind(f64::from(mm.settings.group_invite_window_secs))
            .execute(&mut *conn)
            .await?;
            return Ok(code);
        }
    }
}

async fn add_player(
    conn: &mut PgConnection,
    scrim_id: Uuid,
    options: &JoinOptions,
    group: Option<&GroupCode>,
) -> Result<()> {
    let leave_at: chrono::DateTime<chrono::Utc> = sqlx::query_scalar(
        "INSERT INTO matchmaking.scrim_players (scrim_id, player_id, name, joined_at, leave_at, group_code)
         VALUES ($1, $2, $3, now(), now() + make_interval(secs => $4), $5)
         RETURNING leave_at",
    )
    .bind(scrim_id)
    .bind(options.player_id)
    .bind(options.player_name.as_str())
    .bind(f64::from(options.leave_after.secs()))
    .bind(group.map(GroupCode::as_str))
    .fetch_one(&mut *conn)
    .await?;
    timers::arm_leave(conn, scrim_id, options.player_id, leave_at).await?;
    touch(conn, scrim_id).await
}

/// The columns of a new scrim row.
struct NewScrim<'a> {
    id: Uuid,
    author_id: PlayerId,
    organization_id: i32,
    game_mode_id: i32,
    skill_group_id: i32,
    settings: &'a domain::ScrimSettings,
    status: &'static str,
    submission_id: Option<&'a str>,
    game_count: i16,
    test: bool,
}

impl<'a> NewScrim<'a> {
    fn from_request(id: Uuid, request: &CreateScrim, settings: &'a domain::ScrimSettings) -> Self {
        Self {
            id,
            author_id: request.author_id,
            organization_id: request.organization_id,
            game_mode_id: request.game_mode_id,
            skill_group_id: request.skill_group_id,
            settings,
            status: "PENDING",
            submission_id: None,
            game_count: 0,
            test: false,
        }
    }
}

async fn insert_scrim(conn: &mut PgConnection, new: &NewScrim<'_>) -> Result<()> {
    let settings = new.settings;
    sqlx::query(
        "INSERT INTO matchmaking.scrims (id, status, author_id, organization_id, game_mode_id,
             skill_group_id, submission_id, team_size, team_count, mode, competitive, observable,
             lfs, test, checkin_timeout_ms, game_count)
         VALUES ($1, $2::matchmaking.scrim_status, $3, $4, $5, $6, $7, $8, $9,
                 $10::matchmaking.scrim_mode, $11, $12, $13, $14, $15, $16)",
    )
    .bind(new.id)
    .bind(new.status)
    .bind(new.author_id)
    .bind(new.organization_id)
    .bind(new.game_mode_id)
    .bind(new.skill_group_id)
    .bind(new.submission_id)
    .bind(i16::from(settings.team_size.get()))
    .bind(i16::from(settings.team_count.get()))
    .bind(settings.mode.as_str())
    .bind(settings.competitive)
    .bind(settings.observable)
    .bind(settings.lfs)
    .bind(new.test)
    .bind(checkin_ms(settings))
    .bind(new.game_count)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

fn checkin_ms(settings: &domain::ScrimSettings) -> i32 {
    // Bounded to one hour by CheckinTimeout.
    i32::try_from(settings.checkin_timeout.millis()).unwrap_or(i32::MAX)
}

async fn touch(conn: &mut PgConnection, scrim_id: Uuid) -> Result<()> {
    sqlx::query("UPDATE matchmaking.scrims SET updated_at = now() WHERE id = $1")
        .bind(scrim_id)
        .execute(conn)
        .await?;
    Ok(())
}

async fn db_now(conn: &mut PgConnection) -> Result<chrono::DateTime<chrono::Utc>> {
    Ok(sqlx::query_scalar("SELECT now()").fetch_one(conn).await?)
}

/// Reads the scrim as it now is (its row is locked, or was inserted, by this transaction) and
/// announces `change`.
async fn finish(conn: &mut PgConnection, scrim_id: Uuid, change: ScrimChange) -> Result<Scrim> {
    let scrim = read(conn, scrim_id).await?;
    announce(conn, change, &scrim).await?;
    Ok(scrim)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::status_sql;

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
