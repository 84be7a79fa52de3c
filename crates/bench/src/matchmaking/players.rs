//! Simulated players: each cycles through find-or-create, join, wait, maybe leave, check in,
//! and (as the author of a started scrim) end it, against a target's HTTP API. What they see is
//! recorded for the latency table and for the invariant checks.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

/// The endpoints measured, in report order.
pub const ENDPOINTS: [&str; 7] = [
    "list", "create", "join", "get", "leave", "check-in", "cancel",
];

/// Everything the players saw.
#[derive(Debug, Default)]
pub struct Observations {
    pub latency: HashMap<&'static str, Histogram<u64>>,
    pub errors: HashMap<&'static str, u64>,
    pub server_errors: u64,
    /// Join answers that popped the scrim, per scrim.
    pub pops: HashMap<String, usize>,
    /// Check-in answers that started the scrim, per scrim.
    pub starts: HashMap<String, usize>,
    /// Answers showing more players than the scrim holds.
    pub over_capacity: u64,
    /// Players whose check-in was acknowledged, per scrim.
    pub acked_check_ins: HashMap<String, HashSet<i64>>,
    /// Joins that were acknowledged but whose player was missing from the scrim afterwards
    /// (a lost update).
    pub lost_joins: u64,
    /// Scrims completed (ended by their first player after starting).
    pub completed: u64,
    /// Open loop: how late actions started after their scheduled time (microseconds).
    pub lag: Option<Histogram<u64>>,
}

impl Observations {
    fn record(&mut self, endpoint: &'static str, elapsed: Duration, status: StatusCode) {
        let histogram = self.latency.entry(endpoint).or_insert_with(|| {
            Histogram::new_with_bounds(1, 60_000_000, 3)
                .unwrap_or_else(|_| unreachable!("valid bounds"))
        });
        let _ = histogram.record(
            u64::try_from(elapsed.as_micros())
                .unwrap_or(u64::MAX)
                .max(1),
        );
        if status.is_server_error() {
            self.server_errors += 1;
        } else if status.is_client_error() {
            *self.errors.entry(endpoint).or_default() += 1;
        }
    }

    fn record_lag(&mut self, lag: Duration) {
        let histogram = self.lag.get_or_insert_with(|| {
            Histogram::new_with_bounds(1, 600_000_000, 3)
                .unwrap_or_else(|_| unreachable!("valid bounds"))
        });
        let _ = histogram.record(u64::try_from(lag.as_micros()).unwrap_or(u64::MAX).max(1));
    }

    fn observe_scrim(&mut self, scrim: &Value) {
        let capacity = scrim["settings"]["teamSize"].as_u64().unwrap_or(0)
            * scrim["settings"]["teamCount"].as_u64().unwrap_or(0);
        let players = scrim["players"].as_array().map_or(0, Vec::len) as u64;
        if players > capacity {
            self.over_capacity += 1;
        }
    }
}

pub type Shared = Arc<Mutex<Observations>>;

/// One HTTP call, timed and recorded.
async fn call(
    seen: &Shared,
    endpoint: &'static str,
    request: reqwest::RequestBuilder,
) -> (StatusCode, Value) {
    let started = Instant::now();
    let outcome = request.send().await;
    let (status, body) = match outcome {
        Ok(response) => {
            let status = response.status();
            let body = response.json::<Value>().await.unwrap_or(Value::Null);
            (status, body)
        }
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, Value::Null),
    };
    let elapsed = started.elapsed();
    lock(seen).record(endpoint, elapsed, status);
    (status, body)
}

pub fn lock(seen: &Shared) -> std::sync::MutexGuard<'_, Observations> {
    seen.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Settings of every scrim the players create: 2v2, so four players pop it.
fn create_body(player: i64) -> Value {
    json!({
        "authorId": player, "organizationId": 1, "gameModeId": 1, "skillGroupId": 1,
        "settings": {"teamSize": 2, "teamCount": 2, "mode": "TEAMS", "competitive": false, "observable": false},
        "join": {"playerId": player, "playerName": format!("p{player}"), "leaveAfter": 3600}
    })
}

/// The tokens the players present: the gateway's caller token (acting for the player), and the
/// admin token for the cancel that stands in for core's `scrim.saved`.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub caller: String,
    pub admin: String,
}

/// How players pace themselves.
#[derive(Debug, Clone, Copy)]
pub enum Pace {
    /// Closed loop: each player acts again 20-80 ms after its last answer (a stress test: the
    /// request rate is whatever the target sustains).
    Closed,
    /// Open loop: each player acts once per interval on a fixed schedule (starting at a random
    /// phase), whatever the answers' latency: a fixed request rate, as real players make it.
    Open(Duration),
}

