//! Queue declarations: a message type bound to its table.

use serde::Serialize;
use serde::de::DeserializeOwned;

/// A queue table, named by schema and table. Both parts are checked to be plain lowercase
/// identifiers when declared, and are always quoted when spliced into SQL (so a schema named
/// like a reserved word, `user` or `order`, works too).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct QueueTable {
    schema: &'static str,
    name: &'static str,
}

impl QueueTable {
    /// Declares a queue table. Panics at compile time (in a `const`) or at start-up when a part
    /// is not a plain identifier (`[a-z][a-z0-9_]*`, at most 41 characters for the name) or when
    /// the wake-up channel `pgq.<schema>.<name>` would exceed PostgreSQL's 63-byte identifiers.
    pub const fn new(schema: &'static str, name: &'static str) -> Self {
        assert!(
            is_plain_identifier(schema, 63),
            "queue schema must be a plain identifier"
        );
        assert!(
            is_plain_identifier(name, 41),
            "queue name must be a plain identifier"
        );
        assert!(
            channel_fits(schema, name),
            "the channel pgq.<schema>.<name> must fit in 63 bytes"
        );
        Self { schema, name }
    }

    /// Parses `schema.name` typed by an operator or read from the catalogue. Names are interned:
    /// each distinct name is allocated once for the life of the process, however often it is
    /// parsed (the metrics endpoint parses every queue on every scrape).
    pub fn parse(qualified: &str) -> Option<Self> {
        let (schema, name) = qualified.split_once('.')?;
        if !is_plain_identifier(schema, 63)
            || !is_plain_identifier(name, 41)
            || !channel_fits(schema, name)
        {
            return None;
        }
        Some(Self {
            schema: intern(schema),
            name: intern(name),
        })
    }

    pub const fn schema(&self) -> &'static str {
        self.schema
    }

    pub const fn name(&self) -> &'static str {
        self.name
    }

    /// `schema.name`, for labels, logs and the queue's control row (never spliced into SQL:
    /// see [`QueueTable::sql_name`]).
    pub fn qualified(&self) -> String {
        format!("{}.{}", self.schema, self.name)
    }

    /// `"schema"."name"`, quoted for SQL.
    pub fn sql_name(&self) -> String {
        format!("\"{}\".\"{}\"", self.schema, self.name)
    }

    /// The dead-letter table, `schema.name_dead`, for labels.
    pub fn dead_letters(&self) -> String {
        format!("{}.{}_dead", self.schema, self.name)
    }

    /// The dead-letter table, quoted for SQL.
    pub fn sql_dead_letters(&self) -> String {
        format!("\"{}\".\"{}_dead\"", self.schema, self.name)
    }

    /// The schema's control table (`queue_state`), quoted for SQL.
    pub(crate) fn sql_state_table(&self) -> String {
        format!("\"{}\".queue_state", self.schema)
    }

    /// The LISTEN/NOTIFY channel that the queue's insert trigger notifies.
    pub fn channel(&self) -> String {
        format!("pgq.{}.{}", self.schema, self.name)
    }
}

/// Whether `pgq.<schema>.<name>` is a valid channel name (an identifier: at most 63 bytes).
const fn channel_fits(schema: &str, name: &str) -> bool {
    "pgq.".len() + schema.len() + 1 + name.len() <= 63
}

/// One allocation per distinct name for the life of the process.
fn intern(text: &str) -> &'static str {
    static NAMES: std::sync::OnceLock<std::sync::Mutex<std::collections::HashSet<&'static str>>> =
        std::sync::OnceLock::new();
    let mut names = NAMES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(known) = names.get(text) {
        return known;
    }
    let leaked: &'static str = Box::leak(text.to_owned().into_boxed_str());
    names.insert(leaked);
    leaked
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
    /// Events worth nothing after this long (a live view's update) are dropped unhandled once
    /// it has passed. `None`: they wait for their consumer however long it takes.
    const EXPIRES_AFTER: Option<std::time::Duration> = None;
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
        assert_eq!(TABLE.sql_name(), "\"matchmaking\".\"checkin_timeouts\"");
    }

    #[test]
    fn a_queue_whose_channel_name_would_exceed_63_bytes_is_refused() {
        // 4 + 30 + 1 + 29 = 64 bytes.
        let schema = "ss3456789012345678901234567890";
        let name = "n2345678901234567890123456789";
        assert!(std::panic::catch_unwind(|| QueueTable::new(schema, name)).is_err());
        assert_eq!(QueueTable::parse(&format!("{schema}.{name}")), None);
        assert!(QueueTable::parse(&format!("{}.{name}", &schema[1..])).is_some());
    }

    #[test]
    fn parsing_the_same_name_again_allocates_nothing_new() {
        let first = QueueTable::parse("core.interned_queue").expect("valid");
        let second = QueueTable::parse("core.interned_queue").expect("valid");
        assert!(std::ptr::eq(first.schema(), second.schema()));
        assert!(std::ptr::eq(first.name(), second.name()));
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
