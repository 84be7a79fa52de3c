//! Team, game, lobby and group-code generation (DOMAIN §1.3-1.4). Pure functions over an
//! injected random generator: tests seed it (`fastrand::Rng::with_seed`) to be repeatable.

/// One player of the roster being split into teams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterEntry {
    pub player_id: i32,
    pub group: Option<String>,
}

/// One game: `teams[i]` holds the player ids of team `i`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Game {
    pub teams: Vec<Vec<i32>>,
}

/// A generated private lobby.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lobby {
    pub name: String,
    pub password: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenerationError {
    #[error("{actual} players cannot fill {expected} places")]
    WrongPlayerCount { expected: usize, actual: usize },
    #[error("group {0} is larger than a team")]
    GroupTooLarge(String),
    #[error("the groups do not fit on the teams")]
    GroupsDoNotFit,
}

/// Games per scrim.
pub const GAMES: usize = 3;

fn check_count(
    players: &[RosterEntry],
    team_size: u8,
    team_count: u8,
) -> Result<(), GenerationError> {
    let expected = usize::from(team_size) * usize::from(team_count);
    if players.len() == expected {
        Ok(())
    } else {
        Err(GenerationError::WrongPlayerCount {
            expected,
            actual: players.len(),
        })
    }
}

/// TEAMS: groups go on teams first (largest first, each onto the team with the most room), the
/// other players fill the remaining places at random; the same line-up plays all three games.
pub fn generate_team_games(
    players: &[RosterEntry],
    team_size: u8,
    team_count: u8,
    rng: &mut fastrand::Rng,
) -> Result<Vec<Game>, GenerationError> {
    check_count(players, team_size, team_count)?;
    let size = usize::from(team_size);
    let mut groups: Vec<(String, Vec<i32>)> = Vec::new();
    let mut solo: Vec<i32> = Vec::new();
    for player in players {
        match &player.group {
            Some(code) => match groups.iter_mut().find(|(c, _)| c == code) {
                Some((_, members)) => members.push(player.player_id),
                None => groups.push((code.clone(), vec![player.player_id])),
            },
            None => solo.push(player.player_id),
        }
    }
    if let Some((code, _)) = groups.iter().find(|(_, members)| members.len() > size) {
        return Err(GenerationError::GroupTooLarge(code.clone()));
    }
    // Random tie-breaks between equal groups, then largest first.
    rng.shuffle(&mut groups);
    groups.sort_by_key(|(_, members)| std::cmp::Reverse(members.len()));
    let mut teams: Vec<Vec<i32>> = vec![Vec::new(); usize::from(team_count)];
    for (_, members) in groups {
        let team = teams
            .iter_mut()
            .filter(|team| team.len() + members.len() <= size)
            .min_by_key(|team| team.len())
            .ok_or(GenerationError::GroupsDoNotFit)?;
        team.extend(members);
    }
    rng.shuffle(&mut solo);
    for player in solo {
        // Counts match, so a team with room always exists.
        if let Some(team) = teams.iter_mut().find(|team| team.len() < size) {
            team.push(player);
        }
    }
    Ok(vec![Game { teams }; GAMES])
}

/// Sorted form of a partition, to compare partitions regardless of order.
fn normalised(teams: &[Vec<i32>]) -> Vec<Vec<i32>> {
    let mut teams: Vec<Vec<i32>> = teams
        .iter()
        .map(|team| {
            let mut team = team.clone();
            team.sort_unstable();
            team
        })
        .collect();
    teams.sort();
    teams
}

/// ROUND_ROBIN: three games, each a different random partition of the players into teams.
/// When fewer than three distinct partitions exist (1v1 has one), the distinct ones repeat.
/// Groups are ignored (the rules forbid them in this mode).
pub fn generate_round_robin_games(
    players: &[RosterEntry],
    team_size: u8,
    team_count: u8,
    rng: &mut fastrand::Rng,
) -> Result<Vec<Game>, GenerationError> {
    check_count(players, team_size, team_count)?;
    let size = usize::from(team_size);
    let ids: Vec<i32> = players.iter().map(|p| p.player_id).collect();
    let mut games: Vec<Game> = Vec::new();
    let mut seen: Vec<Vec<Vec<i32>>> = Vec::new();
    // Random draws rejecting repeats. 2v2 has 3 partitions and 3v3 has 10, so a few hundred
    // draws find three distinct ones with overwhelming probability when they exist; when they
    // do not (1v1), the loop ends and the distinct partitions repeat.
    for _ in 0..500 {
        if games.len() == GAMES {
            break;
        }
        let mut shuffled = ids.clone();
        rng.shuffle(&mut shuffled);
        let teams: Vec<Vec<i32>> = shuffled.chunks(size).map(<[i32]>::to_vec).collect();
        let key = normalised(&teams);
        if !seen.contains(&key) {
            seen.push(key);
            games.push(Game { teams });
        }
    }
    let distinct = games.len();
    for index in distinct..GAMES {
        let repeat = games[index % distinct].clone();
        games.push(repeat);
    }
    Ok(games)
}

const WORDS: &[&str] = &[
    "amber", "anchor", "apple", "arrow", "aspen", "badger", "banjo", "basil", "beacon", "birch",
    "bison", "blaze", "boulder", "breeze", "brook", "cactus", "canyon", "cedar", "cobalt", "comet",
    "copper", "coral", "cosmic", "crane", "crystal", "dawn", "delta", "desert", "dingo", "dolphin",
    "drift", "eagle", "ember", "falcon", "fern", "flint", "forest", "fox", "frost", "galaxy",
    "garnet", "gecko", "glacier", "granite", "harbor", "hazel", "heron", "horizon", "indigo",
    "island", "jade", "jaguar", "jasper", "juniper", "kestrel", "koala", "lagoon", "lantern",
    "lemon", "lotus", "lynx", "maple", "marble", "meadow", "meteor", "mint", "moss", "nebula",
    "nova", "oak", "ocean", "olive", "onyx", "orbit", "otter", "panda", "pebble", "pepper", "pine",
    "planet", "polar", "prism", "quartz", "raven", "reef", "river", "robin", "rocket", "ruby",
    "saffron", "sage", "salmon", "sapphire", "shadow", "sierra", "silver", "sparrow", "spruce",
    "storm", "summit", "sunset", "tango", "thunder", "tiger", "topaz", "tundra", "turbo", "velvet",
    "violet", "walnut", "willow", "zephyr",
];

