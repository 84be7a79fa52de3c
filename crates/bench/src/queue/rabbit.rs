//! RabbitMQ through lapin on the local broker: a durable queue, persistent messages, publisher
//! confirms, manual acknowledgements, prefetch = the claim size.

use std::time::Instant;

use futures::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties};

use super::{QueueArgs, rate};

const QUEUE: &str = "scrims_bench_jobs";

/// Returns (publish msg/s with confirms, drain msg/s).
pub async fn burn_down(args: &QueueArgs, n: u64) -> anyhow::Result<(f64, f64)> {
    let connection = Connection::connect(&args.amqp_url, ConnectionProperties::default()).await?;
    let channel = connection.create_channel().await?;
    let _ = channel
        .queue_delete(QUEUE.into(), QueueDeleteOptions::default())
        .await;
    channel
        .queue_declare(
            QUEUE.into(),
            QueueDeclareOptions {
                durable: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;

    let started = Instant::now();
    let mut next = 0u64;
    while next < n {
        // 1,000 publishes in flight, then wait for their confirms: the same grouping as the
        // 1,000-row enqueue transactions.
        let count = 1_000.min(n - next);
        let mut confirms = Vec::with_capacity(count as usize);
        for i in next..next + count {
            let body =
                serde_json::to_vec(&serde_json::json!({"n": i, "sent_us": super::now_us()}))?;
            let confirm = channel
                .basic_publish(
                    "".into(),
                    QUEUE.into(),
                    BasicPublishOptions::default(),
                    &body,
                    BasicProperties::default().with_delivery_mode(2),
                )
                .await?;
            confirms.push(confirm);
        }
        for confirm in confirms {
            confirm.await?;
        }
        next += count;
    }
    let publish = started.elapsed();

    let started = Instant::now();
    let per_consumer = n / args.workers as u64;
    let mut consumers = Vec::new();
    for c in 0..args.workers {
        let channel = connection.create_channel().await?;
        channel
            .basic_qos(
                u16::try_from(args.batch).unwrap_or(100),
                BasicQosOptions::default(),
            )
            .await?;
        let mut consumer = channel
            .basic_consume(
                QUEUE.into(),
                format!("bench-{c}").as_str().into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        let quota = if c == args.workers - 1 {
            n - per_consumer * (args.workers as u64 - 1)
        } else {
            per_consumer
        };
        consumers.push(tokio::spawn(async move {
            let mut got = 0;
            while got < quota {
                let Some(delivery) = consumer.next().await else {
                    break;
                };
                delivery?.ack(BasicAckOptions::default()).await?;
                got += 1;
            }
            let _ = channel.close(200, "done".into()).await;
            Ok::<u64, anyhow::Error>(got)
        }));
    }
    let mut drained = 0;
    for consumer in consumers {
        drained += consumer.await??;
    }
    let drain = started.elapsed();
    let _ = channel
        .queue_delete(QUEUE.into(), QueueDeleteOptions::default())
        .await;
    let _ = connection.close(200, "done".into()).await;
    Ok((rate(n, publish), rate(drained, drain)))
}
