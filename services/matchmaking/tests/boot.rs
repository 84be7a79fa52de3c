use db::ServiceRole;

#[tokio::test]
async fn the_service_boots_as_its_own_role_and_reports_ready() {
    service_kit::testing::assert_boots_as_own_role(matchmaking::SPEC, matchmaking::routes).await;
    assert_eq!(matchmaking::SPEC.role, ServiceRole::Matchmaking);
}
