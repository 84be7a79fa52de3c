//! DOMAIN §6: joins, leaves and check-ins racing over many scrims must leave no scrim over
//! capacity, no player in two scrims, and every full scrim popped once and started once with
//! one lobby.

use std::collections::HashMap;

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::common::TestApp;

const SCRIMS: i32 = 24;
const JOINERS: i32 = 240;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_joins_leaves_and_check_ins_keep_every_invariant() {
    let app = TestApp::spawn().await;
    let mut scrims = Vec::new();
    for author in 1..=SCRIMS {
        scrims.push(app.create(author, 2, 2, "TEAMS").await);
    }

    // Every joiner tries two scrims at once (so the same player races itself), and every
    // fourth one leaves right after: hundreds of requests in flight together.
    let attempts = (0..JOINERS).map(|n| {
        let player = 1000 + n;
        let first = &scrims[(n % SCRIMS) as usize];
        let second = &scrims[((n * 7 + 3) % SCRIMS) as usize];
        let app = &app;
        async move {
            let (a, b) = futures::join!(app.join(first, player), app.join(second, player));
            let joined: Vec<&Value> = [&a, &b]
                .into_iter()
                .filter(|(s, _)| *s == StatusCode::OK)
                .map(|(_, body)| body)
                .collect();
            for (status, body) in [&a, &b] {
                assert!(
                    *status == StatusCode::OK || *status == StatusCode::CONFLICT,
                    "unexpected answer {status}: {body}"
                );
            }
            assert!(joined.len() <= 1, "player {player} joined two scrims");
            if n % 4 == 0
                && let Some(scrim) = joined.first()
            {
                let id = scrim["id"].as_str().expect("id");
                let _ = app
                    .post(&format!("/scrims/{id}/leave"), json!({"playerId": player}))
                    .await;
            }
        }
    });
    join_all(attempts).await;

    // Everyone in a popped scrim checks in twice, all at once.
    let popped: Vec<Value> = app
        .get("/scrims?status=POPPED")
        .await
        .1
        .as_array()
        .expect("list")
        .clone();
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
    let answers = join_all(check_ins.map(|(scrim, player)| app.check_in(scrim, player))).await;
    for (status, body) in &answers {
        assert!(
            // The second of a pair loses: already checked in, or (for the last player) the
            // scrim already started.
            *status == StatusCode::OK
                || body["error"] == "PlayerAlreadyCheckedIn"
                || body["error"] == "ScrimStatusNotPopped",
            "unexpected check-in answer {status}: {body}"
        );
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
    assert_eq!(
        still_popped, 0,
        "every popped scrim got all its check-ins and started"
    );

    // Events: each scrim popped at most once, and each started scrim started exactly once.
    let mut pops: HashMap<String, usize> = HashMap::new();
    let mut starts: HashMap<String, Vec<Value>> = HashMap::new();
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
            _ => {}
        }
    }
    assert!(!pops.is_empty(), "the test should fill some scrims");
    assert!(
        pops.values().all(|&n| n == 1),
        "a scrim popped twice: {pops:?}"
    );
    assert_eq!(starts.len(), pops.len(), "every popped scrim started");
    assert!(
        starts.values().all(|lobbies| lobbies.len() == 1),
        "a scrim started twice: {starts:?}"
    );
    let running = app.count("SELECT count(*) FROM matchmaking.scrims WHERE status = 'IN_PROGRESS' AND lobby_name IS NOT NULL").await;
    assert_eq!(running as usize, starts.len());
}
