//! nomad/*.nomad.hcl: one job per service with a prestart migrate task, /readyz checks, rolling
//! updates with auto-revert, and credentials from Nomad variables; plus the provision-roles job.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::time::Duration;

use deploy_checks::{
    SERVICES, Service, dev_env_secrets, is_secret_name, read, service_dirs, workspace_root,
};
use hcl::{Block, Body, Expression, TemplateExpr};

const PROVISION_JOB: &str = "provision-roles";

/// Every `nomad/*.nomad.hcl`: (job name taken from the file name, source, parsed body).
fn job_files() -> Vec<(String, String, Body)> {
    let dir = workspace_root().join("nomad");
    let mut files = Vec::new();
    for entry in fs::read_dir(&dir).expect("nomad/ is listable") {
        let path = entry.expect("a directory entry").path();
        let file_name = path
            .file_name()
            .and_then(|name| name.to_str())
            .unwrap_or_default();
        let Some(stem) = file_name.strip_suffix(".nomad.hcl") else {
            continue;
        };
        let source = read(&path).expect("the job file is readable");
        let body = hcl::parse(&source).unwrap_or_else(|err| panic!("{file_name}: {err}"));
        files.push((stem.to_owned(), source, body));
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    files
}

fn job_file(name: &str) -> Body {
    job_files()
        .into_iter()
        .find(|(stem, _, _)| stem == name)
        .map(|(_, _, body)| body)
        .unwrap_or_else(|| panic!("no nomad/{name}.nomad.hcl"))
}

fn blocks<'a>(body: &'a Body, identifier: &str) -> Vec<&'a Block> {
    body.blocks()
        .filter(|block| block.identifier() == identifier)
        .collect()
}

fn label(block: &Block) -> &str {
    block.labels().first().map_or("", |label| label.as_str())
}

/// The only block `identifier` in `body`.
fn only<'a>(body: &'a Body, identifier: &str) -> &'a Body {
    let found = blocks(body, identifier);
    assert_eq!(found.len(), 1, "expected exactly one `{identifier}` block");
    found[0].body()
}

fn labelled<'a>(body: &'a Body, identifier: &str, name: &str) -> &'a Body {
    blocks(body, identifier)
        .into_iter()
        .find(|block| label(block) == name)
        .unwrap_or_else(|| panic!("no `{identifier} \"{name}\"` block"))
        .body()
}

fn attr<'a>(body: &'a Body, key: &str) -> Option<&'a Expression> {
    body.attributes()
        .find(|attribute| attribute.key() == key)
        .map(|attribute| attribute.expr())
}

/// The text of a string literal, quoted template or heredoc.
fn text(expr: &Expression) -> Option<&str> {
    match expr {
        Expression::String(text) => Some(text),
        Expression::TemplateExpr(template) => Some(match &**template {
            TemplateExpr::QuotedString(text) => text,
            TemplateExpr::Heredoc(heredoc) => &heredoc.template,
        }),
        _ => None,
    }
}

fn string<'a>(body: &'a Body, key: &str) -> &'a str {
    attr(body, key)
        .and_then(text)
        .unwrap_or_else(|| panic!("`{key}` is not a string attribute here"))
}

fn boolean(body: &Body, key: &str) -> bool {
    match attr(body, key) {
        Some(Expression::Bool(value)) => *value,
        other => panic!("`{key}` is not a boolean: {other:?}"),
    }
}

fn number(body: &Body, key: &str) -> u64 {
    match attr(body, key) {
        Some(Expression::Number(value)) => value.as_u64().expect("a whole number"),
        other => panic!("`{key}` is not a number: {other:?}"),
    }
}

fn strings(body: &Body, key: &str) -> Vec<String> {
    match attr(body, key) {
        Some(Expression::Array(items)) => items
            .iter()
            .map(|item| text(item).expect("string items").to_owned())
            .collect(),
        other => panic!("`{key}` is not a list: {other:?}"),
    }
}