/// Two random words (joined by a hyphen) as the lobby name, and eight random lowercase letters
/// and digits as its password.
pub fn generate_lobby(rng: &mut fastrand::Rng) -> Lobby {
    let name = format!(
        "{}-{}",
        WORDS[rng.usize(..WORDS.len())],
        WORDS[rng.usize(..WORDS.len())]
    );
    let alphabet = b"abcdefghijkmnpqrstuvwxyz23456789";
    let password = (0..8)
        .map(|_| char::from(alphabet[rng.usize(..alphabet.len())]))
        .collect();
    Lobby { name, password }
}

/// Five random lowercase letters.
pub fn generate_group_code(rng: &mut fastrand::Rng) -> String {
    (0..5).map(|_| rng.lowercase()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roster(groups: &[Option<&str>]) -> Vec<RosterEntry> {
        groups
            .iter()
            .enumerate()
            .map(|(i, group)| RosterEntry {
                player_id: i as i32 + 1,
                group: group.map(str::to_owned),
            })
            .collect()
    }

    #[test]
    fn groups_stay_together_and_every_player_plays_once_per_game() {
        for seed in 0..200 {
            let mut rng = fastrand::Rng::with_seed(seed);
            let players = roster(&[
                Some("aaaaa"),
                Some("aaaaa"),
                None,
                Some("bbbbb"),
                None,
                Some("bbbbb"),
            ]);
            let games = generate_team_games(&players, 3, 2, &mut rng).expect("fits");
            assert_eq!(games.len(), 3);
            for game in &games {
                let mut all: Vec<i32> = game.teams.concat();
                all.sort_unstable();
                assert_eq!(all, [1, 2, 3, 4, 5, 6]);
                assert!(game.teams.iter().all(|team| team.len() == 3));
                let team_of = |id: i32| game.teams.iter().position(|team| team.contains(&id));
                assert_eq!(team_of(1), team_of(2));
                assert_eq!(team_of(4), team_of(6));
            }
            assert!(games.iter().all(|game| game == &games[0]));
        }
    }

    #[test]
    fn impossible_rosters_are_errors() {
        let mut rng = fastrand::Rng::with_seed(1);
        let too_big = roster(&[Some("aaaaa"), Some("aaaaa"), Some("aaaaa"), None]);
        assert_eq!(
            generate_team_games(&too_big, 2, 2, &mut rng),
            Err(GenerationError::GroupTooLarge("aaaaa".into()))
        );
        assert!(matches!(
            generate_team_games(&roster(&[None, None, None]), 2, 2, &mut rng),
            Err(GenerationError::WrongPlayerCount {
                expected: 4,
                actual: 3
            })
        ));
        let misfit = roster(&[
            Some("aaaaa"),
            Some("aaaaa"),
            Some("bbbbb"),
            Some("bbbbb"),
            Some("ccccc"),
            Some("ccccc"),
        ]);
        assert_eq!(
            generate_team_games(&misfit, 3, 2, &mut rng),
            Err(GenerationError::GroupsDoNotFit)
        );
    }

    #[test]
    fn round_robin_uses_distinct_partitions_when_they_exist() {
        for (size, players) in [(2u8, 4usize), (3, 6)] {
            for seed in 0..50 {
                let mut rng = fastrand::Rng::with_seed(seed);
                let games =
                    generate_round_robin_games(&roster(&vec![None; players]), size, 2, &mut rng)
                        .expect("games");
                let keys: Vec<_> = games.iter().map(|g| normalised(&g.teams)).collect();
                assert_eq!(games.len(), 3);
                assert!(
                    keys[0] != keys[1] && keys[1] != keys[2] && keys[0] != keys[2],
                    "{keys:?}"
                );
            }
        }
        let mut rng = fastrand::Rng::with_seed(3);
        let one_v_one =
            generate_round_robin_games(&roster(&[None, None]), 1, 2, &mut rng).expect("games");
        assert_eq!(one_v_one.len(), 3);
    }

    #[test]
    fn the_same_seed_gives_the_same_output() {
        let players = roster(&[None; 6]);
        let a = generate_round_robin_games(&players, 3, 2, &mut fastrand::Rng::with_seed(9))
            .expect("a");
        let b = generate_round_robin_games(&players, 3, 2, &mut fastrand::Rng::with_seed(9))
            .expect("b");
        assert_eq!(a, b);
        assert_eq!(
            generate_lobby(&mut fastrand::Rng::with_seed(4)),
            generate_lobby(&mut fastrand::Rng::with_seed(4))
        );
    }

    #[test]
    fn codes_and_lobbies_have_their_shapes() {
        let mut rng = fastrand::Rng::with_seed(5);
        for _ in 0..100 {
            let code = generate_group_code(&mut rng);
            assert!(code.len() == 5 && code.bytes().all(|b| b.is_ascii_lowercase()));
            let lobby = generate_lobby(&mut rng);
            let (first, second) = lobby.name.split_once('-').expect("two words");
            assert!(WORDS.contains(&first) && WORDS.contains(&second));
            assert_eq!(lobby.password.len(), 8);
        }
    }
}
