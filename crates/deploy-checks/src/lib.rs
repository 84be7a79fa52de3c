#![doc = include_str!("../README.md")]

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// A service as the deployment files must describe it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Service {
    /// The cargo package, binary, compose service and Nomad job.
    pub name: &'static str,
    /// The prefix of its environment variables.
    pub env_prefix: &'static str,
    /// Its HTTP port.
    pub port: u16,
}

/// The services, as docs/ARCHITECTURE.md lists them. A test checks it against `services/`.
pub const SERVICES: &[Service] = &[
    Service {
        name: "matchmaking",
        env_prefix: "MATCHMAKING_",
        port: 8081,
    },
    Service {
        name: "submission",
        env_prefix: "SUBMISSION_",
        port: 8082,
    },
    Service {
        name: "notifications",
        env_prefix: "NOTIFICATIONS_",
        port: 8083,
    },
    Service {
        name: "core-events",
        env_prefix: "CORE_EVENTS_",
        port: 8084,
    },
];

/// The workspace root (this crate lives in `crates/deploy-checks`).
pub fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .ancestors()
        .nth(2)
        .unwrap_or(manifest_dir)
        .to_path_buf()
}

/// Reads a file given relative to the workspace root; the error names the file.
pub fn read(relative: impl AsRef<Path>) -> io::Result<String> {
    let path = workspace_root().join(relative);
    fs::read_to_string(&path)
        .map_err(|err| io::Error::new(err.kind(), format!("{}: {err}", path.display())))
}

/// The names of the directories in `services/`: the services that exist.
pub fn service_dirs() -> io::Result<BTreeSet<String>> {
    let mut names = BTreeSet::new();
    for entry in fs::read_dir(workspace_root().join("services"))? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            names.insert(entry.file_name().to_string_lossy().into_owned());
        }
    }
    Ok(names)
}

/// The secret values of `deploy/dev.env` (passwords and tokens), which must not be copied into
/// any other deployment file.
pub fn dev_env_secrets() -> io::Result<Vec<String>> {
    Ok(read("deploy/dev.env")?
        .lines()
        .map(str::trim)
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .filter(|(key, _)| is_secret_name(key))
        .map(|(_, value)| value.to_owned())
        .collect())
}

/// Whether a variable or key of this name holds a secret.
pub fn is_secret_name(name: &str) -> bool {
    let name = name.to_ascii_uppercase();
    ["PASSWORD", "TOKEN", "SECRET"]
        .iter()
        .any(|word| name.contains(word))
}
