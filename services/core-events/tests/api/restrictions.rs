//! Member restrictions: expiry on time (a scheduled message, driven with a manual clock), a
//! lift that forgives and announces once, admin restrictions, and the listing.

use std::time::Duration;

use chrono::{DateTime, Utc};
use core_events::consumers::MemberEvent;
use db::ServiceRole;
use domain::DomainEvent;
use domain::events::{MemberRestriction, RestrictionType};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::common::{TestApp, Token, assert_error};

/// A queue ban written the way matchmaking writes one (as matchmaking, in a check-in timeout's
/// transaction), with the event matchmaking publishes to core; `minutes` long.
async fn ban_from_matchmaking(app: &TestApp, user: i32, minutes: i32) -> MemberRestriction {
    let matchmaking = app.db.pool_as(ServiceRole::Matchmaking).await;
    let (id, created_at, expiration): (i64, DateTime<Utc>, DateTime<Utc>) = sqlx::query_as(
        "INSERT INTO core.member_restrictions (user_id, organization_id, type, reason, expiration, scrim_id)
         VALUES ($1, 1, 'QUEUE_BAN', 'Did not check in to a popped scrim', now() + make_interval(mins => $2),
                 gen_random_uuid())
         RETURNING id, created_at, expiration",
    )
    .bind(user)
    .bind(minutes)
    .fetch_one(&matchmaking)
    .await
    .expect("matchmaking writes the ban");
    matchmaking.close().await;
    let restriction = MemberRestriction {
        id,
        user_id: user,
        organization_id: 1,
        restriction_type: RestrictionType::QueueBan,
        reason: "Did not check in to a popped scrim".into(),
        created_at,
        expiration,
        scrim_id: None,
        manual_expiration: None,
        manual_expiration_reason: None,
        forgiven: false,
    };
    app.deliver(
        ServiceRole::Matchmaking,
        &MemberEvent(DomainEvent::MemberRestrictionCreated(restriction.clone())),
    )
    .await;
    restriction
}

#[tokio::test]
async fn a_queue_ban_expires_on_time_without_real_sleeping() {
    let app = TestApp::with_demo_league().await;
    let ban = ban_from_matchmaking(&app, 2, 60).await;
    assert_eq!(app.run_member_events().await.acked, 1);
    assert_eq!(
        app.count("SELECT count(*) FROM core.restriction_expiries")
            .await,
        1,
        "expiry scheduled"
    );

    // 59 minutes later: not yet.
    assert_eq!(
        app.run_expiries_after(Duration::from_secs(59 * 60))
            .await
            .claimed,
        0
    );
    assert!(app.topics("notifications.member_events").await.is_empty());
    // Past the hour: member.restrictionExpired, once.
    let outcome = app.run_expiries_after(Duration::from_secs(61 * 60)).await;
    assert_eq!(outcome.acked, 1);
    let events = app.events("notifications.member_events").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["topic"], "member.restrictionExpired");
    assert_eq!(events[0]["payload"]["id"], ban.id);
    assert_eq!(events[0]["payload"]["organizationId"], 1);
    assert_eq!(events[0]["payload"]["forgiven"], false);
    assert_eq!(
        app.run_expiries_after(Duration::from_secs(3 * 3600))
            .await
            .claimed,
        0
    );
    let announced: Option<DateTime<Utc>> = sqlx::query_scalar(
        "SELECT expiry_announced_at FROM core.member_restrictions WHERE id = $1",
    )
    .bind(ban.id)
    .fetch_one(&app.owner)
    .await
    .expect("restriction");
    assert!(announced.is_some());
}

#[tokio::test]
async fn learning_of_a_ban_twice_schedules_one_expiry_and_announces_it_once() {
    let app = TestApp::with_demo_league().await;
    let ban = ban_from_matchmaking(&app, 3, 30).await;
    app.deliver(
        ServiceRole::Matchmaking,
        &MemberEvent(DomainEvent::MemberRestrictionCreated(ban.clone())),
    )
    .await;
    assert_eq!(app.run_member_events().await.acked, 2);
    assert_eq!(
        app.count("SELECT count(*) FROM core.restriction_expiries")
            .await,
        1
    );
    app.run_expiries_after(Duration::from_secs(31 * 60)).await;
    // A late redelivery after the expiry schedules a message that finds nothing to do.
    app.deliver(
        ServiceRole::Matchmaking,
        &MemberEvent(DomainEvent::MemberRestrictionCreated(ban)),
    )
    .await;
    app.run_member_events().await;
    app.run_expiries_after(Duration::from_secs(31 * 60)).await;
    assert_eq!(
        app.topics("notifications.member_events").await,
        ["member.restrictionExpired"]
    );
}

