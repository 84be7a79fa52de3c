//! The legacy design, rebuilt as the baseline: each scrim is one JSON value in Redis, changed by
//! read-modify-write with no lock (as the original did), behind the same HTTP routes as
//! matchmaking so the simulated players and the HTTP cost are identical. Its races are the point:
//! the report counts the invariant violations they cause.

#![expect(
    clippy::result_large_err,
    reason = "the baseline's helpers fail with the HTTP response to send, as axum handlers do"
)]

use std::net::SocketAddr;

use anyhow::Context;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use redis::AsyncCommands;
use redis::aio::MultiplexedConnection;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use uuid::Uuid;

/// Keys live under this prefix, deleted before and after a run.
const PREFIX: &str = "scrims-bench-legacy";

#[derive(Clone)]
struct Legacy {
    redis: MultiplexedConnection,
}

fn scrim_key(id: &str) -> String {
    format!("{PREFIX}:scrim:{id}")
}

fn player_key(id: i64) -> String {
    format!("{PREFIX}:player:{id}")
}

fn all_key() -> String {
    format!("{PREFIX}:scrims")
}

fn error(status: StatusCode, name: &str) -> Response {
    (status, Json(json!({ "error": name, "message": name }))).into_response()
}

fn internal(err: impl std::fmt::Display) -> Response {
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        &format!("InternalError: {err}"),
    )
}

/// Starts the legacy server on a free port; returns its base URL.
pub async fn start(redis_url: &str) -> anyhow::Result<(String, MultiplexedConnection)> {
    let client = redis::Client::open(redis_url).context("redis url")?;
    let mut redis = client
        .get_multiplexed_async_connection()
        .await
        .with_context(|| format!("connecting to Redis at {redis_url}"))?;
    clear(&mut redis).await?;
    let router = Router::new()
        .route("/scrims", post(create).get(list))
        .route("/scrims/{id}", get(get_one))
        .route("/scrims/{id}/join", post(join))
        .route("/scrims/{id}/leave", post(leave))
        .route("/scrims/{id}/check-in", post(check_in))
        .route("/admin/scrims/{id}/cancel", post(cancel))
        .with_state(Legacy {
            redis: redis.clone(),
        });
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, router).await {
            eprintln!("legacy server stopped: {err}");
        }
    });
    Ok((format!("http://{address}"), redis))
}

/// Deletes every key of the baseline.
pub async fn clear(redis: &mut MultiplexedConnection) -> anyhow::Result<()> {
    let keys: Vec<String> = redis.keys(format!("{PREFIX}:*")).await?;
    if !keys.is_empty() {
        let _: () = redis.del(keys).await?;
    }
    Ok(())
}

/// Every stored scrim (for the end-of-run invariant checks).
pub async fn all_scrims(redis: &mut MultiplexedConnection) -> anyhow::Result<Vec<Value>> {
    let ids: Vec<String> = redis.smembers(all_key()).await?;
    let mut scrims = Vec::new();
    for id in ids {
        let raw: Option<String> = redis.get(scrim_key(&id)).await?;
        if let Some(raw) = raw {
            scrims.push(serde_json::from_str(&raw)?);
        }
    }
    Ok(scrims)
}

async fn load(redis: &mut MultiplexedConnection, id: &str) -> Result<Option<Value>, Response> {
    let raw: Option<String> = redis.get(scrim_key(id)).await.map_err(internal)?;
    raw.map(|raw| serde_json::from_str(&raw).map_err(internal))
        .transpose()
}

/// [`load`], answering 404 `ScrimNotFound` for a missing scrim.
async fn load_existing(redis: &mut MultiplexedConnection, id: &str) -> Result<Value, Response> {
    load(redis, id)
        .await?
        .ok_or_else(|| error(StatusCode::NOT_FOUND, "ScrimNotFound"))
}

