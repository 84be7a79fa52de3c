//! The test app: core-events running against its own database, with typed requests, the events
//! it published, and its queues driven by hand (with a manual clock where time matters).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use core_events::Settings;
use core_events::consumers::{MemberEvent, RatifiedSubmission, ScrimEvent, SubmissionEvent};
use core_events::import::{self, ImportError, Summary};
use core_events::ratings::RatingJob;
use core_events::restrictions::RestrictionDue;
use core_events::workers::{
    Finalizer, Handlers, event_options, finalization_options, rating_options,
};
use db::ServiceRole;
use domain::DomainEvent;
use domain::results::SubmissionRatified;
use pg_queue::{BatchOutcome, ManualClock, QueueWorker};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use service_kit::testing::{RunningApp, TEST_ADMIN_TOKEN, TEST_CALLER_TOKEN, test_config};
use sqlx::PgPool;
use test_db::TestDb;

pub struct TestApp {
    pub db: TestDb,
    pub app: RunningApp,
    pub client: reqwest::Client,
    /// Logged in as the owner: reads anything, for assertions.
    pub owner: PgPool,
}

/// Which token a request presents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Token {
    None,
    Caller,
    Admin,
}

pub fn test_settings() -> Settings {
    Settings {
        workers: false,
        ..Settings::default()
    }
}

impl TestApp {
    pub async fn spawn() -> Self {
        let db = TestDb::new().await;
        let config = test_config(&db, ServiceRole::CoreEvents, test_settings());
        let app = RunningApp::start(core_events::SPEC, config, core_events::routes)
            .await
            .expect("core-events starts");
        let owner = db.owner_pool().await;
        Self {
            db,
            app,
            client: reqwest::Client::new(),
            owner,
        }
    }

    /// A fresh app with the repository's demo league imported.
    pub async fn with_demo_league() -> Self {
        let app = Self::spawn().await;
        app.import(&demo_league_json())
            .await
            .expect("the demo league imports");
        app
    }