/// A Nomad duration such as `500ms`, `20s`, `5m` or `1h`.
fn duration(body: &Body, key: &str) -> Duration {
    let value = string(body, key);
    let split = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let (amount, unit) = value.split_at(split);
    let amount: u64 = amount
        .parse()
        .unwrap_or_else(|_| panic!("`{key}` = {value}"));
    match unit {
        "ms" => Duration::from_millis(amount),
        "s" => Duration::from_secs(amount),
        "m" => Duration::from_secs(amount * 60),
        "h" => Duration::from_secs(amount * 3600),
        _ => panic!("`{key}` = {value}: unknown unit"),
    }
}

/// A task's `env` block, each value as written (`var.database_host` for a variable).
fn env(task: &Body) -> BTreeMap<String, String> {
    only(task, "env")
        .attributes()
        .map(|attribute| {
            let value =
                text(attribute.expr()).map_or_else(|| attribute.expr().to_string(), str::to_owned);
            (attribute.key().to_owned(), value)
        })
        .collect()
}

fn var<'a>(env: &'a BTreeMap<String, String>, key: &str) -> &'a str {
    env.get(key)
        .unwrap_or_else(|| panic!("env has no {key}: {env:?}"))
}

/// What a task's templates put in its environment: the text of every `env = true` template,
/// after checking that each renders into secrets/ from a Nomad variable of `job`.
fn rendered_env(job: &str, task: &Body) -> String {
    let mut rendered = String::new();
    for template in blocks(task, "template").into_iter().map(Block::body) {
        if !boolean(template, "env") {
            continue;
        }
        assert!(string(template, "destination").starts_with("secrets/"));
        let data = string(template, "data");
        assert!(
            data.contains(&format!("nomadVar \"nomad/jobs/{job}")),
            "{job}: the template reads a Nomad variable of the job: {data}"
        );
        rendered.push_str(data);
    }
    assert!(!rendered.is_empty(), "{job}: no env template");
    rendered
}

/// The variables set by rendered env-file lines.
fn rendered_keys(rendered: &str) -> BTreeSet<String> {
    rendered
        .lines()
        .filter_map(|line| line.trim().split_once('='))
        .map(|(key, _)| key.to_owned())
        .collect()
}

