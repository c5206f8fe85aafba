//! Where and how to connect: parsed from a URL
//! `mysql://USER[:PASS]@HOST[:PORT][,HOST[:PORT]…][?param=value&…]`.
//!
//! Several hosts (as libpq and Connector/J take them) are tried in order
//! on every connect; see [`Role`] for which one is taken.
//!
//! Parameters:
//! - `role=primary|any`: with several hosts the default is `primary`, the
//!   first that answers with `read_only = 0`; `any` takes the first that
//!   answers (a replica with `log_slave_updates`). One host: `any`.
//! - `tls=disabled|preferred|required|verify|skip-verify` (default
//!   `preferred`). `preferred` uses TLS when the server offers it and
//!   plain TCP otherwise; `required` refuses a server without TLS. Both
//!   verify the certificate chain against `ca` (or the system roots) but not
//!   the host name, since MySQL's auto-generated certificates never name the
//!   host. `verify` also checks the host name. `skip-verify` is the explicit
//!   opt-out: TLS without any certificate check.
//! - `ca=PATH`: PEM file of the CA(s) to trust.
//! - `password_env=VAR` / `password_file=PATH`: read the password from an
//!   environment variable or the first line of a file instead of the URL.
//! - `server_id=N`: the replica id sent with COM_REGISTER_SLAVE and the
//!   dump commands (default 0x5_1CE = 20942; must be unique among replicas).
//! - `heartbeat=SECONDS` (default 10, fractional allowed): the server sends a
//!   heartbeat after this much idle time; twice this with no packet at all
//!   means the connection is dead.
//! - `connect_timeout=SECONDS` (default 10).
//!
//! User and password may be percent-encoded. The password is never printed:
//! `Debug` shows it as `***`, and `SourceConfig::display_url` omits it.

use super::error::{Result, SourceError};
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// How to use TLS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsMode {
    Disabled,
    Preferred,
    Required,
    /// Required, and the certificate must name the host.
    Verify,
    /// Required, with no certificate verification at all.
    SkipVerify,
}

impl TlsMode {
    /// The URL spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TlsMode::Disabled => "disabled",
            TlsMode::Preferred => "preferred",
            TlsMode::Required => "required",
            TlsMode::Verify => "verify",
            TlsMode::SkipVerify => "skip-verify",
        }
    }

    pub fn parse(s: &str) -> Result<TlsMode> {
        Ok(match s {
            "disabled" | "false" | "off" => TlsMode::Disabled,
            "preferred" => TlsMode::Preferred,
            "required" | "true" | "on" => TlsMode::Required,
            "verify" | "verify-identity" => TlsMode::Verify,
            "skip-verify" => TlsMode::SkipVerify,
            other => {
                return Err(SourceError::Config(format!(
                    "tls={other}: expected disabled, preferred, required, verify or skip-verify"
                )))
            }
        })
    }
}

/// A secret that never shows in `Debug` or `Display`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub fn new(s: impl Into<String>) -> Self {
        Password(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Which of several hosts to capture from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The first that answers and is writable (`read_only = 0`).
    Primary,
    /// The first that answers.
    Any,
}

/// Everything needed to reach one source server.
#[derive(Clone, Debug)]
pub struct SourceConfig {
    /// The host to connect to; a connection's own config names the host it
    /// reached.
    pub host: String,
    pub port: u16,
    /// Every host of the URL, in order (`host:port` is one of them).
    pub hosts: Vec<(String, u16)>,
    pub role: Role,
    pub user: String,
    pub password: Password,
    pub tls: TlsMode,
    pub ca: Option<PathBuf>,
    pub server_id: u32,
    pub heartbeat: Duration,
    pub connect_timeout: Duration,
}

pub const DEFAULT_SERVER_ID: u32 = 0x5_1CE;

