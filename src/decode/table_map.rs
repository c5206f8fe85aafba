//! TABLE_MAP_EVENT: table id → schema, table, column types and metadata,
//! which every following rows event needs to size and type its values.
//!
//! Body layout (after the 19-byte common header, without checksum):
//!
//! ```text
//! table_id        6 bytes LE (4 when the FDE post-header length is 6)
//! flags           2 bytes
//! schema          1-byte length, bytes, 0x00
//! table           1-byte length, bytes, 0x00
//! column_count    packed integer
//! column_types    column_count bytes (MYSQL_TYPE_*)
//! metadata        packed length, then per column 0, 1 or 2 bytes:
//!                   FLOAT/DOUBLE: pack length; BLOB/JSON/GEOMETRY/VECTOR:
//!                   bytes of the length prefix; TIME2/DATETIME2/TIMESTAMP2:
//!                   fsp; VARCHAR: max bytes (u16 LE); NEWDECIMAL:
//!                   precision, scale; BIT: bits % 8, bits / 8;
//!                   STRING: real type, length (see column_type::plan)
//! null_bits       (column_count + 7) / 8 bytes, bit i = column i nullable
//! optional        TLV fields to the end (binlog_row_metadata):
//!                   type 1 byte, packed length, value
//! ```
//!
//! Optional metadata types: 1 SIGNEDNESS (bitmap over numeric columns,
//! MSB first, 1 = unsigned), 2 DEFAULT_CHARSET (packed default collation,
//! then packed (character-column index, collation) pairs), 3
//! COLUMN_CHARSET (packed collation per character column), 4 COLUMN_NAME
//! (packed-length string per column), 5 SET_STR_VALUE and 6
//! ENUM_STR_VALUE (per SET/ENUM column: packed count, then packed-length
//! strings), 7 GEOMETRY_TYPE (packed per geometry column), 8
//! SIMPLE_PRIMARY_KEY (packed column indexes), 9 PRIMARY_KEY_WITH_PREFIX
//! (packed (index, prefix length) pairs), 10 ENUM_AND_SET_DEFAULT_CHARSET
//! and 11 ENUM_AND_SET_COLUMN_CHARSET (as 2 and 3, over ENUM/SET
//! columns), 12 COLUMN_VISIBILITY (bitmap over all columns, 1 = visible).

use super::charset::{charset_of_collation, Charset};
use super::column_type::{code, is_character, is_numeric, metadata_len, plan, ColKind};
use super::DecodeError;
use crate::proto;
use crate::wire::Reader;

/// A decoded TABLE_MAP event.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TableMap {
    pub table_id: u64,
    pub schema: String,
    pub table: String,
    pub columns: Vec<ColumnDef>,
    /// True when the event carried column names (`binlog_row_metadata=FULL`).
    pub names_known: bool,
    /// True when the event carried SIGNEDNESS metadata (else `unsigned` is
    /// false for every column because nothing says otherwise).
    pub signedness_known: bool,
    /// The columns as change events describe them, built once per
    /// TABLE_MAP rather than per rows event (see [`Self::proto_columns`]).
    described: Vec<proto::Column>,
}

/// One column as TABLE_MAP describes it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ColumnDef {
    /// The real MYSQL_TYPE_* code (STRING resolved to ENUM/SET where the
    /// metadata says so).
    pub type_code: u8,
    /// Type metadata from the event: the 1-byte value, VARCHAR's length
    /// (LE), or the two bytes as `(first << 8) | second` otherwise.
    pub meta: u16,
    pub nullable: bool,
    pub unsigned: bool,
    pub name: Option<String>,
    /// Collation id where known (optional metadata).
    pub collation: Option<u32>,
    pub enum_values: Option<Vec<String>>,
    pub set_values: Option<Vec<String>>,
    pub primary_key: bool,
    /// GEOMETRY subtype (optional metadata).
    pub geometry_type: Option<u32>,
    /// How a value of this column is laid out in a row image.
    pub kind: ColKind,
    /// The character set from `collation` (Unknown without metadata).
    pub charset: Charset,
    /// False for invisible columns (COLUMN_VISIBILITY metadata).
    pub visible: bool,
}

