//! `sluice run`: capture one or more sources into their logs.

use crate::config::{self, Config, Fsync, Secret};
use crate::filter::TableFilter;
use crate::log_settings::{LogSettings, Setting};
use crate::pipeline::{self, CaptureOptions, StatusHandle};
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
    /// Roll a segment at this size (1048576, 64MB, 128MiB). Default 128MiB.
    #[arg(long)]
    pub segment_bytes: Option<String>,
    /// Roll a segment at this age (30s, 12h, 1d, none). Default 1d.
    #[arg(long)]
    pub segment_age: Option<String>,
    /// Delete the oldest segments while the log is larger (10GiB, none). Default none.
    #[arg(long)]
    pub retention_bytes: Option<String>,
    /// Delete segments sealed longer ago (7d, none). Default 7d.
    #[arg(long)]
    pub retention_age: Option<String>,
    /// Hard cap on the log's size, even over protected groups (none). Default none.
    #[arg(long)]
    pub retention_max_bytes: Option<String>,
    /// Compression of log batches: none, zstd or zstd:LEVEL (1..=22). Default zstd:1.
    #[arg(long)]
    pub compression: Option<String>,
    /// Snapshot of the existing rows: never, initial (a new log reads every
    /// captured table first, while streaming) or initial_only (then stop).
    #[arg(long, value_parser = ["never", "initial", "initial_only"])]
    pub snapshot: Option<String>,
    /// `current`: capture up to the server's binlog end at start-up, then exit 0.
    #[arg(long, value_parser = ["current"])]
    pub until: Option<String>,
    /// Resume by `position` (file and offset, the default) or by `gtid`.
    #[arg(long, default_value = "position", value_parser = ["position", "gtid"])]
    pub resume: String,
    /// After a failover to a server that lacks transactions the log holds,
    /// resume from what that server has (with a warning) instead of waiting.
    #[arg(long)]
    pub accept_errant: bool,
    /// Canal and HTTP listeners.
    #[command(flatten)]
    pub serve: crate::serve::listen::ServeArgs,
}

/// Everything needed to start one source.
struct Planned {
    options: CaptureOptions,
    log_config: LogConfig,
}

/// Opens a source's log. Opening may write (recovery cuts a torn tail, the
/// settings file is rewritten), so a full disk is waited out with backoff
/// as capture waits one out later, instead of ending the process.
async fn open_log(source: &str, dir: &std::path::Path, config: LogConfig) -> anyhow::Result<Log> {
    let mut wait = std::time::Duration::from_secs(1);
    loop {
        match Log::open(dir, config.clone()) {
            Ok(log) => return Ok(log),
            Err(e) if e.is_disk_full() => {
                metrics::counter!("sluice_disk_full_total", "source" => source.to_string())
                    .increment(1);
                tracing::error!(source, log = %dir.display(), error = %e, retry_in = ?wait,
                    "the log's disk is full: cannot open the log; free space and capture starts");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(std::time::Duration::from_secs(30));
            }
            Err(e) => {
                return Err(e).with_context(|| format!("cannot open the log in {}", dir.display()))
            }
        }
    }
}

