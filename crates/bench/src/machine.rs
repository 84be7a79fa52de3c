//! The date, machine and server versions a report was measured on.

use std::fmt::Write as _;

pub async fn describe() -> String {
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("MemTotal:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or("?".to_owned(), |kb| {
            format!("{:.1} GiB", kb as f64 / 1_048_576.0)
        });
    let postgres = postgres_version()
        .await
        .unwrap_or_else(|err| format!("unknown ({err})"));
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Benchmark run {}",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")
    );
    let _ = writeln!(
        out,
        "\nMachine: {cores} cores, {memory} RAM. PostgreSQL: {postgres}."
    );
    out
}

async fn postgres_version() -> anyhow::Result<String> {
    let admin = test_db::admin_options();
    let mut conn = sqlx::ConnectOptions::connect(&admin).await?;
    let (version, autovacuum): (String, String) =
        sqlx::query_as("SELECT split_part(version(), ' on ', 1), current_setting('autovacuum')")
            .fetch_one(&mut conn)
            .await?;
    Ok(format!("{version}, autovacuum {autovacuum}"))
}
