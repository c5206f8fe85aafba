//! `sluice run`: capture one or more sources into their logs.

use crate::config::{self, Config, Fsync, Secret, SourceConfig};
use crate::filter::TableFilter;
use crate::pipeline::{self, CaptureOptions, StatusHandle};
use crate::serve::http::{HttpConfig, HttpServer, Source, Sources};
use crate::source::{self, StartPoint};
use anyhow::{bail, Context};
use sluice_storage::{FsyncPolicy, Log, LogConfig};
use std::path::PathBuf;
use tokio::sync::watch;

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// TOML configuration file (see the README); flags override its first source.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Source URL `mysql://USER[:PASS]@HOST:PORT[?tls=…&ca=…]`.
    #[arg(long, env = "SLUICE_SOURCE", hide_env_values = true)]
    pub source: Option<String>,
    /// Password of the source user (prefer the environment variable).
    #[arg(long, env = "SLUICE_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// File whose first line is the source password.
    #[arg(long)]
    pub password_file: Option<PathBuf>,
    /// Data folder: one log per source under DATA/NAME.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Source name (names its log folder and the Canal destination).
    #[arg(long)]
    pub name: Option<String>,
    /// Replica server id; unique among the server's replicas.
    #[arg(long)]
    pub server_id: Option<u32>,
    /// Start of a new log: earliest, current, FILE:POS, gtid:SET or time:RFC3339.
    #[arg(long)]
    pub start: Option<String>,
    /// Tables to capture: comma-separated regexes on `schema.table` (Canal's filter.regex).
    #[arg(long)]
    pub include: Option<String>,
    /// Tables to leave out (Canal's filter.black.regex).
    #[arg(long)]
    pub exclude: Option<String>,
    /// When the log fsyncs: always, interval:MS or never.
    #[arg(long)]
    pub fsync: Option<String>,
    /// `current`: capture up to the server's binlog end at start-up, then exit 0.
    #[arg(long, value_parser = ["current"])]
    pub until: Option<String>,
    /// Resume by `position` (file and offset, the default) or by `gtid`.
    #[arg(long, default_value = "position", value_parser = ["position", "gtid"])]
    pub resume: String,
    /// Serve the HTTP API on this address (HOST:PORT, or a port on 127.0.0.1).
    #[arg(long, value_name = "ADDR", value_parser = crate::serve::http::parse_listen_addr)]
    pub http_addr: Option<std::net::SocketAddr>,
    /// Bearer token HTTP clients must give (default: none).
    #[arg(long, env = "SLUICE_HTTP_TOKEN", hide_env_values = true)]
    pub http_token: Option<String>,
}

/// Everything needed to start one source.
struct Planned {
    options: CaptureOptions,
    log_config: LogConfig,
}

/// The listeners of `sluice run`.
struct Listeners {
    http: Option<HttpConfig>,
}

pub async fn main(args: RunArgs) -> anyhow::Result<()> {
    let (data, sources, listeners) = plan(&args)?;
    let metrics = crate::serve::http::metrics::install();
    std::fs::create_dir_all(&data)
        .with_context(|| format!("cannot create the data folder {}", data.display()))?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    let mut served = Sources::new();
    for planned in sources {
        let dir = pipeline::log_dir(&data, &planned.options.name);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create the log folder {}", dir.display()))?;
        let log = Log::open(&dir, planned.log_config)
            .with_context(|| format!("cannot open the log in {}", dir.display()))?;
        let status = StatusHandle::new(&planned.options.name);
        served.insert(Source::new(
            &planned.options.name,
            log.clone(),
            Some(status.clone()),
        ));
        let stop = stop_rx.clone();
        tasks.spawn(pipeline::run(planned.options, log, status, stop));
    }
    if let Some(http) = listeners.http {
        let server = HttpServer::bind(http.clone(), served.clone(), metrics)
            .await
            .with_context(|| format!("cannot listen for HTTP on {}", http.addr))?;
        let addr = server.local_addr()?;
        tracing::info!(%addr, "HTTP API listening");
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let shutdown = async move {
                let _ = stop.wait_for(|s| *s).await;
            };
            if let Err(e) = server.run(shutdown).await {
                tracing::error!("HTTP server failed: {e}");
            }
        });
    }
    let mut failed = None;
    loop {
        tokio::select! {
            done = tasks.join_next() => match done {
                None => break,
                Some(Ok(Ok(()))) => {}
                Some(Ok(Err(e))) => {
                    tracing::error!("{e}");
                    failed.get_or_insert_with(|| e.to_string());
                    let _ = stop_tx.send(true);
                }
                Some(Err(e)) => {
                    failed.get_or_insert_with(|| format!("capture task failed: {e}"));
                    let _ = stop_tx.send(true);
                }
            },
            _ = shutdown_signal() => {
                tracing::info!("shutting down");
                let _ = stop_tx.send(true);
            }
        }
    }
    match failed {
        Some(e) => bail!(e),
        None => Ok(()),
    }
}

