//! Configuration of the Canal listener: the struct the server takes
//! ([`CanalConfig`]), the command-line flags of `sluice run`
//! ([`CanalArgs`]) and the `[canal]` table of the TOML file
//! ([`CanalToml`]). Flags override the file.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

use super::auth::Credentials;
use super::frame::DEFAULT_MAX_FRAME;
use super::value::TimeZone;
use crate::serve::destination::ResetPolicy;

/// Configuration of the Canal listener.
#[derive(Debug, Clone)]
pub struct CanalConfig {
    /// Address to listen on (`--canal-addr`); Canal's port is 11111.
    pub addr: SocketAddr,
    /// Connections served at once; more are answered with an error and
    /// closed.
    pub max_connections: usize,
    /// Largest frame a client may send.
    pub max_frame_bytes: usize,
    /// A batch stops growing past this many bytes (at least one record).
    pub max_batch_bytes: usize,
    /// User and password clients must give; `None` accepts anyone.
    pub credentials: Option<Credentials>,
    /// Time zone TIMESTAMP values are rendered in.
    pub time_zone: TimeZone,
    /// Idle time after which a connection is closed, unless the client asks
    /// for another (`ClientAuth.net_read_timeout`). Canal's default: 1 h.
    pub idle_timeout: Duration,
    /// How long a client may take to authenticate.
    pub auth_timeout: Duration,
    /// The reset policy of a group created by a subscription: where it
    /// starts (None and Earliest: the oldest record held; Latest: the end)
    /// and what it does when its offset falls out of retention (None: an
    /// error naming the offsets; Earliest/Latest: move there).
    pub new_group: ResetPolicy,
    /// Groups created by a subscription are protected: retention keeps
    /// what they have not read (up to `retention_max_bytes`).
    pub protect_groups: bool,
}

impl Default for CanalConfig {
    fn default() -> Self {
        CanalConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 11111)),
            max_connections: 1024,
            max_frame_bytes: DEFAULT_MAX_FRAME,
            max_batch_bytes: 32 << 20,
            credentials: None,
            time_zone: TimeZone::Local,
            idle_timeout: Duration::from_secs(3600),
            auth_timeout: Duration::from_secs(30),
            new_group: ResetPolicy::None,
            protect_groups: false,
        }
    }
}

/// `sluice run` flags of the Canal listener.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct CanalArgs {
    /// Serve Canal's TCP protocol on this address (Canal's port is 11111).
    #[arg(long = "canal-addr", value_name = "ADDR")]
    pub canal_addr: Option<SocketAddr>,
    /// User name Canal clients must give (default: any).
    #[arg(long = "canal-user", value_name = "NAME")]
    pub canal_user: Option<String>,
    /// Password Canal clients must give (default: any). Prefer
    /// --canal-passwd-hash or the SLUICE_CANAL_PASSWORD variable.
    #[arg(
        long = "canal-password",
        env = "SLUICE_CANAL_PASSWORD",
        value_name = "PASSWORD",
        hide_env_values = true
    )]
    pub canal_password: Option<String>,
    /// The password as Canal's `canal.passwd` stores it: 40 hex digits of
    /// SHA1(SHA1(password)).
    #[arg(long = "canal-passwd-hash", value_name = "HEX")]
    pub canal_passwd_hash: Option<String>,
    /// Most Canal connections served at once.
    #[arg(long = "canal-max-connections", value_name = "N")]
    pub canal_max_connections: Option<usize>,
    /// Time zone TIMESTAMP values are rendered in: `local`, `UTC` or an
    /// IANA name.
    #[arg(long = "canal-time-zone", value_name = "ZONE")]
    pub canal_time_zone: Option<String>,
}

/// The `[canal]` table of the configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CanalToml {
    /// Address to listen on; the listener is off without one.
    pub addr: Option<SocketAddr>,
    pub user: Option<String>,
    pub password: Option<String>,
    /// Canal's `canal.passwd` form of the password.
    pub passwd_hash: Option<String>,
    pub max_connections: Option<usize>,
    pub max_frame_bytes: Option<usize>,
    pub max_batch_bytes: Option<usize>,
    pub time_zone: Option<String>,
    /// Seconds.
    pub idle_timeout: Option<u64>,
    /// Reset policy of groups created by a subscription: `none` (start at
    /// the oldest record, error when out of retention), `earliest` or
    /// `latest`.
    pub reset: Option<String>,
    /// Groups created by a subscription are protected (retention keeps
    /// what they have not read).
    pub protect: Option<bool>,
}

