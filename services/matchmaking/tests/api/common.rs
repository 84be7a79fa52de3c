//! The test app: matchmaking running against its own database, with typed requests, a view of
//! the events it published, and its queues driven by hand with a manual clock.

use std::sync::Arc;
use std::time::Duration;

use db::ServiceRole;
use matchmaking::Matchmaking;
pub use matchmaking::Settings;
use matchmaking::consumers::{FromCore, FromSubmission};
use matchmaking::timers::{CheckInDue, LeaveDue};
use matchmaking::workers::{CheckInTimeouts, IncomingEvents, LeaveExpiries, queue_options};
use pg_queue::{ManualClock, QueueWorker};
use reqwest::StatusCode;
use serde_json::{Value, json};
use service_kit::testing::{RunningApp, test_config};
use sqlx::PgPool;
use test_db::TestDb;

pub use service_kit::testing::{
    TEST_ADMIN_TOKEN as ADMIN_TOKEN, TEST_CALLER_TOKEN as CALLER_TOKEN,
};

/// Who a request presents itself as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum As {
    /// No token at all.
    Nobody,
    /// A token nobody configured.
    WrongToken,
    /// The gateway's caller token, acting for nobody in particular.
    Caller,
    /// The gateway's caller token, acting for this player.
    Player(i32),
    /// The admin token.
    Admin,
}

pub struct TestApp {
    pub db: TestDb,
    pub app: RunningApp,
    pub client: reqwest::Client,
    pub owner: PgPool,
    pub settings: Arc<Settings>,
}