async fn store(redis: &mut MultiplexedConnection, scrim: &Value) -> Result<(), Response> {
    let id = scrim["id"].as_str().unwrap_or_default();
    let _: () = redis
        .set(scrim_key(id), scrim.to_string())
        .await
        .map_err(internal)?;
    Ok(())
}

fn capacity(scrim: &Value) -> usize {
    let size = scrim["settings"]["teamSize"].as_u64().unwrap_or(0);
    let count = scrim["settings"]["teamCount"].as_u64().unwrap_or(0);
    usize::try_from(size * count).unwrap_or(usize::MAX)
}

fn players(scrim: &mut Value) -> &mut Vec<Value> {
    if !scrim["players"].is_array() {
        scrim["players"] = json!([]);
    }
    match scrim["players"].as_array_mut() {
        Some(players) => players,
        None => unreachable!("just made an array"),
    }
}

fn player(body: &Value) -> (i64, Value) {
    let id = body["playerId"].as_i64().unwrap_or(0);
    let name = body["playerName"].clone();
    (id, json!({"id": id, "name": name, "checkedIn": false}))
}

/// The original's one-scrim-per-player check: read, then write later (racy by design).
async fn player_is_free(redis: &mut MultiplexedConnection, id: i64) -> Result<bool, Response> {
    let current: Option<String> = redis.get(player_key(id)).await.map_err(internal)?;
    Ok(current.is_none())
}

async fn create(State(legacy): State<Legacy>, Json(body): Json<Value>) -> Response {
    let mut redis = legacy.redis.clone();
    let join = &body["join"];
    let (id, entry) = player(join);
    match player_is_free(&mut redis, id).await {
        Ok(true) => {}
        Ok(false) => return error(StatusCode::CONFLICT, "PlayerAlreadyInScrim"),
        Err(response) => return response,
    }
    let scrim_id = Uuid::new_v4().to_string();
    let scrim = json!({
        "id": scrim_id, "status": "PENDING", "authorId": body["authorId"],
        "settings": body["settings"], "players": [entry], "games": []
    });
    if let Err(response) = store(&mut redis, &scrim).await {
        return response;
    }
    let saved: Result<(), redis::RedisError> = async {
        let _: () = redis.sadd(all_key(), &scrim_id).await?;
        let _: () = redis.set(player_key(id), &scrim_id).await?;
        Ok(())
    }
    .await;
    match saved {
        Ok(()) => (StatusCode::CREATED, Json(scrim)).into_response(),
        Err(err) => internal(err),
    }
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    status: Option<String>,
}

async fn list(State(legacy): State<Legacy>, Query(query): Query<ListQuery>) -> Response {
    let mut redis = legacy.redis.clone();
    match all_scrims(&mut redis).await {
        Ok(scrims) => Json(
            scrims
                .into_iter()
                .filter(|s| {
                    query
                        .status
                        .as_deref()
                        .is_none_or(|status| s["status"] == status)
                })
                .collect::<Vec<_>>(),
        )
        .into_response(),
        Err(err) => internal(err),
    }
}

async fn get_one(State(legacy): State<Legacy>, Path(id): Path<String>) -> Response {
    let mut redis = legacy.redis.clone();
    match load(&mut redis, &id).await {
        Ok(Some(scrim)) => Json(scrim).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, "ScrimNotFound"),
        Err(response) => response,
    }
}

async fn join(
    State(legacy): State<Legacy>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    let mut redis = legacy.redis.clone();
    let (player_id, entry) = player(&body);
    match player_is_free(&mut redis, player_id).await {
        Ok(true) => {}
        Ok(false) => return error(StatusCode::CONFLICT, "PlayerAlreadyInScrim"),
        Err(response) => return response,
    }
    let mut scrim = match load_existing(&mut redis, &id).await {
        Ok(scrim) => scrim,
        Err(response) => return response,
    };
    if scrim["status"] != "PENDING" {
        return error(StatusCode::CONFLICT, "ScrimAlreadyInProgress");
    }
    let capacity = capacity(&scrim);
    players(&mut scrim).push(entry);
    if players(&mut scrim).len() >= capacity {
        scrim["status"] = json!("POPPED");
        scrim["submissionId"] = json!(format!("scrim-{}", Uuid::new_v4()));
    }
    if let Err(response) = store(&mut redis, &scrim).await {
        return response;
    }
    let marked: Result<(), redis::RedisError> = redis.set(player_key(player_id), &id).await;
    match marked {
        Ok(()) => Json(scrim).into_response(),
        Err(err) => internal(err),
    }
}