impl SourceConfig {
    /// Parse `mysql://USER[:PASS]@HOST[:PORT][?params]` (also `mariadb://`).
    pub fn from_url(url: &str) -> Result<SourceConfig> {
        let bad = |why: &str| SourceError::Config(format!("source URL {}: {why}", redact(url)));
        let rest = url
            .strip_prefix("mysql://")
            .or_else(|| url.strip_prefix("mariadb://"))
            .ok_or_else(|| bad("must start with mysql://"))?;
        let (authority, query) = match rest.split_once('?') {
            Some((a, q)) => (a, Some(q)),
            None => (rest, None),
        };
        let authority = authority.trim_end_matches('/');
        let (userinfo, hostport) = authority
            .rsplit_once('@')
            .ok_or_else(|| bad("missing USER@ before the host"))?;
        let (user, password) = match userinfo.split_once(':') {
            Some((u, p)) => (u, Some(p)),
            None => (userinfo, None),
        };
        let user = percent_decode(user).ok_or_else(|| bad("bad %-escape in the user"))?;
        if user.is_empty() {
            return Err(bad("empty user"));
        }
        let password = match password {
            Some(p) => Some(percent_decode(p).ok_or_else(|| bad("bad %-escape in the password"))?),
            None => None,
        };
        let hosts = hostport
            .split(',')
            .map(split_host_port)
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| bad("bad HOST:PORT"))?;
        let (host, port) = hosts[0].clone();
        let mut config = SourceConfig {
            host,
            port,
            role: if hosts.len() > 1 {
                Role::Primary
            } else {
                Role::Any
            },
            hosts,
            user,
            password: Password::new(password.unwrap_or_default()),
            tls: TlsMode::Preferred,
            ca: None,
            server_id: DEFAULT_SERVER_ID,
            heartbeat: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
        };
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode(value).ok_or_else(|| bad("bad %-escape in a parameter"))?;
            match key {
                "tls" | "ssl-mode" | "ssl_mode" => config.tls = TlsMode::parse(&value)?,
                "role" => {
                    config.role = match value.as_str() {
                        "primary" => Role::Primary,
                        "any" => Role::Any,
                        _ => return Err(bad("role must be primary or any")),
                    }
                }
                "ca" | "ssl-ca" => config.ca = Some(PathBuf::from(value)),
                "password_env" => {
                    let v = std::env::var(&value).map_err(|_| {
                        SourceError::Config(format!(
                            "password_env={value}: the environment variable is not set"
                        ))
                    })?;
                    config.password = Password::new(v);
                }
                "password_file" => {
                    let text = std::fs::read_to_string(&value)
                        .map_err(|e| SourceError::Config(format!("password_file={value}: {e}")))?;
                    config.password = Password::new(text.lines().next().unwrap_or(""));
                }
                "server_id" | "server-id" => {
                    config.server_id = value
                        .parse()
                        .ok()
                        .filter(|&n: &u32| n > 0)
                        .ok_or_else(|| bad("server_id must be a number from 1 to 4294967295"))?
                }
                "heartbeat" => {
                    config.heartbeat =
                        seconds(&value).ok_or_else(|| bad("heartbeat must be seconds > 0"))?
                }
                "connect_timeout" => {
                    config.connect_timeout =
                        seconds(&value).ok_or_else(|| bad("connect_timeout must be seconds > 0"))?
                }
                other => return Err(bad(&format!("unknown parameter {other}"))),
            }
        }
        Ok(config)
    }

    /// `HOST:PORT`, as errors name the server.
    pub fn addr(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The URL without the password, for logs.
    pub fn display_url(&self) -> String {
        format!("mysql://{}@{}", self.user, self.addr())
    }

    /// This configuration aimed at each host of the URL, in order.
    pub fn each_host(&self) -> impl Iterator<Item = SourceConfig> + '_ {
        self.hosts.iter().map(|(host, port)| SourceConfig {
            host: host.clone(),
            port: *port,
            ..self.clone()
        })
    }

    /// How long the binlog stream may stay silent before the connection
    /// counts as dead: twice the heartbeat period.
    pub fn dead_after(&self) -> Duration {
        self.heartbeat * 2
    }
}

fn seconds(s: &str) -> Option<Duration> {
    let v: f64 = s.parse().ok()?;
    (v.is_finite() && v > 0.0 && v < 1e6).then(|| Duration::from_secs_f64(v))
}

