//! One client connection to the source server: connect (TCP, handshake,
//! optional TLS upgrade, authentication), then text queries. A connection
//! becomes a binlog stream with [`Connection::start_dump`](super::dump).

use super::auth::{self, AuthContext};
use super::config::{SourceConfig, TlsMode};
use super::error::{Result, SourceError};
use super::handshake::{self, caps, Flavour, InitialHandshake};
use super::packet::PacketIo;
use super::response::{self, ErrPacket, OkPacket};
use super::tls::{self, Transport};
use std::time::Duration;
use tokio::net::TcpStream;

/// Bound on a query's answer time (each packet), so a dead server is noticed.
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(120);

/// The max packet size announced to the server: 1 GiB, the largest
/// `max_allowed_packet`.
const MAX_PACKET: u32 = 1 << 30;

pub(crate) type Io = PacketIo<Transport>;

/// What we learned about the server at connect time.
#[derive(Clone, Debug)]
pub struct ServerInfo {
    pub flavour: Flavour,
    /// (major, minor, patch), e.g. (10, 11, 19).
    pub version: (u16, u16, u16),
    pub version_string: String,
    pub connection_id: u32,
    /// `@@server_id` of the source.
    pub server_id: u32,
    /// `@@global.binlog_checksum`: `"CRC32"` or `"NONE"`.
    pub checksum: String,
    pub capabilities: u32,
    pub tls: bool,
}

impl ServerInfo {
    /// Whether binlog events carry a 4-byte CRC32 trailer.
    pub fn has_checksum(&self) -> bool {
        self.checksum.eq_ignore_ascii_case("CRC32")
    }
}

/// A text result set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ResultSet {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
}

impl ResultSet {
    /// The index of a column by name (case-insensitive).
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns
            .iter()
            .position(|c| c.eq_ignore_ascii_case(name))
    }
}

pub struct Connection {
    pub(crate) io: Io,
    pub(crate) config: SourceConfig,
    pub(crate) info: ServerInfo,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("addr", &self.config.addr())
            .field("info", &self.info)
            .finish()
    }
}

impl Connection {
    /// Connect and authenticate, then read `@@server_id` and
    /// `@@global.binlog_checksum`.
    pub async fn connect(config: &SourceConfig) -> Result<Connection> {
        let addr = config.addr();
        let tcp = tokio::time::timeout(
            config.connect_timeout,
            TcpStream::connect((config.host.as_str(), config.port)),
        )
        .await
        .map_err(|_| SourceError::Connect {
            addr: addr.clone(),
            source: std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no answer within {:?}", config.connect_timeout),
            ),
        })?
        .map_err(|source| SourceError::Connect {
            addr: addr.clone(),
            source,
        })?;
        let _ = tcp.set_nodelay(true);
        let mut io = PacketIo::new(Transport::Plain(tcp), addr.clone());
        let timeout = Some(config.connect_timeout);
        let first = io
            .read_packet(timeout, "reading the server handshake")
            .await?;
        if first.first() == Some(&response::ERR) {
            let e = ErrPacket::parse(&first).map_err(|e| e.at(&addr))?;
            return Err(SourceError::Server {
                addr,
                context: "connecting".into(),
                code: e.code,
                state: e.state,
                message: e.message,
            });
        }
        let hs = InitialHandshake::parse(&first).map_err(|e| e.at(&addr))?;
        if hs.capabilities & caps::PROTOCOL_41 == 0 {
            return Err(SourceError::Unsupported {
                addr,
                detail: format!("server {} does not speak protocol 4.1", hs.server_version),
            });
        }
        let server_tls = hs.capabilities & caps::SSL != 0;
        let use_tls = match config.tls {
            TlsMode::Disabled => false,
            TlsMode::Preferred => {
                if !server_tls {
                    tracing::debug!(server = %addr, "server offers no TLS (tls=preferred): plain text");
                }
                server_tls
            }
            TlsMode::Required | TlsMode::Verify | TlsMode::SkipVerify => {
                if !server_tls {
                    return Err(SourceError::Tls {
                        addr,
                        detail: format!(
                            "the server does not offer TLS (tls={}); enable it on the server or set tls=disabled",
                            config.tls.as_str()
                        ),
                    });
                }
                true
            }
        };
        let capabilities = handshake::client_capabilities(hs.capabilities, use_tls);
        if use_tls {
            io.write_packet(&handshake::ssl_request(capabilities, MAX_PACKET))
                .await?;
            let seq = io.seq();
            if io.buffered() != 0 {
                return Err(SourceError::malformed(
                    &addr,
                    "the server sent data before the TLS handshake",
                ));
            }
            let tls = match io.into_inner() {
                Transport::Plain(tcp) => {
                    tokio::time::timeout(config.connect_timeout, tls::upgrade(config, tcp))
                        .await
                        .map_err(|_| SourceError::Timeout {
                            addr: addr.clone(),
                            context: "negotiating TLS",
                            after: config.connect_timeout,
                        })??
                }
                already @ Transport::Tls(_) => already,
            };
            io = PacketIo::new(tls, addr.clone());
            io.set_seq(seq);
        }
        let password = config.password.expose().as_bytes();
        let (plugin, proof) = auth::initial_response(&hs.auth_plugin, password, &hs.nonce);
        io.write_packet(&handshake::handshake_response(
            capabilities,
            MAX_PACKET,
            &config.user,
            &proof,
            &plugin,
        ))
        .await?;
        let ctx = AuthContext {
            user: &config.user,
            password,
            tls: use_tls,
            timeout: config.connect_timeout,
        };
        auth::finish(&mut io, &ctx, plugin, hs.nonce.clone()).await?;