async fn leave(
    State(legacy): State<Legacy>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    let mut redis = legacy.redis.clone();
    let player_id = body["playerId"].as_i64().unwrap_or(0);
    let mut scrim = match load_existing(&mut redis, &id).await {
        Ok(scrim) => scrim,
        Err(response) => return response,
    };
    if scrim["status"] != "PENDING" {
        return error(StatusCode::CONFLICT, "ScrimAlreadyInProgress");
    }
    let roster = players(&mut scrim);
    let before = roster.len();
    roster.retain(|p| p["id"].as_i64() != Some(player_id));
    if roster.len() == before {
        return error(StatusCode::CONFLICT, "PlayerNotInScrim");
    }
    let empty = roster.is_empty();
    let outcome: Result<(), redis::RedisError> = async {
        let _: () = redis.del(player_key(player_id)).await?;
        if empty {
            let _: () = redis.del(scrim_key(&id)).await?;
            let _: () = redis.srem(all_key(), &id).await?;
        }
        Ok(())
    }
    .await;
    if let Err(err) = outcome {
        return internal(err);
    }
    if empty {
        scrim["status"] = json!("EMPTY");
    } else if let Err(response) = store(&mut redis, &scrim).await {
        return response;
    }
    Json(scrim).into_response()
}

async fn check_in(
    State(legacy): State<Legacy>,
    Path(id): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    let mut redis = legacy.redis.clone();
    let player_id = body["playerId"].as_i64().unwrap_or(0);
    let mut scrim = match load_existing(&mut redis, &id).await {
        Ok(scrim) => scrim,
        Err(response) => return response,
    };
    if scrim["status"] != "POPPED" {
        return error(StatusCode::CONFLICT, "ScrimStatusNotPopped");
    }
    let roster = players(&mut scrim);
    let Some(me) = roster
        .iter_mut()
        .find(|p| p["id"].as_i64() == Some(player_id))
    else {
        return error(StatusCode::CONFLICT, "PlayerNotInScrim");
    };
    if me["checkedIn"] == true {
        return error(StatusCode::CONFLICT, "PlayerAlreadyCheckedIn");
    }
    me["checkedIn"] = json!(true);
    if roster.iter().all(|p| p["checkedIn"] == true) {
        scrim["status"] = json!("IN_PROGRESS");
        scrim["lobby"] = json!({"name": format!("lobby-{}", Uuid::new_v4()), "password": "secret"});
    }
    match store(&mut redis, &scrim).await {
        Ok(()) => Json(scrim).into_response(),
        Err(response) => response,
    }
}

async fn cancel(State(legacy): State<Legacy>, Path(id): Path<String>) -> Response {
    let mut redis = legacy.redis.clone();
    let mut scrim = match load_existing(&mut redis, &id).await {
        Ok(scrim) => scrim,
        Err(response) => return response,
    };
    let ids: Vec<i64> = players(&mut scrim)
        .iter()
        .filter_map(|p| p["id"].as_i64())
        .collect();
    let outcome: Result<(), redis::RedisError> = async {
        for player in ids {
            let _: () = redis.del(player_key(player)).await?;
        }
        let _: () = redis.del(scrim_key(&id)).await?;
        let _: () = redis.srem(all_key(), &id).await?;
        Ok(())
    }
    .await;
    if let Err(err) = outcome {
        return internal(err);
    }
    scrim["status"] = json!("CANCELLED");
    Json(scrim).into_response()
}
