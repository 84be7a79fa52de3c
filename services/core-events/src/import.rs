//! `core-events import <league.json>`: a whole league snapshot loaded in one transaction.
//!
//! The file holds one list per kind of record, each record with the id the league uses (other
//! services and clients speak those ids). Records are written with the same upserts as the
//! admin API, in dependency order, so importing the same file twice changes nothing the second
//! time. Owned lists (an organization's settings, a member's accounts, a franchise's staff) are
//! replaced as given; records the file does not mention are left alone. A bad record rejects the
//! whole file, naming the record's JSON path and the reason, and nothing is imported.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use sqlx::{Connection, PgConnection};

use crate::error::CoreError;
use crate::input::{Id, SettingKey, SettingValue};
use crate::league::franchises::{self, Franchise, Team};
use crate::league::games::{self, Game, GameMode, SkillGroup};
use crate::league::matches::{self, LeagueMatch};
use crate::league::organizations::{self, Organization};
use crate::league::people::{self, AccountMoves, Member, User};
use crate::league::players::{self, Player};
use crate::league::{self, Target, Written};
use crate::platform;

/// A league snapshot. Every list is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LeagueFile {
    #[serde(default)]
    pub organizations: Vec<Organization>,
    #[serde(default)]
    pub users: Vec<User>,
    #[serde(default)]
    pub games: Vec<Game>,
    #[serde(default)]
    pub game_modes: Vec<GameMode>,
    #[serde(default)]
    pub skill_groups: Vec<SkillGroup>,
    #[serde(default)]
    pub members: Vec<Member>,
    #[serde(default)]
    pub franchises: Vec<Franchise>,
    #[serde(default)]
    pub teams: Vec<Team>,
    #[serde(default)]
    pub players: Vec<Player>,
    #[serde(default)]
    pub league_matches: Vec<LeagueMatch>,
    /// Platform-wide settings (DISABLE_DISCORD_DMS...).
    #[serde(default)]
    pub platform_settings: BTreeMap<SettingKey, SettingValue>,
}

/// Why a file was rejected: the JSON path of the bad record (or value) and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct Rejected {
    pub path: String,
    pub reason: String,
}

/// A file that could not be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file is wrong: nothing was imported.
    #[error("the league file was rejected, nothing was imported")]
    Rejected(#[from] Rejected),
    /// The import failed for another reason (the database): nothing was imported.
    #[error("the import failed, nothing was imported")]
    Failed(#[source] anyhow::Error),
}

/// How many records of each kind were created, updated, or already as given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub created: BTreeMap<&'static str, usize>,
    pub updated: BTreeMap<&'static str, usize>,
    pub unchanged: BTreeMap<&'static str, usize>,
}

impl Summary {
    fn count(&mut self, kind: &'static str, written: Written) {
        let counts = match written {
            Written::Created => &mut self.created,
            Written::Updated => &mut self.updated,
            Written::Unchanged => &mut self.unchanged,
        };
        *counts.entry(kind).or_default() += 1;
    }

    /// Whether the import changed anything.
    pub fn changed(&self) -> bool {
        !self.created.is_empty() || !self.updated.is_empty()
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |counts: &BTreeMap<&str, usize>| {
            counts
                .iter()
                .map(|(kind, n)| format!("{n} {kind}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        write!(
            f,
            "created: [{}]; updated: [{}]; unchanged: [{}]",
            list(&self.created),
            list(&self.updated),
            list(&self.unchanged)
        )
    }
}

/// Parses a league file, naming the path of the first bad value.
pub fn parse(json: &str) -> Result<LeagueFile, Rejected> {
    let mut deserializer = serde_json::Deserializer::from_str(json);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        Rejected {
            path: if path == "." {
                "$".to_owned()
            } else {
                format!("$.{path}")
            },
            reason: error.into_inner().to_string(),
        }
    })
}

/// Imports `file` in one transaction on `conn` (committed only if every record was accepted).
pub async fn import(conn: &mut PgConnection, file: &LeagueFile) -> Result<Summary, ImportError> {
    check(file)?;
    let mut tx = conn.begin().await.map_err(failed)?;
    let summary = apply(&mut tx, file).await?;
    tx.commit().await.map_err(failed)?;
    Ok(summary)
}

fn failed(error: impl Into<anyhow::Error>) -> ImportError {
    ImportError::Failed(error.into())
}

/// What the file must be before anything is written: every record has an id, ids are unique
/// per kind, and each platform account is named once.
fn check(file: &LeagueFile) -> Result<(), Rejected> {
    fn ids<T>(kind: &str, records: &[T], id: impl Fn(&T) -> Option<Id>) -> Result<(), Rejected> {
        let mut seen = BTreeSet::new();
        for (index, record) in records.iter().enumerate() {
            let path = format!("$.{kind}[{index}]");
            let Some(id) = id(record) else {
                return Err(Rejected {
                    path,
                    reason: "every record of a league file has an id".into(),
                });
            };
            if !seen.insert(id) {
                return Err(Rejected {
                    path,
                    reason: format!("id {id} appears twice in {kind}"),
                });
            }
        }
        Ok(())
    }
    ids("organizations", &file.organizations, |r| r.id)?;
    ids("users", &file.users, |r| r.id)?;
    ids("games", &file.games, |r| r.id)?;
    ids("gameModes", &file.game_modes, |r| r.id)?;
    ids("skillGroups", &file.skill_groups, |r| r.id)?;
    ids("members", &file.members, |r| r.id)?;
    ids("franchises", &file.franchises, |r| r.id)?;
    ids("teams", &file.teams, |r| r.id)?;
    ids("players", &file.players, |r| r.id)?;
    ids("leagueMatches", &file.league_matches, |r| r.id)?;
    let mut accounts = BTreeSet::new();
    for (index, member) in file.members.iter().enumerate() {
        for (position, account) in member.accounts.iter().flatten().enumerate() {
            if !accounts.insert(account) {
                return Err(Rejected {
                    path: format!("$.members[{index}].accounts[{position}]"),
                    reason: format!(
                        "the {} account {} is listed twice",
                        account.platform.code(),
                        account.platform_account_id
                    ),
                });
            }
        }
    }
    Ok(())
}

