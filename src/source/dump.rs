//! The replication side of a connection: session variables, registration
//! as a replica, the dump command, and the stream of binlog events.
//!
//! Set-up, in order:
//! 1. `SHOW BINARY LOGS`: a file/position start whose file sorts before
//!    the oldest file still on the server is refused as purged.
//! 2. `SET @master_binlog_checksum = @@global.binlog_checksum` (and the
//!    8.0.26+ spelling `@source_binlog_checksum`): events then keep their
//!    CRC32 trailer, which the decoder verifies.
//! 3. MariaDB: `SET @mariadb_slave_capability = 4` (GTID-aware replica:
//!    GTID events instead of BEGIN queries, no fake events the decoder cannot
//!    read); with a GTID start, `SET @slave_connect_state = '…'` and
//!    `SET @slave_gtid_strict_mode = 1`.
//! 4. `SET @master_heartbeat_period = <ns>`: the server sends a
//!    HEARTBEAT_LOG_EVENT after that much idle time. MySQL: also
//!    `SET @slave_uuid` (and `@replica_uuid`) to a UUID derived from the
//!    server id.
//! 5. COM_REGISTER_SLAVE:
//!    `0x15 | server_id int<4> | hostname len int<1> + bytes | user len
//!    int<1> + bytes | password len int<1> + bytes | port int<2> |
//!    rank int<4> | master_id int<4>`
//! 6. COM_BINLOG_DUMP: `0x12 | pos int<4> | flags int<2> | server_id int<4>
//!    | file name string<EOF>`; or on MySQL with a GTID set,
//!    COM_BINLOG_DUMP_GTID: `0x1E | flags int<2> | server_id int<4> |
//!    name len int<4> | name | pos int<8> | data len int<4> | data`
//!    (flag 0x04 = "through GTID"; data encoded as in [`super::gtid`]).
//!    Flag 0x01 (non-blocking) makes the server answer EOF at the end of
//!    the binlog instead of waiting.
//!
//! Then each packet is `0x00` + one whole event (header … checksum), an
//! EOF packet (non-blocking dump finished), or an ERR packet.

use super::config::SourceConfig;
use super::conn::{quote, Connection, ServerInfo};
use super::error::{Result, SourceError};
use super::gtid::{check_mariadb_gtid_list, MySqlGtidSet};
use super::handshake::Flavour;
use super::response;
use crate::decode::event_type;
use crate::decode::events::misc::parse_rotate;
use crate::decode::header::{EventHeader, HEADER_LEN};
use bytes::Bytes;
use std::time::Duration;

/// Where a dump starts. With `gtid_set`, the GTID set decides (MySQL:
/// executed set, MariaDB: the last GTID per domain) and `file`/`pos` are
/// ignored by the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DumpFrom {
    pub file: String,
    pub pos: u64,
    pub gtid_set: Option<String>,
}

impl DumpFrom {
    pub fn file_pos(file: impl Into<String>, pos: u64) -> DumpFrom {
        DumpFrom {
            file: file.into(),
            pos,
            gtid_set: None,
        }
    }

    pub fn gtid(set: impl Into<String>) -> DumpFrom {
        DumpFrom {
            file: String::new(),
            pos: 4,
            gtid_set: Some(set.into()),
        }
    }

    fn describe(&self) -> String {
        match &self.gtid_set {
            Some(g) => format!("GTID set '{g}'"),
            None => format!("{}:{}", self.file, self.pos),
        }
    }
}

/// Dump options beyond the start point.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DumpOptions {
    /// Stop with `Ok(None)` at the end of the binlog instead of waiting.
    pub non_blocking: bool,
    /// MariaDB: also send ANNOTATE_ROWS events (the SQL text of row events).
    pub annotate_rows: bool,
}

/// The next file and position of a ROTATE event (header, body, and a
/// checksum trailer when `checksum`).
pub fn rotate_target(event: &[u8], checksum: bool) -> Option<(String, u64)> {
    let end = event.len().checked_sub(if checksum { 4 } else { 0 })?;
    let body = event.get(HEADER_LEN..end)?;
    let r = parse_rotate(body, 8).ok()?;
    Some((r.next_file, r.position))
}

/// One event of a dump: its bytes as the server sent them and their common
/// header, parsed once here (the stream follows positions with it) and
/// handed on so the decoder does not read it again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamEvent {
    pub header: EventHeader,
    /// The whole event: header, body and checksum trailer (if any).
    pub bytes: Bytes,
}

/// One binary log file on the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BinlogFile {
    pub name: String,
    pub size: u64,
}

