//! One binlog event: framing (header, body, checksum) and the typed
//! reading of its body.
//!
//! An event is `common header | post-header | body | [CRC32 u32]`. The
//! checksum is present when the governing FORMAT_DESCRIPTION announces
//! CRC32; a FORMAT_DESCRIPTION announces it for itself. The CRC32 (ISO-HDLC,
//! as zlib computes it) covers every byte before it; for a
//! FORMAT_DESCRIPTION it was computed while `LOG_EVENT_BINLOG_IN_USE_F`
//! may still have been set, so both states of that flag are accepted.
//!
//! Rows events are not decoded here: they need the TABLE_MAP cache that
//! the transaction assembler holds (`transaction.rs`).

use super::event_type as et;
use super::events::gtid::{self, GtidSetEntry, MysqlGtid};
use super::events::mariadb::{self, MariaGtid, MariaGtidEvent};
use super::events::misc::{self, Rotate};
use super::events::query::QueryEvent;
use super::format_description::{ChecksumAlg, FormatDescription};
use super::header::{EventHeader, FLAG_BINLOG_IN_USE};
use super::DecodeError;

/// An event cut out of its bytes, checksum verified.
#[derive(Clone, Copy, Debug)]
pub struct RawEvent<'a> {
    pub header: EventHeader,
    /// The whole event, header and checksum included.
    pub bytes: &'a [u8],
    /// After the common header, without the checksum.
    pub body: &'a [u8],
}

/// Cut one event (exactly `bytes`, as the file or the network framed it)
/// into header and body, and verify its checksum.
///
/// `fd` is the format description in force; for a FORMAT_DESCRIPTION the
/// event itself says whether it carries a checksum.
pub fn frame<'a>(bytes: &'a [u8], fd: &FormatDescription) -> Result<RawEvent<'a>, DecodeError> {
    frame_parsed(EventHeader::parse(bytes, fd.header_len)?, bytes, fd)
}

/// As [`frame`], with the common header already parsed from `bytes` (by
/// the replication stream, which reads it to follow positions).
pub fn frame_parsed<'a>(
    header: EventHeader,
    bytes: &'a [u8],
    fd: &FormatDescription,
) -> Result<RawEvent<'a>, DecodeError> {
    let header_len = fd.header_len;
    if (header.event_size as usize) != bytes.len() {
        return Err(DecodeError::Invalid {
            what: "event size",
            detail: format!(
                "header says {} bytes, the event has {}",
                header.event_size,
                bytes.len()
            ),
        });
    }
    let after_header = bytes.get(header_len..).ok_or(DecodeError::Truncated {
        what: "event header",
        need: header_len,
        have: bytes.len(),
    })?;
    let checksummed = if header.type_code == et::FORMAT_DESCRIPTION {
        FormatDescription::parse(after_header)?.checksum == ChecksumAlg::Crc32
    } else {
        fd.checksum == ChecksumAlg::Crc32
    };
    if !checksummed {
        return Ok(RawEvent {
            header,
            bytes,
            body: after_header,
        });
    }
    let split = bytes
        .len()
        .checked_sub(4)
        .filter(|&s| s >= header_len)
        .ok_or(DecodeError::Truncated {
            what: "event checksum",
            need: header_len + 4,
            have: bytes.len(),
        })?;
    let (covered, crc) = bytes.split_at(split);
    let expected = u32::from_le_bytes([
        crc.first().copied().unwrap_or(0),
        crc.get(1).copied().unwrap_or(0),
        crc.get(2).copied().unwrap_or(0),
        crc.get(3).copied().unwrap_or(0),
    ]);
    let actual = crc32fast::hash(covered);
    if actual != expected {
        let alt = (header.type_code == et::FORMAT_DESCRIPTION && covered.len() > 17).then(|| {
            let mut h = crc32fast::Hasher::new();
            h.update(covered.get(..17).unwrap_or_default());
            let flags = header.flags ^ FLAG_BINLOG_IN_USE;
            h.update(&flags.to_le_bytes());
            h.update(covered.get(19..).unwrap_or_default());
            h.finalize()
        });
        if alt != Some(expected) {
            return Err(DecodeError::Checksum { expected, actual });
        }
    }
    Ok(RawEvent {
        header,
        bytes,
        body: after_header
            .get(..after_header.len() - 4)
            .unwrap_or_default(),
    })
}

