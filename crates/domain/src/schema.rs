//! OpenAPI schemas of the validated newtypes: the bounds a client must respect, stated in the
//! document, matching what their `TryFrom` checks.

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

use crate::{CheckinTimeout, GroupCode, LeaveAfter, LfsTeam, PlayerName, TeamCount, TeamSize};

fn integer(minimum: i64, maximum: i64, description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(minimum as f64))
        .maximum(Some(maximum as f64))
        .description(Some(description))
        .into()
}

macro_rules! integer_schema {
    ($type:ty, $min:expr, $max:expr, $description:expr) => {
        impl PartialSchema for $type {
            fn schema() -> RefOr<Schema> {
                integer($min, $max, $description)
            }
        }
        impl ToSchema for $type {}
    };
}

integer_schema!(TeamSize, 1, i64::from(TeamSize::MAX), "Players per team.");
integer_schema!(TeamCount, 2, i64::from(TeamCount::MAX), "Teams per game.");
integer_schema!(
    CheckinTimeout,
    CheckinTimeout::MIN_MS,
    CheckinTimeout::MAX_MS,
    "Milliseconds popped players have to check in."
);
integer_schema!(LfsTeam, 0, 1, "The LFS team of the player.");
integer_schema!(
    LeaveAfter,
    0,
    i64::from(LeaveAfter::MAX_SECS),
    "Seconds until the player leaves the queue if the scrim has not popped."
);

impl PartialSchema for GroupCode {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some("^[a-z]{5}$"))
            .description(Some("A group code: five lowercase letters."))
            .into()
    }
}
impl ToSchema for GroupCode {}

/// Control characters are U+0000-U+001F and U+007F-U+009F; whitespace as Rust's `trim` sees it.
const PLAYER_NAME_PATTERN: &str = concat!(
    r"^[^\x00-\x1f\x7f-\x9f]*",
    r"[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]",
    r"[^\x00-\x1f\x7f-\x9f]*$"
);

impl PartialSchema for PlayerName {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(PlayerName::MAX_CHARS))
            // No control characters, and at least one character that is not whitespace (what
            // `PlayerName` checks; spelled with ranges, which every regex dialect reads).
            .pattern(Some(PLAYER_NAME_PATTERN))
            .into()
    }
}
impl ToSchema for PlayerName {}
