#![doc = include_str!("../README.md")]

mod error_name;
pub mod events;
pub mod generation;
mod join;
pub mod results;
mod schema;
mod scrim;
mod scrim_status;
mod settings;
pub mod wire;

pub use error_name::ErrorName;
pub use events::DomainEvent;
pub use join::{
    CreateScrim, CreateTestScrim, GroupChoice, GroupCode, JoinOptions, LeaveAfter, LfsTeam,
    PlayerName,
};
pub use results::{
    GameResult, GameResults, ParserInfo, Platform, PlayerGameStats, ReplayInfo, ResultPlayer,
    ResultTeam, SubmissionType,
};
pub use scrim::{Lobby, PlayerId, Scrim, ScrimGame, ScrimMetrics, ScrimPlayer, ScrimTeam};
pub use scrim_status::ScrimStatus;
pub use settings::{
    CheckinTimeout, InvalidValue, NewScrimSettings, ScrimMode, ScrimSettings, TeamCount, TeamSize,
};
