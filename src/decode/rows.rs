//! Rows events (WRITE/UPDATE/DELETE v0/v1/v2, PARTIAL_UPDATE_ROWS, and
//! MariaDB's compressed 166–171) into typed values.
//!
//! Body layout (after the common header, without checksum):
//!
//! ```text
//! table_id       6 bytes LE (4 when the post-header length is 6)
//! flags          2 bytes
//! [v2 only]      extra_len 2 bytes (counting itself), extra_len-2 bytes
//! width          packed integer: columns in the row images
//! columns        (width+7)/8 bytes: bit i = column i is in the image
//!                (before image for UPDATE/DELETE, after for WRITE)
//! [UPDATE]       (width+7)/8 bytes: columns in the after image
//! [compressed]   MariaDB 166-171: header byte (low 3 bits = n), n bytes
//!                big-endian uncompressed length, zlib stream holding
//!                the rows below
//! rows           repeated until the end:
//!   image        null bitmap over the present columns ((present+7)/8
//!                bytes, bit k = k-th present column is NULL), then the
//!                values of present, non-NULL columns (see value/)
//!   [UPDATE]     the after image, likewise with the second bitmap;
//!                PARTIAL_UPDATE_ROWS (39) puts before it: value_options
//!                (packed; bit 0 = partial JSON), and when set a bitmap
//!                with one bit per JSON column of the after image: set =
//!                that value is a JSON diff (see json_diff.rs)
//! ```
//!
//! A column absent from an image (MINIMAL/NOBLOB row image, or beyond
//! `width`) is [`Kind::Absent`], never NULL.

use std::io::Read;

use super::column_type::{code, ColKind};
use super::event_type;
use super::table_map::TableMap;
use super::value;
use super::{json_binary, json_diff, DecodeError};
use crate::proto;
use crate::proto::value::Kind;
use crate::wire::Reader;

/// Largest uncompressed size accepted from a compressed rows event.
pub const MAX_UNCOMPRESSED: usize = 1 << 30;

/// The change kind of a rows event type, or `None` when it is not one.
pub fn change_kind(event_type: u8) -> Option<proto::ChangeKind> {
    use event_type::*;
    Some(match event_type {
        PRE_GA_WRITE_ROWS
        | WRITE_ROWS_V1
        | WRITE_ROWS
        | MARIADB_WRITE_ROWS_COMPRESSED_V1
        | MARIADB_WRITE_ROWS_COMPRESSED => proto::ChangeKind::Insert,
        PRE_GA_UPDATE_ROWS
        | UPDATE_ROWS_V1
        | UPDATE_ROWS
        | PARTIAL_UPDATE_ROWS
        | MARIADB_UPDATE_ROWS_COMPRESSED_V1
        | MARIADB_UPDATE_ROWS_COMPRESSED => proto::ChangeKind::Update,
        PRE_GA_DELETE_ROWS
        | DELETE_ROWS_V1
        | DELETE_ROWS
        | MARIADB_DELETE_ROWS_COMPRESSED_V1
        | MARIADB_DELETE_ROWS_COMPRESSED => proto::ChangeKind::Delete,
        _ => return None,
    })
}

/// The table id a rows event refers to, read from its post-header, so the
/// caller can find the TABLE_MAP. `table_id_size` is 6 (or 4).
pub fn table_id(body: &[u8], table_id_size: usize) -> Result<u64, DecodeError> {
    Ok(Reader::new(body).uint_le(table_id_size.min(8), "rows event table id")?)
}

/// The post-header length to assume when the format description gives 0.
fn default_post_header_len(event_type: u8) -> u8 {
    use event_type::*;
    match event_type {
        WRITE_ROWS | UPDATE_ROWS | DELETE_ROWS | PARTIAL_UPDATE_ROWS => 10,
        _ => 8,
    }
}

/// The decoded header of a rows event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowsHeader {
    pub table_id: u64,
    pub flags: u16,
    /// v2 extra data (without its 2-byte length), e.g. partition info.
    pub extra: Vec<u8>,
}

/// Decode one rows event. `event_type` is the binlog event type code;
/// `body` the bytes after the common header, without the checksum;
/// `post_header_len` from the format description for this event type.
pub fn decode_rows(
    event_type: u8,
    body: &[u8],
    post_header_len: u8,
    table: &TableMap,
) -> Result<proto::TableChange, DecodeError> {
    let mut change = proto::TableChange {
        schema: table.schema.clone(),
        table: table.table.clone(),
        kind: 0,
        columns: table.proto_columns(),
        names_known: table.names_known,
        rows: Vec::new(),
        query: String::new(),
        signedness_known: table.signedness_known,
    };
    decode_rows_into(event_type, body, post_header_len, table, &mut change)?;
    Ok(change)
}