impl Connection {
    /// `SHOW BINARY LOGS`, oldest first.
    pub async fn binary_logs(&mut self) -> Result<Vec<BinlogFile>> {
        let rs = self.query_with_columns("SHOW BINARY LOGS").await?;
        Ok(rs
            .rows
            .into_iter()
            .filter_map(|row| {
                let mut it = row.into_iter();
                let name = it.next().flatten()?;
                let size = it
                    .next()
                    .flatten()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                Some(BinlogFile { name, size })
            })
            .collect())
    }

    /// Set up replication and send the dump command; the connection becomes
    /// the event stream.
    pub async fn start_dump(self, from: &DumpFrom) -> Result<BinlogStream> {
        self.start_dump_with(from, DumpOptions::default()).await
    }

    pub async fn start_dump_with(
        mut self,
        from: &DumpFrom,
        options: DumpOptions,
    ) -> Result<BinlogStream> {
        let addr = self.addr();
        let flavour = self.info.flavour;
        if from.gtid_set.is_none() {
            if from.pos < 4 || from.pos > u64::from(u32::MAX) {
                return Err(SourceError::Config(format!(
                    "binlog position {} is outside 4..=4294967295",
                    from.pos
                )));
            }
            match self.binary_logs().await {
                Ok(files) => check_file_available(&addr, &files, &from.file)?,
                // Without the privilege to list binlogs (REPLICATION CLIENT /
                // BINLOG MONITOR) the server's own check must do.
                Err(e) if e.server_code() == Some(1227) => {
                    tracing::warn!(server = %addr, "cannot list binary logs ({e}); skipping the purged-position check")
                }
                Err(e) => return Err(e),
            }
        }
        self.exec("SET @master_binlog_checksum = @@global.binlog_checksum, @source_binlog_checksum = @@global.binlog_checksum")
            .await?;
        let heartbeat_ns = self.config.heartbeat.as_nanos() as u64;
        self.exec(&format!(
            "SET @master_heartbeat_period = {heartbeat_ns}, @source_heartbeat_period = {heartbeat_ns}"
        ))
        .await?;
        let mut gtid_data = None;
        if flavour == Flavour::MariaDb {
            self.exec("SET @mariadb_slave_capability = 4").await?;
            if let Some(set) = &from.gtid_set {
                check_mariadb_gtid_list(set).map_err(SourceError::Config)?;
                self.exec(&format!("SET @slave_connect_state = {}", quote(set)))
                    .await?;
                self.exec("SET @slave_gtid_strict_mode = 1").await?;
                self.exec("SET @slave_gtid_ignore_duplicates = 0").await?;
            }
        } else {
            // MySQL replaces a dump thread with the same server id or UUID; a
            // UUID fixed by the server id lets a reconnecting sluice replace
            // its own stale dump thread and no other replica's.
            let uuid = format!("51ce0000-0000-4000-8000-{:012x}", self.config.server_id);
            self.exec(&format!(
                "SET @slave_uuid = '{uuid}', @replica_uuid = '{uuid}'"
            ))
            .await?;
        }
        if let (Flavour::MySql, Some(set)) = (flavour, &from.gtid_set) {
            gtid_data = Some(
                MySqlGtidSet::parse(set)
                    .map_err(SourceError::Config)?
                    .encode(),
            );
        }
        self.register_replica().await?;

        let server_id = self.config.server_id;
        let mut flags: u16 = 0;
        if options.non_blocking {
            flags |= 0x01;
        }
        if options.annotate_rows && flavour == Flavour::MariaDb {
            flags |= 0x02;
        }
        let mut cmd = Vec::with_capacity(64);
        match gtid_data {
            Some(data) => {
                flags |= 0x04;
                cmd.push(0x1E);
                cmd.extend_from_slice(&flags.to_le_bytes());
                cmd.extend_from_slice(&server_id.to_le_bytes());
                cmd.extend_from_slice(&0u32.to_le_bytes());
                cmd.extend_from_slice(&4u64.to_le_bytes());
                cmd.extend_from_slice(&(data.len() as u32).to_le_bytes());
                cmd.extend_from_slice(&data);
            }
            None => {
                let (file, pos) = match from.gtid_set {
                    Some(_) => ("", 4u32),
                    None => (from.file.as_str(), from.pos as u32),
                };
                cmd.push(0x12);
                cmd.extend_from_slice(&pos.to_le_bytes());
                cmd.extend_from_slice(&flags.to_le_bytes());
                cmd.extend_from_slice(&server_id.to_le_bytes());
                cmd.extend_from_slice(file.as_bytes());
            }
        }
        self.command(&cmd).await?;
        tracing::info!(server = %addr, from = %from.describe(), "binlog dump started");
        let checksum = self.info.has_checksum();
        Ok(BinlogStream {
            conn: self,
            from: from.clone(),
            non_blocking: options.non_blocking,
            done: false,
            checksum,
            file: from.file.clone(),
            pos: from.pos,
        })
    }

