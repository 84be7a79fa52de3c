//! `bench matchmaking`: simulated players against the running matchmaking service (Postgres),
//! and the same operations against the legacy design (each scrim one JSON value in Redis,
//! read-modify-write), side by side, with throughput, latency per endpoint, and a count of
//! invariant violations.

mod legacy;
mod players;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use db::ServiceRole;
use players::{ENDPOINTS, Observations, Shared, lock};
use serde_json::Value;
use service_kit::testing::{RunningApp, TEST_ADMIN_TOKEN, TEST_CALLER_TOKEN, test_config};
use test_db::TestDb;

#[derive(Debug, Clone, clap::Args)]
pub struct MatchmakingArgs {
    /// Simulated concurrent players.
    #[arg(long, default_value_t = 200)]
    pub players: usize,
    /// Seconds each target is driven.
    #[arg(long, default_value_t = 60)]
    pub secs: u64,
    /// Redis for the legacy baseline.
    #[arg(long, default_value = "redis://127.0.0.1:6379")]
    pub redis_url: String,
    /// Skip the legacy Redis baseline.
    #[arg(long)]
    pub skip_legacy: bool,
    /// Open loop: each player acts once every this many milliseconds on a fixed schedule (200
    /// players every 2000 ms is the league's load), instead of 20-80 ms after each answer.
    #[arg(long)]
    pub open_loop_ms: Option<u64>,
}

impl MatchmakingArgs {
    fn pace(&self) -> players::Pace {
        match self.open_loop_ms {
            Some(ms) => players::Pace::Open(Duration::from_millis(ms.max(1))),
            None => players::Pace::Closed,
        }
    }
}

/// What one target came to.
struct Outcome {
    name: &'static str,
    seen: Observations,
    elapsed: Duration,
    violations: Vec<(String, u64)>,
}

/// Runs the benchmark and returns its Markdown report.
pub async fn run(args: &MatchmakingArgs) -> anyhow::Result<String> {
    let mut outcomes = vec![
        run_postgres(args)
            .await
            .context("matchmaking on Postgres")?,
    ];
    if !args.skip_legacy {
        outcomes.push(run_legacy(args).await.context("legacy Redis baseline")?);
    }
    Ok(report(args, &outcomes))
}

async fn drive(base: &str, args: &MatchmakingArgs) -> (Observations, Duration) {
    let seen: Shared = Arc::new(Mutex::new(Observations::default()));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.secs);
    let tasks: Vec<_> = (0..args.players)
        .map(|n| {
            tokio::spawn(players::play(
                base.to_owned(),
                players::Tokens {
                    caller: TEST_CALLER_TOKEN.to_owned(),
                    admin: TEST_ADMIN_TOKEN.to_owned(),
                },
                10_000 + n as i64,
                deadline,
                seen.clone(),
                args.pace(),
            ))
        })
        .collect();
    for task in tasks {
        let _ = task.await;
    }
    let elapsed = started.elapsed();
    let seen = std::mem::take(&mut *lock(&seen));
    (seen, elapsed)
}