async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => return std::future::pending().await,
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// Merge the config file and the flags into one plan per source.
fn plan(args: &RunArgs) -> anyhow::Result<(PathBuf, Vec<Planned>, Listeners)> {
    let mut config = match &args.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    if let Some(url) = &args.source {
        let mut first = config.sources.first().cloned().unwrap_or(SourceConfig {
            name: config::default_name(),
            url: Secret(String::new()),
            password_env: None,
            password_file: None,
            server_id: config::default_server_id(),
            start: config::default_start(),
            include: String::new(),
            exclude: String::new(),
            fsync: None,
        });
        first.url = Secret(url.clone());
        if config.sources.is_empty() {
            config.sources.push(first);
        } else {
            config.sources[0] = first;
        }
    }
    if config.sources.is_empty() {
        bail!("no source: give --source mysql://USER@HOST:PORT or a --config file with [[source]]");
    }
    if let Some(first) = config.sources.first_mut() {
        if let Some(v) = &args.name {
            first.name = v.clone();
        }
        if let Some(v) = args.server_id {
            first.server_id = v;
        }
        if let Some(v) = &args.start {
            first.start = v.clone();
        }
        if let Some(v) = &args.include {
            first.include = v.clone();
        }
        if let Some(v) = &args.exclude {
            first.exclude = v.clone();
        }
        if let Some(v) = &args.password_file {
            first.password_file = Some(v.clone());
        }
    }
    if let Some(v) = &args.fsync {
        config.fsync = Some(v.clone());
    }
    config.validate()?;
    let data = args
        .data
        .clone()
        .or(config.data.clone())
        .context("no data folder: give --data DIR or `data = ...` in the config file")?;

    let mut planned = Vec::new();
    for (i, s) in config.sources.iter().enumerate() {
        let mut source_config = source::SourceConfig::from_url(s.url.expose())
            .with_context(|| format!("source {}: bad URL", s.name))?;
        let password = match s.password()? {
            Some(p) => Some(p),
            None if i == 0 => args.password.clone().map(Secret),
            None => None,
        };
        if let Some(p) = password {
            source_config.password = source::Password::new(p.expose());
        }
        source_config.server_id = s.server_id;
        let fsync = config::parse_fsync(
            s.fsync
                .as_deref()
                .or(config.fsync.as_deref())
                .unwrap_or("interval:100"),
        )?;
        let log_config = LogConfig {
            fsync: match fsync {
                Fsync::Always => FsyncPolicy::Always,
                Fsync::Interval(d) => FsyncPolicy::Interval(d),
                Fsync::Never => FsyncPolicy::Never,
            },
            ..LogConfig::default()
        };
        planned.push(Planned {
            options: CaptureOptions {
                name: s.name.clone(),
                source: source_config,
                start: StartPoint::parse(&s.start).with_context(|| format!("source {}", s.name))?,
                filter: TableFilter::new(&s.include, &s.exclude)
                    .with_context(|| format!("source {}", s.name))?,
                until_current: args.until.is_some(),
                resume_by_gtid: args.resume == "gtid",
                dir: data.join(&s.name),
            },
            log_config,
        });
    }
    let http_addr = match (args.http_addr, &config.http_addr) {
        (Some(a), _) => Some(a),
        (None, Some(text)) => Some(
            crate::serve::http::parse_listen_addr(text)
                .map_err(|e| anyhow::anyhow!("http_addr in the config file: {e}"))?,
        ),
        (None, None) => None,
    };
    let http = http_addr.map(|addr| HttpConfig {
        addr,
        token: args
            .http_token
            .clone()
            .or_else(|| config.http_token.as_ref().map(|t| t.expose().to_string())),
    });
    Ok((data, planned, Listeners { http }))
}
