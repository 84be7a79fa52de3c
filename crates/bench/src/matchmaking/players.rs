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

/// Runs one player until `deadline`.
pub async fn play(base: String, tokens: Tokens, player: i64, deadline: Instant, seen: Shared) {
    let client = Client::new();
    // Every player request goes through the gateway, acting for this player.
    let as_player = |request: reqwest::RequestBuilder| {
        request
            .bearer_auth(&tokens.caller)
            .header("x-acting-user-id", player.to_string())
    };
    let mut rng = fastrand::Rng::with_seed(player as u64);
    let mut current: Option<String> = None;
    while Instant::now() < deadline {
        let Some(id) = current.clone() else {
            let (status, list) = call(
                &seen,
                "list",
                as_player(client.get(format!("{base}/scrims?status=PENDING"))),
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
                    as_player(client.post(format!("{base}/scrims"))).json(&create_body(player)),
                )
                .await;
                if status.is_success() {
                    current = scrim["id"].as_str().map(str::to_owned);
                }
            } else {
                let target = open[rng.usize(..open.len())]["id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                let body = json!({"playerId": player, "playerName": format!("p{player}"), "leaveAfter": 3600});
                let (status, scrim) = call(
                    &seen,
                    "join",
                    as_player(client.post(format!("{base}/scrims/{target}/join"))).json(&body),
                )
                .await;
                if status.is_success() {
                    let mut seen = lock(&seen);
                    seen.observe_scrim(&scrim);
                    if scrim["status"] == "POPPED" {
                        *seen.pops.entry(target.clone()).or_default() += 1;
                    }
                    current = Some(target);
                }
            }
            continue;
        };
        tokio::time::sleep(Duration::from_millis(rng.u64(20..80))).await;
        let (status, scrim) = call(
            &seen,
            "get",
            as_player(client.get(format!("{base}/scrims/{id}"))),
        )
        .await;
        if status == StatusCode::NOT_FOUND {
            current = None;
            continue;
        }
        if !status.is_success() {
            continue;
        }
        lock(&seen).observe_scrim(&scrim);
        let listed = scrim["players"]
            .as_array()
            .is_some_and(|players| players.iter().any(|p| p["id"].as_i64() == Some(player)));
        if !listed {
            // We were told we joined, never left, and the scrim does not list us.
            lock(&seen).lost_joins += 1;
            current = None;
            continue;
        }
        match scrim["status"].as_str() {
            Some("PENDING") if rng.u8(..100) < 5 => {
                let (status, _) = call(
                    &seen,
                    "leave",
                    as_player(client.post(format!("{base}/scrims/{id}/leave")))
                        .json(&json!({"playerId": player})),
                )
                .await;
                if status.is_success() {
                    current = None;
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
                        as_player(client.post(format!("{base}/scrims/{id}/check-in")))
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
                    .bearer_auth(&tokens.admin);
                let (status, _) = call(&seen, "cancel", request).await;
                if status.is_success() {
                    lock(&seen).completed += 1;
                    current = None;
                }
            }
            _ => {}
        }
    }
}
