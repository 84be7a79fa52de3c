//! docker-compose.yaml: postgres → provision → migrate → the services, passwords from dev.env.

use std::collections::BTreeSet;

use deploy_checks::{SERVICES, Service, dev_env_secrets, is_secret_name, read, service_dirs};
use serde_yaml_ng::{Mapping, Value};

/// The compose services that are not one of ours.
const INFRASTRUCTURE: [&str; 3] = ["postgres", "provision", "migrate"];

fn compose_text() -> String {
    read("docker-compose.yaml").expect("docker-compose.yaml is readable")
}

fn compose() -> Mapping {
    let mut doc: Value = serde_yaml_ng::from_str(&compose_text()).expect("valid YAML");
    doc.apply_merge().expect("merge keys resolve");
    doc.get("services")
        .and_then(Value::as_mapping)
        .expect("a services mapping")
        .clone()
}

fn service<'a>(services: &'a Mapping, name: &str) -> &'a Value {
    services
        .get(name)
        .unwrap_or_else(|| panic!("compose has no `{name}` service"))
}

fn string<'a>(value: &'a Value, path: &[&str]) -> &'a str {
    let mut current = value;
    for key in path {
        current = current
            .get(key)
            .unwrap_or_else(|| panic!("no `{}` in {current:?}", path.join(".")));
    }
    current
        .as_str()
        .unwrap_or_else(|| panic!("`{}` is not a string: {current:?}", path.join(".")))
}

/// A healthcheck's `test` or a `command`, list or string form, as one line.
fn command_line(value: &Value) -> String {
    match value {
        Value::String(line) => line.clone(),
        Value::Sequence(words) => words
            .iter()
            .map(|word| word.as_str().expect("a command word is a string"))
            .collect::<Vec<_>>()
            .join(" "),
        other => panic!("not a command: {other:?}"),
    }
}

/// `environment`, map or `KEY=VALUE` list form, as (key, value) pairs; `None` for a key given
/// without a value (passed through from the shell).
fn environment(service: &Value) -> Vec<(String, Option<String>)> {
    match service.get("environment") {
        None => Vec::new(),
        Some(Value::Mapping(map)) => map
            .iter()
            .map(|(key, value)| {
                let key = key.as_str().expect("string keys").to_owned();
                let value = match value {
                    Value::Null => None,
                    Value::String(text) => Some(text.clone()),
                    Value::Number(number) => Some(number.to_string()),
                    Value::Bool(flag) => Some(flag.to_string()),
                    other => panic!("environment value of {key} is {other:?}"),
                };
                (key, value)
            })
            .collect(),
        Some(Value::Sequence(items)) => items
            .iter()
            .map(|item| {
                let item = item.as_str().expect("KEY=VALUE strings");
                match item.split_once('=') {
                    Some((key, value)) => (key.to_owned(), Some(value.to_owned())),
                    None => (item.to_owned(), None),
                }
            })
            .collect(),
        Some(other) => panic!("environment is {other:?}"),
    }
}

fn env_value(service: &Value, key: &str) -> Option<String> {
    environment(service)
        .into_iter()
        .find(|(name, _)| name == key)
        .and_then(|(_, value)| value)
}

fn env_files(service: &Value) -> Vec<String> {
    match service.get("env_file") {
        None => Vec::new(),
        Some(Value::String(path)) => vec![path.clone()],
        Some(Value::Sequence(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(path) => path.clone(),
                other => string(other, &["path"]).to_owned(),
            })
            .collect(),
        Some(other) => panic!("env_file is {other:?}"),
    }
}

fn dependency_condition<'a>(service: &'a Value, on: &str) -> &'a str {
    string(service, &["depends_on", on, "condition"])
}

#[test]
fn postgres_is_postgres_15_with_a_pg_isready_healthcheck_and_a_volume() {
    let services = compose();
    let postgres = service(&services, "postgres");
    assert!(string(postgres, &["image"]).starts_with("postgres:15"));
    let test = command_line(
        postgres
            .get("healthcheck")
            .and_then(|h| h.get("test"))
            .expect("a healthcheck test"),
    );
    assert!(test.contains("pg_isready"), "{test}");
    let volumes = postgres
        .get("volumes")
        .and_then(Value::as_sequence)
        .expect("volumes");
    assert!(
        volumes
            .iter()
            .filter_map(Value::as_str)
            .any(|volume| volume.ends_with(":/var/lib/postgresql/data")),
        "the data directory is on a volume: {volumes:?}"
    );
    assert!(
        env_files(postgres).contains(&"deploy/dev.env".to_owned()),
        "POSTGRES_PASSWORD comes from dev.env"
    );
}

#[test]
fn provision_runs_the_script_once_postgres_is_healthy() {
    let services = compose();
    let provision = service(&services, "provision");
    assert_eq!(
        dependency_condition(provision, "postgres"),
        "service_healthy"
    );
    let command = command_line(provision.get("command").expect("a command"));
    assert!(
        command.contains("/usr/local/share/scrims/provision-roles.sh"),
        "{command}"
    );
    assert!(
        command.contains("PGPASSWORD=\"$$POSTGRES_PASSWORD\""),
        "{command}"
    );
    assert_eq!(env_value(provision, "PGHOST").as_deref(), Some("postgres"));
    assert_eq!(
        env_value(provision, "PGDATABASE").as_deref(),
        Some("scrims")
    );
    assert!(env_files(provision).contains(&"deploy/dev.env".to_owned()));
}

