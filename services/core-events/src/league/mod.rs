//! The league data (DOMAIN §3): one module per kind of record. Each record type is both the
//! admin API's body and an import file's entry, and each is written by one `upsert` that the
//! API's create (`POST`, a new id), replace (`PUT`, an existing id) and the import (the file's
//! ids) share, so the three cannot drift apart.
//!
//! Contract of every write: it runs on the caller's transaction and leaves the commit to the
//! caller; it writes nothing when the stored record already equals the given one (so importing
//! an unchanged league changes no row and publishes nothing); it publishes the events its change
//! announces (player.skillGroupChanged, player.teamChanged) in that same transaction; and what it
//! cannot accept is a named client error (`CoreError::Rule`).

pub mod franchises;
pub mod games;
pub mod matches;
pub mod organizations;
pub mod people;
pub mod players;

use serde::Serialize;
use sqlx::{AssertSqlSafe, PgConnection};
use utoipa::ToSchema;

use crate::error::{Result, invalid, not_found};
use crate::input::Id;

/// What a write did to the stored record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Written {
    Created,
    Updated,
    /// The stored record already was the given one: nothing was written.
    Unchanged,
}

impl Written {
    /// From an upsert's `RETURNING (xmax = 0)`: no row means the conditional update skipped it.
    pub(crate) fn from_upsert(created: Option<bool>) -> Self {
        match created {
            Some(true) => Written::Created,
            Some(false) => Written::Updated,
            None => Written::Unchanged,
        }
    }

    /// Combines the outcome of a record's parts (its row, its accounts, its settings...).
    pub(crate) fn and(self, other: Written) -> Written {
        match (self, other) {
            (Written::Created, _) | (_, Written::Created) => Written::Created,
            (Written::Updated, _) | (_, Written::Updated) => Written::Updated,
            _ => Written::Unchanged,
        }
    }

    pub(crate) fn changed_if(changed: bool) -> Written {
        if changed {
            Written::Updated
        } else {
            Written::Unchanged
        }
    }
}

/// The id and outcome of an upsert `... ON CONFLICT (id) DO UPDATE ... WHERE <replaces> AND
/// <changed> RETURNING id, (xmax = 0)`.
pub(crate) fn upserted(row: Option<(i32, bool)>, target: Target) -> Result<(Id, Written)> {
    let written = Written::from_upsert(row.map(|(_, created)| created));
    match (row, target.id()) {
        (Some((id, _)), _) | (None, Some(id)) => Ok((Id::stored(id), written)),
        // A new record whose id the sequence gave is taken: never overwrite it.
        (None, None) => Err(crate::error::CoreError::Internal(anyhow::anyhow!(
            "the id sequence handed out an id that is taken (was it moved past imported ids?)"
        ))),
    }
}

/// How a record's id was chosen, which decides what an upsert may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// `POST`: a new record; its id comes from the table's sequence.
    New,
    /// `PUT /{id}`: the record must exist.
    Existing(Id),
    /// The import: the file's id; created when missing, replaced when present.
    Given(Id),
}

impl Target {
    /// The id to write: `None` lets the table's sequence choose.
    pub fn id(self) -> Option<i32> {
        match self {
            Target::New => None,
            Target::Existing(id) | Target::Given(id) => Some(id.get()),
        }
    }

    /// Whether an existing record with the id may be replaced (never for a new record: an id
    /// from the sequence that is taken must not overwrite anything).
    pub fn replaces(self) -> bool {
        !matches!(self, Target::New)
    }

    /// Checks the id a body carries against the target: a body names its id only in an import
    /// file (a `PUT` may repeat the path's id).
    pub fn check_body_id(self, body_id: Option<Id>) -> Result<()> {
        match (self, body_id) {
            (_, None) => Ok(()),
            (Target::Existing(path), Some(id)) if path == id => Ok(()),
            (Target::Given(file), Some(id)) if file == id => Ok(()),
            (Target::New, Some(_)) => Err(invalid(
                "a new record's id is chosen by the service: leave `id` out",
            )),
            (_, Some(id)) => Err(invalid(format!(
                "the body's id {id} differs from the record's id"
            ))),
        }
    }
}

/// The tables whose ids an import may choose, so that their sequences must then be moved past
/// the largest id. Constant identifiers only (they are spliced into SQL).
const IMPORTED_ID_TABLES: [&str; 10] = [
    "organizations",
    "users",
    "members",
    "games",
    "game_mode_definitions",
    "skill_group_definitions",
    "players",
    "franchises",
    "teams",
    "league_matches",
];

/// Moves every id sequence past the largest id in its table when it is behind it (never
/// backwards, so an id handed out to a concurrent transaction is never handed out again, and
/// not at all when it is ahead, so an unchanged import leaves the sequences as they were).
pub async fn sync_id_sequences(conn: &mut PgConnection) -> Result<()> {
    for table in IMPORTED_ID_TABLES {
        // The next id the sequence would give is last_value + 1, or last_value before its first
        // use (is_called false).
        let sql = format!(
            "SELECT setval('core.{table}_id_seq', largest)
             FROM (SELECT max(id) AS largest FROM core.{table}) t,
                  (SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END AS given
                   FROM core.{table}_id_seq) s
             WHERE largest > given"
        );
        sqlx::query(AssertSqlSafe(sql)).execute(&mut *conn).await?;
    }
    Ok(())
}

/// Locks the row `id` of `core.<table>` for the rest of the transaction, or answers `NotFound`.
/// `table` is a constant identifier (spliced into SQL).
pub(crate) async fn lock_row(
    conn: &mut PgConnection,
    table: &'static str,
    id: Id,
    what: &str,
) -> Result<()> {
    let sql = format!("SELECT 1 FROM core.{table} WHERE id = $1 FOR UPDATE");
    sqlx::query(AssertSqlSafe(sql))
        .bind(id.get())
        .fetch_optional(&mut *conn)
        .await?
        .map(drop)
        .ok_or_else(|| not_found(format!("{what} {id}")))
}

/// Answers `NotFound` unless the row `id` of `core.<table>` exists (a read; no lock).
pub(crate) async fn ensure_exists(
    conn: &mut PgConnection,
    table: &'static str,
    id: Id,
    what: &str,
) -> Result<()> {
    let sql = format!("SELECT 1 FROM core.{table} WHERE id = $1");
    sqlx::query(AssertSqlSafe(sql))
        .bind(id.get())
        .fetch_optional(&mut *conn)
        .await?
        .map(drop)
        .ok_or_else(|| not_found(format!("{what} {id}")))
}
