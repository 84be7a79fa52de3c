//! Finalization that cannot save: the failure is published with a support reference (logged
//! with its cause), and nothing of the results is written.

use std::io::Write;
use std::sync::{Arc, Mutex};

use uuid::Uuid;

use crate::common::TestApp;
use crate::finalization::saved_rows;
use crate::fixtures;

/// Captures the service's log lines during a test.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_failing_save_publishes_the_failure_logs_its_reference_and_writes_nothing() {
    let app = TestApp::with_demo_league().await;
    let mut event = fixtures::series_scrim(&app, true).await;
    // The third game lists one player twice: the save fails after the first two games were
    // written, on the database's rule of one line per player per game.
    let twice = event.games[2].teams[0].players[0].clone();
    event.games[2].teams[0].players[1] = twice;

    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    app.deliver_ratified(&event).await;
    let outcome = app.run_finalization().await;
    drop(_guard);

    assert_eq!(
        (outcome.acked, outcome.dead, outcome.retried),
        (1, 0, 0),
        "handled, not retried: {outcome:?}"
    );
    assert_eq!(
        saved_rows(&app).await,
        vec![0; 7],
        "nothing of the results was written"
    );
    assert!(
        app.events("matchmaking.core_events").await.is_empty(),
        "no scrim.saved"
    );
    let log = String::from_utf8(captured.0.lock().expect("lock").clone()).expect("utf-8");
    let line = log
        .lines()
        .find(|line| line.contains("could not save ratified results"))
        .unwrap_or_else(|| panic!("the failure is logged:\n{log}"));
    assert!(line.contains("support.reference="), "{line}");
    assert!(
        line.contains("one_line_per_player_per_round"),
        "with its cause: {line}"
    );
    assert!(line.contains(&event.submission_id), "{line}");
}

#[tokio::test]
async fn a_save_failure_is_published_as_the_failure_topic_of_its_kind() {
    use domain::events::SaveFailed;
    let failed = SaveFailed {
        submission_id: "match-1".into(),
        scrim_id: None,
        match_id: Some(1),
        support_reference: Uuid::nil(),
    };
    let envelope =
        serde_json::to_value(domain::DomainEvent::MatchSaveFailed(failed.clone())).expect("json");
    assert_eq!(envelope["topic"], "match.saveFailed");
    assert_eq!(
        envelope["payload"]["supportReference"],
        Uuid::nil().to_string()
    );
    // Publishing goes to every subscriber queue in the handler's transaction; with none yet it
    // writes nothing and succeeds.
    let app = TestApp::spawn().await;
    let mut conn = app.pool().acquire().await.expect("connection");
    core_events::events::save_failed(&mut conn, &failed)
        .await
        .expect("published");
}

#[tokio::test]
async fn a_player_of_another_organization_fails_the_save() {
    let app = TestApp::with_demo_league().await;
    let mut event = fixtures::series_scrim(&app, true).await;
    event.games[0].teams[1].players[0].player_id = Some(9999);
    app.deliver_ratified(&event).await;
    let outcome = app.run_finalization().await;
    assert_eq!((outcome.acked, outcome.dead), (1, 0));
    assert_eq!(saved_rows(&app).await, vec![0; 7]);
}

#[tokio::test]
async fn an_event_with_an_unresolved_player_outside_a_test_scrim_fails_to_save() {
    let app = TestApp::with_demo_league().await;
    let mut event = fixtures::series_scrim(&app, true).await;
    event.games[1].teams[1].players[2].player_id = None;
    app.deliver_ratified(&event).await;
    let outcome = app.run_finalization().await;
    assert_eq!((outcome.acked, outcome.dead), (1, 0));
    assert_eq!(saved_rows(&app).await, vec![0; 7]);
}