pub async fn main(args: RunArgs) -> anyhow::Result<()> {
    let (data, sources, sinks) = plan(&args)?;
    // Runs that end by themselves: sinks deliver everything first.
    let bounded = args.until.is_some()
        || sources
            .iter()
            .all(|p| p.options.snapshot.mode == crate::snapshot::Mode::InitialOnly);
    // Before capture starts, so that no early metric goes to the no-op
    // recorder (idempotent: the HTTP listener gets the same handle).
    crate::serve::http::metrics::install();
    std::fs::create_dir_all(&data)
        .with_context(|| format!("cannot create the data folder {}", data.display()))?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks: tokio::task::JoinSet<Result<(), pipeline::CaptureError>> =
        tokio::task::JoinSet::new();
    let mut logs = std::collections::HashMap::new();
    let mut served = Vec::new();
    for planned in sources {
        let dir = pipeline::log_dir(&data, &planned.options.name);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create the log folder {}", dir.display()))?;
        let log = open_log(&planned.options.name, &dir, planned.log_config).await?;
        logs.insert(planned.options.name.clone(), log.clone());
        let status = StatusHandle::new(&planned.options.name);
        served.push(crate::serve::listen::Served {
            name: planned.options.name.clone(),
            log: log.clone(),
            status: status.clone(),
        });
        let stop = stop_rx.clone();
        let capture = pipeline::run(planned.options, log, status, stop);
        tasks.spawn(capture);
    }
    // Sinks run apart from capture: their errors end up in their own
    // state (`/status`), never in `failed` below.
    let mut sink_tasks = tokio::task::JoinSet::new();
    let mut sink_handles = Vec::new();
    for config in sinks {
        let Some(log) = logs.get(&config.source) else {
            bail!(
                "sink {} reads source {}, which is not configured",
                config.name,
                config.source
            );
        };
        let handle = crate::sink::SinkHandle::new(&config.name, &config.kind, &config.source);
        let options = sink_options(&config, handle.clone())
            .with_context(|| format!("sink {}", config.name))?;
        let destination =
            crate::serve::storage::StorageDestination::new(&config.source, log.clone());
        let stop = stop_rx.clone();
        sink_handles.push((handle.clone(), log.clone()));
        sink_tasks.spawn(crate::sink::supervisor::supervise(
            handle,
            stop_rx.clone(),
            move || {
                run_sink(
                    config.clone(),
                    options.clone(),
                    destination.clone(),
                    stop.clone(),
                )
            },
        ));
    }
    let sinks = crate::sink::Sinks::new(sink_handles.iter().map(|(h, _)| h.clone()).collect());
    let file = args
        .config
        .as_deref()
        .map(Config::load)
        .transpose()?
        .unwrap_or_default();
    let mut listeners = tokio::task::JoinSet::new();
    // The token flag (or SLUICE_HTTP_TOKEN) wins over the config file's.
    let mut serve = args.serve.clone();
    if serve.http_token.is_none() {
        serve.http_token = file.http_token.as_ref().map(|t| t.expose().to_string());
    }
    crate::serve::listen::start(
        &serve,
        &file,
        file.http_addr.as_deref(),
        served,
        sinks,
        stop_rx.clone(),
        &mut listeners,
    )
    .await?;
    // The first failure ends the process and is its exit message (so it is
    // not also logged); later ones, while the rest stops, are logged.
    let mut failed: Option<anyhow::Error> = None;
    loop {
        tokio::select! {
            done = tasks.join_next() => match done {
                None => break,
                Some(Ok(Ok(()))) => {}
                Some(Ok(Err(e))) => {
                    if failed.is_some() {
                        tracing::error!("{e}");
                    } else {
                        failed = Some(e.into());
                    }
                    let _ = stop_tx.send(true);
                }
                Some(Err(e)) => {
                    failed.get_or_insert_with(|| anyhow::anyhow!("capture task failed: {e}"));
                    let _ = stop_tx.send(true);
                }
            },
            _ = shutdown_signal() => {
                tracing::info!("shutting down");
                let _ = stop_tx.send(true);
            }
        }
    }
    if failed.is_none() && bounded {
        // `--until current` or `initial_only`: the sinks deliver what was
        // captured, then stop.
        drain(&sink_handles, stop_rx.clone()).await;
    }
    let _ = stop_tx.send(true);
    while sink_tasks.join_next().await.is_some() {}
    while let Some(done) = listeners.join_next().await {
        match done {
            Ok(Err(e)) => {
                failed.get_or_insert(e);
            }
            Err(e) => {
                failed.get_or_insert_with(|| anyhow::anyhow!("listener task failed: {e}"));
            }
            Ok(Ok(())) => {}
        }
    }
    match failed {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// A source's configuration error as one line: `source NAME: what`.
fn source_error(name: &str, e: source::SourceError) -> anyhow::Error {
    match e {
        source::SourceError::Config(m) => anyhow::anyhow!("source {name}: {m}"),
        other => anyhow::anyhow!("source {name}: {other}"),
    }
}

/// Waits until every sink delivered up to its log's end (or failed), or
/// until `stop`.
async fn drain(sinks: &[(crate::sink::SinkHandle, Log)], mut stop: watch::Receiver<bool>) {
    use crate::sink::SinkState;
    loop {
        let done = sinks.iter().all(|(h, log)| {
            let r = h.report();
            r.state == SinkState::Failed || r.offset.is_some_and(|o| o >= log.durable_end())
        });
        if done || *stop.borrow() {
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_millis(100)) => {}
            _ = shutdown_signal() => return,
            _ = stop.changed() => return,
        }
    }
}

/// The options of one configured sink; errors here are configuration
/// errors and stop `sluice run` at start.
fn sink_options(
    config: &config::SinkConfig,
    status: crate::sink::SinkHandle,
) -> anyhow::Result<crate::sink::SinkOptions> {
    use crate::sink::message::KeyRules;
    let keys = match config.kind.as_str() {
        "kafka" if config.partition_hash.is_empty() => KeyRules::by_primary_key(),
        "kafka" => KeyRules::parse(&config.partition_hash).map_err(anyhow::Error::msg)?,
        _ => KeyRules::by_table(),
    };
    if config.kind == "mysql" {
        source::SourceConfig::from_url(config.url.expose())
            .map_err(|e| anyhow::anyhow!("bad target url: {e}"))?;
    }
    Ok(crate::sink::SinkOptions {
        name: config.name.clone(),
        format: config.format.parse().map_err(anyhow::Error::msg)?,
        filter: TableFilter::new(&config.include, &config.exclude)?,
        start: if config.start == "latest" {
            sluice_storage::ResetPolicy::Latest
        } else {
            sluice_storage::ResetPolicy::Earliest
        },
        commit_every: std::time::Duration::from_millis(200),
        keys,
        status,
    })
}

/// One start of a configured sink: connect to its target, then deliver
/// until shutdown or an error (which the supervisor handles).
async fn run_sink(
    config: config::SinkConfig,
    options: crate::sink::SinkOptions,
    destination: std::sync::Arc<crate::serve::storage::StorageDestination>,
    stop: watch::Receiver<bool>,
) -> Result<(), crate::sink::SinkError> {
    use crate::sink::{self, nats};
    if config.kind == "mysql" {
        let mirror = sink::mysql::MysqlSink::new(sink::mysql::MysqlOptions {
            url: config.url.expose().to_string(),
            schemas: config.schemas.clone(),
            allow_no_pk: config.allow_no_pk,
            ddl: config.ddl,
            replay_accounts: config.replay_accounts,
            workers: config.workers,
        })?;
        return sink::run(options, destination, mirror, stop).await;
    }
    #[cfg(feature = "kafka")]
    if config.kind == "kafka" {
        let kafka = sink::kafka::KafkaSink::new(sink::kafka::KafkaOptions {
            brokers: config.url.expose().to_string(),
            topic: config.topic.clone(),
            source: config.source.clone(),
            properties: config.properties.clone().into_iter().collect(),
        })?;
        return sink::run(options, destination, kafka, stop).await;
    }
    let prefix = config.subject.split('{').next().unwrap_or("sluice.");
    let nats = nats::NatsSink::connect(nats::NatsOptions {
        url: config.url.expose().to_string(),
        subject: config.subject.clone(),
        stream: config.stream.clone(),
        stream_subjects: vec![format!("{}>", prefix.trim_end_matches('>'))],
        source: config.source.clone(),
        duplicate_window: std::time::Duration::from_secs(600),
    })
    .await?;
    sink::run(options, destination, nats, stop).await
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
type Plan = (PathBuf, Vec<Planned>, Vec<config::SinkConfig>);

fn plan(args: &RunArgs) -> anyhow::Result<Plan> {
    let mut config = match &args.config {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    if let Some(url) = &args.source {
        let mut first = config.sources.first().cloned().unwrap_or_default();
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
    let text = |v: &Option<String>| v.clone().map(Setting::Text);
    config.override_log_settings(&LogSettings {
        segment_bytes: text(&args.segment_bytes),
        segment_age: text(&args.segment_age),
        retention_bytes: text(&args.retention_bytes),
        retention_age: text(&args.retention_age),
        retention_max_bytes: text(&args.retention_max_bytes),
        compression: text(&args.compression),
    });
    config.validate()?;
    let data = args
        .data
        .clone()
        .or(config.data.clone())
        .context("no data folder: give --data DIR or `data = ...` in the config file")?;

    let mut planned = Vec::new();
    for (i, s) in config.sources.iter().enumerate() {
        let mut source_config =
            source::SourceConfig::from_url(s.url.expose()).map_err(|e| source_error(&s.name, e))?;
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
        let fsync = match fsync {
            Fsync::Always => FsyncPolicy::Always,
            Fsync::Interval(d) => FsyncPolicy::Interval(d),
            Fsync::Never => FsyncPolicy::Never,
        };
        let log_config = config.log_config(s, fsync)?;
        planned.push(Planned {
            options: CaptureOptions {
                name: s.name.clone(),
                source: source_config,
                start: StartPoint::parse(&s.start).map_err(|e| source_error(&s.name, e))?,
                filter: TableFilter::new(&s.include, &s.exclude)
                    .map_err(|e| anyhow::anyhow!("source {}: {e}", s.name))?,
                until_current: args.until.is_some(),
                resume_by_gtid: args.resume == "gtid",
                accept_errant: args.accept_errant,
                dir: data.join(&s.name),
                snapshot: s.snapshot_options(if i == 0 {
                    args.snapshot.as_deref()
                } else {
                    None
                })?,
            },
            log_config,
        });
    }
    Ok((data, planned, config.sinks))
}