async fn run_postgres(args: &MatchmakingArgs) -> anyhow::Result<Outcome> {
    let test_db = TestDb::new().await;
    let settings = matchmaking::Settings::default();
    // The service's default pool (10 connections), as deployed; the test configuration's caller
    // and admin tokens.
    let config = test_config(&test_db, ServiceRole::Matchmaking, settings);
    let app = RunningApp::start(matchmaking::SPEC, config, matchmaking::routes).await?;
    let (seen, elapsed) = drive(&app.base_url, args).await;

    // The database's view: what was announced, and what is stored.
    let owner = test_db.owner_pool().await;
    let events: Vec<(String, String)> = sqlx::query_as(
        "SELECT payload->>'topic', payload->'payload'->>'id' FROM core.scrim_events
         WHERE payload->>'topic' IN ('scrim.popped', 'scrim.started')",
    )
    .fetch_all(&owner)
    .await?;
    let mut announced: HashMap<(String, String), u64> = HashMap::new();
    for key in events {
        *announced.entry(key).or_default() += 1;
    }
    let popped_twice = announced
        .iter()
        .filter(|((topic, _), n)| topic == "scrim.popped" && **n > 1)
        .count() as u64;
    let started_twice = announced
        .iter()
        .filter(|((topic, _), n)| topic == "scrim.started" && **n > 1)
        .count() as u64;
    let final_scrims: Vec<Value> = {
        let client = reqwest::Client::new();
        client
            .get(format!("{}/scrims", app.base_url))
            .bearer_auth(TEST_ADMIN_TOKEN)
            .send()
            .await?
            .json()
            .await?
    };
    let mut violations = common_violations(&seen, &final_scrims);
    violations.push((
        "scrims announced as popped twice (events)".into(),
        popped_twice,
    ));
    violations.push((
        "scrims announced as started twice (events)".into(),
        started_twice,
    ));
    app.stop().await?;
    Ok(Outcome {
        name: "matchmaking (Postgres, this repo)",
        seen,
        elapsed,
        violations,
    })
}

async fn run_legacy(args: &MatchmakingArgs) -> anyhow::Result<Outcome> {
    let (base, mut redis) = legacy::start(&args.redis_url).await?;
    let (seen, elapsed) = drive(&base, args).await;
    let final_scrims = legacy::all_scrims(&mut redis).await?;
    let violations = common_violations(&seen, &final_scrims);
    legacy::clear(&mut redis).await?;
    Ok(Outcome {
        name: "legacy (Redis JSON, read-modify-write)",
        seen,
        elapsed,
        violations,
    })
}

/// The violations both targets are checked for: from what players were told, and from the
/// scrims left at the end.
fn common_violations(seen: &Observations, final_scrims: &[Value]) -> Vec<(String, u64)> {
    let popped_twice = seen.pops.values().filter(|&&n| n > 1).count() as u64;
    let started_twice = seen.starts.values().filter(|&&n| n > 1).count() as u64;
    let mut memberships: HashMap<i64, u64> = HashMap::new();
    let mut over_capacity = 0;
    let mut lost_check_ins = 0;
    for scrim in final_scrims {
        let ids: Vec<i64> = scrim["players"]
            .as_array()
            .map(|ps| ps.iter().filter_map(|p| p["id"].as_i64()).collect())
            .unwrap_or_default();
        for id in &ids {
            *memberships.entry(*id).or_default() += 1;
        }
        let capacity = scrim["settings"]["teamSize"].as_u64().unwrap_or(0)
            * scrim["settings"]["teamCount"].as_u64().unwrap_or(0);
        if ids.len() as u64 > capacity {
            over_capacity += 1;
        }
        // Popped, every player was told their check-in worked, yet it never started: a
        // check-in was lost.
        let id = scrim["id"].as_str().unwrap_or_default();
        if scrim["status"] == "POPPED"
            && let Some(acked) = seen.acked_check_ins.get(id)
            && ids.iter().all(|p| acked.contains(p))
        {
            lost_check_ins += 1;
        }
    }
    let in_two = memberships.values().filter(|&&n| n > 1).count() as u64;
    vec![
        (
            "join answers popping the same scrim twice".into(),
            popped_twice,
        ),
        (
            "check-in answers starting the same scrim twice".into(),
            started_twice,
        ),
        (
            "answers showing a scrim over capacity".into(),
            seen.over_capacity,
        ),
        (
            "acknowledged joins missing from the scrim (lost updates)".into(),
            seen.lost_joins,
        ),
        ("scrims over capacity at the end".into(), over_capacity),
        ("players in two scrims at the end".into(), in_two),
        (
            "popped scrims stuck after every check-in was acknowledged (lost check-ins)".into(),
            lost_check_ins,
        ),
    ]
}

fn millis(histogram: &hdrhistogram::Histogram<u64>, quantile: f64) -> f64 {
    histogram.value_at_quantile(quantile) as f64 / 1000.0
}

