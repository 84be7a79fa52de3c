//! Queue bans (DOMAIN §1.5): who gets one, how long it lasts, and that a ban is in force the
//! moment it commits, even for a join that was already on its way.

use std::time::Duration;

use reqwest::StatusCode;

use crate::common::{TestApp, assert_error, create_body};

const ELEVEN_MINUTES: Duration = Duration::from_secs(11 * 60);

#[tokio::test]
async fn a_check_in_timeout_cancels_the_scrim_and_bans_those_who_did_not_check_in() {
    let app = TestApp::spawn().await;
    let scrim = app.create(1, 2, 2, "TEAMS").await;
    let popped = app.fill(&scrim, 2).await;
    app.check_in(&scrim, 1).await;
    app.check_in(&scrim, 2).await;

    // Before the timeout nothing happens.
    app.run_timers_after(Duration::from_secs(60)).await;
    assert_eq!(
        app.get(&format!("/scrims/{}", popped["id"].as_str().expect("id")))
            .await
            .1["status"],
        "POPPED"
    );

    app.run_timers_after(ELEVEN_MINUTES).await;
    let id = popped["id"].as_str().expect("id");
    assert_error(
        &app.get(&format!("/scrims/{id}")).await,
        StatusCode::NOT_FOUND,
        "ScrimNotFound",
    );
    let banned: Vec<(i32, f64)> = sqlx::query_as(
        "SELECT user_id, extract(epoch FROM expiration - created_at)::float8 FROM core.member_restrictions
         WHERE type = 'QUEUE_BAN' ORDER BY user_id",
    )
    .fetch_all(&app.owner)
    .await
    .expect("bans");
    assert_eq!(
        banned.iter().map(|(user, _)| *user).collect::<Vec<_>>(),
        [3, 4]
    );
    assert!(
        banned
            .iter()
            .all(|(_, seconds)| (*seconds - 1440.0 * 60.0).abs() < 1.0),
        "{banned:?}"
    );
    let cancelled = app.events("core.scrim_events").await;
    assert!(
        cancelled
            .iter()
            .any(|event| event["topic"] == "scrim.cancelled"
                && event["payload"]["status"] == "CANCELLED")
    );
    assert_eq!(
        app.topics("notifications.member_events").await,
        ["member.restrictionCreated", "member.restrictionCreated"]
    );
    assert_eq!(app.topics("core.member_events").await.len(), 2);

    // A banned player can neither create nor join; the others can.
    assert_error(
        &app.post("/scrims", create_body(3, 2, 2, "TEAMS")).await,
        StatusCode::FORBIDDEN,
        "PlayerQueueBanned",
    );
    let fresh = app.create(1, 2, 2, "TEAMS").await;
    assert_error(
        &app.join(&fresh, 4).await,
        StatusCode::FORBIDDEN,
        "PlayerQueueBanned",
    );
}

/// Gives `player` a queue ban the way a check-in timeout does, `days_ago` days ago.
async fn ban_from_the_past(app: &TestApp, player: i32, days_ago: i32) {
    sqlx::query(
        "INSERT INTO core.member_restrictions (user_id, organization_id, type, reason, created_at, expiration)
         VALUES ($1, 1, 'QUEUE_BAN', 'an old ban', now() - make_interval(days => $2),
                 now() - make_interval(days => $2) + interval '1 day')",
    )
    .bind(player)
    .bind(days_ago)
    .execute(&app.owner)
    .await
    .expect("old ban");
}

/// Ends a player's bans in force as an admin would (forgiven or not), so they may queue again.
async fn lift(app: &TestApp, player: i32, forgiven: bool) {
    sqlx::query(
        "UPDATE core.member_restrictions
         SET manually_expired_at = now(), manual_expiration_reason = 'lifted by the test', forgiven = $2
         WHERE user_id = $1 AND manually_expired_at IS NULL",
    )
    .bind(player)
    .bind(forgiven)
    .execute(&app.owner)
    .await
    .expect("lift");
}