fn check_service_job(spec: &Service, file: &Body) {
    let name = spec.name;
    let prefix = spec.env_prefix;
    labelled(file, "variable", "image");

    let job = labelled(file, "job", name);
    assert_eq!(string(job, "type"), "service", "{name}");
    let group = labelled(job, "group", name);
    assert!(attr(group, "count").is_some(), "{name}: group count");

    let port = only(group, "network");
    assert_eq!(
        number(labelled(port, "port", "http"), "to"),
        u64::from(spec.port),
        "{name}"
    );

    let update = only(group, "update");
    assert_eq!(number(update, "max_parallel"), 1, "{name}");
    assert_eq!(string(update, "health_check"), "checks", "{name}");
    assert!(boolean(update, "auto_revert"), "{name}: auto_revert");
    duration(update, "min_healthy_time");
    duration(update, "healthy_deadline");

    let restart = only(group, "restart");
    number(restart, "attempts");
    duration(restart, "delay");
    let reschedule = only(group, "reschedule");
    duration(reschedule, "delay");

    // The prestart task: `<service> migrate` as the owner role, to completion.
    let migrate = labelled(group, "task", "migrate");
    let lifecycle = only(migrate, "lifecycle");
    assert_eq!(string(lifecycle, "hook"), "prestart", "{name}");
    assert!(
        !boolean(lifecycle, "sidecar"),
        "{name}: migrate runs to completion"
    );
    let config = only(migrate, "config");
    assert_eq!(
        attr(config, "image").map(ToString::to_string).as_deref(),
        Some("var.image")
    );
    assert_eq!(strings(config, "args"), ["migrate"], "{name}");
    let migrate_env = env(migrate);
    assert_eq!(
        var(&migrate_env, &format!("{prefix}DATABASE__USER")),
        "scrim_owner",
        "{name}"
    );
    assert_eq!(
        var(&migrate_env, &format!("{prefix}LOG__FORMAT")),
        "json",
        "{name}"
    );
    let rendered = rendered_env(name, migrate);
    assert!(
        rendered.contains(&format!(
            "{prefix}DATABASE__PASSWORD={{{{ .scrim_owner_password }}}}"
        )),
        "{name}: {rendered}"
    );

    // The service itself.
    let task = labelled(group, "task", name);
    let config = only(task, "config");
    assert_eq!(
        attr(config, "image").map(ToString::to_string).as_deref(),
        Some("var.image")
    );
    assert_eq!(strings(config, "args"), ["serve"], "{name}");
    assert_eq!(strings(config, "ports"), ["http"], "{name}");
    let task_env = env(task);
    assert_eq!(
        var(&task_env, &format!("{prefix}HTTP__HOST")),
        "0.0.0.0",
        "{name}"
    );
    assert_eq!(
        var(&task_env, &format!("{prefix}HTTP__PORT")),
        spec.port.to_string(),
        "{name}"
    );
    assert_eq!(
        var(&task_env, &format!("{prefix}LOG__FORMAT")),
        "json",
        "{name}"
    );
    assert!(
        !task_env.contains_key(&format!("{prefix}DATABASE__USER")),
        "{name} logs in as its own role"
    );
    assert!(
        rendered_keys(&rendered_env(name, task)).contains(&format!("{prefix}DATABASE__PASSWORD"))
    );

    let service = only(task, "service");
    assert_eq!(string(service, "name"), name);
    assert_eq!(string(service, "port"), "http");
    let ready = blocks(service, "check")
        .into_iter()
        .map(Block::body)
        .find(|check| attr(check, "path").and_then(text) == Some("/readyz"))
        .unwrap_or_else(|| panic!("{name}: no check on /readyz"));
    assert_eq!(string(ready, "type"), "http");
    duration(ready, "interval");
    duration(ready, "timeout");

    // Nomad must not kill the task before the service has drained and finished its requests.
    let millis = |key: &str, default: u64| {
        task_env
            .get(&format!("{prefix}SHUTDOWN__{key}"))
            .map_or(default, |value| value.parse().expect("milliseconds"))
    };
    // service-kit's defaults: no drain delay, 10 s grace period.
    let drain = Duration::from_millis(millis("DRAIN_DELAY_MS", 0));
    let grace = Duration::from_millis(millis("GRACE_PERIOD_MS", 10_000));
    let kill_timeout = duration(task, "kill_timeout");
    assert!(
        kill_timeout > drain + grace,
        "{name}: kill_timeout {kill_timeout:?} does not cover drain {drain:?} + grace {grace:?}"
    );
    duration(task, "shutdown_delay");
    let resources = only(task, "resources");
    number(resources, "cpu");
    number(resources, "memory");
}

#[test]
fn every_service_job_migrates_first_checks_readyz_and_rolls_back_on_failure() {
    for spec in SERVICES {
        check_service_job(spec, &job_file(spec.name));
    }
}

#[test]
fn the_provision_job_runs_the_script_with_every_password_it_needs() {
    let file = job_file(PROVISION_JOB);
    labelled(&file, "variable", "image");
    let job = labelled(&file, "job", PROVISION_JOB);
    assert_eq!(string(job, "type"), "batch");
    let group = labelled(job, "group", PROVISION_JOB);
    only(group, "restart");
    only(group, "reschedule");
    let task = labelled(group, "task", PROVISION_JOB);
    let config = only(task, "config");
    assert_eq!(
        strings(config, "entrypoint"),
        ["/usr/local/share/scrims/provision-roles.sh"]
    );

    // The variables provision-roles.sh refuses to run without, from its `for var in ...` line.
    let script = read("deploy/provision-roles.sh").expect("the script is readable");
    let required: Vec<&str> = script
        .lines()
        .find_map(|line| line.strip_prefix("for var in "))
        .and_then(|rest| rest.split(';').next())
        .expect("the script lists its required variables")
        .split_whitespace()
        .collect();
    assert!(required.contains(&"SCRIM_OWNER_PASSWORD"), "{required:?}");
    let rendered = rendered_keys(&rendered_env(PROVISION_JOB, task));
    for var in required.iter().copied().chain(["PGUSER", "PGPASSWORD"]) {
        assert!(
            rendered.contains(var),
            "{PROVISION_JOB} does not render {var}"
        );
    }
    let task_env = env(task);
    assert_eq!(var(&task_env, "PGHOST"), "var.database_host");
}

