//! Events published with each change, and the events matchmaking consumes (each safe twice).

use domain::DomainEvent;
use domain::events::{SavedDatabaseIds, ScrimSaved, SubmissionRejection, SubmissionReset};
use reqwest::StatusCode;
use serde_json::json;

use crate::common::{TestApp, assert_error, create_body};

#[tokio::test]
async fn each_change_publishes_its_topic() {
    let app = TestApp::spawn().await;
    let scrim = app.create(1, 1, 2, "TEAMS").await;
    app.fill(&scrim, 2).await;
    app.check_in(&scrim, 1).await;
    app.check_in(&scrim, 2).await;
    assert_eq!(
        app.topics("core.scrim_events").await,
        [
            "scrim.created",
            "scrim.popped",
            "scrim.updated",
            "scrim.updated",
            "scrim.started",
        ]
    );
    assert_eq!(
        app.topics("notifications.scrim_events").await,
        ["scrim.created", "scrim.popped", "scrim.started"]
    );
    // Every row decodes as the shared envelope, and the SQL that wrote it spells exactly what the
    // Rust type does: no field missing, none extra, the same values.
    for event in app.events("core.scrim_events").await {
        let decoded = serde_json::from_value::<DomainEvent>(event.clone())
            .unwrap_or_else(|err| panic!("{err}: {event}"));
        let spelled = serde_json::to_value(&decoded).expect("serialise");
        assert_same(&event, &spelled, "");
    }
}

/// JSON equality, except that two timestamps are equal when they name the same instant (SQL
/// always writes microseconds; chrono leaves out trailing zeros).
fn assert_same(a: &serde_json::Value, b: &serde_json::Value, path: &str) {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => {
            let keys = |o: &serde_json::Map<String, Value>| {
                o.keys().cloned().collect::<std::collections::BTreeSet<_>>()
            };
            assert_eq!(keys(a), keys(b), "fields of {path}");
            for (key, value) in a {
                assert_same(value, &b[key], &format!("{path}.{key}"));
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            assert_eq!(a.len(), b.len(), "length of {path}");
            for (i, (a, b)) in a.iter().zip(b).enumerate() {
                assert_same(a, b, &format!("{path}[{i}]"));
            }
        }
        (Value::String(a), Value::String(b)) if a != b => {
            let at = |text: &str| chrono::DateTime::parse_from_rfc3339(text).ok();
            assert!(at(a).is_some() && at(a) == at(b), "{path}: {a} and {b}");
        }
        _ => assert_eq!(a, b, "{path}"),
    }
}

#[tokio::test]
async fn a_refused_request_publishes_nothing() {
    let app = TestApp::spawn().await;
    let scrim = app.create(1, 2, 2, "TEAMS").await;
    let before = app.events("core.scrim_events").await.len();
    assert_error(
        &app.join(&scrim, 1).await,
        StatusCode::CONFLICT,
        "PlayerAlreadyInScrim",
    );
    assert_eq!(app.events("core.scrim_events").await.len(), before);
}

async fn started_scrim(app: &TestApp) -> serde_json::Value {
    let scrim = app.create(1, 1, 2, "TEAMS").await;
    app.fill(&scrim, 2).await;
    app.check_in(&scrim, 1).await;
    app.check_in(&scrim, 2).await.1
}

#[tokio::test]
async fn scrim_saved_completes_the_scrim_once_even_if_delivered_twice() {
    let app = TestApp::spawn().await;
    let started = started_scrim(&app).await;
    let scrim: domain::Scrim = serde_json::from_value(started.clone()).expect("decode scrim");
    let saved = DomainEvent::ScrimSaved(ScrimSaved {
        submission_id: scrim
            .submission_id
            .clone()
            .expect("a started scrim has a submission"),
        scrim,
        database_ids: SavedDatabaseIds {
            scrim_meta_id: Some(1),
            match_id: 2,
        },
        games: Vec::new(),
    });
    app.deliver_from_core(saved.clone()).await;
    app.deliver_from_core(saved).await;
    assert_eq!(app.run_incoming().await, (2, 0));
    let id = started["id"].as_str().expect("id");
    assert_error(
        &app.get(&format!("/scrims/{id}")).await,
        StatusCode::NOT_FOUND,
        "ScrimNotFound",
    );
    let complete: Vec<_> = app
        .events("core.scrim_events")
        .await
        .into_iter()
        .filter(|e| e["topic"] == "scrim.complete")
        .collect();
    assert_eq!(complete.len(), 1);
    assert_eq!(complete[0]["payload"]["status"], "COMPLETE");
}

#[tokio::test]
async fn three_rejections_lock_the_scrim_and_a_reset_brings_it_back() {
    let app = TestApp::spawn().await;
    let started = started_scrim(&app).await;
    let submission_id = started["submissionId"]
        .as_str()
        .expect("submission")
        .to_owned();
    let rejection = |count| {
        DomainEvent::SubmissionRejection(SubmissionRejection {
            submission_id: submission_id.clone(),
            rejection_count: count,
            player_id: 1,
            reason: "wrong replay".into(),
        })
    };
    app.deliver_from_submission(rejection(2)).await;
    app.run_incoming().await;
    let id = started["id"].as_str().expect("id");
    assert_eq!(
        app.get(&format!("/scrims/{id}")).await.1["status"],
        "IN_PROGRESS"
    );
    app.deliver_from_submission(rejection(3)).await;
    app.deliver_from_submission(rejection(3)).await; // delivered twice
    app.run_incoming().await;
    let locked = app.get(&format!("/scrims/{id}")).await.1;
    assert_eq!(locked["status"], "LOCKED");
    assert_eq!(locked["unlockedStatus"], "IN_PROGRESS");

    let reset = DomainEvent::SubmissionReset(SubmissionReset {
        submission_id: submission_id.clone(),
    });
    app.deliver_from_submission(reset.clone()).await;
    app.deliver_from_submission(reset).await;
    assert_eq!(app.run_incoming().await, (2, 0));
    let back = app.get(&format!("/scrims/{id}")).await.1;
    assert_eq!(back["status"], "IN_PROGRESS");
    assert!(back.get("unlockedStatus").is_none());
}