    async fn register_replica(&mut self) -> Result<()> {
        let mut cmd = vec![0x15];
        cmd.extend_from_slice(&self.config.server_id.to_le_bytes());
        cmd.push(0); // hostname
        cmd.push(0); // user
        cmd.push(0); // password
        cmd.extend_from_slice(&0u16.to_le_bytes()); // port
        cmd.extend_from_slice(&0u32.to_le_bytes()); // replication rank
        cmd.extend_from_slice(&0u32.to_le_bytes()); // master id
        self.command(&cmd).await?;
        let p = self
            .io
            .read_packet(Some(super::conn::QUERY_TIMEOUT), "registering as a replica")
            .await?;
        match p.first() {
            Some(&response::OK) => Ok(()),
            Some(&response::ERR) => Err(self.server_error("COM_REGISTER_SLAVE".into(), &p)),
            _ => Err(SourceError::malformed(
                &self.addr(),
                "unexpected answer to COM_REGISTER_SLAVE",
            )),
        }
    }
}

/// Refuse a start file the server no longer (or never) had.
fn check_file_available(addr: &str, files: &[BinlogFile], file: &str) -> Result<()> {
    if files.iter().any(|f| f.name == file) {
        return Ok(());
    }
    let oldest = files.first().map(|f| f.name.clone());
    match files.first() {
        Some(first) if sorts_before(file, &first.name) => Err(SourceError::Purged {
            addr: addr.to_string(),
            requested: file.to_string(),
            oldest,
        }),
        _ => Err(SourceError::Config(format!(
            "binlog file {file} does not exist on {addr} (it has {})",
            match (files.first(), files.last()) {
                (Some(a), Some(b)) => format!("{} … {}", a.name, b.name),
                _ => "no binlog files".into(),
            }
        ))),
    }
}

/// Whether binlog file `a` comes before `b`: same base name, lower
/// numeric suffix (`base.000123`). Files of another base never do.
pub(crate) fn sorts_before(a: &str, b: &str) -> bool {
    let split = |name: &str| {
        let (base, n) = name.rsplit_once('.')?;
        Some((base.to_string(), n.parse::<u64>().ok()?))
    };
    match (split(a), split(b)) {
        (Some((base_a, na)), Some((base_b, nb))) => base_a == base_b && na < nb,
        _ => false,
    }
}

/// The events of a running dump.
pub struct BinlogStream {
    conn: Connection,
    from: DumpFrom,
    non_blocking: bool,
    done: bool,
    checksum: bool,
    /// File and position of the next event, kept from ROTATE events and
    /// each event's `log_pos`.
    file: String,
    pos: u64,
}

impl std::fmt::Debug for BinlogStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BinlogStream")
            .field("addr", &self.conn.addr())
            .field("from", &self.from)
            .finish()
    }
}

impl BinlogStream {
    pub fn server_info(&self) -> &ServerInfo {
        &self.conn.info
    }

    pub fn config(&self) -> &SourceConfig {
        &self.conn.config
    }

    /// The binlog file and position just after the last event returned
    /// (the start position before any event). Follows ROTATE events, real
    /// and artificial; heartbeats and other artificial events leave it.
    pub fn position(&self) -> (&str, u64) {
        (&self.file, self.pos)
    }

    /// Whether the next event is already read from the socket: a caller
    /// batching events hands on what it has before it would wait.
    pub fn event_buffered(&self) -> bool {
        !self.done && self.conn.io.packet_buffered()
    }

    fn track(&mut self, event: &StreamEvent) {
        let h = &event.header;
        if h.type_code == event_type::ROTATE {
            if let Some((file, pos)) = rotate_target(&event.bytes, self.checksum) {
                self.file = file;
                self.pos = pos;
            }
        } else if !h.is_artificial() && h.type_code != event_type::HEARTBEAT {
            self.pos = u64::from(h.log_pos);
        }
    }

    /// How long the stream may be silent before it counts as dead.
    pub fn dead_after(&self) -> Duration {
        self.conn.config.dead_after()
    }

