//! No deadlock between timers and requests (issue 13 item 2, pg-queue 2 item 5). A timer's
//! worker holds its queue row while it waits for the scrim; a request holding the scrim then
//! disarms that timer. If disarming waited for the worker's row, each would wait for the other.
//! Each test holds the request's transaction open at exactly that point, with the worker queued
//! behind it, and checks that the request's statement returns while the worker still waits (a
//! disarm that waited would return only once PostgreSQL killed one of them), then that the one
//! legal outcome follows.

use std::time::Duration;

use db::ServiceRole;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::common::{TestApp, create_body};

/// A popped 1v1 of players 1 and 2, in which player 1 has checked in.
async fn popped_with_one_check_in(app: &TestApp) -> String {
    let scrim = app.create(1, 1, 2, "TEAMS").await;
    app.fill(&scrim, 2).await;
    app.check_in(&scrim, 1).await;
    scrim["id"].as_str().expect("id").to_owned()
}

/// The request racing the timer: the SQL function its handler calls.
enum Request {
    CheckIn { player: i32, plan: Value },
    Leave { player: i32 },
    Cancel,
}

/// Holds the scrim's row lock in a transaction of the service's role, starts the timers as if
/// `ahead` had passed (their worker queues behind the lock), runs the request's function in the
/// held transaction, checks that it returned while the worker still waited, and commits.
async fn race_with_the_timer(app: &TestApp, id: &str, ahead: Duration, race: Request) -> Value {
    let matchmaking: PgPool = app.db.pool_as(ServiceRole::Matchmaking).await;
    let mut request = matchmaking.begin().await.expect("begin");
    sqlx::query("SELECT 1 FROM matchmaking.scrims WHERE id = $1::uuid FOR UPDATE")
        .bind(id)
        .execute(&mut *request)
        .await
        .expect("lock the scrim");
    let timers = app.run_timers_after(ahead);
    let held = async {
        app.wait_for_lock_waiters(1).await;
        let query = match race {
            Request::CheckIn { player, plan } => {
                sqlx::query_scalar("SELECT matchmaking.check_in($1::uuid, $2, $3)")
                    .bind(id)
                    .bind(player)
                    .bind(Some(plan))
            }
            Request::Leave { player } => {
                sqlx::query_scalar("SELECT matchmaking.leave_scrim($1::uuid, $2)")
                    .bind(id)
                    .bind(player)
            }
            Request::Cancel => {
                sqlx::query_scalar("SELECT matchmaking.cancel_scrim($1::uuid)").bind(id)
            }
        };
        let answer: Value = query
            .fetch_one(&mut *request)
            .await
            .expect("the request's statement does not fail");
        assert!(
            app.lock_waiters().await >= 1,
            "the request's statement waited for the timer's worker"
        );
        request.commit().await.expect("commit");
        answer
    };
    let ((), answer) = tokio::join!(timers, held);
    answer
}

/// A 1v1's start plan, as the service would make it.
fn plan() -> Value {
    json!({"games": [[[1], [2]], [[1], [2]], [[2], [1]]], "lobby": {"name": "amber-otter", "password": "k7q2m9xz"}})
}

#[tokio::test]
async fn the_last_check_in_at_the_deadline_does_not_deadlock_with_the_timeout() {
    let app = TestApp::spawn().await;
    let id = popped_with_one_check_in(&app).await;
    let started = race_with_the_timer(
        &app,
        &id,
        Duration::from_secs(11 * 60),
        Request::CheckIn {
            player: 2,
            plan: plan(),
        },
    )
    .await;
    assert_eq!(started["status"], "IN_PROGRESS", "{started}");
    // The timeout ran after the start and changed nothing.
    assert_eq!(
        app.get(&format!("/scrims/{id}")).await.1["status"],
        "IN_PROGRESS"
    );
    assert_eq!(
        app.count("SELECT count(*) FROM core.member_restrictions")
            .await,
        0
    );
    assert_eq!(
        app.count("SELECT count(*) FROM matchmaking.checkin_timeouts")
            .await
            + app
                .count("SELECT count(*) FROM matchmaking.checkin_timeouts_dead")
                .await,
        0,
        "the timer was handled, not retried or dead-lettered"
    );
}

#[tokio::test]
async fn a_leave_at_the_players_leave_at_does_not_deadlock_with_its_timer() {
    let app = TestApp::spawn().await;
    let mut body = create_body(1, 2, 2, "TEAMS");
    body["join"]["leaveAfter"] = json!(60);
    let scrim = app.post("/scrims", body).await.1;
    app.join(&scrim, 2).await;
    let id = scrim["id"].as_str().expect("id").to_owned();
    let left = race_with_the_timer(
        &app,
        &id,
        Duration::from_secs(120),
        Request::Leave { player: 1 },
    )
    .await;
    let players: Vec<i64> = left["players"]
        .as_array()
        .expect("players")
        .iter()
        .map(|p| p["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(players, [2]);
    // The timer came after the leave and found nobody to remove.
    let after = app.get(&format!("/scrims/{id}")).await.1;
    assert_eq!(after["players"].as_array().expect("players").len(), 1);
    assert_eq!(
        app.count("SELECT count(*) FROM matchmaking.leave_expiries_dead")
            .await,
        0
    );
}

#[tokio::test]
async fn an_admin_cancel_while_the_check_in_timer_runs_does_not_deadlock() {
    let app = TestApp::spawn().await;
    let id = popped_with_one_check_in(&app).await;
    let cancelled =
        race_with_the_timer(&app, &id, Duration::from_secs(11 * 60), Request::Cancel).await;
    assert_eq!(cancelled["status"], "CANCELLED", "{cancelled}");
    // Cancelled once, by the admin: the timer found no scrim and banned nobody.
    let cancels = app
        .events("core.scrim_events")
        .await
        .into_iter()
        .filter(|event| event["topic"] == "scrim.cancelled")
        .count();
    assert_eq!(cancels, 1);
    assert_eq!(
        app.count("SELECT count(*) FROM core.member_restrictions")
            .await,
        0
    );
    assert_eq!(
        app.count("SELECT count(*) FROM matchmaking.checkin_timeouts")
            .await
            + app
                .count("SELECT count(*) FROM matchmaking.checkin_timeouts_dead")
                .await,
        0
    );
}
