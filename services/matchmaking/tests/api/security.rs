//! DOMAIN §7: every route but the operational ones needs a caller token, admin routes the admin
//! token; a request acts for the player the gateway names (`x-acting-user-id`), and may act only
//! as that player; lobby and group codes are shown only to the scrim's own players and admins.

use std::sync::atomic::{AtomicI32, Ordering};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::common::{As, TestApp, assert_error, create_body, join_body, test_settings};

/// Fresh player ids, so that every case of the matrix starts from its own state.
static NEXT_PLAYER: AtomicI32 = AtomicI32::new(1_000);

fn fresh_player() -> i32 {
    NEXT_PLAYER.fetch_add(1, Ordering::Relaxed)
}

/// One request of the matrix: what to send, and the player it acts for (if it acts for one).
struct Call {
    method: Method,
    path: String,
    body: Option<Value>,
    player: Option<i32>,
}

impl Call {
    fn get(path: String) -> Self {
        Self {
            method: Method::GET,
            path,
            body: None,
            player: None,
        }
    }

    fn post(path: String, body: Value, player: Option<i32>) -> Self {
        Self {
            method: Method::POST,
            path,
            body: Some(body),
            player,
        }
    }
}

/// The kinds of route, by who may call them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Any caller.
    Read,
    /// A caller acting for the player the body names.
    Acting,
    /// The admin token only.
    Admin,
}

/// Builds the state a route needs and returns the call that should succeed on it.
async fn prepare(app: &TestApp, route: &str) -> Call {
    let player = fresh_player();
    let scrim = || async {
        let scrim = app.create(player, 2, 2, "TEAMS").await;
        scrim["id"].as_str().expect("id").to_owned()
    };
    match route {
        "POST /scrims" => Call::post(
            "/scrims".into(),
            create_body(player, 2, 2, "TEAMS"),
            Some(player),
        ),
        "POST /scrims/lfs" => Call::post(
            "/scrims/lfs".into(),
            create_body(player, 2, 2, "TEAMS"),
            Some(player),
        ),
        "GET /scrims" => Call::get("/scrims".into()),
        "GET /scrims/metrics" => Call::get("/scrims/metrics".into()),
        "GET /scrims/disabled" => Call::get("/scrims/disabled".into()),
        "GET /scrims/{id}" => Call::get(format!("/scrims/{}", scrim().await)),
        "GET /players/{player_id}/scrim" => {
            scrim().await;
            Call::get(format!("/players/{player}/scrim"))
        }
        "GET /submissions/{submission_id}/scrim" => {
            let scrim = app.create(player, 1, 2, "TEAMS").await;
            let popped = app.fill(&scrim, fresh_player()).await;
            let submission = popped["submissionId"].as_str().expect("submission");
            Call::get(format!("/submissions/{submission}/scrim"))
        }
        "POST /scrims/{id}/join" => {
            let id = scrim().await;
            let joiner = fresh_player();
            Call::post(
                format!("/scrims/{id}/join"),
                join_body(joiner),
                Some(joiner),
            )
        }
        "POST /scrims/{id}/leave" => {
            let id = scrim().await;
            Call::post(
                format!("/scrims/{id}/leave"),
                json!({"playerId": player}),
                Some(player),
            )
        }
        "POST /scrims/{id}/check-in" => {
            let scrim = app.create(player, 1, 2, "TEAMS").await;
            app.fill(&scrim, fresh_player()).await;
            let id = scrim["id"].as_str().expect("id");
            Call::post(
                format!("/scrims/{id}/check-in"),
                json!({"playerId": player}),
                Some(player),
            )
        }
        "POST /admin/scrims/test" => Call::post(
            "/admin/scrims/test".into(),
            json!({
                "authorId": player, "organizationId": 1, "gameModeId": 13, "skillGroupId": 2,
                "settings": {"teamSize": 1, "teamCount": 2, "mode": "TEAMS", "competitive": false, "observable": false}
            }),
            None,
        ),
        "POST /admin/scrims/{id}/cancel" => Call::post(
            format!("/admin/scrims/{}/cancel", scrim().await),
            json!({}),
            None,
        ),
        "POST /admin/scrims/{id}/lock" => Call::post(
            format!("/admin/scrims/{}/lock", scrim().await),
            json!({}),
            None,
        ),
        "POST /admin/scrims/{id}/unlock" => {
            let id = scrim().await;
            app.admin_post(&format!("/admin/scrims/{id}/lock"), json!({}))
                .await;
            Call::post(format!("/admin/scrims/{id}/unlock"), json!({}), None)
        }
        "POST /admin/scrims/disable" => Call::post("/admin/scrims/disable".into(), json!({}), None),
        // Enabling is the last admin case, so that the matrix leaves scrims enabled.
        "POST /admin/scrims/enable" => Call::post("/admin/scrims/enable".into(), json!({}), None),
        other => panic!("no case for {other}"),
    }
}

