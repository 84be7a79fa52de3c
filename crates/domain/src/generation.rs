//! Team, game, lobby and group-code generation (DOMAIN §1.3-1.4).
//!
//! Every function is pure over an injected random generator. Teams and games take a
//! `fastrand::Rng`: the service owns one (seedable from its configuration) and tests seed theirs
//! with `fastrand::Rng::with_seed`, so one seed always gives the same teams. Lobbies and group
//! codes are secrets (a lobby password keeps strangers out of the match, a group code gates the
//! invite window), so they take any [`Randomness`]: the service passes the operating system's
//! generator, which a seed cannot reproduce; tests may pass a seeded `fastrand::Rng`.
//!
//! In every [`Game`] the order of the teams is random, so no team index is favoured (grouped
//! players are not always on the first team), and the player ids inside a team are sorted:
//! order within a team means nothing, and sorted teams are easier to read and compare.

use std::cmp::Reverse;

mod words;

/// Games per scrim: a scrim is always a series of three games.
pub const GAMES: usize = 3;

/// Letters in a group code.
pub const GROUP_CODE_LENGTH: usize = 5;

/// Placement steps allowed when groups need backtracking to fit. Rosters that follow the rules
/// (at most `team_count` groups) fit on the first try; the budget only bounds absurd inputs.
const PLACEMENT_STEPS: usize = 100_000;

/// Random partitions drawn for round robin before falling back to [`add_neighbours`]: enough
/// that the fallback almost never runs, few enough that 1v1 (one partition) costs nothing.
const RANDOM_DRAWS: usize = 32;

/// One player of the roster being split into teams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RosterEntry {
    /// The player's id (a core user id).
    pub player_id: i32,
    /// The code of the player's group: players sharing a code play on the same team (TEAMS).
    pub group: Option<String>,
}

/// One game: `teams[i]` holds the (sorted) player ids of team `i`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Game {
    pub teams: Vec<Vec<i32>>,
}

/// The generated private lobby is the contract's [`crate::Lobby`]: two words from a built-in
/// list joined by a hyphen (e.g. `amber-otter`, easy to read out), and eight lowercase letters
/// and digits without look-alikes (no `l`, `o`, `0`, `1`) as the password.
pub use crate::Lobby;

/// Why a roster cannot be split into teams. Matchmaking only starts scrims whose roster fits its
/// settings, so these mean a bug or corrupt data rather than a player's mistake.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GenerationError {
    /// A team size or team count of zero.
    #[error("a game needs at least one team of at least one player")]
    NoPlaces,
    /// The roster does not have exactly `team_size × team_count` players.
    #[error("{actual} players cannot fill {expected} places")]
    WrongPlayerCount { expected: usize, actual: usize },
    /// A group has more players than a team.
    #[error("group {0} is larger than a team")]
    GroupTooLarge(String),
    /// Every group fits a team, but not all of them at once.
    #[error("the groups do not fit on the teams")]
    GroupsDoNotFit,
}

/// The result of a generation.
pub type Result<T, E = GenerationError> = std::result::Result<T, E>;

/// A partition of the players into teams, normalised: each team sorted, then the teams sorted.
type Partition = Vec<Vec<i32>>;