fn report(args: &MatchmakingArgs, outcomes: &[Outcome]) -> String {
    let mut out = String::new();
    let pace = match args.open_loop_ms {
        Some(ms) => format!("open loop, one action per player every {ms} ms"),
        None => "closed loop".to_owned(),
    };
    let _ = writeln!(
        out,
        "## Matchmaking load ({} players, {} s per target, {pace})\n",
        args.players, args.secs
    );
    let cadence = match args.open_loop_ms {
        Some(ms) => format!(
            "acts once every {ms} ms on a fixed schedule (a random phase each), whatever the answers' latency"
        ),
        None => "acts again 20-80 ms after each answer".to_owned(),
    };
    let _ = writeln!(
        out,
        "Each player {cadence}: with no scrim, list PENDING scrims and join one with room (or create a 2v2 one); in a scrim, read it, leave 5% of the time while pending, check in once popped; the first player of a started scrim ends it (admin cancel, standing in for core's `scrim.saved`). Both targets serve the same routes over HTTP from this process.\n"
    );
    let _ = writeln!(
        out,
        "Scrims completed is the throughput that matters: requests/s also counts the fast refusals of players the legacy design stranded (a lost join leaves their player key set, so every later create or join answers PlayerAlreadyInScrim).\n"
    );
    let _ = writeln!(
        out,
        "| target | requests/s | scrims completed | scrims completed/s | 5xx |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|");
    for outcome in outcomes {
        let total: u64 = outcome
            .seen
            .latency
            .values()
            .map(hdrhistogram::Histogram::len)
            .sum();
        let _ = writeln!(
            out,
            "| {} | {:.0} | {} | {:.1} | {} |",
            outcome.name,
            total as f64 / outcome.elapsed.as_secs_f64(),
            outcome.seen.completed,
            outcome.seen.completed as f64 / outcome.elapsed.as_secs_f64(),
            outcome.seen.server_errors
        );
    }
    if args.open_loop_ms.is_some() {
        let _ = writeln!(
            out,
            "\n| schedule lag (action start after its slot) | p50 ms | p99 ms | max ms |"
        );
        let _ = writeln!(out, "|---|---|---|---|");
        for outcome in outcomes {
            if let Some(lag) = &outcome.seen.lag {
                let _ = writeln!(
                    out,
                    "| {} | {:.2} | {:.2} | {:.2} |",
                    outcome.name,
                    millis(lag, 0.5),
                    millis(lag, 0.99),
                    lag.max() as f64 / 1000.0
                );
            }
        }
    }
    let _ = writeln!(
        out,
        "\n| endpoint | target | count | p50 ms | p99 ms | 4xx |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|");
    for endpoint in ENDPOINTS {
        for outcome in outcomes {
            if let Some(histogram) = outcome.seen.latency.get(endpoint) {
                let _ = writeln!(
                    out,
                    "| {endpoint} | {} | {} | {:.2} | {:.2} | {} |",
                    outcome.name,
                    histogram.len(),
                    millis(histogram, 0.5),
                    millis(histogram, 0.99),
                    outcome.seen.errors.get(endpoint).copied().unwrap_or(0)
                );
            }
        }
    }
    let _ = writeln!(
        out,
        "\n| invariant violations | {} |",
        outcomes
            .iter()
            .map(|o| o.name)
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let _ = writeln!(out, "|---|{}", "---|".repeat(outcomes.len()));
    let rows = outcomes.first().map_or(0, |o| o.violations.len());
    for row in 0..rows {
        let label = &outcomes[0].violations[row].0;
        let cells: Vec<String> = outcomes
            .iter()
            .map(|o| {
                o.violations
                    .iter()
                    .find(|(l, _)| l == label)
                    .map_or("n/a".to_owned(), |(_, n)| n.to_string())
            })
            .collect();
        let _ = writeln!(out, "| {label} | {} |", cells.join(" | "));
    }
    for outcome in outcomes {
        let total: u64 = outcome.violations.iter().map(|(_, n)| n).sum();
        let _ = writeln!(out, "\n**{}: {total} invariant violations.**", outcome.name);
    }
    out
}