    /// The next event (19-byte header … checksum) with its header parsed,
    /// `Ok(None)` at the end of a non-blocking dump (a blocking dump never ends: the server ending
    /// it is a retryable [`SourceError::Closed`]). Heartbeats are returned like any event (type
    /// 27): the caller sees the server is alive and the current position.
    pub async fn next_event(&mut self) -> Result<Option<StreamEvent>> {
        if self.done {
            return match self.non_blocking {
                true => Ok(None),
                false => Err(SourceError::Closed {
                    addr: self.conn.addr(),
                    context: "reading from a binlog stream that already ended",
                }),
            };
        }
        let after = self.dead_after();
        let p = self
            .conn
            .io
            .read_packet(Some(after), "waiting for binlog events")
            .await?;
        match p.first().copied() {
            Some(response::OK) => {
                let bytes = p.slice(1..);
                let header = EventHeader::parse(&bytes, HEADER_LEN).map_err(|e| {
                    SourceError::malformed(
                        &self.conn.addr(),
                        format!(
                            "binlog event of {} bytes, shorter than its {HEADER_LEN}-byte header ({e})",
                            bytes.len()
                        ),
                    )
                })?;
                let event = StreamEvent { header, bytes };
                self.track(&event);
                Ok(Some(event))
            }
            _ if response::is_eof(&p) => {
                self.done = true;
                if self.non_blocking {
                    Ok(None)
                } else {
                    // A blocking dump only ends when the server stops it
                    // (shutdown, or the dump thread killed).
                    Err(SourceError::Closed {
                        addr: self.conn.addr(),
                        context: "streaming the binlog (the server ended the dump)",
                    })
                }
            }
            Some(response::ERR) => {
                self.done = true;
                Err(self.classify_error(&p).await)
            }
            other => Err(SourceError::malformed(
                &self.conn.addr(),
                format!("binlog packet starting with {other:?}, expected 0x00, 0xFE or 0xFF"),
            )),
        }
    }

    /// ERR 1236 may mean "purged": ask a fresh connection for the binlog
    /// files to tell, and to name the oldest.
    async fn classify_error(&self, payload: &[u8]) -> SourceError {
        let err = self.conn.server_error(
            format!("the binlog dump from {}", self.from.describe()),
            payload,
        );
        let SourceError::Server {
            code: 1236,
            message,
            ..
        } = &err
        else {
            return err;
        };
        let files = match Connection::connect(&self.conn.config).await {
            Ok(mut c) => c.binary_logs().await.ok(),
            Err(_) => None,
        };
        let oldest = files
            .as_ref()
            .and_then(|f| f.first())
            .map(|f| f.name.clone());
        let purged = match (&self.from.gtid_set, &files) {
            (None, Some(files)) => !files.iter().any(|f| f.name == self.from.file),
            _ => message.contains("purged"),
        };
        if purged {
            SourceError::Purged {
                addr: self.conn.addr(),
                requested: self.from.describe(),
                oldest,
            }
        } else {
            err
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotate_targets() {
        let mut rot = vec![0u8; 19];
        rot.extend_from_slice(&4u64.to_le_bytes());
        rot.extend_from_slice(b"mysql-bin.000002");
        rot.extend_from_slice(&[1, 2, 3, 4]);
        assert_eq!(
            rotate_target(&rot, true),
            Some(("mysql-bin.000002".into(), 4))
        );
        assert_eq!(rotate_target(&rot[..20], false), None);
        // No file name.
        assert_eq!(rotate_target(&rot[..27], false), None);
    }

    #[test]
    fn purged_and_unknown_files() {
        let files = vec![
            BinlogFile {
                name: "mysql-bin.000003".into(),
                size: 100,
            },
            BinlogFile {
                name: "mysql-bin.000004".into(),
                size: 100,
            },
        ];
        assert!(check_file_available("h:1", &files, "mysql-bin.000004").is_ok());
        let e = check_file_available("h:1", &files, "mysql-bin.000001").unwrap_err();
        assert!(matches!(e, SourceError::Purged { .. }));
        assert!(e.to_string().contains("mysql-bin.000003"), "{e}");
        let e = check_file_available("h:1", &files, "mysql-bin.000009").unwrap_err();
        assert!(matches!(e, SourceError::Config(_)), "{e}");
        // Another base name is unknown, not purged.
        let e = check_file_available("h:1", &files, "binlog.000001").unwrap_err();
        assert!(matches!(e, SourceError::Config(_)), "{e}");
        assert!(!sorts_before("mysql-bin.000010", "mysql-bin.000009"));
        assert!(sorts_before("mysql-bin.000009", "mysql-bin.000010"));
    }
}
