//! The Elo arithmetic of one game (DOMAIN §3): K = 32, every player rated against the average
//! rating of the opposing team.
//!
//! Each player's raw change is `K × (score − expected)`, the expectation taken from their own
//! rating against the opposing team's average (score 1 for a win, 0 for a loss). With teammates
//! of different ratings the raw changes of the two sides do not cancel exactly, so each side's
//! changes are scaled (by a positive factor, keeping every sign) until both sides move by the
//! same total, the mean of their raw totals: the points one side gains the other loses, a game
//! is zero-sum, and so is a match. When every player on a side has the same rating the factor
//! is 1 and this is plain team Elo. Games without a winner change nothing.

/// The K-factor.
pub const K: f64 = 32.0;

/// A player's rating before their first rated game in a game mode.
pub const INITIAL_RATING: f64 = 1000.0;

/// The score a player rated `rating` is expected to make against `opponent` (0 to 1).
pub fn expected(rating: f64, opponent: f64) -> f64 {
    1.0 / (1.0 + 10f64.powf((opponent - rating) / 400.0))
}

fn average(ratings: &[f64]) -> f64 {
    ratings.iter().sum::<f64>() / ratings.len() as f64
}

/// The rating changes of one game that `winners` won against `losers`, in the order given.
/// A side without players changes nothing.
pub fn game_changes(winners: &[f64], losers: &[f64]) -> (Vec<f64>, Vec<f64>) {
    if winners.is_empty() || losers.is_empty() {
        return (vec![0.0; winners.len()], vec![0.0; losers.len()]);
    }
    let (winners_average, losers_average) = (average(winners), average(losers));
    let raw_wins: Vec<f64> = winners
        .iter()
        .map(|rating| K * (1.0 - expected(*rating, losers_average)))
        .collect();
    let raw_losses: Vec<f64> = losers
        .iter()
        .map(|rating| K * (0.0 - expected(*rating, winners_average)))
        .collect();
    let gained: f64 = raw_wins.iter().sum();
    let lost: f64 = -raw_losses.iter().sum::<f64>();
    // Both totals are positive unless ratings are so far apart that floating point rounds an
    // expectation to certainty; then the side's share is split evenly.
    let total = (gained + lost) / 2.0;
    (
        share(&raw_wins, gained, total),
        share(&raw_losses, lost, -total),
    )
}

/// Scales `raw` (whose magnitudes sum to `magnitude`) to sum to `total`.
fn share(raw: &[f64], magnitude: f64, total: f64) -> Vec<f64> {
    if magnitude > f64::EPSILON {
        let factor = total.abs() / magnitude;
        raw.iter().map(|change| change * factor).collect()
    } else {
        vec![total / raw.len() as f64; raw.len()]
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn side() -> impl Strategy<Value = Vec<f64>> {
        prop::collection::vec(100.0..3000.0f64, 1..=4)
    }

    proptest! {
        #[test]
        fn a_game_is_zero_sum(winners in side(), losers in side()) {
            let (wins, losses) = game_changes(&winners, &losers);
            let sum: f64 = wins.iter().chain(&losses).sum();
            prop_assert!(sum.abs() < 1e-9, "sum {sum}");
        }

        #[test]
        fn winners_gain_and_losers_lose(winners in side(), losers in side()) {
            let (wins, losses) = game_changes(&winners, &losers);
            prop_assert!(wins.iter().all(|change| *change > 0.0), "{wins:?}");
            prop_assert!(losses.iter().all(|change| *change < 0.0), "{losses:?}");
        }

        #[test]
        fn a_lower_rated_teammate_gains_more(low in 500.0..1500.0f64, gap in 1.0..500.0f64,
                                             opponents in side()) {
            let (wins, _) = game_changes(&[low, low + gap], &opponents);
            prop_assert!(wins[0] > wins[1], "{wins:?}");
        }

        #[test]
        fn an_upset_moves_more_points_than_an_expected_win(rating in 500.0..2000.0f64,
                                                           gap in 1.0..600.0f64) {
            let (upset, _) = game_changes(&[rating], &[rating + gap]);
            let (expected_win, _) = game_changes(&[rating + gap], &[rating]);
            prop_assert!(upset[0] > K / 2.0 && expected_win[0] < K / 2.0);
            prop_assert!((upset[0] + expected_win[0] - K).abs() < 1e-9);
        }

        #[test]
        fn a_change_stays_within_k_per_player_of_the_larger_side(winners in side(),
                                                                losers in side()) {
            let bound = K * winners.len().max(losers.len()) as f64;
            let (wins, losses) = game_changes(&winners, &losers);
            prop_assert!(wins.iter().chain(&losses).all(|change| change.abs() < bound));
        }
    }

    #[test]
    fn equal_ratings_move_each_player_by_half_of_k() {
        let (wins, losses) = game_changes(&[1000.0; 3], &[1000.0; 3]);
        assert_eq!(wins, vec![16.0; 3]);
        assert_eq!(losses, vec![-16.0; 3]);
    }

    #[test]
    fn even_sides_of_equal_teammates_are_plain_team_elo() {
        let (wins, losses) = game_changes(&[1200.0, 1200.0], &[1000.0, 1000.0]);
        let plain = K * (1.0 - expected(1200.0, 1000.0));
        for change in wins {
            assert!((change - plain).abs() < 1e-9);
        }
        for change in losses {
            assert!((change + plain).abs() < 1e-9);
        }
    }

    #[test]
    fn a_side_without_players_changes_nothing() {
        assert_eq!(game_changes(&[], &[1000.0]), (vec![], vec![0.0]));
    }
}