impl TableMap {
    /// Parse the body of a TABLE_MAP event: the bytes after the common
    /// header, without the checksum. `table_id_size` is 6 (or 4 in very
    /// old binlogs, from the format description's post-header length).
    pub fn parse(body: &[u8], table_id_size: usize) -> Result<TableMap, DecodeError> {
        let mut c = Reader::new(body);
        let table_id = c.uint_le(table_id_size.min(8), "TABLE_MAP table id")?;
        c.skip(2, "TABLE_MAP flags")?;
        let schema = name(&mut c, "TABLE_MAP schema name")?;
        let table = name(&mut c, "TABLE_MAP table name")?;
        let n = c.lenenc_len(1, "TABLE_MAP column count")?;
        let types = c.take(n, "TABLE_MAP column types")?;
        let meta_len = c.lenenc_len(1, "TABLE_MAP metadata length")?;
        let meta = c.take(meta_len, "TABLE_MAP metadata")?;
        let mut m = Reader::new(meta);
        let mut columns = Vec::with_capacity(n);
        for &t in types {
            let raw = m.take(metadata_len(t), "TABLE_MAP metadata of a column")?;
            let (type_code, kind) = plan(t, raw);
            let meta = match (t, raw) {
                (code::VARCHAR | code::VAR_STRING, [a, b]) => u16::from_le_bytes([*a, *b]),
                (_, [a, b]) => (u16::from(*a) << 8) | u16::from(*b),
                (_, [a]) => u16::from(*a),
                _ => 0,
            };
            columns.push(ColumnDef {
                type_code,
                meta,
                kind,
                visible: true,
                ..ColumnDef::default()
            });
        }
        let nulls = c.take(n.div_ceil(8), "TABLE_MAP null bitmap")?;
        for (i, col) in columns.iter_mut().enumerate() {
            col.nullable = nulls[i / 8] & (1 << (i % 8)) != 0;
        }
        let mut map = TableMap {
            table_id,
            schema,
            table,
            columns,
            names_known: false,
            signedness_known: false,
            described: Vec::new(),
        };
        while !c.is_empty() {
            let field = c.u8("TABLE_MAP optional metadata type")?;
            let value = c.lenenc_bytes("TABLE_MAP optional metadata value")?;
            map.apply_optional(field, value)?;
        }
        map.resolve_charsets();
        map.described = map.describe();
        Ok(map)
    }