/// Turns a record's failure into the file's rejection (or an import failure).
fn at(kind: &str, index: usize, error: CoreError) -> ImportError {
    match error {
        CoreError::Rule { message, .. } => ImportError::Rejected(Rejected {
            path: format!("$.{kind}[{index}]"),
            reason: message,
        }),
        CoreError::Internal(cause) => {
            ImportError::Failed(cause.context(format!("$.{kind}[{index}]")))
        }
    }
}

/// Writes every record, in dependency order.
async fn apply(conn: &mut PgConnection, file: &LeagueFile) -> Result<Summary, ImportError> {
    let mut summary = Summary::default();
    // Every record was checked to have an id.
    let given = |id: Option<Id>| id.map_or(Target::New, Target::Given);
    macro_rules! each {
        ($kind:literal, $records:expr, |$conn:ident, $target:ident, $record:ident| $write:expr) => {
            for (index, $record) in $records.iter().enumerate() {
                let $target = given($record.id);
                let $conn = &mut *conn;
                let (_, written) = $write.await.map_err(|error| at($kind, index, error))?;
                summary.count($kind, written);
            }
        };
    }
    each!("organizations", file.organizations, |c, t, r| {
        organizations::upsert(c, t, r)
    });
    each!("users", file.users, |c, t, r| people::upsert_user(c, t, r));
    each!("games", file.games, |c, t, r| games::upsert_game(c, t, r));
    each!("gameModes", file.game_modes, |c, t, r| {
        games::upsert_game_mode(c, t, r)
    });
    each!("skillGroups", file.skill_groups, |c, t, r| {
        games::upsert_skill_group(c, t, r)
    });
    each!("members", file.members, |c, t, r| people::upsert_member(
        c,
        t,
        r,
        AccountMoves::Allowed
    ));
    each!("franchises", file.franchises, |c, t, r| {
        franchises::upsert_franchise(c, t, r)
    });
    each!("teams", file.teams, |c, t, r| franchises::upsert_team(
        c, t, r
    ));
    each!("players", file.players, |c, t, r| players::upsert_player(
        c, t, r
    ));
    for (index, record) in file.league_matches.iter().enumerate() {
        let (_, written, _) = matches::upsert_league_match(conn, given(record.id), record)
            .await
            .map_err(|error| at("leagueMatches", index, error))?;
        summary.count("leagueMatches", written);
    }
    for (key, value) in &file.platform_settings {
        let before = platform::list(conn)
            .await
            .map_err(|error| at("platformSettings", 0, error))?
            .into_iter()
            .find(|setting| setting.key == key.as_str());
        let changed = before.is_none_or(|setting| setting.value != value.as_str());
        if changed {
            platform::set(conn, key.as_str(), value.as_str())
                .await
                .map_err(|error| {
                    ImportError::Rejected(Rejected {
                        path: format!("$.platformSettings.{key}"),
                        reason: match error {
                            CoreError::Rule { message, .. } => message,
                            CoreError::Internal(cause) => format!("{cause:#}"),
                        },
                    })
                })?;
        }
        summary.count("platformSettings", Written::changed_if(changed));
    }
    league::sync_id_sequences(conn)
        .await
        .map_err(|error| match error {
            CoreError::Internal(cause) => failed(cause),
            rule => failed(anyhow::Error::new(rule)),
        })?;
    Ok(summary)
}

/// `core-events import`'s arguments.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The league file (JSON).
    pub file: PathBuf,
    /// Check and apply the file, then roll back: reports what an import would do.
    #[arg(long)]
    pub dry_run: bool,
}

/// The largest league file read (a league of thousands of players is a few megabytes).
const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// Runs `core-events import` on `pool`.
pub async fn run(pool: &sqlx::PgPool, args: &ImportArgs) -> anyhow::Result<Summary> {
    let size = std::fs::metadata(&args.file)
        .with_context(|| format!("reading {}", args.file.display()))?
        .len();
    anyhow::ensure!(
        size <= MAX_FILE_BYTES,
        "{} is {size} bytes; a league file has at most {MAX_FILE_BYTES}",
        args.file.display()
    );
    let json = std::fs::read_to_string(&args.file)
        .with_context(|| format!("reading {}", args.file.display()))?;
    let file = parse(&json).map_err(ImportError::from)?;
    let mut conn = pool.acquire().await?;
    if args.dry_run {
        check(&file).map_err(ImportError::from)?;
        let mut tx = conn.begin().await?;
        let summary = apply(&mut tx, &file).await?;
        tx.rollback().await?;
        return Ok(summary);
    }
    Ok(import(&mut conn, &file).await?)
}
