//! What core publishes (DOMAIN §5) and to whom, always in the transaction of the change it
//! announces.
//!
//! A consumer joins a topic by adding its queue to the topic's subscriber list below (one line;
//! its own migration creates the queue with `core_events` as a producer). Topics whose consumers
//! have no queue yet publish to nobody, which is a no-op.

use domain::events::{
    MatchSaved, MemberRestriction, PlayerSkillGroupChanged, PlayerTeamChanged, SaveFailed,
    ScrimSaved, topics,
};
use pg_queue::{Event, QueueTable};
use serde::Serialize;
use sqlx::PgConnection;

const MATCHMAKING_CORE_EVENTS: QueueTable = QueueTable::new("matchmaking", "core_events");
const NOTIFICATIONS_MEMBER_EVENTS: QueueTable = QueueTable::new("notifications", "member_events");

/// `scrim.saved`: matchmaking completes the scrim. Submission (removes the submission) and
/// notifications (results card) join with their queues.
pub const SCRIM_SAVED_SUBSCRIBERS: &[QueueTable] = &[MATCHMAKING_CORE_EVENTS];
/// `match.saved`: submission and notifications join with their queues.
pub const MATCH_SAVED_SUBSCRIBERS: &[QueueTable] = &[];
/// `scrim.saveFailed` and `match.saveFailed`: submission (rejects the submission with the
/// support reference) joins with its queue.
pub const SAVE_FAILED_SUBSCRIBERS: &[QueueTable] = &[];
/// `member.restrictionCreated` (restrictions an admin creates) and `member.restrictionExpired`.
pub const RESTRICTION_SUBSCRIBERS: &[QueueTable] = &[NOTIFICATIONS_MEMBER_EVENTS];
/// `player.skillGroupChanged` and `player.teamChanged` (notifications: the transactions
/// webhook).
pub const PLAYER_SUBSCRIBERS: &[QueueTable] = &[NOTIFICATIONS_MEMBER_EVENTS];
/// `scrims.disabled`: matchmaking turns create and join off or on.
pub const SCRIMS_DISABLED_SUBSCRIBERS: &[QueueTable] = &[MATCHMAKING_CORE_EVENTS];

macro_rules! event {
    ($name:ident, $payload:ty, $topic:expr, $subscribers:expr) => {
        #[derive(Debug, Serialize)]
        #[serde(transparent)]
        struct $name<'a>(&'a $payload);

        impl Event for $name<'_> {
            const TOPIC: &'static str = $topic;
            const SUBSCRIBERS: &'static [QueueTable] = $subscribers;
        }
    };
}

event!(
    ScrimSavedEvent,
    ScrimSaved,
    topics::SCRIM_SAVED,
    SCRIM_SAVED_SUBSCRIBERS
);
event!(
    MatchSavedEvent,
    MatchSaved,
    topics::MATCH_SAVED,
    MATCH_SAVED_SUBSCRIBERS
);
event!(
    ScrimSaveFailedEvent,
    SaveFailed,
    topics::SCRIM_SAVE_FAILED,
    SAVE_FAILED_SUBSCRIBERS
);
event!(
    MatchSaveFailedEvent,
    SaveFailed,
    topics::MATCH_SAVE_FAILED,
    SAVE_FAILED_SUBSCRIBERS
);
event!(
    RestrictionCreatedEvent,
    MemberRestriction,
    topics::MEMBER_RESTRICTION_CREATED,
    RESTRICTION_SUBSCRIBERS
);
event!(
    RestrictionExpiredEvent,
    MemberRestriction,
    topics::MEMBER_RESTRICTION_EXPIRED,
    RESTRICTION_SUBSCRIBERS
);
event!(
    SkillGroupChangedEvent,
    PlayerSkillGroupChanged,
    topics::PLAYER_SKILL_GROUP_CHANGED,
    PLAYER_SUBSCRIBERS
);
event!(
    TeamChangedEvent,
    PlayerTeamChanged,
    topics::PLAYER_TEAM_CHANGED,
    PLAYER_SUBSCRIBERS
);
event!(
    ScrimsDisabledEvent,
    bool,
    topics::SCRIMS_DISABLED,
    SCRIMS_DISABLED_SUBSCRIBERS
);

type Published = Result<(), pg_queue::Error>;

pub async fn scrim_saved(conn: &mut PgConnection, saved: &ScrimSaved) -> Published {
    pg_queue::publish(conn, &ScrimSavedEvent(saved)).await
}

pub async fn match_saved(conn: &mut PgConnection, saved: &MatchSaved) -> Published {
    pg_queue::publish(conn, &MatchSavedEvent(saved)).await
}

/// `match.saveFailed` for a league match's submission, `scrim.saveFailed` otherwise.
pub async fn save_failed(conn: &mut PgConnection, failed: &SaveFailed) -> Published {
    if failed.match_id.is_some() {
        pg_queue::publish(conn, &MatchSaveFailedEvent(failed)).await
    } else {
        pg_queue::publish(conn, &ScrimSaveFailedEvent(failed)).await
    }
}

pub async fn restriction_created(
    conn: &mut PgConnection,
    restriction: &MemberRestriction,
) -> Published {
    pg_queue::publish(conn, &RestrictionCreatedEvent(restriction)).await
}

pub async fn restriction_expired(
    conn: &mut PgConnection,
    restriction: &MemberRestriction,
) -> Published {
    pg_queue::publish(conn, &RestrictionExpiredEvent(restriction)).await
}

pub async fn skill_group_changed(
    conn: &mut PgConnection,
    change: &PlayerSkillGroupChanged,
) -> Published {
    pg_queue::publish(conn, &SkillGroupChangedEvent(change)).await
}

pub async fn team_changed(conn: &mut PgConnection, change: &PlayerTeamChanged) -> Published {
    pg_queue::publish(conn, &TeamChangedEvent(change)).await
}

pub async fn scrims_disabled(conn: &mut PgConnection, disabled: bool) -> Published {
    pg_queue::publish(conn, &ScrimsDisabledEvent(&disabled)).await
}