#[tokio::test]
async fn scrims_disabled_from_core_switches_create_off_and_on() {
    let app = TestApp::spawn().await;
    let open = app.create(1, 2, 2, "TEAMS").await;
    app.deliver_from_core(DomainEvent::ScrimsDisabled(true))
        .await;
    assert_eq!(app.run_incoming().await, (1, 0));
    assert_eq!(
        app.get("/scrims/disabled").await.1,
        json!({"disabled": true})
    );
    assert_error(
        &app.post("/scrims", create_body(2, 2, 2, "TEAMS")).await,
        StatusCode::FORBIDDEN,
        "ScrimsDisabled",
    );
    assert_error(
        &app.join(&open, 3).await,
        StatusCode::FORBIDDEN,
        "ScrimsDisabled",
    );
    app.deliver_from_core(DomainEvent::ScrimsDisabled(false))
        .await;
    assert_eq!(app.run_incoming().await, (1, 0));
    assert_eq!(
        app.get("/scrims/disabled").await.1,
        json!({"disabled": false})
    );
    let (status, created) = app.post("/scrims", create_body(2, 2, 2, "TEAMS")).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(app.join(&open, 3).await.0, StatusCode::OK);
}

/// The `scrim.metricsUpdate` payloads published so far.
async fn published_metrics(app: &TestApp) -> Vec<serde_json::Value> {
    app.events("core.scrim_events")
        .await
        .into_iter()
        .filter(|event| event["topic"] == "scrim.metricsUpdate")
        .map(|event| event["payload"].clone())
        .collect()
}

#[tokio::test]
async fn metrics_are_computed_after_commit_and_published_once_per_change() {
    let app = TestApp::spawn().await;
    // A burst of writes, some of them concurrent: none publishes metrics itself, since a
    // transaction cannot count what the others have not committed yet.
    let creates = (1..=6).map(|player| app.post("/scrims", create_body(player, 2, 2, "TEAMS")));
    for (status, body) in futures::future::join_all(creates).await {
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    assert_eq!(
        published_metrics(&app).await,
        Vec::<serde_json::Value>::new()
    );

    // The publisher counts what has committed, and publishes once.
    assert!(app.publish_metrics().await);
    assert_eq!(
        published_metrics(&app).await,
        [
            json!({"pendingScrims": 6, "totalScrims": 6, "playersScrimming": 0, "playersQueued": 6, "totalPlayers": 6})
        ]
    );
    // Nothing changed: nothing more to say.
    assert!(!app.publish_metrics().await);
    assert_eq!(published_metrics(&app).await.len(), 1);

    let scrim = app.get("/players/1/scrim").await.1;
    app.join(&scrim, 7).await;
    assert!(app.publish_metrics().await);
    let published = published_metrics(&app).await;
    assert_eq!(published.len(), 2);
    assert_eq!(published[1]["playersQueued"], 7);
}

#[tokio::test]
async fn an_event_matchmaking_does_not_consume_is_dead_lettered() {
    let app = TestApp::spawn().await;
    app.deliver_from_core(DomainEvent::ScrimMetricsUpdate(
        domain::ScrimMetrics::default(),
    ))
    .await;
    assert_eq!(app.run_incoming().await, (0, 1));
    assert_eq!(
        app.count("SELECT count(*) FROM matchmaking.core_events_dead")
            .await,
        1
    );
}

/// `matchmaking.publish` (SQL) writes each topic into exactly the queues `events::SUBSCRIBERS`
/// documents, and no other.
#[tokio::test]
async fn every_topic_reaches_exactly_its_documented_subscribers() {
    let app = TestApp::spawn().await;
    let all = [
        "core.scrim_events",
        "notifications.scrim_events",
        "core.member_events",
        "notifications.member_events",
    ];
    for (topic, subscribers) in matchmaking::events::SUBSCRIBERS {
        let mut tx = app.owner.begin().await.expect("begin");
        sqlx::query("SELECT matchmaking.publish($1, '{}'::jsonb)")
            .bind(topic)
            .execute(&mut *tx)
            .await
            .expect("publish");
        let mut reached = Vec::new();
        for queue in all {
            let rows: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT count(*) FROM {queue} WHERE payload->>'topic' = $1"
            )))
            .bind(topic)
            .fetch_one(&mut *tx)
            .await
            .expect("count");
            if rows > 0 {
                assert_eq!(rows, 1, "{topic} written twice into {queue}");
                reached.push(queue.to_owned());
            }
        }
        let documented: Vec<String> = subscribers
            .iter()
            .map(|table| format!("{}.{}", table.schema(), table.name()))
            .collect();
        assert_eq!(reached, documented, "{topic}");
        tx.rollback().await.expect("rollback");
    }
}
