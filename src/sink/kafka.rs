//! Kafka sink (cargo feature `kafka`; librdkafka is built from source by
//! `rdkafka-sys`). One Kafka message per sink message: the topic from a
//! template (`sluice.{source}.{db}.{table}`, or a fixed name for one
//! topic), the key from the sink's [`KeyRules`](super::message::KeyRules)
//! (by default each row's primary key, so all changes of a row land in one
//! partition, in order), and a `sluice-id` header holding the message id
//! (`SOURCE-OFFSET-PART-INDEX[.ROW]`), the same on every redelivery.
//!
//! The producer is idempotent (`enable.idempotence=true`, `acks=all`): no
//! duplicates or reordering from its own retries. Across a sink restart
//! Kafka keeps what was sent before the last commit of the group, so the
//! redelivered tail can repeat; consumers that must see each change once
//! drop repeated `sluice-id`s. Keys go through librdkafka's
//! `murmur2_random` partitioner, the Java client's: a key lands in the same
//! partition as when a Java producer writes it.

use super::message::{render_template, Message};
use super::runner::{Sink, SinkError};
use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct KafkaOptions {
    /// Bootstrap servers, `host:port[,host:port...]`.
    pub brokers: String,
    /// Topic template: `{source}`, `{db}`, `{table}`.
    pub topic: String,
    pub source: String,
    /// Further librdkafka producer properties (`compression.type`,
    /// `linger.ms`, `security.protocol`, ...); they win over the defaults.
    pub properties: Vec<(String, String)>,
}

pub struct KafkaSink {
    producer: FutureProducer,
    options: KafkaOptions,
}

impl KafkaSink {
    pub fn new(options: KafkaOptions) -> Result<KafkaSink, SinkError> {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &options.brokers)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("partitioner", "murmur2_random")
            .set("message.timeout.ms", "30000");
        for (key, value) in &options.properties {
            config.set(key, value);
        }
        let producer: FutureProducer = config.create().map_err(|e| {
            SinkError::Fatal(format!(
                "Kafka producer for {}: {e} (check the sink's properties)",
                options.brokers
            ))
        })?;
        Ok(KafkaSink { producer, options })
    }

    fn topic(&self, m: &Message) -> String {
        let topic = render_template(
            &self.options.topic,
            &self.options.source,
            &m.schema,
            &m.table,
        );
        // Kafka topic names hold only [A-Za-z0-9._-].
        topic
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    }
}

impl Sink for KafkaSink {
    async fn deliver(&mut self, messages: Vec<Message>) -> Result<(), SinkError> {
        // Queue everything (librdkafka batches and pipelines), then wait for
        // every delivery report.
        let mut reports = Vec::with_capacity(messages.len());
        for m in &messages {
            let topic = self.topic(m);
            let headers = OwnedHeaders::new().insert(Header {
                key: "sluice-id",
                value: Some(m.id.as_bytes()),
            });
            let mut record = FutureRecord::to(&topic)
                .payload(&m.payload)
                .headers(headers);
            if !m.key.is_empty() {
                record = record.key(&m.key);
            }
            loop {
                match self.producer.send_result(record) {
                    Ok(report) => {
                        reports.push((topic.clone(), report));
                        break;
                    }
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                        // The local queue is full: let librdkafka send some.
                        record = back;
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    Err((e, _)) => {
                        return Err(SinkError::Transient(format!("producing to {topic}: {e}")))
                    }
                }
            }
        }
        for (topic, report) in reports {
            match report.await {
                Ok(Ok(_)) => {}
                Ok(Err((e, _))) => {
                    return Err(SinkError::Transient(format!(
                        "Kafka did not take a message for {topic}: {e}"
                    )))
                }
                Err(_) => {
                    return Err(SinkError::Transient(format!(
                        "the Kafka producer dropped a message for {topic}"
                    )))
                }
            }
        }
        Ok(())
    }
}
