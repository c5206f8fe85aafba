//! `sluice run` configuration: a TOML file (`--config FILE`), or flags for a
//! single source, or both (flags override the file's first source).
//!
//! ```toml
//! data = "/var/lib/sluice"          # one log per source under DATA/NAME
//! fsync = "interval:100"            # always | interval:MS | never
//! segment_bytes = "128MiB"          # roll segments at this size ...
//! segment_age = "1d"                # ... or age (none: never by age)
//! retention_bytes = "none"          # delete the oldest segments past this size
//! retention_age = "7d"              # ... or age
//! retention_max_bytes = "none"      # hard cap, even over protected groups
//! compression = "zstd:1"            # none | zstd (level 3) | zstd:LEVEL
//! canal_protect_groups = false      # groups made by Canal subscriptions hold retention
//!
//! [[source]]
//! name = "shop"
//! url = "mysql://repl@db.internal:3306?tls=verify&ca=/etc/ssl/db-ca.pem"
//! password_env = "SHOP_DB_PASSWORD" # or password_file = "/run/secrets/shop"
//! server_id = 4001                  # must be unique among the server's replicas
//! start = "current"                 # earliest | current | FILE:POS | gtid:SET | time:RFC3339
//! include = 'shop\..*'              # Canal filter.regex
//! exclude = 'shop\.tmp_.*'          # Canal filter.black.regex
//! retention_age = "30d"             # any log setting above, for this source
//! snapshot = "initial"              # never | initial | initial_only (existing rows first)
//! snapshot_chunk_rows = 8192        # rows per snapshot chunk
//! snapshot_parallel = 2             # chunk readers, one connection each
//! snapshot_keyless = "exact"        # or at_least_once: keyless tables off MariaDB
//! snapshot_new_tables = false       # a restart snapshots tables new to the filter
//! ```
//!
//! Unknown keys are an error, so a typo never silently drops a setting.
//! Secrets are never printed: [`Secret`]'s `Debug` shows `***`.

use crate::log_settings::{LogSettings, Setting};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Folder holding one log per source (`DATA/NAME`).
    pub data: Option<PathBuf>,
    /// Default fsync policy of every source's log.
    pub fsync: Option<String>,
    /// Default log settings of every source (see `log_settings`).
    pub segment_bytes: Option<Setting>,
    pub segment_age: Option<Setting>,
    pub retention_bytes: Option<Setting>,
    pub retention_age: Option<Setting>,
    pub retention_max_bytes: Option<Setting>,
    pub compression: Option<Setting>,
    /// Groups created by Canal subscriptions are protected.
    #[serde(default)]
    pub canal_protect_groups: bool,
    #[serde(default, rename = "source")]
    pub sources: Vec<SourceConfig>,
    /// Canal protocol listener, e.g. `127.0.0.1:11111`.
    pub canal_addr: Option<String>,
    /// HTTP API listener, e.g. `127.0.0.1:8080`.
    pub http_addr: Option<String>,
    /// Bearer token HTTP clients must give (`--http-token`); none: no auth.
    pub http_token: Option<Secret>,
    #[serde(default, rename = "sink")]
    pub sinks: Vec<SinkConfig>,
}

