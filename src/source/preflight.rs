//! Preconditions checked before streaming, so that a server that cannot
//! feed a change log is refused with a message saying what to change,
//! instead of producing a log with holes: binary logging on, ROW format.
//! Row image and row metadata are reported for the decoder and schema
//! history (`binlog_row_metadata=FULL` spares the schema history).

use super::conn::Connection;
use super::error::{Result, SourceError};
use super::handshake::Flavour;

/// The server's binlog settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BinlogSettings {
    pub log_bin: bool,
    /// `ROW`, `MIXED` or `STATEMENT`.
    pub format: String,
    /// `FULL`, `MINIMAL` or `NOBLOB`.
    pub row_image: String,
    /// `FULL`, `MINIMAL`, `NO_LOG`, or `None` on servers without it.
    pub row_metadata: Option<String>,
    /// MySQL `@@gtid_mode` (`ON`, `OFF`, …); `None` on MariaDB, whose GTIDs
    /// are always on.
    pub gtid_mode: Option<String>,
}

impl Connection {
    /// Read the binlog settings (global values: what the dump will see).
    pub async fn binlog_settings(&mut self) -> Result<BinlogSettings> {
        let log_bin = self.optional_global("log_bin").await?;
        let format = self.optional_global("binlog_format").await?;
        let row_image = self.optional_global("binlog_row_image").await?;
        let row_metadata = self.optional_global("binlog_row_metadata").await?;
        let gtid_mode = match self.server_info().flavour {
            Flavour::MySql => self.optional_global("gtid_mode").await?,
            Flavour::MariaDb => None,
        };
        Ok(BinlogSettings {
            log_bin: matches!(log_bin.as_deref(), Some("1" | "ON")),
            format: format.unwrap_or_default().to_ascii_uppercase(),
            row_image: row_image
                .unwrap_or_else(|| "FULL".into())
                .to_ascii_uppercase(),
            row_metadata: row_metadata.map(|s| s.to_ascii_uppercase()),
            gtid_mode,
        })
    }

    /// [`binlog_settings`](Self::binlog_settings), refusing a server that
    /// does not write a ROW binlog (a fatal, definite error).
    pub async fn preflight(&mut self) -> Result<BinlogSettings> {
        let s = self.binlog_settings().await?;
        let addr = self.addr();
        if !s.log_bin {
            return Err(SourceError::Unsupported {
                addr,
                detail:
                    "binary logging is off: start the server with log_bin (and binlog_format=ROW)"
                        .into(),
            });
        }
        if s.format != "ROW" {
            return Err(SourceError::Unsupported {
                addr,
                detail: format!(
                    "binlog_format is {}: sluice needs ROW (SET GLOBAL binlog_format = 'ROW', and in the server configuration)",
                    s.format
                ),
            });
        }
        if s.row_image != "FULL" {
            tracing::warn!(server = %addr, row_image = %s.row_image, "binlog_row_image is not FULL: row events will miss unchanged columns");
        }
        Ok(s)
    }

    /// `@@global.NAME`, or `None` when the server does not know it.
    async fn optional_global(&mut self, name: &str) -> Result<Option<String>> {
        match self.query_value(&format!("SELECT @@global.{name}")).await {
            Ok(v) => Ok(v),
            Err(e) if e.server_code() == Some(1193) => Ok(None),
            Err(e) => Err(e),
        }
    }
}
