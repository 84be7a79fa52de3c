//! `/openapi.json` documents every route, and every documented route exists.

use reqwest::StatusCode;

use crate::common::TestApp;

#[tokio::test]
async fn the_openapi_document_matches_the_router() {
    let app = TestApp::spawn().await;
    let (status, doc) = app.get("/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "{doc}"
    );
    let paths = doc["paths"].as_object().expect("paths");
    assert_eq!(paths.len(), 16, "{:?}", paths.keys().collect::<Vec<_>>());
    for schema in [
        "Scrim",
        "ScrimPlayer",
        "ScrimSettings",
        "JoinOptions",
        "CreateScrim",
        "ErrorBody",
        "ErrorName",
        "ScrimStatus",
    ] {
        assert!(
            doc["components"]["schemas"][schema].is_object(),
            "schema {schema} missing"
        );
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["admin_token"]["scheme"],
        "bearer"
    );
    assert!(
        doc["components"]["schemas"]["TeamCount"]["minimum"] == 2.0
            || doc["components"]["schemas"]["TeamCount"]["minimum"] == 2
    );

    // Every documented operation is routed: none falls through to the NotFound fallback.
    let mut operations = 0;
    for (path, item) in paths {
        let concrete = path
            .replace("{id}", &uuid::Uuid::new_v4().to_string())
            .replace("{player_id}", "1")
            .replace("{submission_id}", "scrim-x");
        for method in item.as_object().expect("path item").keys() {
            let request = match method.as_str() {
                "get" => app.client.get(app.url(&concrete)),
                "post" => app
                    .client
                    .post(app.url(&concrete))
                    .json(&serde_json::json!({})),
                other => panic!("unexpected method {other}"),
            };
            let response = request.send().await.expect("request");
            let status = response.status();
            let body: serde_json::Value = response.json().await.unwrap_or_default();
            assert_ne!(
                body["error"], "NotFound",
                "{method} {path} is documented but not routed ({status})"
            );
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            operations += 1;
        }
    }
    assert_eq!(operations, 17);
}

#[tokio::test]
async fn every_error_name_the_service_answers_is_documented() {
    let app = TestApp::spawn().await;
    let (_, doc) = app.get("/openapi.json").await;
    let names: Vec<&str> = doc["components"]["schemas"]["ErrorName"]["enum"]
        .as_array()
        .expect("ErrorName is an enum")
        .iter()
        .map(|name| name.as_str().expect("name"))
        .collect();
    for name in [
        "InternalError",
        "PayloadTooLarge",
        "Forbidden",
        "Unauthorized",
        "InvalidRequest",
    ] {
        assert!(names.contains(&name), "{name} is not documented: {names:?}");
    }
    // Every operation documents the answers every route can give: a missing or wrong token, a
    // malformed request, and the opaque 500.
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("item") {
            let responses = operation["responses"].as_object().expect("responses");
            for status in ["401", "500"] {
                assert!(
                    responses.contains_key(status),
                    "{method} {path} does not document {status}"
                );
            }
            if path.starts_with("/admin") {
                assert!(responses.contains_key("403"), "{method} {path}: 403");
            }
            if path.contains('{') || operation.get("requestBody").is_some() {
                assert!(responses.contains_key("400"), "{method} {path}: 400");
            }
        }
    }
}