/// One sink: a consumer group over a source's log delivering elsewhere.
///
/// ```toml
/// [[sink]]
/// name = "events"                       # its consumer group is sink-events
/// source = "shop"
/// kind = "nats"
/// url = "nats://127.0.0.1:4222"
/// subject = "sluice.{source}.{db}.{table}"
/// stream = "SLUICE"                     # created if missing, subjects sluice.>
/// format = "canal-json"                 # json | canal-json | debezium-json
/// include = 'shop\..*'
/// start = "earliest"                    # earliest | latest (new groups)
///
/// [[sink]]
/// name = "to-kafka"
/// source = "shop"
/// kind = "kafka"                        # needs a build with --features kafka
/// url = "127.0.0.1:9092"                # bootstrap servers
/// topic = "sluice.{source}.{db}.{table}"
/// partition_hash = ['shop\.orders:id', '.*\..*:$pk$']   # default: $pk$
/// properties = { "compression.type" = "zstd" }
/// ```
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct SinkConfig {
    pub name: String,
    pub source: String,
    /// `nats`, `kafka` (`url`: bootstrap servers) or `mysql` (a mirror:
    /// `url` is the target server).
    pub kind: String,
    pub url: Secret,
    #[serde(default = "default_subject")]
    pub subject: String,
    #[serde(default = "default_stream")]
    pub stream: String,
    /// kafka: topic template.
    #[serde(default = "default_subject")]
    pub topic: String,
    /// kafka: message keys, Canal's `partitionHash` rules `REGEX:COLUMNS`
    /// (COLUMNS `col1^col2` or `$pk$`); empty means `.*:$pk$`.
    #[serde(default)]
    pub partition_hash: Vec<String>,
    /// kafka: further librdkafka producer properties.
    #[serde(default)]
    pub properties: std::collections::BTreeMap<String, String>,
    #[serde(default = "default_format")]
    pub format: String,
    #[serde(default)]
    pub include: String,
    #[serde(default)]
    pub exclude: String,
    #[serde(default = "default_sink_start")]
    pub start: String,
    /// mysql: schema renames, `source_db = "target_db"`; when set, only
    /// these schemas are mirrored.
    #[serde(default)]
    pub schemas: std::collections::BTreeMap<String, String>,
    /// mysql: apply tables without a primary key by matching every column.
    #[serde(default)]
    pub allow_no_pk: bool,
    /// mysql: replay DDL statements (default true).
    #[serde(default = "default_true")]
    pub ddl: bool,
    /// mysql: also replay account and privilege statements (`GRANT`,
    /// `CREATE USER`, …) and writes to the system schemas (default false).
    #[serde(default)]
    pub replay_accounts: bool,
    /// mysql: target connections applying non-conflicting transactions
    /// at once (default 4; 1 applies one transaction at a time).
    #[serde(default = "default_workers")]
    pub workers: usize,
}

fn default_workers() -> usize {
    crate::sink::mysql::DEFAULT_WORKERS
}

fn default_true() -> bool {
    true
}

fn default_subject() -> String {
    "sluice.{source}.{db}.{table}".into()
}

fn default_stream() -> String {
    "SLUICE".into()
}

fn default_format() -> String {
    "json".into()
}

fn default_sink_start() -> String {
    "earliest".into()
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    #[serde(default = "default_name")]
    pub name: String,
    /// `mysql://USER[:PASSWORD]@HOST:PORT[?tls=…&ca=…]`
    pub url: Secret,
    pub password_env: Option<String>,
    pub password_file: Option<PathBuf>,
    #[serde(default = "default_server_id")]
    pub server_id: u32,
    #[serde(default = "default_start")]
    pub start: String,
    #[serde(default)]
    pub include: String,
    #[serde(default)]
    pub exclude: String,
    pub fsync: Option<String>,
    /// This source's log settings, over the top-level ones.
    pub segment_bytes: Option<Setting>,
    pub segment_age: Option<Setting>,
    pub retention_bytes: Option<Setting>,
    pub retention_age: Option<Setting>,
    pub retention_max_bytes: Option<Setting>,
    pub compression: Option<Setting>,
    /// `never` (default), `initial` or `initial_only` (src/snapshot/).
    pub snapshot: Option<String>,
    /// Rows per snapshot chunk (default 8192).
    pub snapshot_chunk_rows: Option<u64>,
    /// Snapshot chunk readers, each on its own connection (default 2).
    pub snapshot_parallel: Option<usize>,
    /// `exact` (default) or `at_least_once`: how a table without a usable
    /// key is read on a server other than MariaDB.
    pub snapshot_keyless: Option<String>,
    /// Snapshot the tables a restart added to the include filter (default
    /// false).
    pub snapshot_new_tables: Option<bool>,
}

