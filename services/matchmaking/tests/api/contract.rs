//! The OpenAPI document is the contract: schemathesis (`st run`) generates requests from it in
//! every phase (examples, coverage, fuzzing, stateful), with the caller and admin tokens, against
//! the running service, and any finding fails the test: a 5xx, an answer that does not match the
//! document, a request the document allows that is refused with 400, a request it forbids that
//! is accepted, an undocumented status.
//!
//! Needs schemathesis: `pip install schemathesis` (CI installs it, see `.ci/run`). The binary is
//! `st` on the PATH, or `$SCHEMATHESIS`. `SCHEMATHESIS=skip` skips this test on a machine without
//! Python; CI never sets it.

use std::process::Command;

use crate::common::{ADMIN_TOKEN, CALLER_TOKEN, TestApp};

/// Examples per operation and phase: enough to find what the first runs found (integers sent
/// as `19.0`, bounds, undocumented answers), small enough for about half a minute of CI.
const MAX_EXAMPLES: &str = "50";

/// A fixed seed, so a finding reproduces; `SCHEMATHESIS_SEED` to explore others.
const DEFAULT_SEED: &str = "20261202";

/// The run's configuration: the tokens per security scheme; the admin token on the routes that
/// act for the player in their body (it may act for anyone), so that generated players reach the
/// rules instead of a 403 (the access rules have their own tests); 422 counts as accepting a
/// request (the service's answer for values that match the schema but contradict each other or
/// the scrim's state); no unknown headers (proxies add headers, so no service refuses them).
fn config() -> String {
    format!(
        r#"
[auth.openapi.caller_token]
bearer = "{CALLER_TOKEN}"

[auth.openapi.admin_token]
bearer = "{ADMIN_TOKEN}"

[generation]
allow-extra-parameters = false

[checks.positive_data_acceptance]
expected-statuses = ["2xx", "401", "403", "404", "409", "422"]

[[operations]]
include-path-regex = "^/scrims(/lfs|/[^/]+/(join|leave|check-in))?$"
include-method = "POST"
headers = {{ Authorization = "Bearer {ADMIN_TOKEN}" }}
"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_nothing_in_any_phase() {
    let binary = std::env::var("SCHEMATHESIS").unwrap_or_else(|_| "st".to_owned());
    if binary == "skip" {
        eprintln!("SCHEMATHESIS=skip: the contract test did not run");
        return;
    }
    let app = TestApp::spawn().await;
    let dir = std::env::temp_dir().join(format!("matchmaking-st-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("temporary directory");
    let config_file = dir.join("schemathesis.toml");
    std::fs::write(&config_file, config()).expect("write the configuration");
    let seed = std::env::var("SCHEMATHESIS_SEED").unwrap_or_else(|_| DEFAULT_SEED.to_owned());
    let url = app.url("/openapi.json");
    let run = {
        let dir = dir.clone();
        tokio::task::spawn_blocking(move || {
            Command::new(&binary)
                .current_dir(&dir)
                .arg("--config-file")
                .arg(&config_file)
                .args(["run", &url])
                .args(["--phases", "examples,coverage,fuzzing,stateful"])
                .args(["--max-examples", MAX_EXAMPLES])
                .args(["--seed", &seed])
                .arg("--no-color")
                .output()
                .unwrap_or_else(|error| {
                    panic!(
                        "could not run schemathesis ({binary}): {error}. Install it with \
                         `pip install schemathesis`, or set SCHEMATHESIS to its `st` binary"
                    )
                })
        })
    };
    let output = run.await.expect("schemathesis ran");
    let _ = std::fs::remove_dir_all(&dir);
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "schemathesis found failures:\n{report}"
    );
    // A run that tested nothing would also exit 0.
    assert!(
        report.contains("passed") && !report.contains("No tests were run"),
        "schemathesis did not test anything:\n{report}"
    );
}
