//! `GET /openapi.json`: the API's OpenAPI document, generated from the handlers' annotations plus
//! the answers every route can give, added here once rather than on each handler.

use axum::Json;
use serde::Serialize;
use utoipa::openapi::path::Operation;
use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
use utoipa::{Modify, OpenApi, ToSchema};

use domain::ErrorName;
use service_kit::access::SecuritySchemes;

use super::{Disabled, PlayerRequest};

/// The error envelope of every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorName,
    pub message: String,
}

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "matchmaking",
        description = "The scrim lifecycle: queueing, pops, check-ins, teams and lobbies. Every route needs a caller token (`caller_token`) or the admin token; admin routes only the admin token. A request acts for the player named in `x-acting-user-id`: bodies may only name that player (admins may name anyone), and lobbies and group codes are shown only to the scrim's own players and admins."
    ),
    paths(super::create, super::create_lfs, super::list, super::metrics, super::disabled,
          super::get_scrim, super::join, super::leave, super::check_in, super::by_player,
          super::by_submission, super::create_test, super::cancel, super::lock, super::unlock,
          super::disable, super::enable),
    components(schemas(ErrorBody, Disabled, PlayerRequest)),
    modifiers(&SecuritySchemes, &CommonAnswers),
)]
pub struct ApiDoc;

/// A link between operations, so that tools that walk the API (schemathesis' stateful phase)
/// follow a created scrim into join, leave and check-in.
struct Link {
    /// The answering operation (a POST) and its status.
    from: (&'static str, &'static str),
    name: &'static str,
    /// The target operation's id.
    to: &'static str,
    /// The target's `id` parameter, as a runtime expression.
    id: &'static str,
    /// The `playerId` of the target's body, if it has one.
    player: Option<&'static str>,
}

const LINKS: &[Link] = &[
    Link {
        from: ("/scrims", "201"),
        name: "GetScrim",
        to: "get_scrim",
        id: "$response.body#/id",
        player: None,
    },
    Link {
        from: ("/scrims", "201"),
        name: "JoinScrim",
        to: "join",
        id: "$response.body#/id",
        player: None,
    },
    Link {
        from: ("/scrims", "201"),
        name: "AuthorLeaves",
        to: "leave",
        id: "$response.body#/id",
        player: Some("$response.body#/authorId"),
    },
    Link {
        from: ("/scrims/{id}/join", "200"),
        name: "JoinerChecksIn",
        to: "check_in",
        id: "$response.body#/id",
        player: Some("$request.body#/playerId"),
    },
    Link {
        from: ("/scrims/{id}/join", "200"),
        name: "JoinerLeaves",
        to: "leave",
        id: "$response.body#/id",
        player: Some("$request.body#/playerId"),
    },
    Link {
        from: ("/scrims/lfs", "201"),
        name: "LockLfs",
        to: "lock",
        id: "$response.body#/id",
        player: None,
    },
    Link {
        from: ("/admin/scrims/{id}/lock", "200"),
        name: "Unlock",
        to: "unlock",
        id: "$response.body#/id",
        player: None,
    },
];

/// Adds [`LINKS`] to the serialised document. (utoipa's `Link` serialises its fields in
/// snake_case, which no tool reads, so the links are written as JSON.)
fn add_links(document: &mut serde_json::Value) {
    for link in LINKS {
        let (path, status) = link.from;
        let Some(response) = document
            .pointer_mut(&format!("/paths/{}/post/responses/{status}", escape(path)))
            .and_then(serde_json::Value::as_object_mut)
        else {
            continue;
        };
        let mut json =
            serde_json::json!({ "operationId": link.to, "parameters": { "id": link.id } });
        if let Some(player) = link.player {
            json["requestBody"] = serde_json::json!({ "playerId": player });
        }
        let links = response
            .entry("links")
            .or_insert_with(|| serde_json::json!({}));
        links[link.name] = json;
    }
}

/// A path as one JSON pointer token.
fn escape(path: &str) -> String {
    path.replace('~', "~0").replace('/', "~1")
}

/// Adds the answers any route can give: 400 (a malformed path, query, body or acting user
/// header), 401 (no valid token), 500 (the opaque internal error); 403 on admin routes (a caller
/// token is not enough); 413 on routes with a body.
struct CommonAnswers;

impl Modify for CommonAnswers {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in &mut openapi.paths.paths {
            let admin = path.starts_with("/admin/");
            for operation in [&mut item.get, &mut item.post].into_iter().flatten() {
                add_answers(operation, admin);
            }
        }
    }
}

fn add_answers(operation: &mut Operation, admin: bool) {
    let has_body = operation.request_body.is_some();
    let responses = &mut operation.responses.responses;
    let mut add = |status: &str, description: &str| {
        responses.entry(status.to_owned()).or_insert_with(|| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build()
                .into()
        });
    };
    add(
        "400",
        "InvalidRequest: the path, query, body or x-acting-user-id header does not match this document",
    );
    add("401", "Unauthorized: no valid caller or admin token");
    if admin {
        add("403", "Forbidden: this route needs the admin token");
    }
    if has_body {
        add("413", "PayloadTooLarge: the body is over 64 KiB");
    }
    add(
        "500",
        "InternalError: something failed on the service's side (the service logs the cause)",
    );
}

/// The document as served.
pub fn document_json() -> serde_json::Value {
    let mut document = serde_json::to_value(ApiDoc::openapi())
        .unwrap_or_else(|_| unreachable!("an OpenAPI document always serialises"));
    add_links(&mut document);
    document
}

/// `GET /openapi.json`.
pub async fn document() -> Json<serde_json::Value> {
    Json(document_json())
}
