//! Column types as the server prints them.
//!
//! A `CREATE TABLE` says `INTEGER UNSIGNED` or `TEXT(100)`; the server stores
//! and `SHOW COLUMNS` prints `int(10) unsigned` and `text`. The history must
//! hold the server's form, identical to `information_schema.COLUMNS
//! .COLUMN_TYPE`, so that a history rebuilt from DDL and one read from the
//! server agree. This module turns a declared type (as `sqlparser` prints
//! it) plus the column's character set into that form, the binlog type code
//! and the unsigned flag. Differences between servers (integer display
//! widths, `year(4)`, native JSON) come from [`Dialect`].

use super::lex::{tokenize, Kind};

/// The server whose DDL we read: decides how types are printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialect {
    pub mariadb: bool,
    /// (major, minor, patch) of the server version.
    pub version: (u32, u32, u32),
    /// `@@character_set_server`: the default of a database created without
    /// one.
    pub server_charset: String,
}

impl Default for Dialect {
    /// MariaDB 10.11 with `latin1`, the built-in default.
    fn default() -> Self {
        Dialect {
            mariadb: true,
            version: (10, 11, 0),
            server_charset: "latin1".into(),
        }
    }
}

impl Dialect {
    /// From the handshake's version string (`10.11.6-MariaDB-log`,
    /// `8.0.36`, `5.5.5-10.6.12-MariaDB`).
    pub fn from_server_version(version: &str, server_charset: &str) -> Dialect {
        let mariadb = version.contains("MariaDB");
        let v = version.strip_prefix("5.5.5-").unwrap_or(version);
        let mut nums = v
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|n| n.parse::<u32>().ok());
        let major = nums.next().unwrap_or(0);
        let minor = nums.next().unwrap_or(0);
        let patch = nums.next().unwrap_or(0);
        Dialect {
            mariadb,
            version: (major, minor, patch),
            server_charset: normalize_charset(server_charset),
        }
    }

    /// The default of `@@explicit_defaults_for_timestamp` (on since MySQL
    /// 8.0.2 and MariaDB 10.10): when off, a `TIMESTAMP` column without an
    /// explicit `NULL` is `NOT NULL`. The history can be told the server's
    /// real value ([`SchemaHistory::set_explicit_timestamp_defaults`]).
    ///
    /// [`SchemaHistory::set_explicit_timestamp_defaults`]: super::SchemaHistory::set_explicit_timestamp_defaults
    pub fn explicit_timestamp_defaults(&self) -> bool {
        if self.mariadb {
            self.version >= (10, 10, 0)
        } else {
            self.version >= (8, 0, 2)
        }
    }

    /// The version as executable comments compare it: `major * 10000 +
    /// minor * 100 + patch`.
    pub fn version_number(&self) -> u32 {
        let (a, b, c) = self.version;
        a.saturating_mul(10000)
            .saturating_add(b.saturating_mul(100))
            .saturating_add(c)
    }

    /// MySQL 8.0.19 stopped printing integer display widths (except
    /// `tinyint(1)` and with ZEROFILL) and `year(4)`.
    fn mysql_modern(&self) -> bool {
        !self.mariadb && self.version >= (8, 0, 19)
    }
}

/// Binlog column type codes (`MYSQL_TYPE_*`).
pub mod code {
    pub const DECIMAL: u32 = 0;
    pub const TINY: u32 = 1;
    pub const SHORT: u32 = 2;
    pub const LONG: u32 = 3;
    pub const FLOAT: u32 = 4;
    pub const DOUBLE: u32 = 5;
    pub const TIMESTAMP2: u32 = 17;
    pub const LONGLONG: u32 = 8;
    pub const INT24: u32 = 9;
    pub const DATE: u32 = 10;
    pub const YEAR: u32 = 13;
    pub const VARCHAR: u32 = 15;
    pub const BIT: u32 = 16;
    pub const DATETIME2: u32 = 18;
    pub const TIME2: u32 = 19;
    pub const VECTOR: u32 = 242;
    pub const JSON: u32 = 245;
    pub const NEWDECIMAL: u32 = 246;
    pub const ENUM: u32 = 247;
    pub const SET: u32 = 248;
    pub const BLOB: u32 = 252;
    pub const STRING: u32 = 254;
    pub const GEOMETRY: u32 = 255;
}

