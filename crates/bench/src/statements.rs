//! `bench statements`: how many statements each matchmaking write costs, counted by the server
//! (`pg_stat_statements`): top-level statements are round trips from the service (BEGIN and
//! COMMIT included), nested ones are what functions and triggers run inside them.
//!
//! Needs a server that preloads the extension, for example a scratch cluster:
//!
//! ```sh
//! initdb -D /tmp/pgss -U postgres --auth=trust
//! pg_ctl -D /tmp/pgss -o "-p 55477 -c shared_preload_libraries=pg_stat_statements \
//!     -c pg_stat_statements.track=all" start
//! DATABASE_URL=postgres://postgres@127.0.0.1:55477/postgres cargo run -p bench -- statements
//! ```

use std::fmt::Write as _;

use anyhow::{Context, bail};
use db::ServiceRole;
use reqwest::Client;
use serde_json::{Value, json};
use service_kit::testing::{RunningApp, TEST_ADMIN_TOKEN, TEST_CALLER_TOKEN, test_config};
use sqlx::PgPool;
use test_db::TestDb;

#[derive(Debug, Clone, clap::Args)]
pub struct StatementsArgs {
    /// Times each operation is repeated (the report gives the mean per operation).
    #[arg(long, default_value_t = 20)]
    pub repeat: usize,
}

/// The service under count, and how to call it.
struct Target {
    base: String,
    client: Client,
    admin: PgPool,
    database: String,
}

impl Target {
    async fn post(&self, path: &str, player: Option<i64>, body: Value) -> anyhow::Result<Value> {
        let request = self.client.post(format!("{}{path}", self.base));
        let request = match player {
            Some(player) => request
                .bearer_auth(TEST_CALLER_TOKEN)
                .header("x-acting-user-id", player.to_string()),
            None => request.bearer_auth(TEST_ADMIN_TOKEN),
        };
        let response = request.json(&body).send().await?;
        let status = response.status();
        let body: Value = response.json().await?;
        if !status.is_success() {
            bail!("POST {path} answered {status}: {body}");
        }
        Ok(body)
    }

    async fn create(&self, player: i64, team_size: u8) -> anyhow::Result<String> {
        let body = json!({
            "authorId": player, "organizationId": 1, "gameModeId": 1, "skillGroupId": 1,
            "settings": {"teamSize": team_size, "teamCount": 2, "mode": "TEAMS", "competitive": false, "observable": false},
            "join": {"playerId": player, "playerName": format!("p{player}"), "leaveAfter": 3600}
        });
        let scrim = self.post("/scrims", Some(player), body).await?;
        Ok(scrim["id"].as_str().context("scrim id")?.to_owned())
    }

    async fn join(&self, scrim: &str, player: i64) -> anyhow::Result<Value> {
        let body =
            json!({"playerId": player, "playerName": format!("p{player}"), "leaveAfter": 3600});
        self.post(&format!("/scrims/{scrim}/join"), Some(player), body)
            .await
    }

    async fn player_op(&self, scrim: &str, op: &str, player: i64) -> anyhow::Result<Value> {
        self.post(
            &format!("/scrims/{scrim}/{op}"),
            Some(player),
            json!({"playerId": player}),
        )
        .await
    }

    async fn reset(&self) -> anyhow::Result<()> {
        sqlx::query("SELECT pg_stat_statements_reset()")
            .execute(&self.admin)
            .await?;
        Ok(())
    }

    /// (top-level, nested) statements run by the service's role in its database since the reset,
    /// and the server's time executing the top-level ones (ms; nested time is inside it).
    async fn counted(&self) -> anyhow::Result<(i64, i64, f64)> {
        let counts: (Option<i64>, Option<i64>, Option<f64>) = sqlx::query_as(
            "SELECT sum(calls) FILTER (WHERE toplevel)::bigint,
                    sum(calls) FILTER (WHERE NOT toplevel)::bigint,
                    sum(total_exec_time) FILTER (WHERE toplevel)
             FROM pg_stat_statements
             WHERE dbid = (SELECT oid FROM pg_database WHERE datname = $1)
               AND userid = (SELECT oid FROM pg_roles WHERE rolname = $2)",
        )
        .bind(&self.database)
        .bind(ServiceRole::Matchmaking.role_name())
        .fetch_one(&self.admin)
        .await?;
        Ok((
            counts.0.unwrap_or(0),
            counts.1.unwrap_or(0),
            counts.2.unwrap_or(0.0),
        ))
    }
}

/// One row of the report: an operation and its mean statements.
struct Row {
    operation: &'static str,
    top_level: f64,
    nested: f64,
    server_ms: f64,
}

/// The writes counted, each on a (scrim, player) pair.
#[derive(Debug, Clone, Copy)]
enum Write {
    Join,
    Leave,
    CheckIn,
    Cancel,
}

