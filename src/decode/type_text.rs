//! A column's MySQL type as text (`int(11) unsigned`, `varchar(255)`,
//! `enum('a','b')`), rebuilt from TABLE_MAP as well as it can be: widths
//! of integer types are MySQL 5.7's defaults, VARCHAR/CHAR lengths are the
//! byte length divided by the charset's widest character.

use super::charset::Charset;
use super::column_type::{code, ColKind};
use super::table_map::ColumnDef;

pub fn mysql_type(c: &ColumnDef) -> String {
    let uns = if c.unsigned { " unsigned" } else { "" };
    let binary = matches!(c.charset, Charset::Binary);
    let text_known = !matches!(c.charset, Charset::Binary | Charset::Unknown);
    match c.kind {
        ColKind::Tiny => format!("tinyint({}){uns}", if c.unsigned { 3 } else { 4 }),
        ColKind::Short => format!("smallint({}){uns}", if c.unsigned { 5 } else { 6 }),
        ColKind::Int24 => format!("mediumint({}){uns}", if c.unsigned { 8 } else { 9 }),
        ColKind::Long => format!("int({}){uns}", if c.unsigned { 10 } else { 11 }),
        ColKind::LongLong => format!("bigint(20){uns}"),
        ColKind::Float => format!("float{uns}"),
        ColKind::Double => format!("double{uns}"),
        ColKind::Null => "null".into(),
        ColKind::Year => "year(4)".into(),
        ColKind::Date => "date".into(),
        ColKind::Time => "time".into(),
        ColKind::Datetime => "datetime".into(),
        ColKind::Timestamp => "timestamp".into(),
        ColKind::Time2 { fsp } => with_fsp("time", fsp),
        ColKind::Datetime2 { fsp } => with_fsp("datetime", fsp),
        ColKind::Timestamp2 { fsp } => with_fsp("timestamp", fsp),
        ColKind::NewDecimal { precision, scale } => format!("decimal({precision},{scale}){uns}"),
        ColKind::String { max, fixed, .. } => {
            let chars = u32::from(max) / c.charset.max_len().max(1);
            match (fixed, binary) {
                (true, true) => format!("binary({max})"),
                (true, false) => format!("char({chars})"),
                (false, true) => format!("varbinary({max})"),
                (false, false) => format!("varchar({chars})"),
            }
        }
        ColKind::Bit { bits } => format!("bit({bits})"),
        ColKind::Enum { .. } => with_values("enum", c.enum_values.as_deref()),
        ColKind::Set { .. } => with_values("set", c.set_values.as_deref()),
        ColKind::Blob { len_bytes } => {
            let size = match len_bytes {
                1 => "tiny",
                3 => "medium",
                4 => "long",
                _ => "",
            };
            if text_known {
                format!("{size}text")
            } else {
                format!("{size}blob")
            }
        }
        ColKind::Json { .. } => "json".into(),
        ColKind::Geometry { .. } => match c.geometry_type {
            Some(1) => "point",
            Some(2) => "linestring",
            Some(3) => "polygon",
            Some(4) => "multipoint",
            Some(5) => "multilinestring",
            Some(6) => "multipolygon",
            Some(7) => "geometrycollection",
            _ => "geometry",
        }
        .into(),
        ColKind::Vector { .. } => "vector".into(),
        ColKind::Unsupported { code: t } => match t {
            code::DECIMAL => "decimal".into(),
            other => format!("type{other}"),
        },
    }
}

fn with_fsp(name: &str, fsp: u8) -> String {
    if fsp == 0 {
        name.to_string()
    } else {
        format!("{name}({fsp})")
    }
}

fn with_values(name: &str, values: Option<&[String]>) -> String {
    match values {
        None => name.to_string(),
        Some(v) => {
            let mut s = format!("{name}(");
            for (i, x) in v.iter().enumerate() {
                if i > 0 {
                    s.push(',');
                }
                s.push('\'');
                // Quotes and backslashes doubled, as the server prints them.
                s.push_str(&x.replace('\\', "\\\\").replace('\'', "''"));
                s.push('\'');
            }
            s.push(')');
            s
        }
    }
}
