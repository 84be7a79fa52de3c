//! Who may call what (DOMAIN §7): every route × (no token, a caller token, the admin token).

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::{TestApp, Token};

/// An admin route and a body it accepts (so the admin token gets past validation).
fn admin_routes() -> Vec<(Method, &'static str, Option<serde_json::Value>, StatusCode)> {
    vec![
        (
            Method::POST,
            "/admin/organizations",
            Some(json!({"name": "Access League"})),
            StatusCode::CREATED,
        ),
        (
            Method::PUT,
            "/admin/organizations/1",
            Some(json!({"name": "Demo League"})),
            StatusCode::OK,
        ),
        (
            Method::GET,
            "/admin/organizations/1/settings",
            None,
            StatusCode::OK,
        ),
        (
            Method::PUT,
            "/admin/organizations/1/settings/SCRIM_REQUIRED_RATIFICATIONS",
            Some(json!({"value": "2"})),
            StatusCode::OK,
        ),
        (
            Method::DELETE,
            "/admin/organizations/1/settings/SCRIM_REQUIRED_RATIFICATIONS",
            None,
            StatusCode::OK,
        ),
        (
            Method::POST,
            "/admin/users",
            Some(json!({"displayName": "Access"})),
            StatusCode::CREATED,
        ),
        (
            Method::PUT,
            "/admin/users/1",
            Some(json!({"displayName": "HyperNova", "discordId": "900000000000000001"})),
            StatusCode::OK,
        ),
        (
            Method::POST,
            "/admin/members",
            Some(json!({"organizationId": 1, "userId": 35, "name": "Access"})),
            StatusCode::CREATED,
        ),
        (
            Method::PUT,
            "/admin/members/1",
            Some(json!({"organizationId": 1, "userId": 1, "name": "HyperNova"})),
            StatusCode::OK,
        ),
        (
            Method::PUT,
            "/admin/members/1/accounts",
            Some(json!([{"platform": "STEAM", "platformAccountId": "76561198308362588"}])),
            StatusCode::OK,
        ),
        (
            Method::POST,
            "/admin/members/1/restrictions",
            Some(json!({"type": "QUEUE_BAN", "reason": "access", "durationMinutes": 5})),
            StatusCode::CREATED,
        ),
        (
            Method::POST,
            "/admin/restrictions/1/lift",
            Some(json!({"reason": "access"})),
            StatusCode::OK,
        ),
        (
            Method::POST,
            "/admin/games",
            Some(json!({"title": "Another Game"})),
            StatusCode::CREATED,
        ),
        (
            Method::PUT,
            "/admin/games/1",
            Some(json!({"title": "Rocket League"})),
            StatusCode::OK,
        ),
        (
            Method::POST,
            "/admin/game-modes",
            Some(
                json!({"gameId": 1, "code": "RL_HOOPS", "description": "Hoops", "teamSize": 2, "teamCount": 2}),
            ),
            StatusCode::CREATED,
        ),
        (
            Method::PUT,
            "/admin/game-modes/13",
            Some(
                json!({"gameId": 1, "code": "RL_DOUBLES", "description": "Doubles", "teamSize": 2, "teamCount": 2}),
            ),
            StatusCode::OK,
        ),
        (
            Method::POST,
            "/admin/skill-groups",
            Some(
                json!({"organizationId": 1, "gameId": 1, "ordinal": 6, "code": "XL", "description": "Extra League"}),
            ),
            StatusCode::CREATED,
        ),
        (
            Method::PUT,
            "/admin/skill-groups/5",
            Some(
                json!({"organizationId": 1, "gameId": 1, "ordinal": 5, "code": "FL", "description": "Foundation League", "salaryCap": 40.0, "color": "#6B7280"}),
            ),
            StatusCode::OK,
        ),
        (
            Method::POST,
            "/admin/franchises",
            Some(json!({"organizationId": 1, "title": "Access", "code": "ACC"})),
            StatusCode::CREATED,
        ),
        (
            Method::PUT,
            "/admin/franchises/4",
            Some(
                json!({"organizationId": 1, "title": "Coyotes", "code": "COY", "primaryColor": "#B45309", "secondaryColor": "#F5F5F4"}),
            ),
            StatusCode::OK,
        ),
        (
            Method::PUT,
            "/admin/franchises/4/staff",
            Some(json!([])),
            StatusCode::OK,
        ),
        (
            Method::POST,
            "/admin/teams",
            Some(json!({"franchiseId": 3, "skillGroupId": 5})),
            StatusCode::CREATED,
        ),
        (
            Method::DELETE,
            "/admin/teams/11",
            None,
            StatusCode::NO_CONTENT,
        ),
        (
            Method::POST,
            "/admin/players",
            Some(json!({"memberId": 35, "skillGroupId": 5, "teamId": null})),
            StatusCode::CREATED,
        ),
        (
            Method::PUT,
            "/admin/players/34",
            Some(json!({"memberId": 34, "skillGroupId": 4, "salary": 9.5, "teamId": null})),
            StatusCode::OK,
        ),
        (
            Method::POST,
            "/admin/league-matches",
            Some(
                json!({"organizationId": 1, "skillGroupId": 2, "gameModeId": 14, "homeFranchiseId": 1, "awayFranchiseId": 2, "season": 1, "week": 3}),
            ),
            StatusCode::CREATED,
        ),
        (
            Method::PUT,
            "/admin/league-matches/1",
            Some(
                json!({"organizationId": 1, "skillGroupId": 1, "gameModeId": 14, "homeFranchiseId": 3, "awayFranchiseId": 4, "season": 1, "week": 1, "scheduledAt": "2026-01-05T01:00:00Z"}),
            ),
            StatusCode::OK,
        ),
        (Method::GET, "/admin/submissions", None, StatusCode::OK),
        (
            Method::GET,
            "/admin/platform-settings",
            None,
            StatusCode::OK,
        ),
        (
            Method::PUT,
            "/admin/platform-settings/DISABLE_DISCORD_DMS",
            Some(json!({"value": "false"})),
            StatusCode::OK,
        ),
        (Method::POST, "/admin/scrims/disable", None, StatusCode::OK),
        (Method::POST, "/admin/scrims/enable", None, StatusCode::OK),
    ]
}