#[test]
fn the_service_jobs_are_exactly_the_services_directories() {
    let mut services = BTreeSet::new();
    for (stem, _, file) in job_files() {
        let jobs = blocks(&file, "job");
        assert_eq!(jobs.len(), 1, "nomad/{stem}.nomad.hcl holds one job");
        assert_eq!(label(jobs[0]), stem, "the file is named after its job");
        let job_type = string(jobs[0].body(), "type");
        match job_type {
            "service" => {
                services.insert(stem);
            }
            "batch" => assert_eq!(stem, PROVISION_JOB),
            other => panic!("{stem}: unexpected job type {other}"),
        }
    }
    assert_eq!(services, service_dirs().expect("services/ is listable"));
}

/// Every attribute in `body` and its blocks, with the names of the blocks around it.
fn walk<'a>(
    body: &'a Body,
    path: &mut Vec<String>,
    visit: &mut dyn FnMut(&str, &str, &'a Expression),
) {
    for attribute in body.attributes() {
        visit(&path.join("."), attribute.key(), attribute.expr());
        if let Expression::Object(object) = attribute.expr() {
            for (key, value) in object {
                visit(&path.join("."), &key.to_string(), value);
            }
        }
    }
    for block in body.blocks() {
        path.push(format!("{}[{}]", block.identifier(), label(block)));
        walk(block.body(), path, visit);
        path.pop();
    }
}

#[test]
fn no_job_writes_a_password_literally() {
    let secrets = dev_env_secrets().expect("deploy/dev.env is readable");
    for (stem, source, file) in job_files() {
        walk(&file, &mut Vec::new(), &mut |path, key, expr| {
            let literal = matches!(expr, Expression::String(_) | Expression::Number(_))
                || matches!(expr, Expression::TemplateExpr(template) if matches!(**template, TemplateExpr::QuotedString(_)));
            assert!(
                !(is_secret_name(key) && literal),
                "{stem}: {path}.{key} is a literal; render it from a Nomad variable"
            );
            if key == "data" {
                // Rendered env files: a secret's value must come from a template action.
                for line in text(expr).unwrap_or_default().lines() {
                    if let Some((name, value)) = line.trim().split_once('=') {
                        assert!(
                            !is_secret_name(name) || value.starts_with("{{"),
                            "{stem}: {path} renders {name} literally"
                        );
                    }
                }
            }
        });
        for secret in &secrets {
            assert!(
                !source.contains(secret.as_str()),
                "{stem} repeats a value of deploy/dev.env"
            );
        }
    }
}

/// Matchmaking's tokens live in the `access` section (`service_kit::access`): the admin token and
/// one caller token per gateway, rendered from the job's Nomad variables. The old
/// `MATCHMAKING_SERVICE__ADMIN_TOKEN` would now be refused as an unknown setting at start.
#[test]
fn matchmaking_gets_its_admin_and_caller_tokens_from_nomad_variables() {
    let file = job_file("matchmaking");
    let job = labelled(&file, "job", "matchmaking");
    let group = labelled(job, "group", "matchmaking");
    let task = labelled(group, "task", "matchmaking");
    let keys = rendered_keys(&rendered_env("matchmaking", task));
    assert!(keys.contains("MATCHMAKING_ACCESS__ADMIN_TOKEN"), "{keys:?}");
    let callers: Vec<&String> = keys
        .iter()
        .filter(|key| key.starts_with("MATCHMAKING_ACCESS__CALLER_TOKENS__"))
        .collect();
    assert!(callers.len() >= 2, "a token per gateway: {keys:?}");
    assert!(
        !keys.iter().any(|key| key.contains("SERVICE__ADMIN_TOKEN")),
        "{keys:?}"
    );
}