impl SourceConfig {
    /// The snapshot settings, `flag` (`--snapshot`) over the `snapshot` key.
    pub fn snapshot_options(
        &self,
        flag: Option<&str>,
    ) -> Result<crate::snapshot::SnapshotOptions, ConfigError> {
        let invalid = |m: String| ConfigError::Invalid(format!("source {:?}: {m}", self.name));
        let mut opts = crate::snapshot::SnapshotOptions::default();
        if let Some(mode) = flag.or(self.snapshot.as_deref()) {
            opts.mode = crate::snapshot::Mode::parse(mode).map_err(invalid)?;
        }
        if let Some(rows) = self.snapshot_chunk_rows {
            if rows == 0 {
                return Err(invalid("snapshot_chunk_rows must be at least 1".into()));
            }
            opts.chunk_rows = rows;
        }
        if let Some(n) = self.snapshot_parallel {
            if n == 0 || n > 64 {
                return Err(invalid(format!("snapshot_parallel {n}: expected 1 to 64")));
            }
            opts.parallel = n;
        }
        opts.keyless_at_least_once = match self.snapshot_keyless.as_deref() {
            None | Some("exact") => false,
            Some("at_least_once") => true,
            Some(other) => {
                return Err(invalid(format!(
                    "snapshot_keyless {other:?}: expected exact or at_least_once"
                )))
            }
        };
        opts.new_tables = self.snapshot_new_tables.unwrap_or(false);
        Ok(opts)
    }
}

impl Default for SourceConfig {
    fn default() -> Self {
        SourceConfig {
            name: default_name(),
            url: Secret(String::new()),
            password_env: None,
            password_file: None,
            server_id: default_server_id(),
            start: default_start(),
            include: String::new(),
            exclude: String::new(),
            fsync: None,
            segment_bytes: None,
            segment_age: None,
            retention_bytes: None,
            retention_age: None,
            retention_max_bytes: None,
            compression: None,
            snapshot: None,
            snapshot_chunk_rows: None,
            snapshot_parallel: None,
            snapshot_keyless: None,
            snapshot_new_tables: None,
        }
    }
}

pub fn default_name() -> String {
    "main".into()
}

pub fn default_server_id() -> u32 {
    4_000_000 + (std::process::id() % 100_000)
}

pub fn default_start() -> String {
    "current".into()
}

/// A string that must not reach logs (a URL with a password, a password).
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read password file {path}: {source}")]
    ReadPassword {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{0}")]
    Invalid(String),
}

/// The log settings of a level, gathered.
macro_rules! log_settings_of {
    ($s:expr) => {
        LogSettings {
            segment_bytes: $s.segment_bytes.clone(),
            segment_age: $s.segment_age.clone(),
            retention_bytes: $s.retention_bytes.clone(),
            retention_age: $s.retention_age.clone(),
            retention_max_bytes: $s.retention_max_bytes.clone(),
            compression: $s.compression.clone(),
        }
    };
}

