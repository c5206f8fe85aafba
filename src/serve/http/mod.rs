//! The HTTP API (axum), JSON, on its own address (127.0.0.1:8080 unless
//! configured):
//!
//! | route | what |
//! |---|---|
//! | `GET /health` | `{"status":"ok"}`, never behind the token |
//! | `GET /status` | per source: capture state, binlog position, GTID, lag; log offsets and size; per group: offset, lag |
//! | `GET /metrics` | Prometheus text |
//! | `GET /v1/sources/{name}/groups` | the groups |
//! | `POST /v1/sources/{name}/groups` | create `{"name", "reset": "none"\|"earliest"\|"latest"}` |
//! | `POST /v1/sources/{name}/groups/{group}/seek` | `{"offset": N}` \| `{"time": RFC 3339 or ms}` \| `{"binlog": "FILE:POS"}` \| `{"gtid": SET}` |
//! | `DELETE /v1/sources/{name}/groups/{group}` | delete |
//! | `GET /v1/sources/{name}/changes?group=G&format=F&max=N&wait_ms=M&follow=B&auto_commit=B` | NDJSON |
//! | `POST /v1/sources/{name}/commit?group=G&offset=N` | commit |
//!
//! With a bearer token configured, every route but `/health` requires
//! `Authorization: Bearer TOKEN`. Errors are `{"error": "..."}` with a
//! status that says whose fault it is.

mod auth;
mod changes;
mod error;
mod groups;
mod state;
mod status;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::routing::{delete, get, post};
use axum::Router;
use tokio::net::TcpListener;

pub use changes::{RecordFormatter, StandardFormats};
pub use error::ApiError;
pub use state::{AppState, Source};

/// Configuration of the HTTP listener.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// `--http-addr`; loopback by default.
    pub addr: SocketAddr,
    /// Bearer token required on every route but `/health`.
    pub token: Option<String>,
    /// Most records one long-poll response carries when `max` is absent.
    pub default_max: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            token: None,
            default_max: 1000,
        }
    }
}

/// The router, for tests and for embedding.
pub fn router(state: Arc<AppState>) -> Router {
    let api = Router::new()
        .route("/status", get(status::status))
        .route("/metrics", get(status::metrics))
        .route(
            "/v1/sources/{name}/groups",
            get(groups::list).post(groups::create),
        )
        .route("/v1/sources/{name}/groups/{group}/seek", post(groups::seek))
        .route(
            "/v1/sources/{name}/groups/{group}",
            delete(groups::remove).get(groups::one),
        )
        .route("/v1/sources/{name}/changes", get(changes::changes))
        .route("/v1/sources/{name}/commit", post(changes::commit))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ));
    Router::new()
        .route("/health", get(status::health))
        .merge(api)
        .with_state(state)
}

/// A bound HTTP server.
pub struct HttpServer {
    listener: TcpListener,
    state: Arc<AppState>,
}

impl HttpServer {
    pub async fn bind(config: &HttpConfig, state: AppState) -> std::io::Result<Self> {
        let listener = TcpListener::bind(config.addr).await?;
        Ok(HttpServer {
            listener,
            state: Arc::new(state),
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes; open streams are ended.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let stop = self.state.stop.clone();
        tracing::info!(addr = %self.listener.local_addr()?, "http server listening");
        axum::serve(self.listener, router(self.state))
            .with_graceful_shutdown(async move {
                shutdown.await;
                let _ = stop.send(true);
            })
            .await
    }
}