    fn apply_optional(&mut self, field: u8, value: &[u8]) -> Result<(), DecodeError> {
        let mut v = Reader::new(value);
        match field {
            1 => {
                self.signedness_known = true;
                let numeric = self.columns.iter_mut().filter(|c| is_numeric(c.type_code));
                for (k, col) in numeric.enumerate() {
                    let byte = value.get(k / 8).copied().unwrap_or(0);
                    col.unsigned = byte & (0x80 >> (k % 8)) != 0;
                }
            }
            2 | 10 => {
                let enum_set = field == 10;
                let default = v.lenenc("TABLE_MAP default charset")?;
                let mut cols: Vec<&mut ColumnDef> = self.charset_columns(enum_set).collect();
                for col in cols.iter_mut() {
                    col.collation = Some(default as u32);
                }
                while !v.is_empty() {
                    let idx = v.lenenc("TABLE_MAP charset column index")?;
                    let coll = v.lenenc("TABLE_MAP charset collation")?;
                    if let Some(col) = usize::try_from(idx).ok().and_then(|i| cols.get_mut(i)) {
                        col.collation = Some(coll as u32);
                    }
                }
            }
            3 | 11 => {
                let enum_set = field == 11;
                for col in self.charset_columns(enum_set) {
                    if v.is_empty() {
                        break;
                    }
                    col.collation = Some(v.lenenc("TABLE_MAP column charset")? as u32);
                }
            }
            4 => {
                for col in self.columns.iter_mut() {
                    let b = v.lenenc_bytes("TABLE_MAP column name")?;
                    col.name = Some(String::from_utf8_lossy(b).into_owned());
                }
                self.names_known = true;
            }
            5 | 6 => {
                let want = if field == 5 { code::SET } else { code::ENUM };
                for col in self.columns.iter_mut().filter(|c| c.type_code == want) {
                    if v.is_empty() {
                        break;
                    }
                    let count = v.lenenc_len(1, "TABLE_MAP enum/set value count")?;
                    let mut vals = Vec::with_capacity(count);
                    for _ in 0..count {
                        // Decoded with the column's charset once charsets
                        // are resolved; kept as bytes-in-a-String for now.
                        let b = v.lenenc_bytes("TABLE_MAP enum/set value")?;
                        vals.push(raw_string(b));
                    }
                    if field == 5 {
                        col.set_values = Some(vals);
                    } else {
                        col.enum_values = Some(vals);
                    }
                }
            }
            7 => {
                for col in self
                    .columns
                    .iter_mut()
                    .filter(|c| c.type_code == code::GEOMETRY)
                {
                    if v.is_empty() {
                        break;
                    }
                    col.geometry_type = Some(v.lenenc("TABLE_MAP geometry type")? as u32);
                }
            }
            8 => {
                while !v.is_empty() {
                    let idx = v.lenenc("TABLE_MAP primary key column")?;
                    self.mark_primary(idx)?;
                }
            }
            9 => {
                while !v.is_empty() {
                    let idx = v.lenenc("TABLE_MAP primary key column")?;
                    v.lenenc("TABLE_MAP primary key prefix")?;
                    self.mark_primary(idx)?;
                }
            }
            12 => {
                for (i, col) in self.columns.iter_mut().enumerate() {
                    let byte = value.get(i / 8).copied().unwrap_or(0xFF);
                    col.visible = byte & (0x80 >> (i % 8)) != 0;
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn mark_primary(&mut self, idx: u64) -> Result<(), DecodeError> {
        let n = self.columns.len();
        match usize::try_from(idx)
            .ok()
            .and_then(|i| self.columns.get_mut(i))
        {
            Some(col) => {
                col.primary_key = true;
                Ok(())
            }
            None => Err(DecodeError::Invalid {
                what: "TABLE_MAP primary key",
                detail: format!("column index {idx} but the table has {n} columns"),
            }),
        }
    }

    fn charset_columns(&mut self, enum_set: bool) -> impl Iterator<Item = &mut ColumnDef> {
        self.columns.iter_mut().filter(move |c| {
            if enum_set {
                matches!(c.type_code, code::ENUM | code::SET)
            } else {
                is_character(c.type_code)
            }
        })
    }

    fn resolve_charsets(&mut self) {
        for col in self.columns.iter_mut() {
            if let Some(id) = col.collation {
                col.charset = charset_of_collation(id);
            }
            let cs = col.charset;
            for vals in [&mut col.enum_values, &mut col.set_values]
                .into_iter()
                .flatten()
            {
                for s in vals.iter_mut() {
                    let bytes = unraw_string(s);
                    *s = match cs.decode(&bytes) {
                        Some(t) => t.into_owned(),
                        None => String::from_utf8_lossy(&bytes).into_owned(),
                    };
                }
            }
        }
    }

    /// Column names, `@1`, `@2`, ... where the event carried none.
    pub fn column_name(&self, i: usize) -> String {
        match self.columns.get(i).and_then(|c| c.name.as_ref()) {
            Some(n) => n.clone(),
            None => format!("@{}", i + 1),
        }
    }

    /// Column descriptions for the change event.
    pub fn proto_columns(&self) -> Vec<proto::Column> {
        self.described.clone()
    }

    fn describe(&self) -> Vec<proto::Column> {
        self.columns
            .iter()
            .enumerate()
            .map(|(i, c)| proto::Column {
                name: self.column_name(i),
                mysql_type: super::type_text::mysql_type(c),
                primary_key: c.primary_key,
                unsigned: c.unsigned,
                nullable: c.nullable,
                type_code: u32::from(c.type_code),
                charset: c.charset.name().to_string(),
            })
            .collect()
    }
}

/// A 1-byte-length name followed by a 0x00 terminator.
fn name(c: &mut Reader<'_>, what: &'static str) -> Result<String, DecodeError> {
    let len = c.u8(what)?;
    let b = c.take(usize::from(len), what)?;
    c.skip(1, what)?;
    Ok(String::from_utf8_lossy(b).into_owned())
}

// Enum/set strings arrive before the charset that decodes them may be
// known; hold the raw bytes losslessly in a String (one char per byte,
// U+0000..U+00FF) until `resolve_charsets` runs.
fn raw_string(b: &[u8]) -> String {
    b.iter().map(|&x| char::from(x)).collect()
}

fn unraw_string(s: &str) -> Vec<u8> {
    s.chars().map(|c| c as u32 as u8).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A TABLE_MAP body for `db.t (id INT UNSIGNED NOT NULL, name
    /// VARCHAR(10) utf8mb4, e ENUM('a','b'))` with FULL metadata.
    pub(crate) fn sample() -> Vec<u8> {
        let mut b = vec![42, 0, 0, 0, 0, 0, 1, 0];
        b.extend([2, b'd', b'b', 0, 1, b't', 0]);
        b.push(3);
        b.extend([code::LONG, code::VARCHAR, code::STRING]);
        b.push(4);
        b.extend([40, 0, 0xF7, 1]);
        b.push(0b110);
        // SIGNEDNESS: one numeric column, unsigned.
        b.extend([1, 1, 0x80]);
        // DEFAULT_CHARSET: 45 (utf8mb4_general_ci).
        b.extend([2, 1, 45]);
        // COLUMN_NAME
        b.extend([4, 10, 2, b'i', b'd', 4, b'n', b'a', b'm', b'e', 1, b'e']);
        // ENUM_STR_VALUE
        b.extend([6, 5, 2, 1, b'a', 1, b'b']);
        // ENUM_AND_SET_DEFAULT_CHARSET: latin1
        b.extend([10, 1, 8]);
        // SIMPLE_PRIMARY_KEY: column 0
        b.extend([8, 1, 0]);
        b
    }

    #[test]
    fn parses_full_metadata() {
        let t = TableMap::parse(&sample(), 6).unwrap();
        assert_eq!(t.table_id, 42);
        assert_eq!((t.schema.as_str(), t.table.as_str()), ("db", "t"));
        assert!(t.names_known);
        let c = &t.columns;
        assert_eq!(c[0].name.as_deref(), Some("id"));
        assert!(c[0].unsigned && c[0].primary_key && !c[0].nullable);
        assert_eq!(
            c[1].kind,
            ColKind::String {
                len_bytes: 1,
                max: 40,
                fixed: false
            }
        );
        assert_eq!(c[1].charset, Charset::Utf8mb4);
        assert!(c[1].nullable);
        assert_eq!(c[2].type_code, code::ENUM);
        assert_eq!(
            c[2].enum_values.as_deref(),
            Some(&["a".to_string(), "b".to_string()][..])
        );
        assert_eq!(c[2].charset, Charset::Latin1);
        let p = t.proto_columns();
        assert_eq!(p[0].mysql_type, "int(10) unsigned");
        assert_eq!(p[1].mysql_type, "varchar(10)");
        assert_eq!(p[2].mysql_type, "enum('a','b')");
    }

    #[test]
    fn without_optional_metadata_names_are_positional() {
        let mut b = sample();
        let cut = b.iter().position(|&x| x == 0b110).unwrap() + 1;
        b.truncate(cut);
        let t = TableMap::parse(&b, 6).unwrap();
        assert!(!t.names_known);
        assert_eq!(t.proto_columns()[1].name, "@2");
    }

    #[test]
    fn every_truncation_is_an_error() {
        let b = sample();
        let cut = b.iter().position(|&x| x == 0b110).unwrap() + 1;
        for n in 0..cut {
            assert!(TableMap::parse(&b[..n], 6).is_err(), "cut at {n}");
        }
    }
}