#[test]
fn migrate_runs_once_as_the_owner_after_provisioning() {
    let services = compose();
    let migrate = service(&services, "migrate");
    assert_eq!(
        dependency_condition(migrate, "provision"),
        "service_completed_successfully"
    );
    let built = string(migrate, &["build", "args", "SERVICE"]);
    let prefix = SERVICES
        .iter()
        .find(|service| service.name == built)
        .expect("migrate runs one of our images")
        .env_prefix;
    assert_eq!(
        env_value(migrate, &format!("{prefix}DATABASE__USER")).as_deref(),
        Some("scrim_owner")
    );
    assert_eq!(
        env_value(migrate, &format!("{prefix}DATABASE__HOST")).as_deref(),
        Some("postgres")
    );
    let command = command_line(migrate.get("command").expect("a command"));
    assert!(
        command.contains(&format!(
            "{prefix}DATABASE__PASSWORD=\"$$SCRIM_OWNER_PASSWORD\""
        )),
        "migrate logs in with the owner's password: {command}"
    );
    assert!(command.ends_with(" migrate"), "{command}");
    assert!(env_files(migrate).contains(&"deploy/dev.env".to_owned()));
}

fn check_service(services: &Mapping, spec: &Service) {
    let name = spec.name;
    let prefix = spec.env_prefix;
    let port = spec.port;
    let container = service(services, name);

    assert_eq!(string(container, &["build", "context"]), ".", "{name}");
    assert_eq!(
        string(container, &["build", "dockerfile"]),
        "deploy/Dockerfile",
        "{name}"
    );
    assert_eq!(string(container, &["build", "args", "SERVICE"]), name);
    assert_eq!(
        string(container, &["build", "args", "PORT"]),
        port.to_string(),
        "{name}"
    );

    assert_eq!(
        dependency_condition(container, "migrate"),
        "service_completed_successfully",
        "{name}"
    );
    assert!(
        env_files(container).contains(&"deploy/dev.env".to_owned()),
        "{name}"
    );
    assert_eq!(
        env_value(container, &format!("{prefix}HTTP__HOST")).as_deref(),
        Some("0.0.0.0")
    );
    assert_eq!(
        env_value(container, &format!("{prefix}DATABASE__HOST")).as_deref(),
        Some("postgres")
    );
    let log_format = env_value(container, &format!("{prefix}LOG__FORMAT"));
    assert!(
        matches!(log_format.as_deref(), Some("json" | "pretty")),
        "{name}: log format {log_format:?}"
    );

    let ports: Vec<&str> = container
        .get("ports")
        .and_then(Value::as_sequence)
        .expect("published ports")
        .iter()
        .map(|port| port.as_str().expect("port strings"))
        .collect();
    assert!(
        ports
            .iter()
            .any(|mapping| mapping.ends_with(&format!(":{port}:{port}"))),
        "{name}: {ports:?}"
    );

    let test = command_line(
        container
            .get("healthcheck")
            .and_then(|h| h.get("test"))
            .expect("a healthcheck"),
    );
    assert!(test.contains("curl"), "{name}: {test}");
    assert!(
        test.contains(&format!("127.0.0.1:{port}/readyz")),
        "{name}: {test}"
    );
}

#[test]
fn every_service_is_built_from_the_dockerfile_and_starts_after_migrate() {
    let services = compose();
    for spec in SERVICES {
        check_service(&services, spec);
    }
}

#[test]
fn the_compose_services_are_exactly_the_services_directories() {
    let ours: BTreeSet<String> = compose()
        .keys()
        .map(|key| key.as_str().expect("string keys").to_owned())
        .filter(|name| !INFRASTRUCTURE.contains(&name.as_str()))
        .collect();
    assert_eq!(ours, service_dirs().expect("services/ is listable"));
    let listed: BTreeSet<String> = SERVICES
        .iter()
        .map(|service| service.name.to_owned())
        .collect();
    assert_eq!(listed, ours, "deploy_checks::SERVICES is out of date");
}

#[test]
fn no_password_is_written_in_the_compose_file() {
    for (name, container) in compose() {
        let name = name.as_str().expect("string keys");
        for (key, value) in environment(&container) {
            if is_secret_name(&key) {
                // Only an interpolation from the shell or a .env file would be acceptable.
                assert!(
                    value.as_deref().is_none_or(|value| value.starts_with("${")),
                    "{name}: {key} has a literal value; put it in deploy/dev.env"
                );
            }
        }
    }
    let text = compose_text();
    for secret in dev_env_secrets().expect("deploy/dev.env is readable") {
        assert!(
            !text.contains(&secret),
            "docker-compose.yaml repeats a value of deploy/dev.env"
        );
    }
}

/// `just up` and compose read deploy/dev.env: matchmaking's development tokens are there, in the
/// `access` section the service reads (the old `SERVICE__ADMIN_TOKEN` would stop it at start).
#[test]
fn the_development_environment_gives_matchmaking_its_access_tokens() {
    let env = read("deploy/dev.env").expect("deploy/dev.env");
    let keys: Vec<&str> = env
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .filter_map(|line| line.split_once('=').map(|(key, _)| key.trim()))
        .collect();
    assert!(
        keys.contains(&"MATCHMAKING_ACCESS__ADMIN_TOKEN"),
        "{keys:?}"
    );
    assert!(
        keys.iter()
            .any(|key| key.starts_with("MATCHMAKING_ACCESS__CALLER_TOKENS__")),
        "{keys:?}"
    );
    assert!(
        !keys.iter().any(|key| key.contains("SERVICE__ADMIN_TOKEN")),
        "{keys:?}"
    );
}