/// As [`decode_rows`], appending rows to `change.rows` and setting
/// `change.kind`, without touching its other fields (so a caller that
/// reuses one `TableChange` avoids rebuilding column descriptions).
pub fn decode_rows_into(
    event_type: u8,
    body: &[u8],
    post_header_len: u8,
    table: &TableMap,
    change: &mut proto::TableChange,
) -> Result<RowsHeader, DecodeError> {
    use event_type::*;
    let kind = change_kind(event_type).ok_or_else(|| DecodeError::Invalid {
        what: "rows event",
        detail: format!("event type {event_type} is not a rows event"),
    })?;
    change.kind = kind as i32;
    let phl = if post_header_len == 0 {
        default_post_header_len(event_type)
    } else {
        post_header_len
    };
    let mut c = Reader::new(body);
    let tid_size = if phl == 6 { 4 } else { 6 };
    let table_id = c.uint_le(tid_size, "rows event table id")?;
    let flags = c.u16("rows event flags")?;
    let mut extra = Vec::new();
    if phl >= 10 {
        let extra_len = usize::from(c.u16("rows event extra data length")?);
        if extra_len < 2 {
            return Err(DecodeError::Invalid {
                what: "rows event extra data length",
                detail: format!("{extra_len} (counts its own 2 bytes)"),
            });
        }
        extra = c.take(extra_len - 2, "rows event extra data")?.to_vec();
        // Post-headers longer than the v2 one: skip what we do not know.
        c.skip(usize::from(phl) - 10, "rows event post-header")?;
    } else if phl > 8 {
        c.skip(usize::from(phl) - 8, "rows event post-header")?;
    }
    let width = c.lenenc("rows event column count")?;
    let ncols = table.columns.len();
    if width > ncols as u64 {
        return Err(DecodeError::Invalid {
            what: "rows event column count",
            detail: format!(
                "{width} columns but TABLE_MAP of {}.{} has {ncols}",
                table.schema, table.table
            ),
        });
    }
    let width = width as usize;
    let bitmap_len = width.div_ceil(8);
    let cols_before = c.take(bitmap_len, "rows event column bitmap")?;
    let is_update = kind == proto::ChangeKind::Update;
    let cols_after = if is_update {
        c.take(bitmap_len, "rows event after-image column bitmap")?
    } else {
        cols_before
    };
    let present_before = present_columns(cols_before, width);
    let present_after = present_columns(cols_after, width);
    let compressed =
        (MARIADB_WRITE_ROWS_COMPRESSED_V1..=MARIADB_DELETE_ROWS_COMPRESSED).contains(&event_type);
    let inflated;
    let mut rows = if compressed {
        inflated = inflate(c.rest())?;
        Reader::new(&inflated)
    } else {
        Reader::new(c.rest())
    };
    let partial = event_type == PARTIAL_UPDATE_ROWS;
    let json_after: Vec<usize> = if partial {
        present_after
            .iter()
            .copied()
            .filter(|&i| table.columns[i].type_code == code::JSON)
            .collect()
    } else {
        Vec::new()
    };
    // A rough lower bound of bytes per row keeps a bogus event from
    // reserving much; the Vec still grows as needed.
    change
        .rows
        .reserve((rows.remaining() / (ncols.max(1) * 4)).min(4096));
    while !rows.is_empty() {
        let row_start = rows.pos();
        let mut row = proto::Row::default();
        match kind {
            proto::ChangeKind::Insert => {
                row.after = Some(image(&mut rows, table, &present_before, None, None)?);
            }
            proto::ChangeKind::Delete => {
                row.before = Some(image(&mut rows, table, &present_before, None, None)?);
            }
            _ => {
                let mut raw_json = Vec::new();
                let collect = if partial { Some(&mut raw_json) } else { None };
                let before = image(&mut rows, table, &present_before, None, collect)?;
                let after = if partial {
                    let options = rows.lenenc("PARTIAL_UPDATE_ROWS value options")?;
                    if options & 1 != 0 {
                        let bits = rows.take(
                            json_after.len().div_ceil(8),
                            "PARTIAL_UPDATE_ROWS partial JSON bitmap",
                        )?;
                        let partial_cols: Vec<usize> = json_after
                            .iter()
                            .enumerate()
                            .filter(|(k, _)| bits[k / 8] & (1 << (k % 8)) != 0)
                            .map(|(_, &i)| i)
                            .collect();
                        image(
                            &mut rows,
                            table,
                            &present_after,
                            Some((&partial_cols, &raw_json)),
                            None,
                        )?
                    } else {
                        image(&mut rows, table, &present_after, None, None)?
                    }
                } else {
                    image(&mut rows, table, &present_after, None, None)?
                };
                row.before = Some(before);
                row.after = Some(after);
            }
        }
        if rows.pos() == row_start {
            // No column in the image(s): a row takes no bytes, so the
            // bytes left can never be consumed.
            return Err(DecodeError::Invalid {
                what: "rows event",
                detail: format!(
                    "{} bytes left but a row image holds no columns",
                    rows.remaining()
                ),
            });
        }
        change.rows.push(row);
    }
    Ok(RowsHeader {
        table_id,
        flags,
        extra,
    })
}