/// A resolved column type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub mysql_type: String,
    pub type_code: u32,
    pub unsigned: bool,
    /// Character set, empty for non-character types and binary strings.
    pub charset: String,
}

/// `utf8` means `utf8mb3` on every server we support.
pub fn normalize_charset(cs: &str) -> String {
    let cs = cs.to_ascii_lowercase();
    if cs == "utf8" {
        "utf8mb3".into()
    } else {
        cs
    }
}

/// Character set of a collation name (`latin1_swedish_ci` → `latin1`).
pub fn charset_of_collation(collation: &str) -> String {
    let c = collation.to_ascii_lowercase();
    // MariaDB 11 short names: `uca1400_ai_ci` needs the table's charset.
    match c.split_once('_') {
        Some((cs, _)) if !cs.is_empty() => normalize_charset(cs),
        _ => normalize_charset(&c),
    }
}

/// Bytes per character at most.
fn mbmaxlen(charset: &str) -> u64 {
    match charset {
        "utf8mb4" | "utf16" | "utf16le" | "utf32" | "gb18030" => 4,
        "utf8mb3" | "ujis" | "eucjpms" => 3,
        "ucs2" | "big5" | "gbk" | "sjis" | "cp932" | "euckr" | "gb2312" => 2,
        _ => 1,
    }
}

/// What `ALTER TABLE … CONVERT TO CHARACTER SET to` makes of a column:
/// character columns take the new charset, and a TEXT type grows to the
/// next size when it could no longer hold as many characters. `None` when
/// the result is not certain (a target of `binary`, a VARCHAR that would
/// outgrow its limit): the caller asks the server.
pub fn convert_column(col: &crate::proto::Column, to: &str) -> Option<crate::proto::Column> {
    let to = normalize_charset(to);
    if to == "binary" || to == "default" {
        return None;
    }
    let mut out = col.clone();
    if col.charset.is_empty() {
        return Some(out);
    }
    let (old_mb, new_mb) = (mbmaxlen(&col.charset), mbmaxlen(&to));
    let text_sizes: [(&str, u64); 4] = [
        ("tinytext", 255),
        ("text", 65535),
        ("mediumtext", (1 << 24) - 1),
        ("longtext", (1 << 32) - 1),
    ];
    if let Some(at) = text_sizes.iter().position(|(n, _)| *n == col.mysql_type) {
        let bytes = text_sizes[at].1 / old_mb * new_mb;
        let fits = text_sizes
            .iter()
            .skip(at)
            .find(|(_, max)| *max >= bytes)
            .or(text_sizes.last())?;
        out.mysql_type = fits.0.to_string();
    } else if let Some(n) = col
        .mysql_type
        .strip_prefix("varchar(")
        .and_then(|r| r.strip_suffix(')'))
    {
        let n: u64 = n.parse().ok()?;
        if n.saturating_mul(new_mb) > 65535 {
            return None;
        }
    }
    out.charset = to;
    Some(out)
}