#[tokio::test]
async fn lifting_a_ban_forgives_it_and_announces_its_expiry_once() {
    let app = TestApp::with_demo_league().await;
    let ban = ban_from_matchmaking(&app, 2, 1440).await;
    app.run_member_events().await;

    let (status, lifted) = app
        .admin(
            Method::POST,
            &format!("/admin/restrictions/{}/lift", ban.id),
            json!({"reason": "the server was down"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{lifted}");
    assert_eq!(lifted["forgiven"], true);
    assert_eq!(lifted["active"], false);
    assert_eq!(lifted["manualExpirationReason"], "the server was down");
    assert_eq!(lifted["memberId"], 2);
    assert_eq!(
        app.topics("notifications.member_events").await,
        ["member.restrictionExpired"]
    );
    assert_eq!(
        app.count("SELECT count(*) FROM core.restriction_expiries")
            .await,
        0,
        "the timer is cancelled"
    );
    app.run_expiries_after(Duration::from_secs(2 * 86400)).await;
    assert_eq!(app.topics("notifications.member_events").await.len(), 1);

    // Matchmaking no longer sees a ban in force.
    let matchmaking = app.db.pool_as(ServiceRole::Matchmaking).await;
    let in_force: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM core.member_restrictions WHERE user_id = 2 AND type = 'QUEUE_BAN'
                        AND expiration > now() AND manually_expired_at IS NULL)",
    )
    .fetch_one(&matchmaking)
    .await
    .expect("matchmaking reads");
    assert!(!in_force);

    let again = app
        .admin(
            Method::POST,
            &format!("/admin/restrictions/{}/lift", ban.id),
            json!({"reason": "twice"}),
        )
        .await;
    assert_error(&again, StatusCode::CONFLICT, "RestrictionAlreadyLifted");
    let missing = app
        .admin(
            Method::POST,
            "/admin/restrictions/424242/lift",
            json!({"reason": "x"}),
        )
        .await;
    assert_error(&missing, StatusCode::NOT_FOUND, "NotFound");
    let no_reason = app
        .admin(
            Method::POST,
            &format!("/admin/restrictions/{}/lift", ban.id),
            json!({"reason": "  "}),
        )
        .await;
    assert_error(&no_reason, StatusCode::BAD_REQUEST, "InvalidRequest");
}

#[tokio::test]
async fn an_admin_restriction_is_announced_listed_and_expires() {
    let app = TestApp::with_demo_league().await;
    let (status, created) = app
        .admin(
            Method::POST,
            "/admin/members/4/restrictions",
            json!({"type": "RATIFICATION_BAN", "reason": "ratified without playing", "durationMinutes": 120}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["type"], "RATIFICATION_BAN");
    assert_eq!(created["userId"], 4);
    assert_eq!(created["active"], true);
    assert_eq!(
        app.topics("notifications.member_events").await,
        ["member.restrictionCreated"]
    );

    let (status, listed) = app.caller_get("/members/4/restrictions?active=true").await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    assert_eq!(listed[0]["id"], created["id"]);
    let (_, others) = app.caller_get("/members/5/restrictions").await;
    assert_eq!(others, json!([]));

    app.run_expiries_after(Duration::from_secs(121 * 60)).await;
    assert_eq!(
        app.topics("notifications.member_events").await,
        ["member.restrictionCreated", "member.restrictionExpired"]
    );
    let (_, all) = app.caller_get("/members/4/restrictions").await;
    assert_eq!(
        all.as_array().map(Vec::len),
        Some(1),
        "expired restrictions stay listed"
    );

    let missing = app
        .admin(
            Method::POST,
            "/admin/members/999/restrictions",
            json!({"type": "QUEUE_BAN", "reason": "x", "durationMinutes": 1}),
        )
        .await;
    assert_error(&missing, StatusCode::NOT_FOUND, "NotFound");
    let too_long = app
        .admin(
            Method::POST,
            "/admin/members/4/restrictions",
            json!({"type": "QUEUE_BAN", "reason": "x", "durationMinutes": 0}),
        )
        .await;
    assert_error(&too_long, StatusCode::BAD_REQUEST, "InvalidRequest");
    let (status, _) = app
        .request(Method::GET, "/members/4/restrictions", Token::None, None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn lifting_a_ban_that_ran_out_forgives_it_without_a_second_announcement() {
    let app = TestApp::with_demo_league().await;
    let ban = ban_from_matchmaking(&app, 5, 10).await;
    app.run_member_events().await;
    app.run_expiries_after(Duration::from_secs(11 * 60)).await;
    assert_eq!(
        app.topics("notifications.member_events").await,
        ["member.restrictionExpired"]
    );
    let (status, lifted) = app
        .admin(
            Method::POST,
            &format!("/admin/restrictions/{}/lift", ban.id),
            json!({"reason": "it was our fault"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{lifted}");
    assert_eq!(
        lifted["forgiven"], true,
        "forgiven: it no longer counts toward the next ban"
    );
    assert_eq!(
        app.topics("notifications.member_events").await.len(),
        1,
        "announced once"
    );
}
