//! The server's generic answers and text result sets.
//!
//! ```text
//! OK   0x00 | affected rows int<lenenc> | last insert id int<lenenc>
//!           | status int<2> | warnings int<2> | info …
//! ERR  0xFF | code int<2> | '#' sqlstate bytes<5> | message string<EOF>
//!           (the '#'+sqlstate part is absent in some early handshake errors)
//! EOF  0xFE | warnings int<2> | status int<2>      (payload < 9 bytes)
//! ```
//! A text result set (COM_QUERY, without CLIENT_DEPRECATE_EOF):
//! `column count int<lenenc>`, one Column Definition 41 per column, EOF,
//! then rows until EOF (or ERR). Column Definition 41: catalog, schema,
//! table, org_table, name, org_name (each `string<lenenc>`), then fixed
//! fields (`0x0C`, charset `int<2>`, column length `int<4>`, type `int<1>`,
//! flags `int<2>`, decimals `int<1>`, filler `int<2>`). A text row holds
//! one `string<lenenc>` per column, 0xFB for NULL.

use crate::wire::{Reader, WireResult};

pub const OK: u8 = 0x00;
pub const ERR: u8 = 0xFF;
pub const EOF: u8 = 0xFE;

/// Status flag: another result set follows.
pub const SERVER_MORE_RESULTS_EXISTS: u16 = 0x0008;

pub fn is_eof(payload: &[u8]) -> bool {
    payload.first() == Some(&EOF) && payload.len() < 9
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrPacket {
    pub code: u16,
    pub state: String,
    pub message: String,
}

impl ErrPacket {
    pub fn parse(payload: &[u8]) -> WireResult<ErrPacket> {
        let mut r = Reader::in_packet(payload, "ERR");
        r.u8("header")?;
        let code = r.u16("error code")?;
        let state = if r.peek_u8() == Some(b'#') {
            r.skip(1, "sqlstate marker")?;
            String::from_utf8_lossy(r.take(5, "sqlstate")?).into_owned()
        } else {
            "HY000".to_string()
        };
        let message = String::from_utf8_lossy(r.rest()).into_owned();
        Ok(ErrPacket {
            code,
            state,
            message,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OkPacket {
    pub affected_rows: u64,
    pub last_insert_id: u64,
    pub status: u16,
    pub warnings: u16,
}

impl OkPacket {
    pub fn parse(payload: &[u8]) -> WireResult<OkPacket> {
        let mut r = Reader::in_packet(payload, "OK");
        r.u8("header")?;
        let affected_rows = r.lenenc("affected rows")?;
        let last_insert_id = r.lenenc("last insert id")?;
        // Status and warnings are absent in some pre-4.1 style OKs.
        let status = if r.remaining() >= 2 {
            r.u16("status")?
        } else {
            0
        };
        let warnings = if r.remaining() >= 2 {
            r.u16("warnings")?
        } else {
            0
        };
        Ok(OkPacket {
            affected_rows,
            last_insert_id,
            status,
            warnings,
        })
    }
}

/// The status flags of an EOF packet (0 when absent).
pub fn eof_status(payload: &[u8]) -> u16 {
    match payload {
        [_, _, _, lo, hi, ..] => u16::from_le_bytes([*lo, *hi]),
        _ => 0,
    }
}

/// The name of a column from its Column Definition 41.
pub fn column_name(payload: &[u8]) -> WireResult<String> {
    let mut r = Reader::in_packet(payload, "column definition");
    for field in ["catalog", "schema", "table", "org_table"] {
        r.lenenc_bytes(field)?;
    }
    Ok(String::from_utf8_lossy(r.lenenc_bytes("name")?).into_owned())
}

/// One text row of `columns` values.
pub fn text_row(payload: &[u8], columns: usize) -> WireResult<Vec<Option<String>>> {
    let mut r = Reader::in_packet(payload, "text row");
    let mut row = Vec::with_capacity(columns.min(4096));
    for _ in 0..columns {
        row.push(
            r.lenenc_bytes_or_null("column value")?
                .map(|b| String::from_utf8_lossy(b).into_owned()),
        );
    }
    if !r.is_empty() {
        return Err(r.invalid(
            "end",
            format!("{} bytes left after {columns} values", r.remaining()),
        ));
    }
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn err_with_and_without_sqlstate() {
        let mut p = vec![0xFF, 0x15, 0x04, b'#'];
        p.extend_from_slice(b"28000Access denied");
        let e = ErrPacket::parse(&p).unwrap();
        assert_eq!((e.code, e.state.as_str()), (1045, "28000"));
        assert_eq!(e.message, "Access denied");
        let e = ErrPacket::parse(&[0xFF, 0x10, 0x04, b'T', b'o', b'o']).unwrap();
        assert_eq!((e.code, e.message.as_str()), (1040, "Too"));
        assert!(ErrPacket::parse(&[0xFF, 1]).is_err());
    }

    #[test]
    fn rows_and_columns() {
        let row = [3, b'a', b'b', b'c', 0xFB, 0];
        assert_eq!(
            text_row(&row, 3).unwrap(),
            vec![Some("abc".into()), None, Some(String::new())]
        );
        assert!(text_row(&row, 2).is_err());
        assert!(text_row(&row, 4).is_err());
        let mut col = Vec::new();
        for s in ["def", "", "", "", "Log_name", "", ""] {
            crate::wire::put_lenenc_bytes(&mut col, s.as_bytes());
        }
        assert_eq!(column_name(&col).unwrap(), "Log_name");
        assert!(is_eof(&[0xFE, 0, 0, 2, 0]));
        assert!(!is_eof(&[0xFE, 1, 2, 3, 4, 5, 6, 7, 8]));
        assert_eq!(eof_status(&[0xFE, 0, 0, 8, 0]), 8);
    }

    proptest! {
        #[test]
        fn arbitrary_payloads_never_panic(p in proptest::collection::vec(any::<u8>(), 0..80), n in 0usize..10) {
            let _ = ErrPacket::parse(&p);
            let _ = OkPacket::parse(&p);
            let _ = column_name(&p);
            let _ = text_row(&p, n);
            let _ = eof_status(&p);
        }
    }
}
