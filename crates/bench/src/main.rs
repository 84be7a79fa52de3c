//! `bench queue` and `bench matchmaking`: see README.md.

mod machine;
mod matchmaking;
mod queue;
mod statements;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(about = "The platform's benchmarks (results go into docs/BENCHMARKS.md)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// pg-queue against raw SQL and RabbitMQ.
    Queue(queue::QueueArgs),
    /// Simulated players against matchmaking and the legacy Redis design.
    Matchmaking(matchmaking::MatchmakingArgs),
    /// Statements per matchmaking write, counted by pg_stat_statements.
    Statements(statements::StatementsArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let (name, report) = runtime.block_on(async {
        let machine = machine::describe().await;
        match cli.command {
            Command::Queue(args) => Ok::<_, anyhow::Error>((
                "queue",
                format!("{machine}\n{}", queue::run(&args).await?),
            )),
            Command::Matchmaking(args) => Ok((
                "matchmaking",
                format!("{machine}\n{}", matchmaking::run(&args).await?),
            )),
            Command::Statements(args) => Ok(("statements", statements::run(&args).await?)),
        }
    })?;
    println!("{report}");
    let dir = PathBuf::from("target/bench");
    std::fs::create_dir_all(&dir).context("creating target/bench")?;
    let file = dir.join(format!(
        "{name}-{}.md",
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ")
    ));
    std::fs::write(&file, report).with_context(|| format!("writing {}", file.display()))?;
    eprintln!("report written to {}", file.display());
    Ok(())
}