/// Resolves a declared type.
///
/// `declared` is the type as `sqlparser` prints it (`INT(11) UNSIGNED`,
/// `VARCHAR(10)`); `members` the ENUM/SET values when it is one; `charset`
/// the character set the column gets (explicit, or the table's default).
/// Returns `None` for a type we do not know, so the caller can ask the
/// server instead of guessing.
pub fn resolve(
    declared: &str,
    members: Option<&[String]>,
    charset: &str,
    dialect: &Dialect,
) -> Option<Resolved> {
    let toks = tokenize(declared, dialect.mariadb);
    let mut words: Vec<String> = Vec::new();
    let mut args: Vec<u64> = Vec::new();
    let mut unsigned = false;
    let mut zerofill = false;
    let mut i = 0;
    while i < toks.len() {
        let t = &toks[i];
        if t.is("UNSIGNED") {
            unsigned = true;
        } else if t.is("SIGNED") {
        } else if t.is("ZEROFILL") {
            zerofill = true;
            unsigned = true;
        } else if t.is_punct("(") {
            if members.is_some() {
                break;
            }
            i += 1;
            while i < toks.len() && !toks[i].is_punct(")") {
                if toks[i].kind == Kind::Num {
                    args.push(toks[i].raw.parse().ok()?);
                } else if !toks[i].is_punct(",") {
                    return None;
                }
                i += 1;
            }
        } else if t.kind == Kind::Word && args.is_empty() {
            words.push(t.raw.to_ascii_lowercase());
        } else {
            return None;
        }
        i += 1;
    }
    let name = words.join(" ");
    let modern = dialect.mysql_modern();
    let charset = normalize_charset(charset);
    let int = |base: &str, signed_w: u64, unsigned_w: u64, code: u32| -> Resolved {
        let w = args
            .first()
            .copied()
            .unwrap_or(if unsigned { unsigned_w } else { signed_w });
        let mut t = base.to_string();
        if !modern || zerofill || (base == "tinyint" && w == 1 && !args.is_empty()) {
            t = format!("{base}({w})");
        }
        if unsigned {
            t.push_str(" unsigned");
        }
        if zerofill {
            t.push_str(" zerofill");
        }
        Resolved {
            mysql_type: t,
            type_code: code,
            unsigned,
            charset: String::new(),
        }
    };
    let plain = |t: &str, code: u32| Resolved {
        mysql_type: t.to_string(),
        type_code: code,
        unsigned,
        charset: String::new(),
    };
    let with_suffix = |t: String| {
        let mut t = t;
        if unsigned {
            t.push_str(" unsigned");
        }
        if zerofill {
            t.push_str(" zerofill");
        }
        t
    };
    let binary = charset == "binary";
    let text_like = |t: &str, code: u32| Resolved {
        mysql_type: t.to_string(),
        type_code: code,
        unsigned: false,
        charset: if binary {
            String::new()
        } else {
            charset.clone()
        },
    };
    let sized_blob = |text: bool, bytes: u64| -> Resolved {
        let kind = if bytes < 256 {
            "tiny"
        } else if bytes < 65536 {
            ""
        } else if bytes < 1 << 24 {
            "medium"
        } else {
            "long"
        };
        if text && !binary {
            text_like(&format!("{kind}text"), code::BLOB)
        } else {
            plain(&format!("{kind}blob"), code::BLOB)
        }
    };
    let fsp = |base: &str, code: u32| -> Resolved {
        match args.first() {
            Some(n) if *n > 0 => plain(&format!("{base}({n})"), code),
            _ => plain(base, code),
        }
    };
    let r = match name.as_str() {
        "tinyint" | "int1" => int("tinyint", 4, 3, code::TINY),
        "bool" | "boolean" => Resolved {
            mysql_type: "tinyint(1)".into(),
            type_code: code::TINY,
            unsigned: false,
            charset: String::new(),
        },
        "smallint" | "int2" => int("smallint", 6, 5, code::SHORT),
        "mediumint" | "int3" | "middleint" => int("mediumint", 9, 8, code::INT24),
        "int" | "integer" | "int4" => int("int", 11, 10, code::LONG),
        "bigint" | "int8" => int("bigint", 20, 20, code::LONGLONG),
        "serial" => {
            let t = if modern {
                "bigint unsigned"
            } else {
                "bigint(20) unsigned"
            };
            Resolved {
                mysql_type: t.into(),
                type_code: code::LONGLONG,
                unsigned: true,
                charset: String::new(),
            }
        }
        "decimal" | "numeric" | "dec" | "fixed" => {
            let m = args.first().copied().unwrap_or(10);
            let d = args.get(1).copied().unwrap_or(0);
            plain(&with_suffix(format!("decimal({m},{d})")), code::NEWDECIMAL)
        }
        "float" | "float4" => match args.as_slice() {
            [m, d] => plain(&with_suffix(format!("float({m},{d})")), code::FLOAT),
            [p] if *p > 24 => plain(&with_suffix("double".into()), code::DOUBLE),
            _ => plain(&with_suffix("float".into()), code::FLOAT),
        },
        "double" | "double precision" | "real" | "float8" => match args.as_slice() {
            [m, d] => plain(&with_suffix(format!("double({m},{d})")), code::DOUBLE),
            _ => plain(&with_suffix("double".into()), code::DOUBLE),
        },
        "bit" => plain(
            &format!("bit({})", args.first().copied().unwrap_or(1)),
            code::BIT,
        ),
        "char" | "character" | "nchar" | "national char" | "national character" => {
            let n = args.first().copied().unwrap_or(1);
            let cs = if name.contains("nchar") || name.starts_with("national") {
                "utf8mb3"
            } else {
                charset.as_str()
            };
            if cs == "binary" {
                plain(&format!("binary({n})"), code::STRING)
            } else {
                Resolved {
                    mysql_type: format!("char({n})"),
                    type_code: code::STRING,
                    unsigned: false,
                    charset: cs.into(),
                }
            }
        }
        "varchar"
        | "character varying"
        | "char varying"
        | "nvarchar"
        | "national varchar"
        | "nchar varchar"
        | "national char varying"
        | "national character varying"
        | "nchar varying" => {
            let n = *args.first()?;
            let cs = if name.starts_with('n') {
                "utf8mb3"
            } else {
                charset.as_str()
            };
            if cs == "binary" {
                plain(&format!("varbinary({n})"), code::VARCHAR)
            } else {
                Resolved {
                    mysql_type: format!("varchar({n})"),
                    type_code: code::VARCHAR,
                    unsigned: false,
                    charset: cs.into(),
                }
            }
        }
        "binary" => plain(
            &format!("binary({})", args.first().copied().unwrap_or(1)),
            code::STRING,
        ),
        "varbinary" => plain(&format!("varbinary({})", args.first()?), code::VARCHAR),
        "tinytext" => sized_blob(true, 255),
        "text" => match args.first() {
            Some(n) => sized_blob(true, n.saturating_mul(mbmaxlen(&charset))),
            None => sized_blob(true, 65535),
        },
        "mediumtext" | "long" | "long varchar" => sized_blob(true, 1 << 23),
        "longtext" => sized_blob(true, 1 << 31),
        "tinyblob" => sized_blob(false, 255),
        "blob" => sized_blob(false, args.first().copied().unwrap_or(65535)),
        "mediumblob" | "long varbinary" => sized_blob(false, 1 << 23),
        "longblob" => sized_blob(false, 1 << 31),
        "enum" | "set" => {
            let members = members?;
            let list: Vec<String> = members
                .iter()
                // As `information_schema.COLUMNS.COLUMN_TYPE` prints them:
                // quotes and backslashes doubled.
                .map(|m| {
                    let m = m.trim_end_matches(' ').replace('\\', "\\\\");
                    format!("'{}'", m.replace('\'', "''"))
                })
                .collect();
            let code = if name == "enum" {
                code::ENUM
            } else {
                code::SET
            };
            text_like(&format!("{name}({})", list.join(",")), code)
        }
        "date" => plain("date", code::DATE),
        "time" => fsp("time", code::TIME2),
        "datetime" => fsp("datetime", code::DATETIME2),
        "timestamp" => fsp("timestamp", code::TIMESTAMP2),
        "year" => plain(if modern { "year" } else { "year(4)" }, code::YEAR),
        "json" => {
            if dialect.mariadb {
                Resolved {
                    mysql_type: "longtext".into(),
                    type_code: code::BLOB,
                    unsigned: false,
                    charset: "utf8mb4".into(),
                }
            } else {
                plain("json", code::JSON)
            }
        }
        "geometry" | "point" | "linestring" | "polygon" | "multipoint" | "multilinestring"
        | "multipolygon" | "geometrycollection" | "geomcollection" => {
            let n = if name == "geomcollection" || (name == "geometrycollection" && modern) {
                if modern {
                    "geomcollection"
                } else {
                    "geometrycollection"
                }
            } else {
                name.as_str()
            };
            plain(n, code::GEOMETRY)
        }
        "uuid" if dialect.mariadb => plain("uuid", code::STRING),
        "inet6" if dialect.mariadb => plain("inet6", code::STRING),
        "inet4" if dialect.mariadb => plain("inet4", code::STRING),
        "vector" => plain(&format!("vector({})", args.first()?), code::VECTOR),
        _ => return None,
    };
    Some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn maria(t: &str) -> String {
        resolve(t, None, "utf8mb4", &Dialect::default())
            .map(|r| r.mysql_type)
            .unwrap_or_else(|| "?".into())
    }

    fn mysql8(t: &str) -> String {
        let d = Dialect::from_server_version("8.0.36", "utf8mb4");
        resolve(t, None, "utf8mb4", &d)
            .map(|r| r.mysql_type)
            .unwrap_or_else(|| "?".into())
    }

    #[test]
    fn integers() {
        assert_eq!(maria("INT"), "int(11)");
        assert_eq!(maria("INTEGER UNSIGNED"), "int(10) unsigned");
        assert_eq!(maria("INT(5) ZEROFILL"), "int(5) unsigned zerofill");
        assert_eq!(maria("TINYINT"), "tinyint(4)");
        assert_eq!(maria("BOOL"), "tinyint(1)");
        assert_eq!(maria("BIGINT UNSIGNED"), "bigint(20) unsigned");
        assert_eq!(maria("SMALLINT"), "smallint(6)");
        assert_eq!(maria("MEDIUMINT UNSIGNED"), "mediumint(8) unsigned");
        assert_eq!(mysql8("INT(11)"), "int");
        assert_eq!(mysql8("TINYINT(1)"), "tinyint(1)");
        assert_eq!(mysql8("INT UNSIGNED"), "int unsigned");
        assert_eq!(mysql8("YEAR"), "year");
        assert_eq!(maria("YEAR"), "year(4)");
    }

    #[test]
    fn numbers_and_strings() {
        assert_eq!(maria("DECIMAL"), "decimal(10,0)");
        assert_eq!(maria("NUMERIC(5)"), "decimal(5,0)");
        assert_eq!(maria("DECIMAL(10,2) UNSIGNED"), "decimal(10,2) unsigned");
        assert_eq!(maria("FLOAT(30)"), "double");
        assert_eq!(maria("FLOAT(7,4)"), "float(7,4)");
        assert_eq!(maria("DOUBLE PRECISION"), "double");
        assert_eq!(maria("REAL"), "double");
        assert_eq!(maria("CHAR"), "char(1)");
        assert_eq!(maria("TEXT(100)"), "text");
        assert_eq!(
            resolve("TEXT(100)", None, "latin1", &Dialect::default()).map(|r| r.mysql_type),
            Some("tinytext".into())
        );
        assert_eq!(maria("BLOB(300)"), "blob");
        assert_eq!(maria("JSON"), "longtext");
        assert_eq!(mysql8("JSON"), "json");
        assert_eq!(maria("DATETIME(3)"), "datetime(3)");
        assert_eq!(maria("BIT"), "bit(1)");
        assert_eq!(maria("frobnicate"), "?");
        let bin = resolve("VARCHAR(10)", None, "binary", &Dialect::default()).map(|r| r.mysql_type);
        assert_eq!(bin, Some("varbinary(10)".into()));
    }

    #[test]
    fn enums_keep_members_and_charset() {
        let m = vec!["a".to_string(), "it's ".to_string()];
        let r = resolve(
            "ENUM('a', 'it''s ')",
            Some(&m),
            "latin1",
            &Dialect::default(),
        );
        assert_eq!(
            r,
            Some(Resolved {
                mysql_type: "enum('a','it''s')".into(),
                type_code: code::ENUM,
                unsigned: false,
                charset: "latin1".into()
            })
        );
    }

    #[test]
    fn convert_grows_text() {
        let col = |t: &str, cs: &str| crate::proto::Column {
            mysql_type: t.into(),
            charset: cs.into(),
            ..Default::default()
        };
        let c = |t: &str, from: &str, to: &str| {
            convert_column(&col(t, from), to).map(|c| format!("{} {}", c.mysql_type, c.charset))
        };
        assert_eq!(
            c("text", "latin1", "utf8mb4").as_deref(),
            Some("mediumtext utf8mb4")
        );
        assert_eq!(
            c("tinytext", "latin1", "utf8mb3").as_deref(),
            Some("text utf8mb3")
        );
        assert_eq!(
            c("mediumtext", "utf8mb4", "latin1").as_deref(),
            Some("mediumtext latin1")
        );
        assert_eq!(
            c("varchar(10)", "latin1", "utf8").as_deref(),
            Some("varchar(10) utf8mb3")
        );
        assert_eq!(c("varchar(20000)", "latin1", "utf8mb4"), None);
        assert_eq!(c("int(11)", "", "utf8mb4").as_deref(), Some("int(11) "));
        assert_eq!(c("char(3)", "latin1", "binary"), None);
    }

    #[test]
    fn versions() {
        let d = Dialect::from_server_version("5.5.5-10.6.12-MariaDB-log", "utf8");
        assert!(d.mariadb);
        assert_eq!(d.version, (10, 6, 12));
        assert_eq!(d.server_charset, "utf8mb3");
    }
}
