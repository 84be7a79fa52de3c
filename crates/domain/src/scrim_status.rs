use serde::{Deserialize, Serialize};

/// A scrim's status, as it appears on the wire (`"PENDING"`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ScrimStatus {
    Pending,
    Popped,
    InProgress,
    Locked,
    /// Only in the event emitted as the last player leaves.
    Empty,
    /// Only in the event emitted as the scrim is cancelled.
    Cancelled,
    /// Only in the event emitted as the scrim's results are saved.
    Complete,
}

impl ScrimStatus {
    /// Whether a live scrim can be stored with this status. EMPTY, CANCELLED and COMPLETE only
    /// appear in the event that announces the scrim's removal.
    pub const fn is_stored(self) -> bool {
        matches!(
            self,
            ScrimStatus::Pending
                | ScrimStatus::Popped
                | ScrimStatus::InProgress
                | ScrimStatus::Locked
        )
    }
}

#[cfg(test)]
mod tests {
    use super::ScrimStatus;

    #[test]
    fn statuses_use_the_contract_spelling() {
        let json = serde_json::to_string(&ScrimStatus::InProgress).expect("serialise");
        assert_eq!(json, r#""IN_PROGRESS""#);
        let parsed: ScrimStatus = serde_json::from_str(r#""CANCELLED""#).expect("parse");
        assert_eq!(parsed, ScrimStatus::Cancelled);
        assert!(serde_json::from_str::<ScrimStatus>(r#""in_progress""#).is_err());
    }

    #[test]
    fn only_live_statuses_are_stored() {
        assert!(ScrimStatus::Locked.is_stored());
        assert!(!ScrimStatus::Empty.is_stored());
        assert!(!ScrimStatus::Complete.is_stored());
    }
}