fn check_count(players: &[RosterEntry], team_size: u8, team_count: u8) -> Result<()> {
    if team_size == 0 || team_count == 0 {
        return Err(GenerationError::NoPlaces);
    }
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

/// TEAMS (DOMAIN §1.4): groups go on teams first, each group whole on one team; the ungrouped
/// players, shuffled, fill the places left. The same line-up plays all [`GAMES`] games.
///
/// Groups are placed largest first onto the team with the most room, backtracking when that
/// greedy choice leaves a later group no room (e.g. groups of 3, 3, 2, 2, 2 on two teams of 6),
/// so a placement is found whenever one exists (within a generous step budget).
pub fn generate_team_games(
    players: &[RosterEntry],
    team_size: u8,
    team_count: u8,
    rng: &mut fastrand::Rng,
) -> Result<Vec<Game>> {
    check_count(players, team_size, team_count)?;
    let size = usize::from(team_size);
    let mut groups: Vec<(&str, Vec<i32>)> = Vec::new();
    let mut solo: Vec<i32> = Vec::new();
    for player in players {
        match player.group.as_deref() {
            Some(code) => match groups.iter_mut().find(|(c, _)| *c == code) {
                Some((_, members)) => members.push(player.player_id),
                None => groups.push((code, vec![player.player_id])),
            },
            None => solo.push(player.player_id),
        }
    }
    if let Some((code, _)) = groups.iter().find(|(_, members)| members.len() > size) {
        return Err(GenerationError::GroupTooLarge((*code).to_owned()));
    }
    // Random order among groups of equal size (the sort is stable), then largest first.
    rng.shuffle(&mut groups);
    groups.sort_by_key(|(_, members)| Reverse(members.len()));
    let needs: Vec<usize> = groups.iter().map(|(_, members)| members.len()).collect();
    let placement = place_groups(&needs, size, usize::from(team_count))
        .ok_or(GenerationError::GroupsDoNotFit)?;
    let mut teams: Vec<Vec<i32>> = vec![Vec::new(); usize::from(team_count)];
    for ((_, members), team) in groups.into_iter().zip(placement) {
        teams[team].extend(members);
    }
    rng.shuffle(&mut solo);
    let mut solo = solo.into_iter();
    for team in &mut teams {
        // The counts match, so the solo players fill exactly the places left.
        let room = size - team.len();
        team.extend(solo.by_ref().take(room));
    }
    let teams = finish(normalise(teams), rng);
    Ok(vec![Game { teams }; GAMES])
}

/// Assigns each group (by its size in `needs`, largest first) a team index, or `None` when they
/// cannot all fit. A depth-first search without recursion (rosters can be long): at each group
/// try the teams with the most room first, skipping teams exactly as full as one already tried,
/// since those are interchangeable.
fn place_groups(needs: &[usize], size: usize, team_count: usize) -> Option<Vec<usize>> {
    let mut fill = vec![0; team_count];
    // One frame per placed group: the teams it may go on, and which one it is on now.
    let mut frames: Vec<(Vec<usize>, usize)> = Vec::with_capacity(needs.len());
    for _ in 0..PLACEMENT_STEPS {
        let Some(&need) = needs.get(frames.len()) else {
            return Some(frames.iter().map(|(teams, at)| teams[*at]).collect());
        };
        let mut candidates: Vec<usize> = (0..team_count)
            .filter(|&team| fill[team] + need <= size)
            .collect();
        candidates.sort_by_key(|&team| fill[team]);
        candidates.dedup_by_key(|team| fill[*team]);
        if let Some(&team) = candidates.first() {
            fill[team] += need;
            frames.push((candidates, 0));
            continue;
        }
        // Dead end: move the latest group that has another choice, dropping those that do not.
        loop {
            let group = frames.len().checked_sub(1)?;
            let (teams, at) = &mut frames[group];
            fill[teams[*at]] -= needs[group];
            *at += 1;
            if let Some(&team) = teams.get(*at) {
                fill[team] += needs[group];
                break;
            }
            frames.pop();
        }
    }
    None
}

/// ROUND_ROBIN (DOMAIN §1.4): [`GAMES`] games, each a different random partition of the players
/// into `team_count` teams of `team_size`. Partitions are compared ignoring the order of teams
/// and of players within a team. Groups are ignored: the rules forbid them in this mode.
///
/// Partitions are drawn uniformly at random, rejecting repeats; if a few dozen draws are not
/// enough (only likely with 2v2, which has just three partitions), partitions one swap of two
/// players away from the first complete the set, so this always ends quickly. Fewer than three partitions exist only when
/// there is exactly one (teams of one player, as in 1v1, or a single team): it is played three
/// times.
pub fn generate_round_robin_games(
    players: &[RosterEntry],
    team_size: u8,
    team_count: u8,
    rng: &mut fastrand::Rng,
) -> Result<Vec<Game>> {
    check_count(players, team_size, team_count)?;
    let size = usize::from(team_size);
    let mut ids: Vec<i32> = players.iter().map(|player| player.player_id).collect();
    let mut partitions: Vec<Partition> = Vec::with_capacity(GAMES);
    for _ in 0..RANDOM_DRAWS {
        if partitions.len() == GAMES {
            break;
        }
        rng.shuffle(&mut ids);
        push_if_new(
            &mut partitions,
            ids.chunks(size).map(<[i32]>::to_vec).collect(),
        );
    }
    add_neighbours(&mut partitions);
    Ok(partitions
        .iter()
        .cycle()
        .take(GAMES)
        .map(|partition| Game {
            teams: finish(partition.clone(), rng),
        })
        .collect())
}

/// Sorts each team, then the teams, so equal partitions compare equal.
fn normalise(mut teams: Vec<Vec<i32>>) -> Partition {
    for team in &mut teams {
        team.sort_unstable();
    }
    teams.sort_unstable();
    teams
}

fn push_if_new(partitions: &mut Vec<Partition>, teams: Vec<Vec<i32>>) {
    let partition = normalise(teams);
    if !partitions.contains(&partition) {
        partitions.push(partition);
    }
}

/// Adds partitions one swap away from the first (two players on different teams trade places)
/// until there are [`GAMES`]. With at least two teams of at least two players there are
/// `team_size²` or more such partitions, all different from the first and from each other, so
/// this always completes the set; otherwise only one partition exists and nothing is added.
fn add_neighbours(partitions: &mut Vec<Partition>) {
    let Some(first) = partitions.first().cloned() else {
        return;
    };
    for a in 0..first.len() {
        for b in a + 1..first.len() {
            for i in 0..first[a].len() {
                for j in 0..first[b].len() {
                    if partitions.len() >= GAMES {
                        return;
                    }
                    let mut teams = first.clone();
                    teams[a][i] = first[b][j];
                    teams[b][j] = first[a][i];
                    push_if_new(partitions, teams);
                }
            }
        }
    }
}

/// A source of uniformly random choices.
pub trait Randomness {
    /// A uniformly random index below `bound` (which is at least 1).
    fn below(&mut self, bound: usize) -> usize;
}

impl Randomness for fastrand::Rng {
    fn below(&mut self, bound: usize) -> usize {
        self.usize(..bound)
    }
}

/// A game's teams in random order (players within each team stay sorted).
fn finish(mut teams: Partition, rng: &mut fastrand::Rng) -> Vec<Vec<i32>> {
    rng.shuffle(&mut teams);
    teams
}

/// Lobby password characters: lowercase letters and digits without the look-alikes `l`, `o`,
/// `0` and `1`, since players type the password from a Discord message into the game client.
const PASSWORD_ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";

/// Password length: 8 characters of 32 possible is 40 bits, plenty for a lobby that lives for
/// one scrim.
pub const PASSWORD_LENGTH: usize = 8;

/// A private lobby for a starting scrim: two random words from a built-in list joined by a
/// hyphen as its name (readable, and unlikely to clash with another lobby), and a random
/// [`PASSWORD_LENGTH`]-character password of lowercase letters and digits.
pub fn generate_lobby(rng: &mut impl Randomness) -> Lobby {
    let first = words::WORDS[rng.below(words::WORDS.len())];
    let second = words::WORDS[rng.below(words::WORDS.len())];
    let name = format!("{first}-{second}");
    let password = (0..PASSWORD_LENGTH)
        .map(|_| char::from(PASSWORD_ALPHABET[rng.below(PASSWORD_ALPHABET.len())]))
        .collect();
    Lobby { name, password }
}

/// A new group code (DOMAIN §1.3): [`GROUP_CODE_LENGTH`] random lowercase ASCII letters, short
/// enough to share in a chat message.
pub fn generate_group_code(rng: &mut impl Randomness) -> String {
    (0..GROUP_CODE_LENGTH)
        .map(|_| char::from(b'a' + rng.below(26) as u8))
        .collect()
}

/// Whether `code` has the shape of a group code: exactly [`GROUP_CODE_LENGTH`] ASCII letters
/// `a`-`z`. Says nothing about whether such a group exists.
pub fn is_valid_group_code(code: &str) -> bool {
    code.len() == GROUP_CODE_LENGTH && code.bytes().all(|b| b.is_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Players 1..=n, with the given groups.
    fn roster(groups: &[Option<&str>]) -> Vec<RosterEntry> {
        (1..)
            .zip(groups)
            .map(|(player_id, group)| RosterEntry {
                player_id,
                group: group.map(str::to_owned),
            })
            .collect()
    }

    fn team_of(game: &Game, id: i32) -> Option<usize> {
        game.teams.iter().position(|team| team.contains(&id))
    }

    /// Every player of `players` exactly once, on `team_count` teams of exactly `team_size`.
    fn assert_well_formed(games: &[Game], players: usize, team_size: usize, team_count: usize) {
        assert_eq!(games.len(), GAMES);
        for game in games {
            assert_eq!(game.teams.len(), team_count, "{game:?}");
            assert!(game.teams.iter().all(|t| t.len() == team_size), "{game:?}");
            let mut all = game.teams.concat();
            all.sort_unstable();
            assert_eq!(all, (1..).take(players).collect::<Vec<i32>>(), "{game:?}");
        }
    }

    fn distinct(games: &[Game]) -> usize {
        let mut seen: Vec<Partition> = Vec::new();
        for game in games {
            push_if_new(&mut seen, game.teams.clone());
        }
        seen.len()
    }

    #[test]
    fn every_player_plays_once_per_game_on_a_team_of_exact_size_in_both_modes() {
        for seed in 0..100 {
            let mut rng = fastrand::Rng::with_seed(seed);
            for (size, count) in [(1, 2), (2, 2), (3, 2), (4, 2), (2, 4), (3, 3), (5, 2)] {
                let players = roster(&vec![None; size * count]);
                let (s, c) = (size as u8, count as u8);
                let teams = generate_team_games(&players, s, c, &mut rng).expect("teams");
                assert_well_formed(&teams, size * count, size, count);
                assert!(teams.iter().all(|game| game == &teams[0]));
                let rr = generate_round_robin_games(&players, s, c, &mut rng).expect("rr");
                assert_well_formed(&rr, size * count, size, count);
            }
        }
    }

    #[test]
    fn grouped_players_always_share_a_team() {
        for seed in 0..500 {
            let mut rng = fastrand::Rng::with_seed(seed);
            let (size, count) = (rng.usize(1..=4), rng.usize(2..=4));
            // Up to `count` groups (the rule), each of 1 to `size` players; the rest solo.
            let codes = ["aaaaa", "bbbbb", "ccccc", "ddddd"];
            let mut groups: Vec<Option<&str>> = Vec::new();
            for code in codes.iter().take(rng.usize(0..=count)) {
                groups.extend(std::iter::repeat_n(Some(*code), rng.usize(1..=size)));
            }
            groups.resize(size * count, None);
            rng.shuffle(&mut groups);
            let players = roster(&groups);
            let games = generate_team_games(&players, size as u8, count as u8, &mut rng)
                .expect("groups within the rules always fit");
            assert_well_formed(&games, size * count, size, count);
            let game = &games[0];
            for a in players.iter().filter(|a| a.group.is_some()) {
                let team = team_of(game, a.player_id);
                let mut mates = players.iter().filter(|b| b.group == a.group);
                assert!(
                    mates.all(|b| team_of(game, b.player_id) == team),
                    "{game:?}"
                );
            }
        }
    }

    #[test]
    fn groups_that_only_fit_after_backtracking_are_placed() {
        // Greedy (3→A, 3→B, 2→A, 2→B) leaves no team for the last 2; 3+3 | 2+2+2 works.
        let sizes = [3, 3, 2, 2, 2];
        let codes = ["aaaaa", "bbbbb", "ccccc", "ddddd", "eeeee"];
        let groups: Vec<Option<&str>> = codes
            .iter()
            .zip(sizes)
            .flat_map(|(code, n)| std::iter::repeat_n(Some(*code), n))
            .collect();
        let players = roster(&groups);
        let games =
            generate_team_games(&players, 6, 2, &mut fastrand::Rng::with_seed(1)).expect("fits");
        assert_well_formed(&games, 12, 6, 2);
        assert_eq!(team_of(&games[0], 1), team_of(&games[0], 4));
        assert_eq!(team_of(&games[0], 7), team_of(&games[0], 12));
    }

    #[test]
    fn impossible_rosters_are_errors() {
        let mut rng = fastrand::Rng::with_seed(1);
        let a = Some("aaaaa");
        let too_big = roster(&[a, a, a, None]);
        assert_eq!(
            generate_team_games(&too_big, 2, 2, &mut rng),
            Err(GenerationError::GroupTooLarge("aaaaa".into()))
        );
        let (b, c) = (Some("bbbbb"), Some("ccccc"));
        let misfit = roster(&[a, a, b, b, c, c]);
        assert_eq!(
            generate_team_games(&misfit, 3, 2, &mut rng),
            Err(GenerationError::GroupsDoNotFit)
        );
        let short = roster(&[None, None, None]);
        let wrong_count = Err(GenerationError::WrongPlayerCount {
            expected: 4,
            actual: 3,
        });
        assert_eq!(generate_team_games(&short, 2, 2, &mut rng), wrong_count);
        let round_robin = generate_round_robin_games(&short, 2, 2, &mut rng);
        assert_eq!(round_robin, wrong_count);
        let none = Err(GenerationError::NoPlaces);
        assert_eq!(generate_team_games(&[], 0, 2, &mut rng), none);
        assert_eq!(generate_round_robin_games(&[], 2, 0, &mut rng), none);
    }

    #[test]
    fn round_robin_2v2_plays_its_three_partitions_and_3v3_three_of_its_ten() {
        for seed in 0..200 {
            let mut rng = fastrand::Rng::with_seed(seed);
            let two = generate_round_robin_games(&roster(&[None; 4]), 2, 2, &mut rng);
            assert_eq!(distinct(&two.expect("2v2")), 3);
            let three = generate_round_robin_games(&roster(&[None; 6]), 3, 2, &mut rng);
            assert_eq!(distinct(&three.expect("3v3")), 3);
        }
    }

    #[test]
    fn round_robin_1v1_repeats_its_only_partition() {
        let mut rng = fastrand::Rng::with_seed(3);
        let games = generate_round_robin_games(&roster(&[None; 2]), 1, 2, &mut rng).expect("1v1");
        assert_well_formed(&games, 2, 1, 2);
        assert_eq!(distinct(&games), 1);
    }

    #[test]
    fn round_robin_finds_distinct_partitions_of_large_scrims_and_ignores_groups() {
        let mut rng = fastrand::Rng::with_seed(7);
        for (size, count) in [(4u8, 2u8), (2, 5), (5, 2), (8, 8)] {
            let n = usize::from(size) * usize::from(count);
            let players = roster(&vec![Some("aaaaa"); n]);
            let games = generate_round_robin_games(&players, size, count, &mut rng).expect("rr");
            assert_well_formed(&games, n, size.into(), count.into());
            assert_eq!(distinct(&games), 3);
        }
    }

    #[test]
    fn swapping_players_completes_a_set_of_partitions_the_draws_missed() {
        let mut partitions = vec![vec![vec![1, 2], vec![3, 4]]];
        add_neighbours(&mut partitions);
        assert_eq!(partitions.len(), 3);
        let mut one_v_one = vec![vec![vec![1], vec![2]]];
        add_neighbours(&mut one_v_one);
        assert_eq!(one_v_one.len(), 1);
    }

    #[test]
    fn the_same_seed_gives_the_same_output_and_other_seeds_differ() {
        let players = roster(&[None, None, Some("aaaaa"), Some("aaaaa"), None, None]);
        let run = |seed| {
            let mut rng = fastrand::Rng::with_seed(seed);
            (
                generate_team_games(&players, 3, 2, &mut rng).expect("teams"),
                generate_round_robin_games(&players, 3, 2, &mut rng).expect("rr"),
                generate_lobby(&mut rng),
                generate_group_code(&mut rng),
            )
        };
        assert_eq!(run(9), run(9));
        let (first, others) = (run(0), (1..20).map(run).collect::<Vec<_>>());
        assert!(others.iter().any(|other| other.0 != first.0));
        assert!(others.iter().any(|other| other.1 != first.1));
        assert!(others.iter().any(|other| other.2 != first.2));
        assert!(others.iter().any(|other| other.3 != first.3));
    }

    #[test]
    fn group_codes_are_five_lowercase_letters_and_only_those_are_valid() {
        let mut rng = fastrand::Rng::with_seed(5);
        for _ in 0..1000 {
            let code = generate_group_code(&mut rng);
            assert!(code.len() == 5 && code.bytes().all(|b| b.is_ascii_lowercase()));
            assert!(is_valid_group_code(&code), "{code}");
        }
        for bad in ["", "abcd", "abcdef", "abcD1", "abc e", "ab-cd", "abcdé"] {
            assert!(!is_valid_group_code(bad), "{bad}");
        }
    }

    #[test]
    fn lobby_names_are_two_listed_words_and_passwords_eight_safe_characters() {
        let mut rng = fastrand::Rng::with_seed(5);
        for _ in 0..1000 {
            let lobby = generate_lobby(&mut rng);
            let (first, second) = lobby.name.split_once('-').expect("two words");
            assert!(words::WORDS.contains(&first) && words::WORDS.contains(&second));
            assert_eq!(lobby.password.len(), PASSWORD_LENGTH);
            let safe = |b| PASSWORD_ALPHABET.contains(&b);
            assert!(lobby.password.bytes().all(safe), "{lobby:?}");
            assert!(!lobby.password.contains(['l', 'o', '0', '1']));
        }
        let mut words = words::WORDS.to_vec();
        words.sort_unstable();
        words.dedup();
        assert!(words.len() == words::WORDS.len() && words.len() >= 100);
        let short_lowercase = |w: &&str| w.len() <= 8 && w.bytes().all(|b| b.is_ascii_lowercase());
        assert!(words.iter().all(short_lowercase));
    }
}
