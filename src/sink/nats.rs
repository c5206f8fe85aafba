//! NATS JetStream sink: one message per table change (see `message`) on a subject
//! made from a template (`sluice.{source}.{db}.{table}`), with
//! `Nats-Msg-Id` = `SOURCE-OFFSET-PART-INDEX` so JetStream drops what a
//! restarted sink sends again (within the stream's duplicate window).
//! The stream is created on start if missing, or checked to cover the
//! subjects.

use super::message::{render_template, Message};
use super::runner::{Sink, SinkError};
use async_nats::jetstream::{self, stream};
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct NatsOptions {
    pub url: String,
    /// Subject template: `{source}`, `{db}`, `{table}`.
    pub subject: String,
    /// JetStream stream name; created with the subjects `stream_subjects`
    /// when missing.
    pub stream: String,
    pub stream_subjects: Vec<String>,
    pub source: String,
    /// How long JetStream remembers message ids.
    pub duplicate_window: Duration,
}

pub struct NatsSink {
    js: jetstream::Context,
    options: NatsOptions,
}

impl NatsSink {
    pub async fn connect(options: NatsOptions) -> Result<NatsSink, SinkError> {
        let client = async_nats::connect(&options.url).await.map_err(|e| {
            SinkError::Transient(format!("cannot connect to NATS at {}: {e}", options.url))
        })?;
        let js = jetstream::new(client);
        js.get_or_create_stream(stream::Config {
            name: options.stream.clone(),
            subjects: options.stream_subjects.clone(),
            duplicate_window: options.duplicate_window,
            ..Default::default()
        })
        .await
        .map_err(|e| {
            SinkError::Fatal(format!(
                "JetStream stream {} on {}: {e}",
                options.stream, options.url
            ))
        })?;
        Ok(NatsSink { js, options })
    }
}

impl Sink for NatsSink {
    async fn deliver(&mut self, messages: Vec<Message>) -> Result<(), SinkError> {
        // Publish everything, then wait for the acks: the server pipelines.
        let mut acks = Vec::with_capacity(messages.len());
        for m in messages {
            let subject = render_template(
                &self.options.subject,
                &self.options.source,
                &m.schema,
                &m.table,
            );
            let mut headers = async_nats::HeaderMap::new();
            headers.insert("Nats-Msg-Id", m.id.as_str());
            let ack = self
                .js
                .publish_with_headers(subject.clone(), headers, m.payload.into())
                .await
                .map_err(|e| SinkError::Transient(format!("publishing to {subject}: {e}")))?;
            acks.push((subject, ack));
        }
        for (subject, ack) in acks {
            ack.await
                .map_err(|e| SinkError::Transient(format!("JetStream ack for {subject}: {e}")))?;
        }
        Ok(())
    }
}