pub fn test_settings() -> Settings {
    Settings {
        workers: false,
        random_seed: Some(42),
        ..Settings::default()
    }
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(test_settings()).await
    }

    pub async fn spawn_with(settings: Settings) -> Self {
        let db = TestDb::new().await;
        let settings = Arc::new(settings);
        let config = test_config(&db, ServiceRole::Matchmaking, (*settings).clone());
        let app = RunningApp::start(matchmaking::SPEC, config, matchmaking::routes)
            .await
            .expect("matchmaking starts");
        let owner = db.owner_pool().await;
        Self {
            db,
            app,
            client: reqwest::Client::new(),
            owner,
            settings,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.app.base_url)
    }

    /// A request as `who`: the token, and the acting user header for a player.
    pub fn request(&self, method: reqwest::Method, path: &str, who: As) -> reqwest::RequestBuilder {
        let request = self.client.request(method, self.url(path));
        match who {
            As::Nobody => request,
            As::WrongToken => request.bearer_auth("not-a-configured-token"),
            As::Caller => request.bearer_auth(CALLER_TOKEN),
            As::Player(player) => request
                .bearer_auth(CALLER_TOKEN)
                .header("x-acting-user-id", player.to_string()),
            As::Admin => request.bearer_auth(ADMIN_TOKEN),
        }
    }

    /// POSTs `body` as the gateway acting for the player the body names (`playerId`, or
    /// `join.playerId`), as a client of the platform would.
    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let who = acting_player(&body).map_or(As::Caller, As::Player);
        self.post_as(path, body, who).await
    }

    pub async fn post_as(&self, path: &str, body: Value, who: As) -> (StatusCode, Value) {
        let response = self
            .request(reqwest::Method::POST, path, who)
            .json(&body)
            .send()
            .await
            .expect("request");
        decode(response).await
    }

    pub async fn post_raw(
        &self,
        path: &str,
        body: impl Into<reqwest::Body>,
    ) -> (StatusCode, Value) {
        let response = self
            .request(reqwest::Method::POST, path, As::Admin)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("request");
        decode(response).await
    }

    pub async fn admin_post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.post_as(path, body, As::Admin).await
    }

    /// GETs as the gateway acting for nobody (so private fields are hidden).
    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.get_as(path, As::Caller).await
    }

    pub async fn get_as(&self, path: &str, who: As) -> (StatusCode, Value) {
        let response = self
            .request(reqwest::Method::GET, path, who)
            .send()
            .await
            .expect("request");
        decode(response).await
    }

    /// Creates a scrim authored by `player` and returns its JSON.
    pub async fn create(&self, player: i32, team_size: u8, team_count: u8, mode: &str) -> Value {
        let (status, body) = self
            .post("/scrims", create_body(player, team_size, team_count, mode))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

    pub async fn join(&self, scrim: &Value, player: i32) -> (StatusCode, Value) {
        self.post(
            &format!("/scrims/{}/join", scrim["id"].as_str().expect("id")),
            join_body(player),
        )
        .await
    }

    pub async fn check_in(&self, scrim: &Value, player: i32) -> (StatusCode, Value) {
        self.post(
            &format!("/scrims/{}/check-in", scrim["id"].as_str().expect("id")),
            json!({ "playerId": player }),
        )
        .await
    }

    /// Fills a scrim with players `first..` until it pops; returns the popped scrim.
    pub async fn fill(&self, scrim: &Value, first: i32) -> Value {
        let capacity = scrim["settings"]["teamSize"].as_i64().expect("size")
            * scrim["settings"]["teamCount"].as_i64().expect("count");
        let mut latest = scrim.clone();
        let mut player = first;
        while (latest["players"].as_array().expect("players").len() as i64) < capacity {
            let (status, body) = self.join(scrim, player).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            latest = body;
            player += 1;
        }
        assert_eq!(latest["status"], "POPPED");
        latest
    }

    /// The topics published to one queue, oldest first.
    pub async fn topics(&self, queue: &str) -> Vec<String> {
        self.events(queue)
            .await
            .into_iter()
            .map(|event| event["topic"].as_str().expect("topic").to_owned())
            .collect()
    }

    /// The envelopes published to one queue (e.g. `core.scrim_events`), oldest first.
    pub async fn events(&self, queue: &str) -> Vec<Value> {
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT payload FROM {queue} ORDER BY id"
        )))
        .fetch_all(&self.owner)
        .await
        .expect("read queue")
    }

    pub async fn count(&self, sql: &'static str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(&self.owner)
            .await
            .expect("count")
    }

    fn matchmaking(&self) -> Matchmaking {
        Matchmaking::new(self.app.pool.clone(), self.settings.clone())
    }

    /// Runs the timer queues as if `ahead` had passed, until nothing more is due.
    pub async fn run_timers_after(&self, ahead: Duration) {
        let clock = Arc::new(ManualClock::new());
        clock.advance(ahead);
        let pool = self.app.pool.clone();
        QueueWorker::<CheckInDue, _>::new(pool.clone(), CheckInTimeouts(self.matchmaking()))
            .options(queue_options(1))
            .clock(clock.clone())
            .run_until_idle()
            .await
            .expect("check-in timeouts");
        QueueWorker::<LeaveDue, _>::new(pool, LeaveExpiries)
            .options(queue_options(1))
            .clock(clock)
            .run_until_idle()
            .await
            .expect("leave expiries");
    }

    /// Runs the metrics publisher once; returns whether it published.
    pub async fn publish_metrics(&self) -> bool {
        matchmaking::events::publish_metrics(&self.app.pool, Duration::ZERO)
            .await
            .expect("publish metrics")
    }

    /// Runs the timer queues as if it were `at` (a wall-clock instant), until nothing more is due.
    pub async fn run_timers_at(&self, at: chrono::DateTime<chrono::Utc>) {
        let ahead = (at - chrono::Utc::now()).to_std().unwrap_or_default();
        self.run_timers_after(ahead).await;
    }

    /// Runs the reconciliation sweep as if it were `ahead` from now.
    pub async fn sweep_after(&self, ahead: Duration) -> matchmaking::reconcile::Sweep {
        let job = matchmaking::reconcile::Reconcile {
            policy: self.settings.queue_ban,
            grace: self.settings.reconcile_grace(),
            at: Some(chrono::Utc::now() + ahead),
        };
        let mut conn = self.app.pool.acquire().await.expect("connection");
        job.sweep(&mut conn).await.expect("sweep")
    }

    /// Waits until `sessions` sessions of the test database wait on a lock (queued behind a
    /// transaction the test holds open): a synchronisation, not a timed assertion.
    pub async fn wait_for_lock_waiters(&self, sessions: i64) {
        let admin = self.db.admin_pool().await;
        for _ in 0..3000 {
            if lock_waiters(&admin).await >= sessions {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("no session started waiting on the held lock");
    }

    /// How many sessions of the test database wait on a lock right now.
    pub async fn lock_waiters(&self) -> i64 {
        lock_waiters(&self.db.admin_pool().await).await
    }

    /// Handles every event waiting in matchmaking's incoming queues.
    pub async fn run_incoming(&self) -> (usize, usize) {
        let pool = self.app.pool.clone();
        let core = QueueWorker::<FromCore, _>::new(pool.clone(), IncomingEvents)
            .run_until_idle()
            .await
            .expect("core events");
        let submission = QueueWorker::<FromSubmission, _>::new(pool, IncomingEvents)
            .run_until_idle()
            .await
            .expect("submission events");
        (core.acked + submission.acked, core.dead + submission.dead)
    }

    /// Delivers an event into matchmaking's incoming queue as its producer would.
    pub async fn deliver_from_core(&self, event: domain::DomainEvent) {
        let core = self.db.pool_as(ServiceRole::CoreEvents).await;
        pg_queue::enqueue(&core, &FromCore(event))
            .await
            .expect("core publishes");
    }

    pub async fn deliver_from_submission(&self, event: domain::DomainEvent) {
        let submission = self.db.pool_as(ServiceRole::Submission).await;
        pg_queue::enqueue(&submission, &FromSubmission(event))
            .await
            .expect("submission publishes");
    }
}

async fn lock_waiters(admin: &PgPool) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity
         WHERE datname = current_database() AND wait_event_type = 'Lock'",
    )
    .fetch_one(admin)
    .await
    .expect("pg_stat_activity")
}

/// The player a request body names: `playerId`, or the `join.playerId` of a create.
fn acting_player(body: &Value) -> Option<i32> {
    body.get("playerId")
        .or_else(|| body.get("join").and_then(|join| join.get("playerId")))
        .and_then(Value::as_f64)
        .map(|id| id as i32)
}

async fn decode(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let text = response.text().await.expect("body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, body)
}

pub fn create_body(player: i32, team_size: u8, team_count: u8, mode: &str) -> Value {
    json!({
        "authorId": player,
        "organizationId": 1,
        "gameModeId": 13,
        "skillGroupId": 2,
        "settings": {
            "teamSize": team_size,
            "teamCount": team_count,
            "mode": mode,
            "competitive": false,
            "observable": false
        },
        "join": join_body(player)
    })
}

pub fn join_body(player: i32) -> Value {
    json!({ "playerId": player, "playerName": format!("player-{player}"), "leaveAfter": 3600 })
}

/// Asserts an error answer: its status and contract name.
pub fn assert_error(answer: &(StatusCode, Value), status: StatusCode, name: &str) {
    assert_eq!(answer.0, status, "{}", answer.1);
    assert_eq!(answer.1["error"], name, "{}", answer.1);
    assert!(answer.1["message"].is_string(), "{}", answer.1);
}
