//! Check-in, and the start of a scrim when its last player checks in.
//!
//! The start needs randomness the service owns: teams from the seedable generator (DOMAIN §1.4),
//! the lobby from the operating system's. The SQL function `matchmaking.check_in` therefore
//! starts a scrim only with a plan, and when the last check-in comes without one it writes
//! nothing and answers with the roster to plan for. Only that one check-in of a scrim costs a
//! second round trip.

use domain::generation::Game;
use domain::{Lobby, PlayerId, Scrim, ScrimMode};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::PgPool;
use sqlx::types::Json;
use uuid::Uuid;

use super::ATTEMPTS;
use crate::Matchmaking;
use crate::error::{Result, ScrimError};

/// What a start must be planned for: the scrim's shape and its roster in arrival order.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartNeeds {
    pub team_size: u8,
    pub team_count: u8,
    pub mode: ScrimMode,
    pub roster: Vec<RosterPlayer>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RosterPlayer {
    pub player_id: PlayerId,
    pub group: Option<String>,
}

/// The plan a start is made with: each game's teams (player ids), and the lobby.
#[derive(Debug, Serialize)]
struct StartPlan {
    games: Vec<Vec<Vec<PlayerId>>>,
    lobby: Lobby,
}

/// What `matchmaking.check_in` answers: the scrim, or what its start needs.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CheckInAnswer {
    start_needs: Option<StartNeeds>,
    #[serde(flatten)]
    scrim: Value,
}

/// Checks a player in; the last check-in starts the scrim with its teams and lobby.
pub async fn check_in(
    mm: &Matchmaking,
    pool: &PgPool,
    scrim_id: Uuid,
    player: PlayerId,
) -> Result<Scrim> {
    let mut plan: Option<StartPlan> = None;
    for _ in 0..ATTEMPTS {
        let Json(answer): Json<CheckInAnswer> =
            sqlx::query_scalar("SELECT matchmaking.check_in($1, $2, $3)")
                .bind(scrim_id)
                .bind(player)
                .bind(plan.as_ref().map(Json))
                .fetch_one(pool)
                .await?;
        match answer.start_needs {
            None => return serde_json::from_value(answer.scrim).map_err(internal),
            Some(needs) => plan = Some(plan_start(mm, &needs)?),
        }
    }
    Err(ScrimError::Internal(anyhow::anyhow!(
        "scrim {scrim_id} refused {ATTEMPTS} start plans"
    )))
}

fn plan_start(mm: &Matchmaking, needs: &StartNeeds) -> Result<StartPlan> {
    let (games, lobby) = mm.generate(needs)?;
    Ok(StartPlan {
        games: games.into_iter().map(|Game { teams }| teams).collect(),
        lobby,
    })
}

fn internal(error: serde_json::Error) -> ScrimError {
    ScrimError::Internal(anyhow::Error::new(error).context("decoding a checked-in scrim"))
}
