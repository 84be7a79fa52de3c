//! Queue declarations: a message type bound to its table.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// A queue table, named by schema and table. Both parts are checked to be plain lowercase
/// identifiers when declared, so they can be spliced into SQL safely.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct QueueTable {
    schema: &'static str,
    name: &'static str,
}

impl QueueTable {
    /// Declares a queue table. Panics at compile time (in a `const`) or at start-up when a part
    /// is not a plain identifier: `[a-z][a-z0-9_]*`, at most 41 characters for the name.
    pub const fn new(schema: &'static str, name: &'static str) -> Self {
        assert!(
            is_plain_identifier(schema, 63),
            "queue schema must be a plain identifier"
        );
        assert!(
            is_plain_identifier(name, 41),
            "queue name must be a plain identifier"
        );
        Self { schema, name }
    }

    /// Parses `schema.name` typed by an operator. The names are leaked to get `'static`
    /// lifetimes: meant for command-line tools that parse a handful, not for request paths.
    pub fn parse(qualified: &str) -> Option<Self> {
        let (schema, name) = qualified.split_once('.')?;
        if !is_plain_identifier(schema, 63) || !is_plain_identifier(name, 41) {
            return None;
        }
        Some(Self {
            schema: Box::leak(schema.to_owned().into_boxed_str()),
            name: Box::leak(name.to_owned().into_boxed_str()),
        })
    }

    pub const fn schema(&self) -> &'static str {
        self.schema
    }

    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// `schema.name`, for SQL and for labels.
    pub fn qualified(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }

    /// The dead-letter table's qualified name.
    pub fn dead_letters(&self) -> String {
        format!("{}.{}_dead", self.schema, self.name)
    }

    /// The LISTEN/NOTIFY channel that the queue's insert trigger notifies.
    pub fn channel(&self) -> String {
        format!("pgq.{}.{}", self.schema, self.name)
    }
}

const fn is_plain_identifier(text: &str, max_len: usize) -> bool {
    let bytes = text.as_bytes();
    if bytes.is_empty() || bytes.len() > max_len || !bytes[0].is_ascii_lowercase() {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if !(b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
            return false;
        }
        i += 1;
    }
    true
}

/// A message type and the queue it travels on. Declared once; enqueue and consume are then
/// typed.
///
/// ```
/// use pg_queue::{Queue, QueueTable};
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct CheckinTimeout { scrim_id: String }
/// impl Queue for CheckinTimeout {
///     const TABLE: QueueTable = QueueTable::new("matchmaking", "checkin_timeouts");
/// }
/// ```
pub trait Queue: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The table the messages live in.
    const TABLE: QueueTable;
}

/// An event, published to every queue subscribed to its topic. Subscriptions are declared here
/// in code (and the tables in migrations), never matched on strings at run time.
pub trait Event: Serialize + Send + Sync {
    /// The topic name, e.g. `scrim.popped`.
    const TOPIC: &'static str;
    /// The queue of every consumer of this topic.
    const SUBSCRIBERS: &'static [QueueTable];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_derived_from_the_table() {
        const TABLE: QueueTable = QueueTable::new("matchmaking", "checkin_timeouts");
        assert_eq!(TABLE.qualified(), "matchmaking.checkin_timeouts");
        assert_eq!(TABLE.dead_letters(), "matchmaking.checkin_timeouts_dead");
        assert_eq!(TABLE.channel(), "pgq.matchmaking.checkin_timeouts");
    }

    #[test]
    fn only_plain_identifiers_are_accepted() {
        assert!(is_plain_identifier("core", 63));
        assert!(is_plain_identifier("scrim_events2", 41));
        assert!(!is_plain_identifier("Core", 63));
        assert!(!is_plain_identifier("a;drop", 63));
        assert!(!is_plain_identifier("", 63));
        assert!(!is_plain_identifier("1abc", 63));
        assert!(std::panic::catch_unwind(|| QueueTable::new("core", "bad-name")).is_err());
        assert_eq!(
            QueueTable::parse("core.scrim_events"),
            Some(QueueTable::new("core", "scrim_events"))
        );
        assert_eq!(QueueTable::parse("core.scrim events"), None);
        assert_eq!(QueueTable::parse("no_schema"), None);
    }
}