fn read_routes() -> Vec<&'static str> {
    vec![
        "/players/1/ratings",
        "/players/1/ratings/14/history",
        "/members/1/restrictions",
        "/scrims/metrics",
    ]
}

#[tokio::test]
async fn admin_routes_answer_401_without_a_token_403_to_a_caller_and_work_for_the_admin() {
    let app = TestApp::with_demo_league().await;
    for (method, path, body, expected) in admin_routes() {
        let (status, answer) = app
            .request(method.clone(), path, Token::None, body.clone())
            .await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{method} {path} without a token: {answer}"
        );
        assert_eq!(answer["error"], "Unauthorized");
        let (status, answer) = app
            .request(method.clone(), path, Token::Caller, body.clone())
            .await;
        assert_eq!(
            status,
            StatusCode::FORBIDDEN,
            "{method} {path} with a caller token: {answer}"
        );
        assert_eq!(answer["error"], "Forbidden");
        let (status, answer) = app.request(method.clone(), path, Token::Admin, body).await;
        assert_eq!(
            status, expected,
            "{method} {path} with the admin token: {answer}"
        );
    }
}

#[tokio::test]
async fn read_routes_need_a_caller_token_and_accept_the_admin_token() {
    let app = TestApp::with_demo_league().await;
    for path in read_routes() {
        let (status, _) = app.request(Method::GET, path, Token::None, None).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "GET {path} without a token"
        );
        let (status, answer) = app.request(Method::GET, path, Token::Caller, None).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "GET {path} with a caller token: {answer}"
        );
        let (status, _) = app.request(Method::GET, path, Token::Admin, None).await;
        assert_eq!(status, StatusCode::OK, "GET {path} with the admin token");
    }
    let wrong = app
        .client
        .get(app.url("/scrims/metrics"))
        .bearer_auth("not-a-token")
        .send()
        .await
        .expect("request");
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_openapi_document_and_the_ops_endpoints_need_no_token() {
    let app = TestApp::spawn().await;
    for path in ["/openapi.json", "/healthz", "/readyz", "/metrics"] {
        let (status, _) = app.request(Method::GET, path, Token::None, None).await;
        assert_eq!(status, StatusCode::OK, "GET {path}");
    }
    let (status, answer) = app
        .request(Method::GET, "/no/such/route", Token::Admin, None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    assert_eq!(answer["error"], "NotFound");
}
