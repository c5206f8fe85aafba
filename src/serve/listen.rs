//! Starting the serving listeners of `sluice run`: the Canal protocol and
//! the HTTP API over the logs this process captures into. Flags
//! ([`ServeArgs`]) win over the config file's `canal_addr` / `http_addr`.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use sluice_storage::Log;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::canal::{CanalArgs, CanalConfig, CanalServer, CanalToml};
use super::destination::{Destination, Destinations};
use super::http::{HttpConfig, HttpServer, Source, Sources};
use super::storage::StorageDestination;
use crate::pipeline::StatusHandle;

/// `sluice run` flags of the listeners.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub canal: CanalArgs,
    /// Serve the HTTP API on this address (e.g. 127.0.0.1:8080).
    #[arg(long = "http-addr", value_name = "ADDR", value_parser = super::http::parse_listen_addr)]
    pub http_addr: Option<SocketAddr>,
    /// Bearer token the HTTP API requires (except on /health).
    #[arg(
        long = "http-token",
        env = "SLUICE_HTTP_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub http_token: Option<String>,
}

/// One captured source to serve.
pub struct Served {
    pub name: String,
    pub log: Log,
    pub status: StatusHandle,
}

/// Binds the configured listeners and runs them until `stop` turns true.
/// `file` is the config file (`canal_addr`, `canal_protect_groups`);
/// `http_addr` the file's HTTP address.
pub async fn start(
    args: &ServeArgs,
    file: &crate::config::Config,
    http_addr: Option<&str>,
    sources: Vec<Served>,
    sinks: crate::sink::Sinks,
    stop: watch::Receiver<bool>,
    tasks: &mut JoinSet<anyhow::Result<()>>,
) -> anyhow::Result<()> {
    let parse = |what: &str, text: Option<&str>| -> anyhow::Result<Option<SocketAddr>> {
        text.map(|t| {
            t.parse()
                .with_context(|| format!("{what} {t:?} is not HOST:PORT"))
        })
        .transpose()
    };
    let file_canal = CanalToml {
        addr: parse("canal_addr", file.canal_addr.as_deref())?,
        protect: Some(file.canal_protect_groups),
        ..Default::default()
    };
    let http = match (args.http_addr, http_addr) {
        (Some(a), _) => Some(a),
        (None, Some(t)) => Some(
            super::http::parse_listen_addr(t)
                .map_err(|e| anyhow::anyhow!("http_addr {t:?}: {e}"))?,
        ),
        (None, None) => None,
    };
    let mut http_sources = Sources::new();
    for s in &sources {
        http_sources.insert(Source::new(&s.name, s.log.clone(), Some(s.status.clone())));
    }
    let dests: Vec<(Arc<dyn Destination>, StatusHandle)> = sources
        .into_iter()
        .map(|s| {
            (
                StorageDestination::new(&s.name, s.log) as Arc<dyn Destination>,
                s.status,
            )
        })
        .collect();
    if let Some(config) = CanalConfig::from_sources(Some(&file_canal), &args.canal)? {
        let mut d = Destinations::new();
        for (dest, _) in &dests {
            d.insert(dest.clone());
        }
        let server = CanalServer::bind(config.clone(), d)
            .await
            .with_context(|| format!("cannot listen for Canal clients on {}", config.addr))?;
        let stop = stopped(stop.clone());
        tasks.spawn(async move { Ok(server.run(stop).await?) });
    }
    if let Some(addr) = http {
        let config = HttpConfig {
            addr,
            token: args.http_token.clone(),
        };
        let metrics = super::http::metrics::install();
        let server = HttpServer::bind(config, http_sources, sinks, metrics)
            .await
            .with_context(|| format!("cannot listen for HTTP on {addr}"))?;
        tracing::info!(addr = %server.local_addr()?, "HTTP API listening");
        let stop = stopped(stop.clone());
        tasks.spawn(async move { Ok(server.run(stop).await?) });
    }
    Ok(())
}

async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}