const ROUTES: [(&str, Kind); 17] = [
    ("POST /scrims", Kind::Acting),
    ("POST /scrims/lfs", Kind::Acting),
    ("GET /scrims", Kind::Read),
    ("GET /scrims/metrics", Kind::Read),
    ("GET /scrims/disabled", Kind::Read),
    ("GET /scrims/{id}", Kind::Read),
    ("GET /players/{player_id}/scrim", Kind::Read),
    ("GET /submissions/{submission_id}/scrim", Kind::Read),
    ("POST /scrims/{id}/join", Kind::Acting),
    ("POST /scrims/{id}/leave", Kind::Acting),
    ("POST /scrims/{id}/check-in", Kind::Acting),
    ("POST /admin/scrims/test", Kind::Admin),
    ("POST /admin/scrims/{id}/cancel", Kind::Admin),
    ("POST /admin/scrims/{id}/lock", Kind::Admin),
    ("POST /admin/scrims/{id}/unlock", Kind::Admin),
    ("POST /admin/scrims/disable", Kind::Admin),
    ("POST /admin/scrims/enable", Kind::Admin),
];

/// The identities each route is called as, and what each should get.
#[derive(Debug, Clone, Copy)]
enum Who {
    NoToken,
    WrongToken,
    /// The caller token, acting for the player the request is about.
    RightPlayer,
    /// The caller token, acting for somebody else.
    WrongPlayer,
    Admin,
}

fn expected(kind: Kind, who: Who) -> (StatusCode, Option<&'static str>) {
    use Who::*;
    match (kind, who) {
        (_, NoToken | WrongToken) => (StatusCode::UNAUTHORIZED, Some("Unauthorized")),
        (Kind::Admin, RightPlayer | WrongPlayer) => (StatusCode::FORBIDDEN, Some("Forbidden")),
        (Kind::Acting, WrongPlayer) => (StatusCode::FORBIDDEN, Some("Forbidden")),
        _ => (StatusCode::OK, None), // any 2xx
    }
}

