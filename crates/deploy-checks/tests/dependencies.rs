//! PostgreSQL is the only infrastructure: no service links a Redis or RabbitMQ client.

use std::collections::BTreeSet;
use std::process::{Command, Output};

use deploy_checks::{service_dirs, workspace_root};

const FORBIDDEN: [&str; 6] = [
    "redis",
    "lapin",
    "amiquip",
    "deadpool-redis",
    "fred",
    "bb8-redis",
];
const FORBIDDEN_PARTS: [&str; 3] = ["redis", "rabbit", "amqp"];

/// `cargo tree` of `package`, offline when everything it needs is already downloaded (after a
/// build it is), else letting cargo fetch what is missing.
fn cargo_tree(package: &str) -> Output {
    let run = |offline: bool| {
        let mut command = Command::new(env!("CARGO"));
        command
            .current_dir(workspace_root())
            .args(["tree", "--locked", "-p", package])
            .args(["--edges", "normal,build", "--prefix", "none"]);
        if offline {
            command.arg("--offline");
        }
        command.output().expect("cargo runs")
    };
    let offline = run(true);
    if offline.status.success() {
        offline
    } else {
        run(false)
    }
}

/// The names of every crate `package` depends on (normal and build dependencies, for this host).
fn dependency_names(package: &str) -> BTreeSet<String> {
    let output = cargo_tree(package);
    assert!(
        output.status.success(),
        "cargo tree -p {package} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("UTF-8 output")
        // Each line reads `name vX.Y.Z [(path)] [(*)]`.
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

fn is_forbidden(name: &str) -> bool {
    FORBIDDEN.contains(&name) || FORBIDDEN_PARTS.iter().any(|part| name.contains(part))
}

#[test]
fn no_service_depends_on_a_redis_or_rabbitmq_client() {
    for service in service_dirs().expect("services/ is listable") {
        let names = dependency_names(&service);
        // The tree is really the service's: itself, and the Postgres driver every service uses.
        assert!(names.contains(&service), "{service}: {names:?}");
        assert!(names.contains("sqlx"), "{service}: {names:?}");
        let forbidden: Vec<&String> = names.iter().filter(|name| is_forbidden(name)).collect();
        assert!(forbidden.is_empty(), "{service} depends on {forbidden:?}");
    }
}

#[test]
fn the_forbidden_list_catches_the_usual_clients() {
    for name in [
        "redis",
        "deadpool-redis",
        "lapin",
        "amqprs",
        "fred",
        "rabbitmq-stream-client",
    ] {
        assert!(is_forbidden(name), "{name}");
    }
    for name in ["sqlx", "tokio", "axum", "fastrand"] {
        assert!(!is_forbidden(name), "{name}");
    }
}