/// Runs `write` for every pair after a reset, and returns the mean counts per call.
async fn measure(
    target: &Target,
    operation: &'static str,
    write: Write,
    pairs: &[(String, i64)],
) -> anyhow::Result<Row> {
    target.reset().await?;
    for (scrim, player) in pairs {
        match write {
            Write::Join => target.join(scrim, *player).await,
            Write::Leave => target.player_op(scrim, "leave", *player).await,
            Write::CheckIn => target.player_op(scrim, "check-in", *player).await,
            Write::Cancel => {
                target
                    .post(&format!("/admin/scrims/{scrim}/cancel"), None, json!({}))
                    .await
            }
        }
        .with_context(|| operation)?;
    }
    let (top, nested, server_ms) = target.counted().await?;
    let n = pairs.len() as f64;
    Ok(Row {
        operation,
        top_level: top as f64 / n,
        nested: nested as f64 / n,
        server_ms: server_ms / n,
    })
}

pub async fn run(args: &StatementsArgs) -> anyhow::Result<String> {
    let test_db = TestDb::new().await;
    let admin = test_db.admin_pool().await;
    sqlx::query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        .execute(&admin)
        .await
        .context("pg_stat_statements (see the module docs: the server must preload it)")?;
    let settings = matchmaking::Settings {
        workers: false,
        ..matchmaking::Settings::default()
    };
    let config = test_config(&test_db, ServiceRole::Matchmaking, settings);
    let app = RunningApp::start(matchmaking::SPEC, config, matchmaking::routes).await?;
    let target = Target {
        base: app.base_url.clone(),
        client: Client::new(),
        admin,
        database: test_db.name().to_owned(),
    };
    let n = args.repeat.max(1);
    let ids = |offset: i64| (0..n as i64).map(move |i| offset + i).collect::<Vec<_>>();
    // Warm the pool, so that no connection set-up is counted.
    for player in ids(900_000) {
        target.create(player, 2).await?;
    }

    let mut rows = Vec::new();
    // 2v2 scrims: create; a join that leaves room; a leave that leaves players.
    let authors = ids(1_000);
    let mut scrims = Vec::new();
    target.reset().await?;
    for author in &authors {
        scrims.push(target.create(*author, 2).await?);
    }
    let (top, nested, server_ms) = target.counted().await?;
    rows.push(Row {
        operation: "create",
        top_level: top as f64 / n as f64,
        nested: nested as f64 / n as f64,
        server_ms: server_ms / n as f64,
    });
    let pairs: Vec<(String, i64)> = scrims.iter().cloned().zip(ids(2_000)).collect();
    rows.push(measure(&target, "join", Write::Join, &pairs).await?);
    rows.push(measure(&target, "leave", Write::Leave, &pairs).await?);
    let last: Vec<(String, i64)> = scrims.iter().cloned().zip(authors.clone()).collect();
    rows.push(
        measure(
            &target,
            "leave (last player: destroyed)",
            Write::Leave,
            &last,
        )
        .await?,
    );

    // 1v1 scrims: the join that pops, a check-in, the check-in that starts, the admin cancel.
    let authors = ids(3_000);
    let mut scrims = Vec::new();
    for author in &authors {
        scrims.push(target.create(*author, 1).await?);
    }
    let joiners: Vec<(String, i64)> = scrims.iter().cloned().zip(ids(4_000)).collect();
    rows.push(measure(&target, "join (pops)", Write::Join, &joiners).await?);
    let first: Vec<(String, i64)> = scrims.iter().cloned().zip(authors.clone()).collect();
    rows.push(measure(&target, "check-in", Write::CheckIn, &first).await?);
    rows.push(measure(&target, "check-in (last: starts)", Write::CheckIn, &joiners).await?);
    rows.push(measure(&target, "cancel (admin)", Write::Cancel, &first).await?);
    app.stop().await?;

    let mut out = String::new();
    let _ = writeln!(
        out,
        "## Statements per matchmaking write ({n} of each, counted by pg_stat_statements)\n"
    );
    let _ = writeln!(
        out,
        "Top-level statements are round trips from the service (BEGIN and COMMIT included); nested ones run inside them (functions, triggers). Server time is the executor's time of the top-level statements (nested time is inside it; the commit's WAL flush is not).\n"
    );
    let _ = writeln!(
        out,
        "| operation | round trips | nested statements | server ms |"
    );
    let _ = writeln!(out, "|---|---|---|---|");
    for row in rows {
        let _ = writeln!(
            out,
            "| {} | {:.1} | {:.1} | {:.2} |",
            row.operation, row.top_level, row.nested, row.server_ms
        );
    }
    Ok(out)
}
