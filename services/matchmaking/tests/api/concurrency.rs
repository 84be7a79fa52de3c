//! DOMAIN §6: joins, leaves, check-ins and timers racing over many scrims must leave no scrim over
//! capacity, no player in two scrims, no acknowledged change lost, every full scrim popped once
//! and started at most once with one lobby, and no ban for a player whose check-in was
//! acknowledged. Timers take part in the races: `leaveAt` expiries race joins and leaves, and
//! check-in timeouts race the last check-ins (the deadlock of a timer and a request locking the
//! same rows in opposite orders shows up here as a 5xx or a wrongful ban).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::{TestApp, join_body};

const SCRIMS: i32 = 24;
const JOINERS: i32 = 240;

/// Runs the timer queues (as if `ahead` had passed) over and over until `done` is set.
async fn timers_until(app: &TestApp, ahead: Duration, done: &AtomicBool) {
    while !done.load(Ordering::Acquire) {
        app.run_timers_after(ahead).await;
        tokio::task::yield_now().await;
    }
}

/// What one joiner did and was told.
#[derive(Debug, Default)]
struct Outcome {
    /// The scrim a join was acknowledged for.
    joined: Option<String>,
    /// Whether a leave was acknowledged.
    left: bool,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_joins_leaves_check_ins_and_timers_keep_every_invariant() {
    let app = TestApp::spawn().await;
    let mut scrims = Vec::new();
    for author in 1..=SCRIMS {
        scrims.push(app.create(author, 2, 2, "TEAMS").await);
    }

    // Every joiner tries two scrims at once (so the same player races itself), every fourth one
    // leaves right after, and every fifth one joins with a one-second leaveAt that the leave
    // expiry timer races to: hundreds of requests and timer runs in flight together.
    let joins_done = AtomicBool::new(false);
    let attempts = (0..JOINERS).map(|n| {
        let player = 1000 + n;
        let first = &scrims[(n % SCRIMS) as usize];
        let second = &scrims[((n * 7 + 3) % SCRIMS) as usize];
        let app = &app;
        async move {
            let mut body = join_body(player);
            if n % 5 == 0 {
                body["leaveAfter"] = json!(1);
            }
            let join = |scrim: &Value| {
                let path = format!("/scrims/{}/join", scrim["id"].as_str().expect("id"));
                let body = body.clone();
                async move { app.post(&path, body).await }
            };
            let (a, b) = futures::join!(join(first), join(second));
            for (status, body) in [&a, &b] {
                assert!(
                    *status == StatusCode::OK || *status == StatusCode::CONFLICT,
                    "unexpected join answer {status}: {body}"
                );
            }
            let joined: Vec<&Value> = [&a, &b]
                .into_iter()
                .filter(|(s, _)| *s == StatusCode::OK)
                .map(|(_, body)| body)
                .collect();
            assert!(joined.len() <= 1, "player {player} joined two scrims");
            let mut outcome = Outcome {
                joined: joined
                    .first()
                    .map(|scrim| scrim["id"].as_str().expect("id").to_owned()),
                left: false,
            };
            if n % 4 == 0
                && let Some(id) = &outcome.joined
            {
                let (status, body) = app
                    .post(&format!("/scrims/{id}/leave"), json!({"playerId": player}))
                    .await;
                match status {
                    StatusCode::OK => {
                        outcome.left = true;
                        let still_listed = body["players"]
                            .as_array()
                            .expect("players")
                            .iter()
                            .any(|p| p["id"] == player);
                        assert!(
                            !still_listed,
                            "the leave answer still lists {player}: {body}"
                        );
                    }
                    // The scrim popped first, or (with a short leaveAt) the timer removed the
                    // player first.
                    _ => assert!(
                        body["error"] == "ScrimAlreadyInProgress"
                            || (n % 5 == 0 && body["error"] == "PlayerNotInScrim"),
                        "unexpected leave answer {status}: {body}"
                    ),
                }
            }
            (player, outcome)
        }
    });
    let (outcomes, ()) = futures::join!(
        async {
            let outcomes = join_all(attempts).await;
            joins_done.store(true, Ordering::Release);
            outcomes
        },
        timers_until(&app, Duration::from_secs(2), &joins_done)
    );
    // Whatever is still due runs now.
    app.run_timers_after(Duration::from_secs(2)).await;

    // No acknowledged change is lost: a player is where their last acknowledged answer put them
    // (or was removed by their own expired leaveAt).
    let live: HashMap<i64, String> = app
        .get("/scrims")
        .await
        .1
        .as_array()
        .expect("list")
        .iter()
        .flat_map(|scrim| {
            let id = scrim["id"].as_str().expect("id").to_owned();
            scrim["players"]
                .as_array()
                .expect("players")
                .iter()
                .map(move |p| (p["id"].as_i64().expect("id"), id.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    for (n, (player, outcome)) in outcomes.iter().enumerate() {
        let expected = match (&outcome.joined, outcome.left) {
            (Some(id), false) => Some(id),
            _ => None,
        };
        let actual = live.get(&i64::from(*player));
        let expired = n % 5 == 0;
        assert!(
            actual == expected || (expired && actual.is_none()),
            "player {player}: told {outcome:?}, but is in {actual:?}"
        );
    }

    // Everyone in a popped scrim checks in twice, all at once, while the check-in timeout fires.
    let popped: Vec<Value> = app
        .get("/scrims?status=POPPED")
        .await
        .1
        .as_array()
        .expect("list")
        .clone();
    assert!(!popped.is_empty(), "the test should fill some scrims");
    let check_ins = popped.iter().flat_map(|scrim| {
        scrim["players"]
            .as_array()
            .expect("players")
            .iter()
            .flat_map(move |player| {
                let id = player["id"].as_i64().expect("id") as i32;
                [(scrim, id), (scrim, id)]
            })
    });
    let check_ins_done = AtomicBool::new(false);
    let app_ref = &app;
    let (answers, ()) = futures::join!(
        async {
            let answers = join_all(check_ins.map(|(scrim, player)| async move {
                (
                    scrim["id"].as_str().expect("id").to_owned(),
                    player,
                    app_ref.check_in(scrim, player).await,
                )
            }))
            .await;
            check_ins_done.store(true, Ordering::Release);
            answers
        },
        timers_until(&app, Duration::from_secs(11 * 60), &check_ins_done)
    );
    app.run_timers_after(Duration::from_secs(11 * 60)).await;
    let mut acknowledged: HashSet<i32> = HashSet::new();
    for (_, player, (status, body)) in &answers {
        match *status {
            StatusCode::OK => {
                acknowledged.insert(*player);
            }
            // The second of a pair loses (already checked in, or the scrim already started), or
            // the timeout cancelled the scrim first.
            _ => assert!(
                body["error"] == "PlayerAlreadyCheckedIn"
                    || body["error"] == "ScrimStatusNotPopped"
                    || body["error"] == "ScrimNotFound",
                "unexpected check-in answer {status}: {body}"
            ),
        }
    }

    // The database agrees with itself.
    let over: i64 = app.count(
        "SELECT count(*) FROM matchmaking.scrims s
         WHERE (SELECT count(*) FROM matchmaking.scrim_players p WHERE p.scrim_id = s.id) > s.team_size * s.team_count
            OR (SELECT count(*) FROM matchmaking.scrim_players p WHERE p.scrim_id = s.id) <> s.player_count",
    ).await;
    assert_eq!(over, 0, "a scrim is over capacity or its counter drifted");
    let doubled = app.count("SELECT count(*) FROM (SELECT player_id FROM matchmaking.scrim_players GROUP BY 1 HAVING count(*) > 1) d").await;
    assert_eq!(doubled, 0);
    let still_popped = app
        .count("SELECT count(*) FROM matchmaking.scrims WHERE status = 'POPPED'")
        .await;
    assert_eq!(still_popped, 0, "every popped scrim started or timed out");

    // Bans: only players whose check-in was never acknowledged.
    let banned: Vec<i32> = sqlx::query_scalar("SELECT user_id FROM core.member_restrictions")
        .fetch_all(&app.owner)
        .await
        .expect("bans");
    for player in &banned {
        assert!(
            !acknowledged.contains(player),
            "player {player} was banned although their check-in was acknowledged"
        );
    }

    // Events: each scrim popped once, and started at most once (or cancelled instead).
    let mut pops: HashMap<String, usize> = HashMap::new();
    let mut starts: HashMap<String, Vec<Value>> = HashMap::new();
    let mut cancels: HashSet<String> = HashSet::new();
    for event in app.events("core.scrim_events").await {
        let id = event["payload"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        match event["topic"].as_str() {
            Some("scrim.popped") => *pops.entry(id).or_default() += 1,
            Some("scrim.started") => starts
                .entry(id)
                .or_default()
                .push(event["payload"]["lobby"].clone()),
            Some("scrim.cancelled") => {
                cancels.insert(id);
            }
            _ => {}
        }
    }
    assert!(
        pops.values().all(|&n| n == 1),
        "a scrim popped twice: {pops:?}"
    );
    assert!(
        starts.values().all(|lobbies| lobbies.len() == 1),
        "a scrim started twice: {starts:?}"
    );
    for id in pops.keys() {
        assert!(
            starts.contains_key(id) != cancels.contains(id),
            "scrim {id} must have started or been cancelled, not both or neither"
        );
    }
    let running = app.count("SELECT count(*) FROM matchmaking.scrims WHERE status = 'IN_PROGRESS' AND lobby_name IS NOT NULL").await;
    assert_eq!(running as usize, starts.len());
}
