//! The access layers as a service uses them: the matrix of routes and tokens.

use std::sync::Arc;

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::get;
use service_kit::access::{ACTING_USER_HEADER, require_admin, require_caller};
use service_kit::testing::{TEST_ADMIN_TOKEN, TEST_CALLER, TEST_CALLER_TOKEN};
use service_kit::{AccessConfig, Caller};
use tokio::net::TcpListener;

async fn whoami(caller: Caller) -> String {
    format!(
        "{} admin={} acting={:?}",
        caller.name, caller.is_admin, caller.acting_user
    )
}

async fn serve() -> String {
    let access = Arc::new(AccessConfig::new(
        TEST_CALLER,
        TEST_CALLER_TOKEN,
        TEST_ADMIN_TOKEN,
    ));
    let player = Router::new()
        .route("/player", get(whoami))
        .route_layer(from_fn_with_state(access.clone(), require_caller));
    let admin = Router::new()
        .route("/admin", get(whoami))
        .route_layer(from_fn_with_state(access, require_admin));
    let unprotected = Router::new().route("/forgot-the-layer", get(whoami));
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move {
        axum::serve(listener, player.merge(admin).merge(unprotected))
            .await
            .expect("serve");
    });
    url
}

async fn call(url: &str, token: Option<&str>, acting: Option<&str>) -> (u16, String) {
    let mut request = reqwest::Client::new().get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(acting) = acting {
        request = request.header(ACTING_USER_HEADER, acting);
    }
    let response = request.send().await.expect("request");
    (
        response.status().as_u16(),
        response.text().await.expect("body"),
    )
}

#[tokio::test]
async fn player_routes_take_any_caller_token_and_admin_routes_only_the_admin_token() {
    let base = serve().await;
    let (player, admin) = (format!("{base}/player"), format!("{base}/admin"));
    let cases = [
        (&player, None, 401),
        (&player, Some("wrong"), 401),
        (&player, Some(TEST_CALLER_TOKEN), 200),
        (&player, Some(TEST_ADMIN_TOKEN), 200),
        (&admin, None, 401),
        (&admin, Some("wrong"), 401),
        (&admin, Some(TEST_CALLER_TOKEN), 403),
        (&admin, Some(TEST_ADMIN_TOKEN), 200),
    ];
    for (url, token, expected) in cases {
        let (status, body) = call(url, token, None).await;
        assert_eq!(status, expected, "{url} with {token:?}: {body}");
        if status == 401 {
            assert!(body.contains(r#""error":"Unauthorized""#), "{body}");
        }
        if status == 403 {
            assert!(body.contains(r#""error":"Forbidden""#), "{body}");
        }
    }
}

#[tokio::test]
async fn the_caller_and_the_user_it_acts_for_reach_the_handler() {
    let base = serve().await;
    let (status, body) = call(
        &format!("{base}/player"),
        Some(TEST_CALLER_TOKEN),
        Some("42"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body, "gateway admin=false acting=Some(42)");
    let (_, body) = call(&format!("{base}/admin"), Some(TEST_ADMIN_TOKEN), None).await;
    assert_eq!(body, "admin admin=true acting=None");
}

#[tokio::test]
async fn a_malformed_acting_user_is_a_named_400() {
    let base = serve().await;
    for bad in ["-3", "0", "abc", "99999999999"] {
        let (status, body) = call(
            &format!("{base}/player"),
            Some(TEST_CALLER_TOKEN),
            Some(bad),
        )
        .await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(body.contains(r#""error":"InvalidRequest""#), "{body}");
    }
}

#[tokio::test]
async fn a_route_that_forgot_its_access_layer_refuses_rather_than_runs_unauthenticated() {
    let base = serve().await;
    let (status, _) = call(
        &format!("{base}/forgot-the-layer"),
        Some(TEST_CALLER_TOKEN),
        None,
    )
    .await;
    assert_eq!(status, 401);
}
