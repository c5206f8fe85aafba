//! What the HTTP handlers share: the sources (each a log as a
//! [`Destination`], plus the capture's status when this process captures
//! it), the token, the metrics handle, the formatter, and the stop signal.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::watch;

use super::changes::RecordFormatter;
use super::error::ApiError;
use crate::pipeline::status::StatusHandle;
use crate::serve::destination::Destination;

/// One source as the API serves it.
#[derive(Clone)]
pub struct Source {
    pub log: Arc<dyn Destination>,
    /// The capture's status, when this process runs it.
    pub capture: Option<StatusHandle>,
}

pub struct AppState {
    pub sources: BTreeMap<String, Source>,
    pub token: Option<String>,
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    pub formatter: Arc<dyn RecordFormatter>,
    pub default_max: usize,
    /// Set to true at shutdown: following streams end.
    pub stop: watch::Sender<bool>,
}

impl AppState {
    pub fn new(config: &super::HttpConfig, formatter: Arc<dyn RecordFormatter>) -> Self {
        let (stop, _) = watch::channel(false);
        AppState {
            sources: BTreeMap::new(),
            token: config.token.clone(),
            metrics: None,
            formatter,
            default_max: config.default_max.max(1),
            stop,
        }
    }

    pub fn add_source(&mut self, log: Arc<dyn Destination>, capture: Option<StatusHandle>) {
        self.sources
            .insert(log.name().to_string(), Source { log, capture });
    }

    pub fn source(&self, name: &str) -> Result<&Source, ApiError> {
        self.sources.get(name).ok_or_else(|| {
            ApiError::not_found(format!(
                "unknown source {name:?} (this server has: {})",
                self.sources.keys().cloned().collect::<Vec<_>>().join(", ")
            ))
        })
    }
}

/// Runs a blocking storage call off the async threads.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            format!("task failed: {e}"),
        )
    })?
}
