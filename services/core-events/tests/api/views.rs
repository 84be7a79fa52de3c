//! The views other services read (DOMAIN §8), as those services read them.

use db::ServiceRole;

use crate::common::TestApp;

type DirectoryRow = (
    String,
    String,
    i32,
    i32,
    i32,
    i32,
    i32,
    String,
    Option<String>,
    i32,
    Option<i32>,
    Option<String>,
    Vec<String>,
);

async fn directory_row(app: &TestApp, platform: &str, account: &str) -> DirectoryRow {
    let submission = app.db.pool_as(ServiceRole::Submission).await;
    let row = sqlx::query_as(
        "SELECT platform, platform_account_id, organization_id, game_id, member_id, user_id, player_id,
                player_name, discord_id, skill_group_id, franchise_id, franchise_name, staff_roles
         FROM core.player_directory WHERE platform = $1 AND platform_account_id = $2",
    )
    .bind(platform)
    .bind(account)
    .fetch_one(&submission)
    .await
    .expect("a directory row");
    submission.close().await;
    row
}

#[tokio::test]
async fn the_player_directory_resolves_every_platform_of_the_fixtures() {
    let app = TestApp::with_demo_league().await;
    // The series' Switch player, a Steam player with staff roles, the Xbox player.
    let soarz = directory_row(&app, "SWITCH", "740996510572498922").await;
    assert_eq!(soarz.7, "Soarz =)");
    assert_eq!((soarz.9, soarz.11.as_deref()), (2, Some("Insanity")));
    assert_eq!(soarz.12, ["CAP"]);
    let coffee = directory_row(&app, "STEAM", "76561198111540077").await;
    assert_eq!(
        (coffee.11.as_deref(), coffee.12.clone()),
        (Some("AOS"), vec!["FM".to_owned()])
    );
    assert_eq!(coffee.8.as_deref(), Some("900000000000000006"));
    let gearhead = directory_row(&app, "XBOX", "2533274973998493").await;
    assert_eq!(gearhead.12, ["CAP"]);
    // Epic players by their Epic account id, PS4 players by their PSN id.
    let epic = directory_row(&app, "EPIC", "8e7b1cfe105b4da2ae491fa82bcaeab1").await;
    assert_eq!((epic.7.as_str(), epic.9), ("SNWWY", 1));
    let ps4 = directory_row(&app, "PS4", "1983555798714426879").await;
    assert_eq!((ps4.7.as_str(), ps4.9), ("MrExtreme305", 5));
    // A free agent has no franchise and no staff roles.
    let drogings = directory_row(&app, "STEAM", "76561198052527453").await;
    assert_eq!(
        (drogings.10, drogings.11, drogings.12),
        (None, None, Vec::<String>::new())
    );

    let notifications = app.db.pool_as(ServiceRole::Notifications).await;
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM core.player_directory")
        .fetch_one(&notifications)
        .await
        .expect("notifications reads the directory");
    assert_eq!(rows, 34);
}

#[tokio::test]
async fn each_view_answers_its_readers_and_refuses_the_others() {
    let app = TestApp::with_demo_league().await;
    let views: &[(&str, &[ServiceRole])] = &[
        (
            "core.player_directory",
            &[ServiceRole::Submission, ServiceRole::Notifications],
        ),
        (
            "core.organization_settings",
            &[
                ServiceRole::Matchmaking,
                ServiceRole::Submission,
                ServiceRole::Notifications,
            ],
        ),
        (
            "core.game_modes",
            &[
                ServiceRole::Matchmaking,
                ServiceRole::Submission,
                ServiceRole::Notifications,
            ],
        ),
        (
            "core.skill_groups",
            &[ServiceRole::Submission, ServiceRole::Notifications],
        ),
        (
            "core.match_participants",
            &[ServiceRole::Submission, ServiceRole::Notifications],
        ),
        (
            "core.franchise_staff",
            &[ServiceRole::Submission, ServiceRole::Notifications],
        ),
        (
            "core.notification_skill_groups",
            &[ServiceRole::Notifications],
        ),
        (
            "core.notification_franchises",
            &[ServiceRole::Notifications],
        ),
        ("core.organization_branding", &[ServiceRole::Notifications]),
        ("core.platform_settings", &[ServiceRole::Notifications]),
        ("core.user_discord_ids", &[ServiceRole::Notifications]),
    ];
    for role in [
        ServiceRole::Matchmaking,
        ServiceRole::Submission,
        ServiceRole::Notifications,
    ] {
        let pool = app.db.pool_as(role).await;
        for (view, readers) in views {
            let rows = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!(
                "SELECT count(*) FROM {view}"
            )))
            .fetch_one(&pool)
            .await;
            if readers.contains(&role) {
                let rows =
                    rows.unwrap_or_else(|err| panic!("{} reads {view}: {err}", role.role_name()));
                assert!(rows > 0, "{view} is empty for {}", role.role_name());
            } else {
                assert!(rows.is_err(), "{} must not read {view}", role.role_name());
            }
        }
        pool.close().await;
    }
}

#[tokio::test]
async fn the_match_participants_and_game_modes_describe_the_schedule() {
    let app = TestApp::with_demo_league().await;
    let submission = app.db.pool_as(ServiceRole::Submission).await;
    let (submission_id, home, away, week, saved): (String, String, String, i16, bool) =
        sqlx::query_as(
            "SELECT submission_id, home_franchise_name, away_franchise_name, week, results_saved
         FROM core.match_participants WHERE skill_group_id = 2",
        )
        .fetch_one(&submission)
        .await
        .expect("the Master League match");
    assert_eq!(
        (
            submission_id.as_str(),
            home.as_str(),
            away.as_str(),
            week,
            saved
        ),
        ("match-demo-s1w1-master", "Insanity", "AOS", 1, false)
    );
    let (code, size, title): (String, i16, String) =
        sqlx::query_as("SELECT code, team_size, game_title FROM core.game_modes WHERE id = 14")
            .fetch_one(&submission)
            .await
            .expect("standard");
    assert_eq!(
        (code.as_str(), size, title.as_str()),
        ("RL_STANDARD", 3, "Rocket League")
    );
    let staff: Vec<String> = sqlx::query_scalar(
        "SELECT unnest(roles) FROM core.franchise_staff WHERE user_id = 6 AND franchise_id = 2",
    )
    .fetch_all(&submission)
    .await
    .expect("staff");
    assert_eq!(staff, ["FM"]);
}