fn split_host_port(s: &str) -> Option<(String, u16)> {
    let (host, port) = if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p),
            None if after.is_empty() => None,
            None => return None,
        };
        (host, port)
    } else {
        match s.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    if host.is_empty() {
        return None;
    }
    let port = match port {
        Some(p) => p.parse().ok().filter(|&p: &u16| p > 0)?,
        None => 3306,
    };
    Some((host.to_string(), port))
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The URL with any password replaced by `***`, for error messages.
pub fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_string();
    };
    let after = &url[scheme_end + 3..];
    let authority_end = after.find(['?', '/']).unwrap_or(after.len());
    let authority = &after[..authority_end];
    match (authority.rfind('@'), authority.find(':')) {
        (Some(at), Some(colon)) if colon < at => format!(
            "{}{}:***{}",
            &url[..scheme_end + 3],
            &authority[..colon],
            &after[at..]
        ),
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_full_url() {
        let c = SourceConfig::from_url(
            "mysql://repl:p%40ss%3Aw@db.example:3307?tls=verify&ca=/etc/ca.pem&server_id=77&heartbeat=2.5",
        )
        .unwrap();
        assert_eq!(c.user, "repl");
        assert_eq!(c.password.expose(), "p@ss:w");
        assert_eq!(c.host, "db.example");
        assert_eq!(c.port, 3307);
        assert_eq!(c.tls, TlsMode::Verify);
        assert_eq!(c.ca.as_deref(), Some(std::path::Path::new("/etc/ca.pem")));
        assert_eq!(c.server_id, 77);
        assert_eq!(c.heartbeat, Duration::from_millis(2500));
        assert_eq!(c.dead_after(), Duration::from_secs(5));
    }

    #[test]
    fn tls_modes_round_trip() {
        for m in [
            TlsMode::Disabled,
            TlsMode::Preferred,
            TlsMode::Required,
            TlsMode::Verify,
            TlsMode::SkipVerify,
        ] {
            assert_eq!(TlsMode::parse(m.as_str()).unwrap(), m);
        }
    }

    #[test]
    fn defaults_and_ipv6() {
        let c = SourceConfig::from_url("mysql://u@[::1]").unwrap();
        assert_eq!((c.host.as_str(), c.port), ("::1", 3306));
        assert_eq!(c.addr(), "[::1]:3306");
        assert_eq!(c.tls, TlsMode::Preferred);
        assert!(c.password.is_empty());
    }

    #[test]
    fn password_from_env_and_file() {
        std::env::set_var("SLUICE_TEST_PW_ENV_1", "from-env");
        let c = SourceConfig::from_url("mysql://u@h?password_env=SLUICE_TEST_PW_ENV_1").unwrap();
        assert_eq!(c.password.expose(), "from-env");
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pw");
        std::fs::write(&f, "from-file\n").unwrap();
        let c =
            SourceConfig::from_url(&format!("mysql://u@h?password_file={}", f.display())).unwrap();
        assert_eq!(c.password.expose(), "from-file");
        let e = SourceConfig::from_url("mysql://u@h?password_env=SLUICE_NOT_SET_XYZ").unwrap_err();
        assert!(e.to_string().contains("SLUICE_NOT_SET_XYZ"), "{e}");
    }

    #[test]
    fn the_password_never_shows() {
        let c = SourceConfig::from_url("mysql://u:hunter2@h:1").unwrap();
        assert!(!format!("{c:?}").contains("hunter2"));
        assert!(!c.display_url().contains("hunter2"));
        let e = SourceConfig::from_url("mysql://u:hunter2@h:notaport").unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
        assert!(e.to_string().contains("u:***@h"), "{e}");
    }

    #[test]
    fn several_hosts_in_order() {
        let c = SourceConfig::from_url("mysql://u:pw@db1:3307,[::1],db3?role=any").unwrap();
        let hosts: Vec<String> = c.each_host().map(|h| h.addr()).collect();
        assert_eq!(hosts, ["db1:3307", "[::1]:3306", "db3:3306"]);
        assert_eq!((c.host.as_str(), c.port), ("db1", 3307));
        assert_eq!(c.role, Role::Any);
        assert!(c.each_host().all(|h| h.password.expose() == "pw"));
        let c = SourceConfig::from_url("mysql://u@db1,db2").unwrap();
        assert_eq!(c.role, Role::Primary, "several hosts: the writable one");
        let c = SourceConfig::from_url("mysql://u@db1").unwrap();
        assert_eq!(c.role, Role::Any, "one host: whatever it is");
    }

    #[test]
    fn rejects_bad_urls() {
        for url in [
            "postgres://u@h",
            "mysql://h:3306",
            "mysql://u@h:0",
            "mysql://u@h?tls=maybe",
            "mysql://u@h?bogus=1",
            "mysql://u@h?server_id=0",
            "mysql://u%zz@h",
            "mysql://u@h1,",
            "mysql://u@h1,:3306",
            "mysql://u@h1?role=master",
        ] {
            let e = SourceConfig::from_url(url).unwrap_err();
            assert!(matches!(e, SourceError::Config(_)), "{url}: {e}");
        }
    }
}