/// Runs one player until `deadline`.
pub async fn play(
    base: String,
    tokens: Tokens,
    player: i64,
    deadline: Instant,
    seen: Shared,
    pace: Pace,
) {
    let mut state = Player {
        client: Client::new(),
        base,
        tokens,
        id: player,
        rng: fastrand::Rng::with_seed(player as u64),
        current: None,
        seen,
    };
    match pace {
        Pace::Closed => {
            while Instant::now() < deadline {
                if state.current.is_some() {
                    let pause = state.rng.u64(20..80);
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                }
                state.step().await;
            }
        }
        Pace::Open(every) => {
            let phase = Duration::from_micros(state.rng.u64(..every.as_micros() as u64));
            let start = tokio::time::Instant::now() + phase;
            // Burst: an action that overruns its slot does not move the schedule; the missed
            // slots run at once, as players who keep clicking would.
            let mut ticks = tokio::time::interval_at(start, every);
            loop {
                let scheduled = ticks.tick().await;
                if Instant::now() >= deadline {
                    break;
                }
                lock(&state.seen).record_lag(scheduled.elapsed());
                state.step().await;
            }
        }
    }
}

/// One simulated player.
struct Player {
    client: Client,
    base: String,
    tokens: Tokens,
    id: i64,
    rng: fastrand::Rng,
    /// The scrim the player is in, as far as it knows.
    current: Option<String>,
    seen: Shared,
}

impl Player {
    /// A request through the gateway, acting for this player.
    fn as_player(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        request
            .bearer_auth(&self.tokens.caller)
            .header("x-acting-user-id", self.id.to_string())
    }

    /// One action: find a scrim (list, then join one with room or create one), or look at the
    /// current one and do what it needs (leave 5% of the time while pending, check in once
    /// popped, end it as its first player once started).
    async fn step(&mut self) {
        let (base, player, seen) = (self.base.clone(), self.id, self.seen.clone());
        let client = self.client.clone();
        let Some(id) = self.current.clone() else {
            let (status, list) = call(
                &seen,
                "list",
                self.as_player(client.get(format!("{base}/scrims?status=PENDING"))),
            )
            .await;
            let open: Vec<&Value> = if status.is_success() {
                list.as_array()
                    .map(|l| {
                        l.iter()
                            .filter(|s| s["players"].as_array().map_or(0, Vec::len) < 4)
                            .collect()
                    })
                    .unwrap_or_default()
            } else {
                Vec::new()
            };
            if open.is_empty() {
                let (status, scrim) = call(
                    &seen,
                    "create",
                    self.as_player(client.post(format!("{base}/scrims")))
                        .json(&create_body(player)),
                )
                .await;
                if status.is_success() {
                    self.current = scrim["id"].as_str().map(str::to_owned);
                }
            } else {
                let target = open[self.rng.usize(..open.len())]["id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                let body = json!({"playerId": player, "playerName": format!("p{player}"), "leaveAfter": 3600});
                let (status, scrim) = call(
                    &seen,
                    "join",
                    self.as_player(client.post(format!("{base}/scrims/{target}/join")))
                        .json(&body),
                )
                .await;
                if status.is_success() {
                    let mut seen = lock(&seen);
                    seen.observe_scrim(&scrim);
                    if scrim["status"] == "POPPED" {
                        *seen.pops.entry(target.clone()).or_default() += 1;
                    }
                    self.current = Some(target);
                }
            }
            return;
        };
        let (status, scrim) = call(
            &seen,
            "get",
            self.as_player(client.get(format!("{base}/scrims/{id}"))),
        )
        .await;
        if status == StatusCode::NOT_FOUND {
            self.current = None;
            return;
        }
        if !status.is_success() {
            return;
        }
        lock(&seen).observe_scrim(&scrim);
        let listed = scrim["players"]
            .as_array()
            .is_some_and(|players| players.iter().any(|p| p["id"].as_i64() == Some(player)));
        if !listed {
            // We were told we joined, never left, and the scrim does not list us.
            lock(&seen).lost_joins += 1;
            self.current = None;
            return;
        }
        match scrim["status"].as_str() {
            Some("PENDING") if self.rng.u8(..100) < 5 => {
                let (status, _) = call(
                    &seen,
                    "leave",
                    self.as_player(client.post(format!("{base}/scrims/{id}/leave")))
                        .json(&json!({"playerId": player})),
                )
                .await;
                if status.is_success() {
                    self.current = None;
                }
            }
            Some("POPPED") => {
                let me = scrim["players"].as_array().and_then(|ps| {
                    ps.iter()
                        .find(|p| p["id"].as_i64() == Some(player))
                        .cloned()
                });
                if me.is_some_and(|me| me["checkedIn"] != true) {
                    let (status, after) = call(
                        &seen,
                        "check-in",
                        self.as_player(client.post(format!("{base}/scrims/{id}/check-in")))
                            .json(&json!({"playerId": player})),
                    )
                    .await;
                    if status.is_success() {
                        let mut seen = lock(&seen);
                        seen.acked_check_ins
                            .entry(id.clone())
                            .or_default()
                            .insert(player);
                        if after["status"] == "IN_PROGRESS" {
                            *seen.starts.entry(id.clone()).or_default() += 1;
                        }
                    }
                }
            }
            Some("IN_PROGRESS") if scrim["players"][0]["id"].as_i64() == Some(player) => {
                // The match was played: its first player ends it (as core's scrim.saved would),
                // which frees everyone to queue again.
                let request = client
                    .post(format!("{base}/admin/scrims/{id}/cancel"))
                    .bearer_auth(&self.tokens.admin);
                let (status, _) = call(&seen, "cancel", request).await;
                if status.is_success() {
                    lock(&seen).completed += 1;
                    self.current = None;
                }
            }
            _ => {}
        }
    }
}
