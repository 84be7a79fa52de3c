//! Live views: the latest scrim metrics and the submissions in flight; nothing accumulates.

use core_events::consumers::{ScrimEvent, SubmissionEvent};
use core_events::live::SubmissionEnvelope;
use db::ServiceRole;
use domain::{DomainEvent, ScrimMetrics};
use serde_json::{Value, json};

use crate::common::TestApp;
use crate::fixtures;

fn metrics(pending: i64) -> ScrimEvent {
    ScrimEvent(DomainEvent::ScrimMetricsUpdate(ScrimMetrics {
        pending_scrims: pending,
        total_scrims: pending + 1,
        players_scrimming: 6,
        players_queued: pending * 2,
        total_players: 6 + pending * 2,
    }))
}

fn submission(topic: &str, payload: Value) -> SubmissionEvent {
    SubmissionEvent(SubmissionEnvelope {
        topic: topic.to_owned(),
        payload,
    })
}

#[tokio::test]
async fn the_latest_scrim_metrics_are_kept_and_an_older_event_never_wins() {
    let app = TestApp::spawn().await;
    let (_, empty) = app.caller_get("/scrims/metrics").await;
    assert_eq!(empty["publishedAt"], Value::Null);
    app.deliver(ServiceRole::Matchmaking, &metrics(1)).await;
    app.deliver(ServiceRole::Matchmaking, &metrics(2)).await;
    assert_eq!(app.run_scrim_events().await.acked, 2);
    let (_, latest) = app.caller_get("/scrims/metrics").await;
    assert_eq!(latest["pendingScrims"], 2);
    assert_eq!(latest["totalPlayers"], 10);
    assert!(latest["publishedAt"].is_string());

    // An event published before the one applied (a late delivery) changes nothing.
    sqlx::query("UPDATE core.scrim_metrics SET published_at = now() + interval '1 hour'")
        .execute(&app.owner)
        .await
        .expect("newer");
    app.deliver(ServiceRole::Matchmaking, &metrics(7)).await;
    app.run_scrim_events().await;
    let (_, kept) = app.caller_get("/scrims/metrics").await;
    assert_eq!(kept["pendingScrims"], 2);
    assert_eq!(
        app.count("SELECT count(*) FROM core.scrim_metrics").await,
        1,
        "one row, always"
    );
}

#[tokio::test]
async fn submissions_in_flight_are_tracked_and_forgotten() {
    let app = TestApp::with_demo_league().await;
    for (topic, payload) in [
        ("submission.started", json!({"submissionId": "scrim-a"})),
        ("submission.progress", json!({"submissionId": "scrim-a"})),
        ("submission.validating", json!({"submissionId": "scrim-a"})),
        (
            "submission.ratification",
            json!({"submissionId": "scrim-a", "currentRatifications": 2, "requiredRatifications": 4}),
        ),
        ("submission.started", json!({"submissionId": "match-b"})),
        (
            "submission.rejected",
            json!({"submissionId": "match-b", "reason": "wrong files"}),
        ),
        ("submission.started", json!({"submissionId": "scrim-c"})),
        ("submission.reset", json!({"submissionId": "scrim-c"})),
        (
            "submission.somethingNew",
            json!({"submissionId": "scrim-a"}),
        ),
    ] {
        app.deliver(ServiceRole::Submission, &submission(topic, payload))
            .await;
    }
    let outcome = app.run_submission_events().await;
    assert_eq!((outcome.acked, outcome.dead), (9, 0), "{outcome:?}");
    let (_, live) = app.admin_get("/admin/submissions").await;
    let mut live: Vec<(String, String, Value)> = live
        .as_array()
        .expect("a list")
        .iter()
        .map(|s| {
            (
                s["submissionId"].as_str().expect("id").to_owned(),
                s["status"].as_str().expect("status").to_owned(),
                s["currentRatifications"].clone(),
            )
        })
        .collect();
    live.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        live,
        vec![
            ("match-b".to_owned(), "REJECTED".to_owned(), Value::Null),
            ("scrim-a".to_owned(), "RATIFYING".to_owned(), json!(2)),
        ]
    );

    // The scrim completing removes its submission; a topic that is not a submission's is a
    // contract break worth a dead letter.
    let directory = fixtures::directory(&app).await;
    let games: Vec<_> = fixtures::series()
        .iter()
        .map(|e| fixtures::game(e, &directory, true, false))
        .collect();
    let mut scrim = fixtures::scrim("scrim-a", &fixtures::roster(&games), 2, 14, false, true);
    scrim.status = domain::ScrimStatus::Complete;
    app.deliver(
        ServiceRole::Matchmaking,
        &ScrimEvent(DomainEvent::ScrimComplete(scrim)),
    )
    .await;
    app.run_scrim_events().await;
    assert_eq!(
        app.count("SELECT count(*) FROM core.live_submissions")
            .await,
        1
    );
    app.deliver(
        ServiceRole::Submission,
        &submission("scrim.created", json!({"submissionId": "x"})),
    )
    .await;
    app.deliver(
        ServiceRole::Submission,
        &submission("submission.started", json!({"id": "no submission id"})),
    )
    .await;
    let outcome = app.run_submission_events().await;
    assert_eq!(outcome.dead, 2, "{outcome:?}");
}

#[tokio::test]
async fn a_saved_submission_leaves_the_live_view_and_silent_ones_expire() {
    let app = TestApp::with_demo_league().await;
    let event = fixtures::series_scrim(&app, true).await;
    app.deliver(
        ServiceRole::Submission,
        &submission(
            "submission.ratifying",
            json!({"submissionId": event.submission_id}),
        ),
    )
    .await;
    app.deliver(
        ServiceRole::Submission,
        &submission("submission.started", json!({"submissionId": "match-old"})),
    )
    .await;
    app.run_submission_events().await;
    sqlx::query("UPDATE core.live_submissions SET event_at = now() - interval '31 days' WHERE submission_id = 'match-old'")
        .execute(&app.owner)
        .await
        .expect("age it");
    app.deliver_ratified(&event).await;
    app.run_finalization().await;
    assert_eq!(
        app.count("SELECT count(*) FROM core.live_submissions WHERE submission_id LIKE 'scrim-%'")
            .await,
        0
    );
    app.deliver(
        ServiceRole::Submission,
        &submission("submission.started", json!({"submissionId": "match-new"})),
    )
    .await;
    app.run_submission_events().await;
    let left: Vec<String> = sqlx::query_scalar("SELECT submission_id FROM core.live_submissions")
        .fetch_all(&app.owner)
        .await
        .expect("live");
    assert_eq!(left, ["match-new"], "the silent one is gone");
}
