//! Matchmaking: the scrim lifecycle (queueing, pops, check-ins, teams, lobbies) on PostgreSQL,
//! with its timers and incoming events on pg-queue.

pub mod access;
pub mod consumers;
pub mod error;
pub mod events;
pub mod http;
pub mod lifecycle;
pub mod reconcile;
pub mod settings;
pub mod store;
pub mod timers;
pub mod workers;

use std::sync::{Arc, Mutex};

use axum::Router;
use db::ServiceRole;
use domain::Lobby;
use domain::generation::{self, Game, Randomness, RosterEntry};
use domain::{ErrorName, GroupCode, ScrimMode};
use service_kit::{ServiceContext, ServiceSpec};
use sqlx::PgPool;

pub use settings::Settings;

use crate::error::{ScrimError, rule};
use crate::lifecycle::StartNeeds;

/// How the `matchmaking` binary names itself, logs in, and listens.
pub const SPEC: ServiceSpec = ServiceSpec {
    name: "matchmaking",
    env_prefix: "MATCHMAKING_",
    role: ServiceRole::Matchmaking,
    default_port: 8081,
};

/// The service's shared state: its pool, settings and source of randomness.
#[derive(Debug, Clone)]
pub struct Matchmaking {
    pub pool: PgPool,
    pub settings: Arc<Settings>,
    rng: Arc<Mutex<fastrand::Rng>>,
}

impl Matchmaking {
    pub fn new(pool: PgPool, settings: Arc<Settings>) -> Self {
        let rng = settings
            .random_seed
            .map_or_else(fastrand::Rng::new, fastrand::Rng::with_seed);
        Self {
            pool,
            settings,
            rng: Arc::new(Mutex::new(rng)),
        }
    }

    fn with_rng<T>(&self, f: impl FnOnce(&mut fastrand::Rng) -> T) -> T {
        // A panic while generating cannot leave the generator half-updated in a way that
        // matters: recover it rather than poisoning every later request.
        let mut rng = self
            .rng
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut rng)
    }

    /// A fresh group code, from the operating system's generator: codes gate the invite window,
    /// so nobody may predict them from the codes they have seen.
    pub(crate) fn group_code(&self) -> Result<GroupCode, ScrimError> {
        let mut os = OsRandom::default();
        let code = generation::generate_group_code(&mut os);
        os.check()?;
        Ok(GroupCode::try_from(code)
            .unwrap_or_else(|_| unreachable!("generated codes are five lowercase letters")))
    }

    /// Teams, games and lobby for a scrim that is starting.
    pub(crate) fn generate(&self, needs: &StartNeeds) -> Result<(Vec<Game>, Lobby), ScrimError> {
        let entries: Vec<RosterEntry> = needs
            .roster
            .iter()
            .map(|player| RosterEntry {
                player_id: player.player_id,
                group: player.group.clone(),
            })
            .collect();
        let (size, count) = (needs.team_size, needs.team_count);
        let games = self.with_rng(|rng| match needs.mode {
            ScrimMode::Teams => generation::generate_team_games(&entries, size, count, rng),
            ScrimMode::RoundRobin => {
                generation::generate_round_robin_games(&entries, size, count, rng)
            }
        });
        let games = games.map_err(|err| {
            ScrimError::Internal(anyhow::anyhow!("generating teams for a start: {err}"))
        })?;
        // The lobby keeps strangers out of the match: from the operating system's generator, never
        // from the seedable one the teams use.
        let mut os = OsRandom::default();
        let lobby = generation::generate_lobby(&mut os);
        os.check()?;
        Ok((games, lobby))
    }
}

/// The operating system's random generator (`getrandom`), for secrets. A failure to read it is
/// kept and reported by [`OsRandom::check`], so no secret is ever made from a fallback.
#[derive(Debug, Default)]
struct OsRandom {
    failure: Option<getrandom::Error>,
}

impl Randomness for OsRandom {
    fn below(&mut self, bound: usize) -> usize {
        match getrandom::u64() {
            // Multiply and shift (Lemire): uniform up to a bias of bound / 2^64.
            Ok(random) => ((u128::from(random) * bound as u128) >> 64) as usize,
            Err(error) => {
                self.failure = Some(error);
                0
            }
        }
    }
}

impl OsRandom {
    fn check(self) -> Result<(), ScrimError> {
        match self.failure {
            None => Ok(()),
            Some(error) => Err(ScrimError::Internal(anyhow::anyhow!(
                "the operating system's random generator failed: {error}"
            ))),
        }
    }
}

/// The service's HTTP routes (service-kit adds `/healthz`, `/readyz`, `/metrics`), and its queue
/// workers, started in the background.
pub fn routes(context: ServiceContext<Settings>) -> Router {
    let matchmaking = Matchmaking::new(context.pool.clone(), context.settings.clone());
    context.access.warn_if_incomplete(SPEC.name);
    if matchmaking.settings.workers {
        workers::start(&matchmaking, &context.workers_pool, &context.background);
    }
    http::router(matchmaking, context.access)
}

/// The error answered when a request names something that does not exist.
pub(crate) fn not_found(what: &str) -> ScrimError {
    rule(ErrorName::NotFound, format!("no such {what}"))
}