/// An event's meaning, as far as framing and transactions need it.
#[derive(Clone, Debug, PartialEq)]
pub enum Event<'a> {
    FormatDescription(FormatDescription),
    /// START_EVENT_V3 of a v1/v3 file (its layout).
    StartV3(FormatDescription),
    Query(QueryEvent<'a>),
    Stop,
    Rotate(Rotate),
    Xid(u64),
    /// TABLE_MAP: parsed by the transaction layer (it owns the cache).
    TableMap(&'a [u8]),
    /// Any rows event; `type_code` says which.
    Rows {
        type_code: u8,
        body: &'a [u8],
    },
    /// MySQL GTID / ANONYMOUS_GTID / GTID_TAGGED.
    MysqlGtid(MysqlGtid),
    PreviousGtids(Vec<GtidSetEntry>),
    RowsQuery(String),
    MariaGtid(MariaGtidEvent),
    MariaGtidList(Vec<MariaGtid>),
    BinlogCheckpoint(String),
    AnnotateRows(String),
    /// TRANSACTION_PAYLOAD: the body, expanded by the caller.
    TransactionPayload(&'a [u8]),
    XaPrepare {
        one_phase: bool,
        xid: String,
    },
    Incident {
        kind: u16,
        message: String,
    },
    Heartbeat {
        file: String,
    },
    /// Events with nothing for sluice: INTVAR, RAND, USER_VAR (checked to
    /// be whole), LOAD-family, IGNORABLE, TRANSACTION_CONTEXT,
    /// VIEW_CHANGE, Aurora's type 100, and unknown types that set
    /// `LOG_EVENT_IGNORABLE_F`.
    Skipped,
}

/// `LOG_EVENT_IGNORABLE_F`: a replica that does not know the type may skip it.
const FLAG_IGNORABLE: u16 = 0x80;

/// Read a framed event's body.
pub fn parse<'a>(raw: &RawEvent<'a>, fd: &FormatDescription) -> Result<Event<'a>, DecodeError> {
    let t = raw.header.type_code;
    let body = raw.body;
    let ph = fd.post_header_len(t);
    Ok(match t {
        et::FORMAT_DESCRIPTION => {
            // The format description reads its own checksum trailer.
            let whole = raw.bytes.get(fd.header_len..).unwrap_or_default();
            Event::FormatDescription(FormatDescription::parse(whole)?)
        }
        et::START_V3 => Event::StartV3(FormatDescription::legacy(body, fd.header_len)?),
        et::QUERY => Event::Query(QueryEvent::parse(body, ph, false)?),
        et::MARIADB_QUERY_COMPRESSED => Event::Query(QueryEvent::parse(body, ph, true)?),
        et::STOP => Event::Stop,
        et::ROTATE => Event::Rotate(misc::parse_rotate(body, ph)?),
        et::XID => Event::Xid(misc::parse_xid(body)?),
        et::INTVAR => {
            misc::check_intvar(body)?;
            Event::Skipped
        }
        et::RAND => {
            misc::check_rand(body)?;
            Event::Skipped
        }
        et::USER_VAR => {
            misc::check_user_var(body)?;
            Event::Skipped
        }
        et::TABLE_MAP => Event::TableMap(body),
        t if et::is_rows(t) => Event::Rows { type_code: t, body },
        et::GTID => Event::MysqlGtid(MysqlGtid::parse(body, false)?),
        et::ANONYMOUS_GTID => Event::MysqlGtid(MysqlGtid::parse(body, true)?),
        et::GTID_TAGGED => Event::MysqlGtid(MysqlGtid::parse_tagged(body)?),
        et::PREVIOUS_GTIDS => Event::PreviousGtids(gtid::parse_previous_gtids(body)?),
        et::ROWS_QUERY => Event::RowsQuery(misc::parse_rows_query(body)?),
        et::MARIADB_GTID => Event::MariaGtid(MariaGtidEvent::parse(body, raw.header.server_id)?),
        et::MARIADB_GTID_LIST => Event::MariaGtidList(mariadb::parse_gtid_list(body)?),
        et::MARIADB_BINLOG_CHECKPOINT => Event::BinlogCheckpoint(mariadb::parse_checkpoint(body)?),
        et::MARIADB_ANNOTATE_ROWS => {
            Event::AnnotateRows(String::from_utf8_lossy(body).into_owned())
        }
        et::MARIADB_START_ENCRYPTION => {
            return Err(DecodeError::Unsupported(
                "encrypted binlog is not supported (MariaDB START_ENCRYPTION event; \
                 decode through a replica connection, which receives it decrypted)"
                    .into(),
            ))
        }
        et::TRANSACTION_PAYLOAD => Event::TransactionPayload(body),
        et::XA_PREPARE => {
            let (one_phase, xid) = misc::parse_xa_prepare(body)?;
            Event::XaPrepare { one_phase, xid }
        }
        et::INCIDENT => {
            let (kind, message) = misc::parse_incident(body)?;
            Event::Incident { kind, message }
        }
        et::HEARTBEAT => Event::Heartbeat {
            file: String::from_utf8_lossy(body).into_owned(),
        },
        et::HEARTBEAT_V2
        | et::IGNORABLE
        | et::TRANSACTION_CONTEXT
        | et::VIEW_CHANGE
        | et::AURORA_PRIVATE
        | et::LOAD
        | et::SLAVE
        | et::CREATE_FILE
        | et::APPEND_BLOCK
        | et::EXEC_LOAD
        | et::DELETE_FILE
        | et::NEW_LOAD
        | et::BEGIN_LOAD_QUERY
        | et::EXECUTE_LOAD_QUERY
        | et::UNKNOWN => Event::Skipped,
        _ if raw.header.flags & FLAG_IGNORABLE != 0 => Event::Skipped,
        other => {
            return Err(DecodeError::Unsupported(format!(
                "event type {other} ({}) is unknown and not marked ignorable",
                et::name(other)
            )))
        }
    })
}