/// A configuration value that makes no sense.
#[derive(Debug, thiserror::Error)]
#[error("canal configuration: {0}")]
pub struct ConfigError(pub String);

impl CanalConfig {
    /// The listener's configuration from the file's `[canal]` table and the
    /// flags (which win); `None` when no address is given (listener off).
    pub fn from_sources(
        file: Option<&CanalToml>,
        args: &CanalArgs,
    ) -> Result<Option<Self>, ConfigError> {
        let empty = CanalToml::default();
        let file = file.unwrap_or(&empty);
        let Some(addr) = args.canal_addr.or(file.addr) else {
            return Ok(None);
        };
        let mut config = CanalConfig {
            addr,
            ..CanalConfig::default()
        };
        if let Some(n) = args.canal_max_connections.or(file.max_connections) {
            if n == 0 {
                return Err(ConfigError("max_connections must be at least 1".into()));
            }
            config.max_connections = n;
        }
        if let Some(n) = file.max_frame_bytes {
            config.max_frame_bytes = n.max(64);
        }
        if let Some(n) = file.max_batch_bytes {
            config.max_batch_bytes = n.max(1);
        }
        if let Some(tz) = args
            .canal_time_zone
            .as_deref()
            .or(file.time_zone.as_deref())
        {
            config.time_zone = TimeZone::parse(tz).map_err(ConfigError)?;
        }
        if let Some(s) = file.idle_timeout {
            config.idle_timeout = Duration::from_secs(s.max(1));
        }
        config.protect_groups = file.protect.unwrap_or(false);
        config.new_group = match file.reset.as_deref() {
            None | Some("none") => ResetPolicy::None,
            Some("earliest") => ResetPolicy::Earliest,
            Some("latest") => ResetPolicy::Latest,
            Some(other) => {
                return Err(ConfigError(format!(
                    "reset must be none, earliest or latest, not {other:?}"
                )))
            }
        };
        let user = args
            .canal_user
            .clone()
            .or(file.user.clone())
            .unwrap_or_default();
        let password = args.canal_password.clone().or(file.password.clone());
        let hash = args.canal_passwd_hash.clone().or(file.passwd_hash.clone());
        config.credentials = match (password, hash) {
            (Some(_), Some(_)) => {
                return Err(ConfigError(
                    "give the canal password or its hash, not both".into(),
                ));
            }
            (Some(p), None) => Some(Credentials::from_plain(&user, &p)),
            (None, Some(h)) => Some(Credentials::from_canal_hex(&user, &h).map_err(ConfigError)?),
            (None, None) if !user.is_empty() => Some(Credentials {
                user,
                passwd_hash: None,
            }),
            (None, None) => None,
        };
        Ok(Some(config))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_file_and_bad_values_are_refused() {
        let file: CanalToml = toml::from_str(
            r#"
            addr = "127.0.0.1:11111"
            user = "canal"
            passwd_hash = "E3619321C1A937C46A0D8BD1DAC39F93B27D4458"
            time_zone = "Asia/Shanghai"
            reset = "latest"
            "#,
        )
        .unwrap();
        let args = CanalArgs {
            canal_addr: Some("0.0.0.0:12000".parse().unwrap()),
            ..Default::default()
        };
        let c = CanalConfig::from_sources(Some(&file), &args)
            .unwrap()
            .unwrap();
        assert_eq!(c.addr.port(), 12000);
        assert_eq!(
            c.credentials,
            Some(Credentials::from_plain("canal", "canal"))
        );
        assert_eq!(c.new_group, ResetPolicy::Latest);
        assert!(CanalConfig::from_sources(None, &CanalArgs::default())
            .unwrap()
            .is_none());
        assert!(
            toml::from_str::<CanalToml>("adr = \"x\"").is_err(),
            "unknown keys refused"
        );
        let bad: CanalToml = toml::from_str("addr = \"127.0.0.1:1\"\nreset = \"wrap\"").unwrap();
        let e = CanalConfig::from_sources(Some(&bad), &CanalArgs::default()).unwrap_err();
        assert!(e.to_string().contains("reset must be"), "{e}");
    }
}
