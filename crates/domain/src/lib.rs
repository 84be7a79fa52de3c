#![doc = include_str!("../README.md")]

mod error_name;
mod scrim_status;

pub use error_name::ErrorName;
pub use scrim_status::ScrimStatus;
