//! Bad input gets a clear 4xx with a named error and never reaches SQL as it is.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::{TestApp, assert_error};

#[tokio::test]
async fn a_nul_byte_or_an_overlong_name_is_refused_before_sql() {
    let app = TestApp::spawn().await;
    let nul = app
        .admin(
            Method::POST,
            "/admin/users",
            json!({"displayName": "nul\u{0}byte"}),
        )
        .await;
    assert_error(&nul, StatusCode::BAD_REQUEST, "InvalidRequest");
    assert!(
        nul.1["message"]
            .as_str()
            .expect("message")
            .contains("displayName"),
        "{}",
        nul.1
    );
    let long = app
        .admin(
            Method::POST,
            "/admin/users",
            json!({"displayName": "x".repeat(101)}),
        )
        .await;
    assert_error(&long, StatusCode::BAD_REQUEST, "InvalidRequest");
    let empty = app
        .admin(Method::POST, "/admin/users", json!({"displayName": "   "}))
        .await;
    assert_error(&empty, StatusCode::BAD_REQUEST, "InvalidRequest");
    let nul_value = app
        .admin(
            Method::PUT,
            "/admin/platform-settings/DISABLE_DISCORD_DMS",
            json!({"value": "tr\u{0}ue"}),
        )
        .await;
    assert_error(&nul_value, StatusCode::BAD_REQUEST, "InvalidRequest");
    assert_eq!(app.count("SELECT count(*) FROM core.users").await, 0);
}

#[tokio::test]
async fn malformed_json_unknown_fields_and_wrong_types_are_invalid_requests() {
    let app = TestApp::spawn().await;
    let malformed = app
        .admin_raw(Method::POST, "/admin/users", "{\"displayName\": ")
        .await;
    assert_error(&malformed, StatusCode::BAD_REQUEST, "InvalidRequest");
    let unknown = app
        .admin(
            Method::POST,
            "/admin/users",
            json!({"displayName": "A", "admin": true}),
        )
        .await;
    assert_error(&unknown, StatusCode::BAD_REQUEST, "InvalidRequest");
    let fraction = app
        .admin(
            Method::POST,
            "/admin/members",
            json!({"organizationId": 1.5, "userId": 1, "name": "A"}),
        )
        .await;
    assert_error(&fraction, StatusCode::BAD_REQUEST, "InvalidRequest");
    let zero = app
        .admin(
            Method::POST,
            "/admin/members",
            json!({"organizationId": 0, "userId": 1, "name": "A"}),
        )
        .await;
    assert_error(&zero, StatusCode::BAD_REQUEST, "InvalidRequest");
    let given_id = app
        .admin(
            Method::POST,
            "/admin/users",
            json!({"id": 7, "displayName": "A"}),
        )
        .await;
    assert_error(&given_id, StatusCode::BAD_REQUEST, "InvalidRequest");
    let platform = app
        .admin(
            Method::PUT,
            "/admin/members/1/accounts",
            json!([{"platform": "ATARI", "platformAccountId": "1"}]),
        )
        .await;
    assert_error(&platform, StatusCode::BAD_REQUEST, "InvalidRequest");
}

#[tokio::test]
async fn bad_path_parameters_are_invalid_requests() {
    let app = TestApp::spawn().await;
    for path in [
        "/players/0/ratings",
        "/players/abc/ratings",
        "/players/99999999999/ratings",
    ] {
        let (status, body) = app.caller_get(path).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert_eq!(body["error"], "InvalidRequest");
    }
    let key = app
        .admin(
            Method::PUT,
            "/admin/organizations/1/settings/lower_case",
            json!({"value": "1"}),
        )
        .await;
    assert_error(&key, StatusCode::BAD_REQUEST, "InvalidRequest");
    let (status, _) = app.caller_get("/members/1/restrictions?active=maybe").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn an_oversized_body_is_payload_too_large() {
    let app = TestApp::spawn().await;
    let huge = format!("{{\"displayName\": \"{}\"}}", "x".repeat(300 * 1024));
    let answer = app.admin_raw(Method::POST, "/admin/users", huge).await;
    assert_error(&answer, StatusCode::PAYLOAD_TOO_LARGE, "PayloadTooLarge");
}