/// Indexes of the columns whose bit is set, below `width`.
fn present_columns(bitmap: &[u8], width: usize) -> Vec<usize> {
    (0..width)
        .filter(|&i| bitmap.get(i / 8).is_some_and(|b| b & (1 << (i % 8)) != 0))
        .collect()
}

const ABSENT: proto::Value = proto::Value {
    kind: Some(Kind::Absent(true)),
};

/// Raw binary JSON values of a before image, by column index.
type RawJson<'a> = Vec<(usize, &'a [u8])>;

/// One row image. `partial` lists JSON columns whose value is a diff to
/// apply to the raw before-image JSON of the same column; `collect`, when
/// given, receives the raw JSON values of this image.
fn image<'a>(
    c: &mut Reader<'a>,
    table: &TableMap,
    present: &[usize],
    partial: Option<(&[usize], &RawJson<'a>)>,
    mut collect: Option<&mut RawJson<'a>>,
) -> Result<proto::Image, DecodeError> {
    let ncols = table.columns.len();
    let nulls = c.take(present.len().div_ceil(8), "row image null bitmap")?;
    let mut values = Vec::with_capacity(ncols);
    let mut next = 0usize;
    for (k, &i) in present.iter().enumerate() {
        while next < i {
            values.push(ABSENT);
            next += 1;
        }
        let col = &table.columns[i];
        let is_null = nulls[k / 8] & (1 << (k % 8)) != 0;
        let kind = if is_null {
            Kind::Null(true)
        } else if let ColKind::Json { len_bytes } = col.kind {
            let len = c.uint_le(usize::from(len_bytes), "JSON length")? as usize;
            let raw = c.take(len, "JSON value")?;
            match partial {
                Some((cols, before)) if cols.contains(&i) => {
                    match before.iter().find(|(j, _)| *j == i) {
                        Some((_, old)) => Kind::Json(json_diff::apply(Some(old), raw)?),
                        // MINIMAL before image: keep the operations.
                        None => Kind::JsonDiff(json_diff::ops(raw)?),
                    }
                }
                _ => {
                    if let Some(v) = collect.as_deref_mut() {
                        v.push((i, raw));
                    }
                    Kind::Json(json_binary::to_text(raw)?)
                }
            }
        } else {
            value::decode(c, col)?
        };
        values.push(proto::Value { kind: Some(kind) });
        next = i + 1;
    }
    while next < ncols {
        values.push(ABSENT);
        next += 1;
    }
    Ok(proto::Image { values })
}

/// MariaDB's compressed rows: header byte, big-endian length, zlib.
fn inflate(data: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let mut c = Reader::new(data);
    let header = c.u8("compressed rows header")?;
    let n = usize::from(header & 0x07);
    if n == 0 || n > 4 {
        return Err(DecodeError::Invalid {
            what: "compressed rows header",
            detail: format!("length of {n} bytes"),
        });
    }
    let len = c.uint_be(n, "compressed rows length")? as usize;
    if len > MAX_UNCOMPRESSED {
        return Err(DecodeError::Invalid {
            what: "compressed rows length",
            detail: format!("{len} bytes is more than the {MAX_UNCOMPRESSED} accepted"),
        });
    }
    let zipped = c.rest();
    let mut out = Vec::with_capacity(len.min(zipped.len().saturating_mul(16) + 1024));
    flate2::read::ZlibDecoder::new(zipped)
        .take(len as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| DecodeError::Invalid {
            what: "compressed rows",
            detail: format!("zlib: {e}"),
        })?;
    if out.len() != len {
        return Err(DecodeError::Invalid {
            what: "compressed rows",
            detail: format!("header says {len} bytes, zlib stream gave {}", out.len()),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