    /// The service's own pool (logged in as core_events).
    pub fn pool(&self) -> &PgPool {
        &self.app.pool
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.app.base_url)
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Token,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self.client.request(method, self.url(path));
        request = match token {
            Token::None => request,
            Token::Caller => request.bearer_auth(TEST_CALLER_TOKEN),
            Token::Admin => request.bearer_auth(TEST_ADMIN_TOKEN),
        };
        if let Some(body) = body {
            request = request.json(&body);
        }
        decode(request.send().await.expect("request")).await
    }

    pub async fn admin(&self, method: Method, path: &str, body: Value) -> (StatusCode, Value) {
        self.request(method, path, Token::Admin, Some(body)).await
    }

    pub async fn admin_get(&self, path: &str) -> (StatusCode, Value) {
        self.request(Method::GET, path, Token::Admin, None).await
    }

    pub async fn caller_get(&self, path: &str) -> (StatusCode, Value) {
        self.request(Method::GET, path, Token::Caller, None).await
    }

    /// Sends raw bytes as a JSON body with the admin token.
    pub async fn admin_raw(
        &self,
        method: Method,
        path: &str,
        body: impl Into<reqwest::Body>,
    ) -> (StatusCode, Value) {
        let response = self
            .client
            .request(method, self.url(path))
            .bearer_auth(TEST_ADMIN_TOKEN)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("request");
        decode(response).await
    }

    /// Imports a league file as `core-events import` does.
    pub async fn import(&self, json: &str) -> Result<Summary, ImportError> {
        let file = import::parse(json)?;
        let mut conn = self.pool().acquire().await.expect("connection");
        import::import(&mut conn, &file).await
    }

    /// Delivers a ratified submission into core's finalization queue, as submission would.
    pub async fn deliver_ratified(&self, event: &SubmissionRatified) {
        let submission = self.db.pool_as(ServiceRole::Submission).await;
        let message = RatifiedSubmission(DomainEvent::SubmissionRatified(Box::new(event.clone())));
        pg_queue::enqueue(&submission, &message)
            .await
            .expect("submission publishes");
        submission.close().await;
    }

    /// Delivers an event into one of core's incoming queues as its producer would.
    pub async fn deliver<Q: pg_queue::Queue>(&self, producer: ServiceRole, message: &Q) {
        let pool = self.db.pool_as(producer).await;
        pg_queue::enqueue(&pool, message)
            .await
            .expect("the producer enqueues");
        pool.close().await;
    }

    pub fn finalizer(&self) -> QueueWorker<RatifiedSubmission, Finalizer> {
        let options = finalization_options(1);
        let finalizer = Finalizer {
            retry: options.retry,
        };
        QueueWorker::new(self.pool().clone(), finalizer).options(options)
    }

    pub async fn run_finalization(&self) -> BatchOutcome {
        self.finalizer()
            .run_until_idle()
            .await
            .expect("finalization")
    }

    pub async fn run_ratings(&self) -> BatchOutcome {
        QueueWorker::<RatingJob, _>::new(self.pool().clone(), Handlers)
            .options(rating_options())
            .run_until_idle()
            .await
            .expect("ratings")
    }

    /// Runs the restriction expiries as if `ahead` had passed, until nothing more is due.
    pub async fn run_expiries_after(&self, ahead: Duration) -> BatchOutcome {
        let clock = Arc::new(ManualClock::new());
        clock.advance(ahead);
        QueueWorker::<RestrictionDue, _>::new(self.pool().clone(), Handlers)
            .options(event_options())
            .clock(clock)
            .run_until_idle()
            .await
            .expect("restriction expiries")
    }

    pub async fn run_member_events(&self) -> BatchOutcome {
        QueueWorker::<MemberEvent, _>::new(self.pool().clone(), Handlers)
            .options(event_options())
            .run_until_idle()
            .await
            .expect("member events")
    }

    pub async fn run_scrim_events(&self) -> BatchOutcome {
        QueueWorker::<ScrimEvent, _>::new(self.pool().clone(), Handlers)
            .options(event_options())
            .run_until_idle()
            .await
            .expect("scrim events")
    }

    pub async fn run_submission_events(&self) -> BatchOutcome {
        QueueWorker::<SubmissionEvent, _>::new(self.pool().clone(), Handlers)
            .options(event_options())
            .run_until_idle()
            .await
            .expect("submission events")
    }

    /// The envelopes waiting in a queue (e.g. `matchmaking.core_events`), oldest first.
    pub async fn events(&self, queue: &str) -> Vec<Value> {
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT payload FROM {queue} ORDER BY id"
        )))
        .fetch_all(&self.owner)
        .await
        .expect("read queue")
    }

    /// The topics waiting in a queue, oldest first.
    pub async fn topics(&self, queue: &str) -> Vec<String> {
        self.events(queue)
            .await
            .iter()
            .map(|event| event["topic"].as_str().expect("topic").to_owned())
            .collect()
    }

    pub async fn count(&self, sql: &str) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
            .fetch_one(&self.owner)
            .await
            .expect("count")
    }
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

/// Asserts an error answer: its status and contract name, in the envelope.
pub fn assert_error(answer: &(StatusCode, Value), status: StatusCode, name: &str) {
    assert_eq!(answer.0, status, "{}", answer.1);
    assert_eq!(answer.1["error"], name, "{}", answer.1);
    assert!(answer.1["message"].is_string(), "{}", answer.1);
}

fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The demo league `just up` loads.
pub fn demo_league_json() -> String {
    std::fs::read_to_string(repository().join("deploy/demo-league.json"))
        .expect("deploy/demo-league.json")
}

/// The replay fixtures' folder (REPLAY_FIXTURES_DIR overrides it).
pub fn fixtures_dir() -> PathBuf {
    std::env::var_os("REPLAY_FIXTURES_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repository().join("../shared/fixtures/replays"))
}
