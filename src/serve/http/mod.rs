//! The HTTP API (axum): health, status, Prometheus metrics, consumer-group
//! management and the change stream as NDJSON.
//!
//! ```text
//! GET    /                                            status page (HTML), no auth
//! GET    /health                                      no auth
//! GET    /status                                      sources, captures, logs, groups
//! GET    /metrics                                     Prometheus text
//! GET    /v1/sources/{name}/changes?group=&format=&max=&wait_ms=&follow=&auto_commit=&from=&reset=
//! GET    /v1/sources/{name}/groups                    list
//! POST   /v1/sources/{name}/groups                    create {"name","start"?,"reset"?}
//! GET    /v1/sources/{name}/groups/{group}            show
//! POST   /v1/sources/{name}/groups/{group}/seek       {"to"|"offset"|"time"|"position"|"gtid"}
//! POST   /v1/sources/{name}/groups/{group}/commit     {"offset"}
//! DELETE /v1/sources/{name}/groups/{group}
//! POST   /v1/sinks/{name}/restart                     restart a failed sink
//! ```
//!
//! Errors are JSON `{"error": CODE, "detail": TEXT}` ([`error`]). With a
//! token configured every route but `/` and `/health` needs
//! `Authorization: Bearer TOKEN` (401 otherwise).
//!
//! - [`source`]: the served logs and the async wake-up on new records.
//! - [`changes`]: the NDJSON stream and commits.
//! - [`groups`]: group management. [`seek`]: start points as text.
//! - [`status`], [`metrics`]: health, status and Prometheus; [`page`]:
//!   the status page over `/status`.
//! - [`sinks`]: restarting a failed sink.

pub mod changes;
pub mod error;
pub mod groups;
pub mod metrics;
pub mod page;
pub mod seek;
pub mod sinks;
pub mod snapshots;
pub mod source;
pub mod status;

pub use error::ApiError;
pub use seek::{Seek, SeekError};
pub use source::{Source, Sources};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Configuration of the HTTP listener.
#[derive(Clone)]
pub struct HttpConfig {
    /// Address to listen on (`--http-addr`); default 127.0.0.1:8080.
    pub addr: SocketAddr,
    /// Bearer token clients must give; `None` for no auth.
    pub token: Option<String>,
}

impl std::fmt::Debug for HttpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpConfig")
            .field("addr", &self.addr)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .finish()
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 8080)),
            token: None,
        }
    }
}

/// A listen address: `HOST:PORT`, or a bare port bound on 127.0.0.1.
pub fn parse_listen_addr(text: &str) -> Result<SocketAddr, String> {
    if let Ok(port) = text.parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    text.parse()
        .map_err(|_| format!("{text:?}: expected HOST:PORT or a port"))
}

pub(crate) struct Shared {
    pub sources: Sources,
    pub sinks: crate::sink::Sinks,
    pub token: Option<String>,
    pub metrics: Option<PrometheusHandle>,
}

pub(crate) type AppState = Arc<Shared>;

/// Runs `f` on the blocking pool (file I/O, fsyncs of group commits,
/// reading and formatting records).
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            format!("worker failed: {e}"),
        )
    })
}

/// A bound HTTP server.
pub struct HttpServer {
    listener: TcpListener,
    router: Router,
}

impl HttpServer {
    /// Binds the listener. `metrics` is the process's Prometheus handle
    /// ([`metrics::install`]); without one `/metrics` answers 503.
    /// `sinks` are the process's sinks, shown in `/status`.
    pub async fn bind(
        config: HttpConfig,
        sources: Sources,
        sinks: crate::sink::Sinks,
        metrics: Option<PrometheusHandle>,
    ) -> std::io::Result<HttpServer> {
        let listener = TcpListener::bind(config.addr).await?;
        let state = Arc::new(Shared {
            sources,
            sinks,
            token: config.token.filter(|t| !t.is_empty()),
            metrics,
        });
        Ok(HttpServer {
            listener,
            router: router(state),
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until `shutdown` completes (open follow streams are then
    /// cut).
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        use axum::serve::ListenerExt;
        // Without TCP_NODELAY a follow stream's small writes wait for the
        // client's delayed ACK: 40 ms stalls, measured by
        // benches/commit_latency.rs.
        let listener = self.listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!("TCP_NODELAY on an HTTP connection: {e}");
            }
        });
        axum::serve(listener, self.router)
            .with_graceful_shutdown(shutdown)
            .await
    }
}

fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/status", get(status::status))
        .route("/metrics", get(status::metrics))
        .route("/v1/sources/{name}/changes", get(changes::changes))
        .route(
            "/v1/sources/{name}/groups",
            get(groups::list).post(groups::create),
        )
        .route(
            "/v1/sources/{name}/groups/{group}",
            get(groups::get).delete(groups::delete),
        )
        .route("/v1/sources/{name}/groups/{group}/seek", post(groups::seek))
        .route(
            "/v1/sources/{name}/groups/{group}/commit",
            post(changes::commit),
        )
        .route(
            "/v1/sources/{name}/snapshots",
            get(snapshots::list).post(snapshots::start),
        )
        .route(
            "/v1/sources/{name}/snapshots/{id}",
            axum::routing::delete(snapshots::cancel),
        )
        .route("/v1/sinks/{name}/restart", post(sinks::restart))
        .route_layer(axum::middleware::from_fn_with_state(state.clone(), auth));
    Router::new()
        .route("/", get(page::page))
        .route("/health", get(status::health))
        .merge(api)
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "method not allowed on this endpoint",
            )
        })
        .with_state(state)
}

async fn auth(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if let Some(token) = &state.token {
        let given = req
            .headers()
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let ok = given.is_some_and(|g| constant_time_eq(g.as_bytes(), token.as_bytes()));
        if !ok {
            return Err(ApiError::new(
                axum::http::StatusCode::UNAUTHORIZED,
                "unauthorized",
                if given.is_some() {
                    "bad bearer token"
                } else {
                    "missing Authorization: Bearer token"
                },
            ));
        }
    }
    Ok(next.run(req).await)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses() {
        assert_eq!(
            parse_listen_addr("8080").unwrap(),
            SocketAddr::from(([127, 0, 0, 1], 8080))
        );
        assert_eq!(
            parse_listen_addr("0.0.0.0:9").unwrap(),
            SocketAddr::from(([0, 0, 0, 0], 9))
        );
        assert!(parse_listen_addr("localhost").is_err());
        assert!(parse_listen_addr("70000").is_err());
    }

    #[test]
    fn token_comparison() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