#[tokio::test]
async fn every_route_answers_the_access_matrix() {
    let app = TestApp::spawn().await;
    let mut wrong = Vec::new();
    for (route, kind) in ROUTES {
        for who in [
            Who::NoToken,
            Who::WrongToken,
            Who::WrongPlayer,
            Who::RightPlayer,
            Who::Admin,
        ] {
            let call = prepare(&app, route).await;
            let identity = match who {
                Who::NoToken => As::Nobody,
                Who::WrongToken => As::WrongToken,
                Who::RightPlayer => call.player.map_or(As::Caller, As::Player),
                Who::WrongPlayer => As::Player(fresh_player()),
                Who::Admin => As::Admin,
            };
            let mut request = app.request(call.method.clone(), &call.path, identity);
            if let Some(body) = &call.body {
                request = request.json(body);
            }
            let response = request.send().await.expect("request");
            let status = response.status();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            let (want_status, want_name) = expected(kind, who);
            let ok = match want_name {
                None => status.is_success(),
                Some(name) => status == want_status && body["error"] == name,
            };
            if !ok {
                wrong.push(format!(
                    "{route} as {who:?}: got {status} {body}, want {want_status} {want_name:?}"
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "access matrix:\n{}", wrong.join("\n"));
}

#[tokio::test]
async fn a_caller_acting_for_one_player_cannot_act_as_another() {
    let app = TestApp::spawn().await;
    let scrim = app.create(1, 2, 2, "TEAMS").await;
    let id = scrim["id"].as_str().expect("id");
    app.join(&scrim, 2).await;
    let answer = app
        .post_as(
            &format!("/scrims/{id}/leave"),
            json!({"playerId": 2}),
            As::Player(1),
        )
        .await;
    assert_error(&answer, StatusCode::FORBIDDEN, "Forbidden");
    let answer = app
        .post_as(&format!("/scrims/{id}/join"), join_body(3), As::Player(4))
        .await;
    assert_error(&answer, StatusCode::FORBIDDEN, "Forbidden");
    // A caller that names nobody acts for nobody.
    let answer = app
        .post_as(&format!("/scrims/{id}/join"), join_body(3), As::Caller)
        .await;
    assert_error(&answer, StatusCode::FORBIDDEN, "Forbidden");
    let after = app.get_as(&format!("/scrims/{id}"), As::Admin).await.1;
    let ids: Vec<i64> = after["players"]
        .as_array()
        .expect("players")
        .iter()
        .map(|p| p["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(ids, [1, 2], "nothing changed");
    // An admin may act for anyone.
    let (status, _) = app
        .post_as(
            &format!("/scrims/{id}/leave"),
            json!({"playerId": 2}),
            As::Admin,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

/// A started 2v2 whose players came in two groups: it has a lobby and group codes.
async fn started_with_a_group(app: &TestApp) -> Value {
    let mut body = create_body(1, 2, 2, "TEAMS");
    body["join"]["createGroup"] = json!(true);
    let (status, scrim) = app.post("/scrims", body).await;
    assert_eq!(status, StatusCode::CREATED, "{scrim}");
    let id = scrim["id"].as_str().expect("id").to_owned();
    let first_code = scrim["players"][0]["group"]
        .as_str()
        .expect("code")
        .to_owned();
    let join = |player: i32, group: Value| {
        let mut body = join_body(player);
        match group {
            Value::String(code) => body["joinGroup"] = json!(code),
            _ => body["createGroup"] = json!(true),
        }
        body
    };
    let (status, body) = app
        .post(&format!("/scrims/{id}/join"), join(2, json!(first_code)))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .post(&format!("/scrims/{id}/join"), join(3, Value::Null))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let second_code = body["players"][2]["group"]
        .as_str()
        .expect("code")
        .to_owned();
    let (status, popped) = app
        .post(&format!("/scrims/{id}/join"), join(4, json!(second_code)))
        .await;
    assert_eq!(popped["status"], "POPPED", "{status} {popped}");
    let mut started = Value::Null;
    for player in 1..=4 {
        let (status, body) = app.check_in(&scrim, player).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        started = body;
    }
    assert_eq!(started["status"], "IN_PROGRESS");
    started
}

/// Whether an answer shows the lobby or any group code, anywhere.
fn shows_secrets(scrim: &Value) -> (bool, bool) {
    let lobby = scrim.get("lobby").is_some();
    let mut groups = scrim["players"]
        .as_array()
        .expect("players")
        .iter()
        .any(|p| p.get("group").is_some());
    for game in scrim["games"].as_array().expect("games") {
        for team in game["teams"].as_array().expect("teams") {
            groups |= team["players"]
                .as_array()
                .expect("players")
                .iter()
                .any(|p| p.get("group").is_some());
        }
    }
    (lobby, groups)
}

#[tokio::test]
async fn lobby_and_group_codes_are_shown_only_to_the_scrims_players_and_admins() {
    let app = TestApp::spawn().await;
    let started = started_with_a_group(&app).await;
    // The player whose check-in started the scrim sees everything in the answer.
    assert_eq!(shows_secrets(&started), (true, true), "{started}");
    let id = started["id"].as_str().expect("id");
    let submission = started["submissionId"].as_str().expect("submission");
    for path in [
        format!("/scrims/{id}"),
        "/players/1/scrim".to_owned(),
        format!("/submissions/{submission}/scrim"),
    ] {
        for (who, sees) in [
            (As::Caller, false),
            (As::Player(99), false),
            (As::Player(1), true),
            (As::Player(2), true),
            (As::Admin, true),
        ] {
            let (status, scrim) = app.get_as(&path, who).await;
            assert_eq!(status, StatusCode::OK, "{path} as {who:?}: {scrim}");
            assert_eq!(
                shows_secrets(&scrim),
                (sees, sees),
                "{path} as {who:?}: {scrim}"
            );
            // Everything else is there for everyone.
            assert_eq!(scrim["players"].as_array().expect("players").len(), 4);
            assert_eq!(scrim["games"].as_array().expect("games").len(), 3);
        }
    }
    for (who, sees) in [
        (As::Player(99), false),
        (As::Player(1), true),
        (As::Admin, true),
    ] {
        let (_, list) = app.get_as("/scrims", who).await;
        let listed = &list.as_array().expect("list")[0];
        assert_eq!(
            shows_secrets(listed),
            (sees, sees),
            "list as {who:?}: {listed}"
        );
    }
}

#[tokio::test]
async fn group_codes_of_a_pending_scrim_are_hidden_from_outsiders() {
    let app = TestApp::spawn().await;
    let mut body = create_body(1, 2, 2, "TEAMS");
    body["join"]["createGroup"] = json!(true);
    let scrim = app.post("/scrims", body).await.1;
    assert!(scrim["players"][0]["group"].is_string(), "{scrim}");
    let id = scrim["id"].as_str().expect("id");
    let (_, seen) = app.get_as(&format!("/scrims/{id}"), As::Player(7)).await;
    assert!(seen["players"][0].get("group").is_none(), "{seen}");
    let (_, listed) = app.get_as("/scrims?status=PENDING", As::Player(7)).await;
    assert!(listed[0]["players"][0].get("group").is_none(), "{listed}");
}

#[tokio::test]
async fn lobby_passwords_and_group_codes_come_from_the_os_random_generator() {
    // Two services with the same seed for team generation: if lobby passwords or group codes
    // came from that seeded generator, both would hand out the same ones.
    let mut passwords = Vec::new();
    let mut codes = Vec::new();
    for _ in 0..2 {
        let app = TestApp::spawn_with(test_settings()).await;
        let started = started_with_a_group(&app).await;
        passwords.push(
            started["lobby"]["password"]
                .as_str()
                .expect("password")
                .to_owned(),
        );
        codes.push(
            started["players"][0]["group"]
                .as_str()
                .expect("code")
                .to_owned(),
        );
    }
    assert_ne!(
        passwords[0], passwords[1],
        "lobby passwords repeat under one seed"
    );
    assert_ne!(codes[0], codes[1], "group codes repeat under one seed");
}
