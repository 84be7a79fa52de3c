//! `<service> queues ...`: operators' view of the service's own queues, logged in as the service
//! role (which may read only the queues it consumes).

use clap::Subcommand;
use pg_queue::{QueueTable, dead};
use sqlx::PgPool;

#[derive(Debug, Subcommand)]
pub(crate) enum QueuesCommand {
    /// Depth, in-flight, retrying, scheduled and dead counts of every queue this service consumes.
    Stats {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// List a queue's dead letters, oldest first.
    Dead {
        /// The queue, as `schema.name`.
        queue: String,
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
    /// Move dead letters back into their queue (all of them when no id is given).
    Redrive { queue: String, ids: Vec<i64> },
    /// Delete dead letters older than N days (all of them with --older-than-days 0).
    Purge {
        queue: String,
        #[arg(long)]
        older_than_days: u32,
    },
    /// Stop every replica from claiming a queue's messages (running batches finish), until
    /// `resume` or for N minutes.
    Pause {
        queue: String,
        #[arg(long)]
        minutes: Option<u32>,
    },
    /// End a queue's pause at once.
    Resume { queue: String },
}

fn parse(queue: &str) -> anyhow::Result<QueueTable> {
    QueueTable::parse(queue)
        .ok_or_else(|| anyhow::anyhow!("{queue:?} is not a queue name like schema.queue"))
}

pub(crate) async fn run(pool: &PgPool, schema: &str, command: QueuesCommand) -> anyhow::Result<()> {
    match command {
        QueuesCommand::Stats { json } => {
            let mut rows = Vec::new();
            for table in pg_queue::discover(pool, schema).await? {
                rows.push((table.qualified(), pg_queue::stats(pool, table).await?));
            }
            if json {
                let map: serde_json::Map<String, serde_json::Value> = rows
                    .into_iter()
                    .map(|(name, stats)| Ok((name, serde_json::to_value(stats)?)))
                    .collect::<Result<_, serde_json::Error>>()?;
                println!("{}", serde_json::Value::Object(map));
            } else {
                println!(
                    "{:<40} {:>8} {:>9} {:>10} {:>9} {:>9} {:>8} {:>12} {:>7}",
                    "queue",
                    "ready",
                    "in_flight",
                    "past_lease",
                    "retrying",
                    "scheduled",
                    "dead",
                    "oldest_ready",
                    "paused"
                );
                for (name, s) in rows {
                    println!(
                        "{name:<40} {:>8} {:>9} {:>10} {:>9} {:>9} {:>8} {:>11.1}s {:>7}",
                        s.ready,
                        s.in_flight,
                        s.past_lease,
                        s.retrying,
                        s.scheduled,
                        s.dead,
                        s.oldest_ready_seconds,
                        if s.paused { "yes" } else { "no" }
                    );
                }
            }
        }
        QueuesCommand::Dead { queue, limit } => {
            for letter in dead::list(pool, parse(&queue)?, limit).await? {
                println!(
                    "{}",
                    serde_json::json!({
                        "id": letter.id,
                        "attempts": letter.attempts,
                        "lastError": letter.last_error,
                        "deadAt": letter.dead_at,
                        "enqueuedAt": letter.enqueued_at,
                        "dedupKey": letter.dedup_key,
                        "payload": letter.payload,
                    })
                );
            }
        }
        QueuesCommand::Redrive { queue, ids } => {
            let ids = (!ids.is_empty()).then_some(ids);
            let moved = dead::redrive(pool, parse(&queue)?, ids.as_deref()).await?;
            println!("redrove {moved} message(s)");
        }
        QueuesCommand::Purge {
            queue,
            older_than_days,
        } => {
            let before = chrono_days_ago(older_than_days);
            let purged = dead::purge(pool, parse(&queue)?, before).await?;
            println!("purged {purged} dead letter(s)");
        }
        QueuesCommand::Pause { queue, minutes } => {
            let until = minutes
                .map(|minutes| chrono::Utc::now() + chrono::Duration::minutes(i64::from(minutes)));
            if !pg_queue::pause(pool, parse(&queue)?, until).await? {
                anyhow::bail!("{queue} has no control row (was it made by pgq.create_queue?)");
            }
            match until {
                Some(until) => println!("{queue} paused until {until}"),
                None => println!("{queue} paused until resumed"),
            }
        }
        QueuesCommand::Resume { queue } => {
            if !pg_queue::resume(pool, parse(&queue)?).await? {
                anyhow::bail!("{queue} has no control row (was it made by pgq.create_queue?)");
            }
            println!("{queue} resumed");
        }
    }
    Ok(())
}

/// `None` (everything) for 0 days.
fn chrono_days_ago(days: u32) -> Option<chrono::DateTime<chrono::Utc>> {
    (days > 0).then(|| chrono::Utc::now() - chrono::Duration::days(i64::from(days)))
}
