//! The OpenAPI document describes every route, its tokens and its error envelope.

use reqwest::Method;
use serde_json::Value;

use crate::common::{TestApp, Token};

const ROUTES: &[(&str, &str)] = &[
    ("post", "/admin/organizations"),
    ("put", "/admin/organizations/{id}"),
    ("get", "/admin/organizations/{id}/settings"),
    ("put", "/admin/organizations/{id}/settings/{key}"),
    ("delete", "/admin/organizations/{id}/settings/{key}"),
    ("post", "/admin/users"),
    ("put", "/admin/users/{id}"),
    ("post", "/admin/members"),
    ("put", "/admin/members/{id}"),
    ("put", "/admin/members/{id}/accounts"),
    ("post", "/admin/members/{id}/restrictions"),
    ("post", "/admin/restrictions/{id}/lift"),
    ("post", "/admin/games"),
    ("put", "/admin/games/{id}"),
    ("post", "/admin/game-modes"),
    ("put", "/admin/game-modes/{id}"),
    ("post", "/admin/skill-groups"),
    ("put", "/admin/skill-groups/{id}"),
    ("post", "/admin/franchises"),
    ("put", "/admin/franchises/{id}"),
    ("put", "/admin/franchises/{id}/staff"),
    ("post", "/admin/teams"),
    ("delete", "/admin/teams/{id}"),
    ("post", "/admin/players"),
    ("put", "/admin/players/{id}"),
    ("post", "/admin/league-matches"),
    ("put", "/admin/league-matches/{id}"),
    ("get", "/admin/submissions"),
    ("get", "/admin/platform-settings"),
    ("put", "/admin/platform-settings/{key}"),
    ("post", "/admin/scrims/disable"),
    ("post", "/admin/scrims/enable"),
    ("get", "/players/{player_id}/ratings"),
    ("get", "/players/{player_id}/ratings/{game_mode_id}/history"),
    ("get", "/members/{member_id}/restrictions"),
    ("get", "/scrims/metrics"),
];

#[tokio::test]
async fn the_openapi_document_lists_every_route_with_its_token() {
    let app = TestApp::spawn().await;
    let (status, document) = app
        .request(Method::GET, "/openapi.json", Token::None, None)
        .await;
    assert_eq!(status, 200);
    let paths = document["paths"].as_object().expect("paths");
    let mut documented = 0;
    for (path, operations) in paths {
        for (method, _) in operations.as_object().expect("operations") {
            assert!(
                ROUTES.contains(&(method.as_str(), path.as_str())),
                "{method} {path} is documented but not expected"
            );
            documented += 1;
        }
    }
    assert_eq!(documented, ROUTES.len(), "every route is documented");
    for (method, path) in ROUTES {
        let operation = &document["paths"][path][method];
        let security = operation["security"].to_string();
        let token = if path.starts_with("/admin") {
            "admin_token"
        } else {
            "caller_token"
        };
        assert!(
            security.contains(token),
            "{method} {path} names {token}: {security}"
        );
        let responses = operation["responses"].as_object().expect("responses");
        assert!(
            responses.contains_key("401"),
            "{method} {path} documents 401"
        );
    }
    let schemes = &document["components"]["securitySchemes"];
    assert_eq!(schemes["admin_token"]["scheme"], "bearer");
    assert_eq!(schemes["caller_token"]["scheme"], "bearer");
    let error = &document["components"]["schemas"]["ErrorBody"];
    assert!(error["properties"]["error"].is_object(), "{error}");
    let names = document["components"]["schemas"]["ErrorName"]["enum"].clone();
    for name in [
        "PayloadTooLarge",
        "UnknownReference",
        "AlreadyExists",
        "RestrictionAlreadyLifted",
    ] {
        assert!(
            names
                .as_array()
                .is_some_and(|n| n.contains(&Value::from(name))),
            "{name} in {names}"
        );
    }
}