        let flavour = hs.flavour();
        let version = hs.version();
        let mut conn = Connection {
            io,
            config: config.clone(),
            info: ServerInfo {
                flavour,
                version,
                version_string: hs.server_version.clone(),
                connection_id: hs.connection_id,
                server_id: 0,
                checksum: "NONE".into(),
                capabilities: hs.capabilities,
                tls: use_tls,
            },
        };
        conn.info.server_id = conn
            .query_value("SELECT @@server_id")
            .await?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        match conn.query_value("SELECT @@global.binlog_checksum").await {
            Ok(v) => conn.info.checksum = v.unwrap_or_else(|| "NONE".into()),
            Err(e) if e.server_code() == Some(1193) => {} // too old to know checksums
            Err(e) => return Err(e),
        }
        tracing::debug!(server = %conn.config.addr(), version = %conn.info.version_string, tls = use_tls, "connected");
        Ok(conn)
    }

    pub fn server_info(&self) -> &ServerInfo {
        &self.info
    }

    pub fn config(&self) -> &SourceConfig {
        &self.config
    }

    pub fn addr(&self) -> String {
        self.config.addr()
    }

    /// Say goodbye (COM_QUIT) and close the socket.
    pub async fn close(mut self) {
        let _ = self.command(&[0x01]).await;
    }

    /// Run a statement that returns no rows; gives the affected row count.
    pub async fn exec(&mut self, sql: &str) -> Result<u64> {
        let rs = self.run(sql).await?;
        match rs {
            Answer::Ok(ok) => Ok(ok.affected_rows),
            Answer::Rows(_) => Ok(0),
        }
    }

    /// Run a query; gives its rows (values as text, `None` for NULL).
    pub async fn query(&mut self, sql: &str) -> Result<Vec<Vec<Option<String>>>> {
        Ok(self.query_with_columns(sql).await?.rows)
    }

    /// Run a query; gives column names and rows.
    pub async fn query_with_columns(&mut self, sql: &str) -> Result<ResultSet> {
        match self.run(sql).await? {
            Answer::Ok(_) => Ok(ResultSet::default()),
            Answer::Rows(rs) => Ok(rs),
        }
    }

    /// The first column of the first row, or `None` (no row or NULL).
    pub async fn query_value(&mut self, sql: &str) -> Result<Option<String>> {
        let rows = self.query(sql).await?;
        Ok(rows
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next().flatten()))
    }

    /// Send a command and answer its reply (used by the dump module).
    pub(crate) async fn command(&mut self, payload: &[u8]) -> Result<()> {
        self.io.reset_seq();
        self.io.write_packet(payload).await
    }

    pub(crate) fn server_error(&self, context: String, payload: &[u8]) -> SourceError {
        let addr = self.addr();
        match ErrPacket::parse(payload) {
            Ok(e) => SourceError::Server {
                addr,
                context,
                code: e.code,
                state: e.state,
                message: e.message,
            },
            Err(e) => e.at(&addr),
        }
    }

    /// COM_QUERY and its answer; further result sets (multi-results) are
    /// read and dropped, so the connection stays in step.
    async fn run(&mut self, sql: &str) -> Result<Answer> {
        let mut payload = Vec::with_capacity(sql.len() + 1);
        payload.push(0x03);
        payload.extend_from_slice(sql.as_bytes());
        self.command(&payload).await?;
        let context = || {
            let mut s: String = sql.chars().take(80).collect();
            if s.len() < sql.len() {
                s.push('…');
            }
            format!("query `{s}`")
        };
        let mut first: Option<Answer> = None;
        loop {
            let (answer, more) = self.read_answer().await.map_err(|e| match e {
                ReadError::Server(p) => self.server_error(context(), &p),
                ReadError::Other(e) => e,
            })?;
            first.get_or_insert(answer);
            if !more {
                break;
            }
        }
        first.ok_or_else(|| SourceError::malformed(&self.addr(), "no answer to a query"))
    }

    async fn read_answer(&mut self) -> std::result::Result<(Answer, bool), ReadError> {
        let addr = self.addr();
        let t = Some(QUERY_TIMEOUT);
        let p = self.io.read_packet(t, "reading a query result").await?;
        match p.first().copied() {
            Some(response::OK) => {
                let ok = OkPacket::parse(&p).map_err(|e| e.at(&addr))?;
                let more = ok.status & response::SERVER_MORE_RESULTS_EXISTS != 0;
                return Ok((Answer::Ok(ok), more));
            }
            Some(response::ERR) => return Err(ReadError::Server(p.to_vec())),
            Some(0xFB) => {
                return Err(ReadError::Other(SourceError::Unsupported {
                    addr,
                    detail: "the server asked for LOCAL INFILE, which sluice never sends".into(),
                }))
            }
            _ => {}
        }
        let mut r = crate::wire::Reader::in_packet(&p, "column count");
        let count = r.lenenc("column count").map_err(|e| e.at(&addr))?;
        let count = usize::try_from(count)
            .ok()
            .filter(|&c| c > 0 && c <= 65_536)
            .ok_or_else(|| SourceError::malformed(&addr, format!("column count {count}")))?;
        let mut rs = ResultSet::default();
        for _ in 0..count {
            let p = self.io.read_packet(t, "reading column definitions").await?;
            rs.columns
                .push(response::column_name(&p).map_err(|e| e.at(&addr))?);
        }
        let p = self.io.read_packet(t, "reading column definitions").await?;
        if !response::is_eof(&p) {
            return Err(ReadError::Other(SourceError::malformed(
                &addr,
                "no EOF packet after the column definitions",
            )));
        }
        loop {
            let p = self.io.read_packet(t, "reading rows").await?;
            if response::is_eof(&p) {
                let more = response::eof_status(&p) & response::SERVER_MORE_RESULTS_EXISTS != 0;
                return Ok((Answer::Rows(rs), more));
            }
            if p.first() == Some(&response::ERR) {
                return Err(ReadError::Server(p.to_vec()));
            }
            rs.rows
                .push(response::text_row(&p, count).map_err(|e| e.at(&addr))?);
        }
    }
}

enum Answer {
    Ok(OkPacket),
    Rows(ResultSet),
}

enum ReadError {
    Server(Vec<u8>),
    Other(SourceError),
}

impl From<SourceError> for ReadError {
    fn from(e: SourceError) -> Self {
        ReadError::Other(e)
    }
}

/// Quote a string as an SQL literal ('…' with `\` and `'` escaped).
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            '\0' => out.push_str("\\0"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}