/// Pops a 1v1 of `player` and a partner, lets only the partner check in, and lets the check-in
/// window close: `player` gets a ban. Returns its length in minutes.
async fn miss_a_check_in(app: &TestApp, player: i32, partner: i32) -> f64 {
    let scrim = app.create(partner, 1, 2, "TEAMS").await;
    let (status, body) = app.join(&scrim, player).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.check_in(&scrim, partner).await;
    app.run_timers_after(ELEVEN_MINUTES).await;
    let minutes: f64 = sqlx::query_scalar(
        "SELECT extract(epoch FROM expiration - created_at)::float8 / 60
         FROM core.member_restrictions WHERE user_id = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(player)
    .fetch_one(&app.owner)
    .await
    .expect("the new ban");
    lift(app, player, false).await;
    minutes
}

#[tokio::test]
async fn repeated_bans_grow_by_the_modifier_within_the_fall_off_window_only() {
    let app = TestApp::spawn().await;
    // Player 1: a ban 31 days ago lies outside the 30-day window and does not count.
    ban_from_the_past(&app, 1, 31).await;
    assert!((miss_a_check_in(&app, 1, 100).await - 1440.0).abs() < 0.1);
    // ... and the one just given does: 1440 + 60.
    assert!((miss_a_check_in(&app, 1, 101).await - 1500.0).abs() < 0.1);
    // Player 2: a ban 29 days ago counts.
    ban_from_the_past(&app, 2, 29).await;
    assert!((miss_a_check_in(&app, 2, 102).await - 1500.0).abs() < 0.1);
}

#[tokio::test]
async fn a_player_banned_while_their_join_waits_does_not_slip_into_a_new_scrim() {
    let app = TestApp::spawn().await;
    let popped = app.create(1, 1, 2, "TEAMS").await;
    app.join(&popped, 2).await;
    let open = app.create(3, 2, 2, "TEAMS").await;

    // The check-in timeout of `popped`, held open before its commit: player 2 is removed with the
    // scrim and banned.
    let mut timeout = app.owner.begin().await.expect("begin");
    sqlx::query("DELETE FROM matchmaking.scrims WHERE id = $1::uuid")
        .bind(popped["id"].as_str().expect("id"))
        .execute(&mut *timeout)
        .await
        .expect("cancel");
    sqlx::query(
        "INSERT INTO core.member_restrictions (user_id, organization_id, type, reason, expiration)
         VALUES (2, 1, 'QUEUE_BAN', 'Did not check in to a popped scrim', now() + interval '1 day')",
    )
    .execute(&mut *timeout)
    .await
    .expect("ban");

    // Player 2's join of another scrim arrives meanwhile and waits for that transaction.
    let join = {
        let app = &app;
        let open = open.clone();
        async move { app.join(&open, 2).await }
    };
    let app_ref = &app;
    let (answer, ()) = tokio::join!(join, async move {
        app_ref.wait_for_lock_waiters(1).await;
        timeout.commit().await.expect("commit the timeout");
    });
    assert_error(&answer, StatusCode::FORBIDDEN, "PlayerQueueBanned");
    assert_eq!(
        app.count("SELECT count(*) FROM matchmaking.scrim_players WHERE player_id = 2")
            .await,
        0
    );
}

/// A scrim of organization `organization` created by `player` (1v1 unless said otherwise).
async fn create_in(
    app: &TestApp,
    organization: i32,
    player: i32,
) -> (StatusCode, serde_json::Value) {
    let mut body = create_body(player, 1, 2, "TEAMS");
    body["organizationId"] = serde_json::json!(organization);
    app.post("/scrims", body).await
}

#[tokio::test]
async fn a_queue_ban_blocks_only_its_organizations_scrims() {
    let app = TestApp::spawn().await;
    miss_a_check_in_unlifted(&app, 2, 100).await;
    let ban: (i32, i32) =
        sqlx::query_as("SELECT user_id, organization_id FROM core.member_restrictions")
            .fetch_one(&app.owner)
            .await
            .expect("the ban");
    assert_eq!(
        ban,
        (2, 1),
        "the ban belongs to the member of the scrim's organization"
    );
    let announced = app.events("core.member_events").await;
    assert_eq!(
        announced[0]["payload"]["organizationId"], 1,
        "{announced:?}"
    );
    // The event is the shared contract's member.restrictionCreated, as core decodes it.
    match serde_json::from_value::<domain::DomainEvent>(announced[0].clone()) {
        Ok(domain::DomainEvent::MemberRestrictionCreated(ban)) => {
            assert_eq!(
                (ban.user_id, ban.organization_id, ban.forgiven),
                (2, 1, false)
            );
        }
        other => panic!("not a member.restrictionCreated: {other:?}"),
    }

    // Organization 1's scrims are closed to the player...
    assert_error(
        &create_in(&app, 1, 2).await,
        StatusCode::FORBIDDEN,
        "PlayerQueueBanned",
    );
    let (_, open) = create_in(&app, 1, 3).await;
    assert_error(
        &app.join(&open, 2).await,
        StatusCode::FORBIDDEN,
        "PlayerQueueBanned",
    );
    // ... organization 2's are not.
    let (status, elsewhere) = create_in(&app, 2, 4).await;
    assert_eq!(status, StatusCode::CREATED, "{elsewhere}");
    let (status, joined) = app.join(&elsewhere, 2).await;
    assert_eq!(status, StatusCode::OK, "{joined}");
}

/// Like `miss_a_check_in`, leaving the ban in force.
async fn miss_a_check_in_unlifted(app: &TestApp, player: i32, partner: i32) {
    let scrim = app.create(partner, 1, 2, "TEAMS").await;
    let (status, body) = app.join(&scrim, player).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.check_in(&scrim, partner).await;
    app.run_timers_after(ELEVEN_MINUTES).await;
}

#[tokio::test]
async fn a_forgiven_ban_does_not_count_toward_the_next_one() {
    let app = TestApp::spawn().await;
    miss_a_check_in_unlifted(&app, 1, 100).await;
    lift(&app, 1, true).await; // forgiven: the admin found the player was not at fault
    assert!((miss_a_check_in(&app, 1, 101).await - 1440.0).abs() < 0.1);
    // A ban lifted without forgiving still counts.
    assert!((miss_a_check_in(&app, 1, 102).await - 1500.0).abs() < 0.1);
}

#[tokio::test]
async fn bans_in_another_organization_do_not_lengthen_this_one() {
    let app = TestApp::spawn().await;
    sqlx::query(
        "INSERT INTO core.member_restrictions (user_id, organization_id, type, reason, created_at, expiration)
         VALUES (1, 2, 'QUEUE_BAN', 'a ban elsewhere', now() - interval '1 day', now() - interval '1 hour')",
    )
    .execute(&app.owner)
    .await
    .expect("ban in organization 2");
    assert!((miss_a_check_in(&app, 1, 100).await - 1440.0).abs() < 0.1);
}

#[tokio::test]
async fn the_check_in_timeout_and_ban_policy_come_from_the_organizations_configuration() {
    let app = TestApp::spawn().await;
    // Organization 7 configures everything; organization 8 sets nothing (core's defaults).
    sqlx::query("INSERT INTO core.organizations (id, name) VALUES (7, 'Seven'), (8, 'Eight')")
        .execute(&app.owner)
        .await
        .expect("organizations");
    for (key, value) in [
        ("SCRIM_QUEUE_BAN_CHECKIN_TIMEOUT_MINUTES", "3"),
        ("SCRIM_QUEUE_BAN_INITIAL_DURATION_MINUTES", "100"),
        ("SCRIM_QUEUE_BAN_DURATION_MODIFIER", "10"),
        ("SCRIM_QUEUE_BAN_MODIFIER_FALL_OFF_DAYS", "2"),
    ] {
        sqlx::query(
            "INSERT INTO core.organization_setting_values (organization_id, key, value) VALUES (7, $1, $2)",
        )
        .bind(key)
        .bind(value)
        .execute(&app.owner)
        .await
        .expect("setting");
    }
    // Earlier bans of the member of organization 7: three days ago (outside its two-day window)
    // and one day ago (inside).
    for days in [3, 1] {
        sqlx::query(
            "INSERT INTO core.member_restrictions (user_id, organization_id, type, reason, created_at, expiration)
             VALUES (2, 7, 'QUEUE_BAN', 'an earlier ban', now() - make_interval(days => $1),
                     now() - make_interval(days => $1) + interval '1 hour')",
        )
        .bind(days)
        .execute(&app.owner)
        .await
        .expect("earlier ban");
    }

    let (status, scrim) = create_in(&app, 7, 1).await;
    assert_eq!(status, StatusCode::CREATED, "{scrim}");
    assert_eq!(scrim["settings"]["checkinTimeout"], 180_000);
    let (_, popped) = app.join(&scrim, 2).await;
    assert_eq!(popped["status"], "POPPED");
    app.check_in(&scrim, 1).await;
    // Three minutes, not ten.
    app.run_timers_after(Duration::from_secs(4 * 60)).await;
    let id = scrim["id"].as_str().expect("id");
    assert_error(
        &app.get(&format!("/scrims/{id}")).await,
        StatusCode::NOT_FOUND,
        "ScrimNotFound",
    );
    let minutes: f64 = sqlx::query_scalar(
        "SELECT extract(epoch FROM expiration - created_at)::float8 / 60 FROM core.member_restrictions
         WHERE scrim_id = $1::uuid",
    )
    .bind(id)
    .fetch_one(&app.owner)
    .await
    .expect("the ban");
    assert!(
        (minutes - 110.0).abs() < 0.1,
        "100 + 10 × one recent ban: {minutes}"
    );

    // An organization that sets nothing has core's defaults; one core does not know, the
    // service's (the same values today).
    for organization in [8, 9] {
        let (status, scrim) = create_in(&app, organization, 10 + organization).await;
        assert_eq!(status, StatusCode::CREATED, "{scrim}");
        assert_eq!(scrim["settings"]["checkinTimeout"], 600_000);
    }
}
