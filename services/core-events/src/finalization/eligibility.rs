//! Eligibility points (DOMAIN §3): a competitive scrim gives each of its players 3; a
//! competitive LFS gives min(3, cap − the player's points of the last 30 days), the cap being 7
//! in the top skill group (ordinal 1) and 15 in the others; league matches give none. Awards of
//! 0 are not written. The caller holds the players' row locks, so two finalizations cannot both
//! read the same past points and together exceed a cap.

use sqlx::PgConnection;

use super::SaveError;

/// Points a scrim (or LFS) awards at most.
pub const SCRIM_POINTS: i32 = 3;
/// The LFS cap in the top skill group, and in the others.
pub const TOP_SKILL_GROUP_LFS_CAP: i32 = 7;
pub const LFS_CAP: i32 = 15;

/// A competitive scrim: 3 points to each player.
pub async fn award_scrim(
    conn: &mut PgConnection,
    match_id: i64,
    players: &[i32],
) -> Result<(), SaveError> {
    sqlx::query(
        "INSERT INTO core.eligibility_points (match_id, player_id, points)
         SELECT $1, player_id, $3 FROM unnest($2::int[]) AS p(player_id)",
    )
    .bind(match_id)
    .bind(players)
    .bind(SCRIM_POINTS)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The LFS award of a player who has `recent` points of the last 30 days, under `cap`.
pub fn lfs_award(cap: i32, recent: i64) -> i32 {
    let room = i64::from(cap) - recent;
    i32::try_from(room.clamp(0, i64::from(SCRIM_POINTS))).unwrap_or(0)
}

/// A competitive LFS: each player's award is capped by their recent points.
pub async fn award_lfs(
    conn: &mut PgConnection,
    match_id: i64,
    skill_group: i32,
    players: &[i32],
) -> Result<(), SaveError> {
    let ordinal: i16 =
        sqlx::query_scalar("SELECT ordinal FROM core.skill_group_definitions WHERE id = $1")
            .bind(skill_group)
            .fetch_one(&mut *conn)
            .await?;
    let cap = if ordinal == 1 {
        TOP_SKILL_GROUP_LFS_CAP
    } else {
        LFS_CAP
    };
    let recent: Vec<(i32, i64)> = sqlx::query_as(
        "SELECT p.player_id, coalesce(sum(e.points), 0)::bigint
         FROM unnest($1::int[]) AS p(player_id)
         LEFT JOIN core.eligibility_points e
                ON e.player_id = p.player_id AND e.earned_at > now() - interval '30 days'
         GROUP BY p.player_id",
    )
    .bind(players)
    .fetch_all(&mut *conn)
    .await?;
    let (awarded, points): (Vec<i32>, Vec<i32>) = recent
        .into_iter()
        .map(|(player, recent)| (player, lfs_award(cap, recent)))
        .filter(|(_, points)| *points > 0)
        .unzip();
    sqlx::query(
        "INSERT INTO core.eligibility_points (match_id, player_id, points)
         SELECT $1, player_id, points FROM unnest($2::int[], $3::int[]) AS p(player_id, points)",
    )
    .bind(match_id)
    .bind(&awarded)
    .bind(&points)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_lfs_award_fills_the_room_under_the_cap_up_to_three_points() {
        assert_eq!(lfs_award(LFS_CAP, 0), 3);
        assert_eq!(lfs_award(LFS_CAP, 13), 2);
        assert_eq!(lfs_award(LFS_CAP, 15), 0);
        assert_eq!(lfs_award(TOP_SKILL_GROUP_LFS_CAP, 6), 1);
        assert_eq!(lfs_award(TOP_SKILL_GROUP_LFS_CAP, 40), 0);
    }
}
