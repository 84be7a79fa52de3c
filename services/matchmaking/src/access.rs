//! Who may do what, and who sees what (DOMAIN §7), on top of `service_kit::access` (which checks
//! the tokens and reads the acting user).
//!
//! - A request acts for the player the gateway names in `x-acting-user-id`. The `playerId` of a
//!   join, leave or check-in (and the `authorId` and `join.playerId` of a create) must be that
//!   player: the gateway names who is asking, the body says what they ask, and a caller acting
//!   for player A can never act as player B. A caller that names nobody acts for nobody. Admins
//!   may act for anyone.
//! - Lobby name and password, and group codes, are shown only to the scrim's own players (the
//!   acting user is on its roster) and to admins. Everything else about a scrim is public to
//!   every caller, as live scrim lists are.

use domain::{ErrorName, PlayerId, Scrim};
use service_kit::Caller;

use crate::error::{ScrimError, rule};

/// Refuses the request unless the caller may act for every player it names.
pub fn require_acting_for(caller: &Caller, players: &[PlayerId]) -> Result<(), ScrimError> {
    match players.iter().find(|player| !caller.may_act_for(**player)) {
        None => Ok(()),
        Some(player) => Err(rule(
            ErrorName::Forbidden,
            match caller.acting_user {
                None => format!(
                    "a request for player {player} must name that player in x-acting-user-id"
                ),
                Some(acting) => {
                    format!("a request acting for user {acting} cannot act for player {player}")
                }
            },
        )),
    }
}

/// The scrim as `caller` may see it: secrets removed unless the caller is an admin or acts for
/// one of its players.
pub fn visible_to(caller: &Caller, mut scrim: Scrim) -> Scrim {
    let insider = caller.is_admin
        || caller
            .acting_user
            .is_some_and(|user| scrim.player(user).is_some());
    if !insider {
        scrim.lobby = None;
        for player in &mut scrim.players {
            player.group = None;
        }
        for game in &mut scrim.games {
            for team in &mut game.teams {
                for player in &mut team.players {
                    player.group = None;
                }
            }
        }
    }
    scrim
}

#[cfg(test)]
mod tests {
    use chrono::Utc;
    use domain::{
        CheckinTimeout, GroupCode, Lobby, ScrimGame, ScrimMode, ScrimPlayer, ScrimSettings,
        ScrimStatus, ScrimTeam, TeamCount, TeamSize,
    };
    use uuid::Uuid;

    use super::*;

    fn caller(acting_user: Option<i32>, is_admin: bool) -> Caller {
        Caller {
            name: "gateway".into(),
            is_admin,
            acting_user,
        }
    }

    fn scrim() -> Scrim {
        let player = |id| ScrimPlayer {
            id,
            name: format!("p{id}"),
            joined_at: Utc::now(),
            leave_at: Utc::now(),
            group: Some(GroupCode::try_from("abcde".to_owned()).expect("code")),
            checked_in: true,
        };
        Scrim {
            id: Uuid::new_v4(),
            created_at: Utc::now(),
            updated_at: Utc::now(),
            status: ScrimStatus::InProgress,
            unlocked_status: None,
            author_id: 1,
            organization_id: 1,
            game_mode_id: 1,
            skill_group_id: 1,
            submission_id: Some("scrim-x".into()),
            group_invite_opens_at: None,
            popped_at: Some(Utc::now()),
            players: vec![player(1), player(2)],
            games: vec![ScrimGame {
                teams: vec![
                    ScrimTeam {
                        players: vec![player(1)],
                    },
                    ScrimTeam {
                        players: vec![player(2)],
                    },
                ],
            }],
            lobby: Some(Lobby {
                name: "amber-otter".into(),
                password: "secret12".into(),
            }),
            settings: ScrimSettings {
                team_size: TeamSize::try_from(1).expect("size"),
                team_count: TeamCount::try_from(2).expect("count"),
                mode: ScrimMode::Teams,
                competitive: false,
                observable: false,
                lfs: false,
                checkin_timeout: CheckinTimeout::DEFAULT,
            },
        }
    }

    #[test]
    fn only_the_scrims_players_and_admins_see_its_secrets() {
        let full = scrim();
        assert_eq!(visible_to(&caller(Some(2), false), full.clone()), full);
        assert_eq!(visible_to(&caller(None, true), full.clone()), full);
        for outsider in [caller(Some(3), false), caller(None, false)] {
            let seen = visible_to(&outsider, full.clone());
            assert!(seen.lobby.is_none());
            assert!(seen.players.iter().all(|p| p.group.is_none()));
            assert!(
                seen.games[0]
                    .teams
                    .iter()
                    .all(|t| t.players.iter().all(|p| p.group.is_none()))
            );
            assert_eq!(seen.players.len(), 2);
        }
    }

    #[test]
    fn a_caller_acts_only_for_the_player_it_names() {
        assert!(require_acting_for(&caller(Some(1), false), &[1, 1]).is_ok());
        assert!(require_acting_for(&caller(Some(1), false), &[1, 2]).is_err());
        assert!(require_acting_for(&caller(None, false), &[1]).is_err());
        assert!(require_acting_for(&caller(None, true), &[1, 2]).is_ok());
    }
}
