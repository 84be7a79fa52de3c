//! deploy/Dockerfile and .dockerignore.

use deploy_checks::read;

/// The Dockerfile's instructions, continuation lines joined, comments dropped: (keyword, rest).
fn instructions() -> Vec<(String, String)> {
    let source = read("deploy/Dockerfile").expect("deploy/Dockerfile is readable");
    let mut instructions = Vec::new();
    let mut current = String::new();
    for line in source.lines() {
        let line = line.trim();
        if line.starts_with('#') || (line.is_empty() && current.is_empty()) {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(head) => {
                current.push_str(head);
                current.push(' ');
            }
            None => {
                current.push_str(line);
                let (keyword, rest) = current
                    .split_once(char::is_whitespace)
                    .unwrap_or((&current, ""));
                instructions.push((keyword.to_ascii_uppercase(), rest.trim().to_owned()));
                current.clear();
            }
        }
    }
    instructions
}

/// The instructions of the final stage (after the last FROM).
fn runtime_stage() -> Vec<(String, String)> {
    let all = instructions();
    let last_from = all
        .iter()
        .rposition(|(keyword, _)| keyword == "FROM")
        .expect("a FROM");
    all[last_from..].to_vec()
}

fn find<'a>(stage: &'a [(String, String)], keyword: &str) -> Vec<&'a str> {
    stage
        .iter()
        .filter(|(k, _)| k == keyword)
        .map(|(_, rest)| rest.as_str())
        .collect()
}

#[test]
fn the_builder_compiles_the_service_chosen_by_arg_service() {
    let all = instructions();
    assert!(
        find(&all, "FROM")
            .first()
            .is_some_and(|from| from.starts_with("rust:1-bookworm AS builder")),
        "{all:?}"
    );
    assert!(find(&all, "ARG").contains(&"SERVICE"), "ARG SERVICE");
    let runs = find(&all, "RUN").join("\n");
    assert!(
        runs.contains("cargo build --release --locked -p \"$SERVICE\""),
        "{runs}"
    );
}

#[test]
fn the_runtime_image_runs_the_binary_as_a_non_root_user_with_a_healthcheck() {
    let stage = runtime_stage();
    assert!(find(&stage, "FROM")[0].starts_with("debian:bookworm-slim"));
    let runs = find(&stage, "RUN").join("\n");
    for package in ["ca-certificates", "curl", "postgresql-client"] {
        assert!(
            runs.contains(package),
            "the runtime image installs {package}"
        );
    }

    let users = find(&stage, "USER");
    let user = users.last().expect("a USER instruction");
    let name = user.split(':').next().unwrap_or_default();
    assert!(
        !["root", "0"].contains(&name),
        "the image runs as root: USER {user}"
    );

    let healthcheck = find(&stage, "HEALTHCHECK");
    assert_eq!(healthcheck.len(), 1);
    assert!(
        healthcheck[0].contains("CMD curl") && healthcheck[0].contains("/healthz"),
        "{healthcheck:?}"
    );

    assert_eq!(find(&stage, "ENTRYPOINT"), ["[\"/usr/local/bin/service\"]"]);
    assert_eq!(find(&stage, "CMD"), ["[\"serve\"]"]);
    assert!(!find(&stage, "EXPOSE").is_empty(), "EXPOSE");
    let copies = find(&stage, "COPY").join("\n");
    for file in [
        "deploy/provision-roles.sh",
        "deploy/provision-roles.sql",
        "/usr/local/bin/service",
    ] {
        assert!(copies.contains(file), "the runtime image gets {file}");
    }
}

#[test]
fn the_build_context_leaves_out_build_output_and_local_state() {
    let ignored = read(".dockerignore").expect(".dockerignore is readable");
    let entries: Vec<&str> = ignored.lines().map(str::trim).collect();
    for entry in ["target", ".git", ".local"] {
        assert!(entries.contains(&entry), ".dockerignore lacks {entry}");
    }
    for needed in [
        "crates",
        "services",
        "migrations",
        "deploy",
        "Cargo.toml",
        "Cargo.lock",
    ] {
        assert!(
            !entries.contains(&needed),
            ".dockerignore must keep {needed}"
        );
    }
}