/// A TOML error as one line, `line L, column C: MESSAGE` (toml's own
/// text spreads over several lines with the source excerpt).
fn toml_error(text: &str, e: &toml::de::Error) -> String {
    let message = e.message().trim().replace('\n', "; ");
    let Some(span) = e.span() else {
        return message;
    };
    let before = &text.as_bytes()[..span.start.min(text.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let column = before.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
    format!("line {line}, column {column}: {message}")
}

impl Config {
    /// The top-level log settings.
    pub fn log_settings(&self) -> LogSettings {
        log_settings_of!(self)
    }

    /// Sets the top-level log settings that `flags` gives.
    pub fn override_log_settings(&mut self, flags: &LogSettings) {
        let merged = flags.or(&self.log_settings());
        self.segment_bytes = merged.segment_bytes;
        self.segment_age = merged.segment_age;
        self.retention_bytes = merged.retention_bytes;
        self.retention_age = merged.retention_age;
        self.retention_max_bytes = merged.retention_max_bytes;
        self.compression = merged.compression;
    }

    /// A source's log configuration: its settings over the top-level ones
    /// over the defaults, with `fsync` as given. Errors name the source
    /// and the key.
    pub fn log_config(
        &self,
        source: &SourceConfig,
        fsync: sluice_storage::FsyncPolicy,
    ) -> Result<sluice_storage::LogConfig, ConfigError> {
        let mut config = sluice_storage::LogConfig {
            fsync,
            // zstd level 1: a quarter of the bytes at the same ingest speed
            // (README, Performance: log compression).
            compression: sluice_storage::Compression::Zstd(1),
            ..Default::default()
        };
        log_settings_of!(source)
            .or(&self.log_settings())
            .apply(&mut config)
            .map_err(|e| ConfigError::Invalid(format!("source {:?}: {e}", source.name)))?;
        if let (Some(cap), Some(bytes)) = (config.retention_max_bytes, config.retention_bytes) {
            if cap < bytes {
                return Err(ConfigError::Invalid(format!(
                    "source {:?}: retention_max_bytes ({cap}) must not be below retention_bytes ({bytes})",
                    source.name
                )));
            }
        }
        Ok(config)
    }

    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Config::parse(&text).map_err(|e| match e {
            ConfigError::Invalid(message) => ConfigError::Parse {
                path: path.to_path_buf(),
                message,
            },
            other => other,
        })
    }

    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let config: Config =
            toml::from_str(text).map_err(|e| ConfigError::Invalid(toml_error(text, &e)))?;
        config.validate()?;
        Ok(config)
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut names = std::collections::HashSet::new();
        for source in &self.sources {
            if source.name.is_empty()
                || !source
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(ConfigError::Invalid(format!(
                    "source name {:?} must be letters, digits, '-' or '_' (it names a folder)",
                    source.name
                )));
            }
            if !names.insert(source.name.as_str()) {
                return Err(ConfigError::Invalid(format!(
                    "two sources are named {:?}; names must be unique",
                    source.name
                )));
            }
            if let Some(fsync) = source.fsync.as_deref().or(self.fsync.as_deref()) {
                parse_fsync(fsync)?;
            }
            self.log_config(source, sluice_storage::FsyncPolicy::Never)?;
        }
        for sink in &self.sinks {
            if !names.contains(sink.source.as_str()) {
                return Err(ConfigError::Invalid(format!(
                    "sink {:?} reads source {:?}, which is not configured",
                    sink.name, sink.source
                )));
            }
            match sink.kind.as_str() {
                "nats" | "mysql" => {}
                "kafka" if cfg!(feature = "kafka") => {
                    crate::sink::message::KeyRules::parse(&sink.partition_hash)
                        .map_err(|e| ConfigError::Invalid(format!("sink {:?}: {e}", sink.name)))?;
                }
                "kafka" => {
                    return Err(ConfigError::Invalid(format!(
                        "sink {:?}: this sluice was built without Kafka support; rebuild it with `cargo build --release --features kafka`",
                        sink.name
                    )))
                }
                other => {
                    return Err(ConfigError::Invalid(format!(
                        "sink {:?}: kind {other:?} is not supported (nats, kafka or mysql)",
                        sink.name
                    )))
                }
            }
            if sink.workers == 0 || sink.workers > 64 {
                return Err(ConfigError::Invalid(format!(
                    "sink {:?}: workers = {} must be between 1 and 64",
                    sink.name, sink.workers
                )));
            }
            if !matches!(sink.start.as_str(), "earliest" | "latest") {
                return Err(ConfigError::Invalid(format!(
                    "sink {:?}: start {:?} must be earliest or latest",
                    sink.name, sink.start
                )));
            }
            sink.format
                .parse::<crate::format::Format>()
                .map_err(|e| ConfigError::Invalid(format!("sink {:?}: {e}", sink.name)))?;
        }
        Ok(())
    }
}

/// The fsync policy as text: `always`, `interval:MS` or `never`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fsync {
    Always,
    Interval(Duration),
    Never,
}

pub fn parse_fsync(text: &str) -> Result<Fsync, ConfigError> {
    match text {
        "always" => Ok(Fsync::Always),
        "never" => Ok(Fsync::Never),
        _ => text
            .strip_prefix("interval:")
            .and_then(|ms| ms.parse::<u64>().ok())
            .filter(|&ms| ms > 0)
            .map(|ms| Fsync::Interval(Duration::from_millis(ms)))
            .ok_or_else(|| {
                ConfigError::Invalid(format!(
                    "fsync {text:?}: expected always, never or interval:MS (e.g. interval:100)"
                ))
            }),
    }
}

impl SourceConfig {
    /// The password: from `password_env`, else `password_file` (first line),
    /// else whatever the URL carries.
    pub fn password(&self) -> Result<Option<Secret>, ConfigError> {
        if let Some(var) = &self.password_env {
            return std::env::var(var).map(|p| Some(Secret(p))).map_err(|_| {
                ConfigError::Invalid(format!(
                    "source {}: environment variable {var} (password_env) is not set",
                    self.name
                ))
            });
        }
        if let Some(path) = &self.password_file {
            let text =
                std::fs::read_to_string(path).map_err(|source| ConfigError::ReadPassword {
                    path: path.clone(),
                    source,
                })?;
            return Ok(Some(Secret(
                text.lines().next().unwrap_or_default().to_string(),
            )));
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const EXAMPLE: &str = r#"
data = "/tmp/x"
fsync = "interval:100"
[[source]]
name = "shop"
url = "mysql://repl:pw@127.0.0.1:3306"
server_id = 7
include = 'shop\..*'
"#;

    #[test]
    fn example_parses() {
        let c = Config::parse(EXAMPLE).unwrap();
        assert_eq!(c.sources.len(), 1);
        assert_eq!(c.sources[0].name, "shop");
        assert_eq!(c.sources[0].server_id, 7);
        assert_eq!(c.sources[0].start, "current");
        assert_eq!(c.fsync.as_deref(), Some("interval:100"));
    }

    #[test]
    fn http_listener_keys() {
        let c = Config::parse(&format!(
            "http_addr = \"127.0.0.1:8080\"\nhttp_token = \"tok3n\"\n{EXAMPLE}"
        ))
        .unwrap();
        assert_eq!(c.http_addr.as_deref(), Some("127.0.0.1:8080"));
        assert_eq!(c.http_token.as_ref().map(|t| t.expose()), Some("tok3n"));
        assert!(!format!("{c:?}").contains("tok3n"));
    }

    #[test]
    fn debug_never_shows_the_url_password() {
        let c = Config::parse(EXAMPLE).unwrap();
        let shown = format!("{c:?}");
        assert!(!shown.contains("pw@"), "{shown}");
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors() {
        assert!(Config::parse("datta = 'x'").is_err());
        let bad = EXAMPLE.replace("interval:100", "sometimes");
        let err = Config::parse(&bad).unwrap_err().to_string();
        assert!(err.contains("sometimes"), "{err}");
        let twice = format!("{EXAMPLE}\n[[source]]\nname = \"shop\"\nurl = \"mysql://x@y:1\"\n");
        assert!(Config::parse(&twice)
            .unwrap_err()
            .to_string()
            .contains("unique"));
    }

    #[test]
    fn sinks_are_checked_against_sources_and_kinds() {
        let mirror = format!(
            "{EXAMPLE}\n[[sink]]\nname = \"m\"\nsource = \"shop\"\nkind = \"mysql\"\nurl = \"mysql://u:p@h:1\"\n[sink.schemas]\nshop = \"shop_copy\"\n"
        );
        let c = Config::parse(&mirror).unwrap();
        assert_eq!(
            c.sinks[0].schemas.get("shop").map(String::as_str),
            Some("shop_copy")
        );
        assert!(c.sinks[0].ddl);
        assert_eq!(c.sinks[0].workers, 4);
        let one = mirror.replace("kind = \"mysql\"", "kind = \"mysql\"\nworkers = 1");
        assert_eq!(Config::parse(&one).unwrap().sinks[0].workers, 1);
        let none = mirror.replace("kind = \"mysql\"", "kind = \"mysql\"\nworkers = 0");
        let err = Config::parse(&none).unwrap_err().to_string();
        assert!(err.contains("workers = 0"), "{err}");
        let unknown_source = mirror.replace("source = \"shop\"", "source = \"nope\"");
        assert!(Config::parse(&unknown_source)
            .unwrap_err()
            .to_string()
            .contains("nope"));
        let bad_kind = mirror.replace("kind = \"mysql\"", "kind = \"carrier-pigeon\"");
        assert!(Config::parse(&bad_kind)
            .unwrap_err()
            .to_string()
            .contains("carrier-pigeon"));
    }

    #[test]
    fn fsync_policies() {
        assert_eq!(parse_fsync("always").unwrap(), Fsync::Always);
        assert_eq!(parse_fsync("never").unwrap(), Fsync::Never);
        assert_eq!(
            parse_fsync("interval:25").unwrap(),
            Fsync::Interval(Duration::from_millis(25))
        );
        assert!(parse_fsync("interval:0").is_err());
        assert!(parse_fsync("interval:").is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_text_never_panics(text in ".{0,200}") {
            let _ = Config::parse(&text);
        }
    }
}
