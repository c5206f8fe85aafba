//! Text in every character set decodes as the server reads it. For each
//! collation the server has, `charset_of_collation` names the collation's
//! own set; then for each set, every byte string of one byte (single-byte
//! sets) or two bytes (the others) is turned into text by the server
//! (`CONVERT(CONVERT(x USING set) USING utf8mb4)`) and by
//! `Charset::decode`. Where the server reads the bytes as text, ours must
//! be the same text; where the server cannot (it answers `?`), the bytes
//! never reach a binlog as that set's text, so nothing is compared.
//!
//! Sets listed in `NOT_DECODED` are kept as bytes by design (lossless);
//! the test fails if the server has a set that is neither decoded nor
//! listed.

use sluice::decode::charset::{charset_of_collation, charset_of_name, Charset};
use sluice_testkit::MariaDb;
use std::collections::BTreeMap;

/// Sets whose text stays bytes: no mapping table of ours.
const NOT_DECODED: &[&str] = &[];

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex from the server"))
        .collect()
}

/// `set name → (default collation id, bytes per character at most)`.
fn sets(db: &MariaDb) -> BTreeMap<String, (u32, u32)> {
    db.sql(
        "SELECT s.CHARACTER_SET_NAME, c.ID, s.MAXLEN FROM information_schema.CHARACTER_SETS s
         JOIN information_schema.COLLATIONS c ON c.COLLATION_NAME = s.DEFAULT_COLLATE_NAME",
    )
    .lines()
    .map(|l| {
        let f: Vec<&str> = l.split('\t').collect();
        (
            f[0].to_string(),
            (f[1].parse().unwrap(), f[2].parse().unwrap()),
        )
    })
    .collect()
}

#[test]
fn every_collation_names_its_own_set() {
    let Some(db) = MariaDb::shared() else { return };
    let mut wrong = Vec::new();
    for line in db
        .sql("SELECT ID, COLLATION_NAME, CHARACTER_SET_NAME FROM information_schema.COLLATIONS WHERE ID IS NOT NULL")
        .lines()
    {
        let f: Vec<&str> = line.split('\t').collect();
        let id: u32 = f[0].parse().unwrap();
        let ours = charset_of_collation(id);
        let expected = if f[2] == "utf8" { "utf8mb3" } else { f[2] };
        if ours == Charset::Unknown && NOT_DECODED.contains(&expected) {
            continue;
        }
        if ours.name() != expected {
            wrong.push(format!("{} ({id}): server {expected}, ours {:?}", f[1], ours.name()));
        }
    }
    assert!(
        wrong.is_empty(),
        "collations mapped to the wrong set:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn every_short_byte_string_decodes_as_the_server_reads_it() {
    let Some(db) = MariaDb::shared() else { return };
    let mut failures = Vec::new();
    for (name, (collation, maxlen)) in sets(db) {
        if name == "binary" || NOT_DECODED.contains(&name.as_str()) {
            continue;
        }
        let cs = charset_of_collation(collation);
        assert_eq!(
            cs.name(),
            charset_of_name(&name).name(),
            "{name} by name and by collation"
        );
        assert_ne!(
            cs,
            Charset::Unknown,
            "the server's set {name} is not decoded and not listed in NOT_DECODED"
        );
        // utf32's units are four bytes: two-byte strings say nothing.
        // EUC-JP's three-byte codes (JIS X 0212) are 0x8F and two more.
        let ranges: &[(u32, u32, usize)] = match maxlen {
            1 => &[(0, 255, 2)],
            _ if name == "utf32" => continue,
            _ if name == "ujis" || name == "eucjpms" => &[(0, 65535, 4), (0x8F_A1A1, 0x8F_FEFE, 6)],
            _ => &[(0, 65535, 4)],
        };
        let rows: String = ranges
            .iter()
            .map(|(first, last, width)| {
                db.sql(&format!(
                    "SELECT seq, HEX(CONVERT(CONVERT(UNHEX(LPAD(HEX(seq), {width}, '0')) USING {name}) USING utf8mb4))
                     FROM mysql.seq_{first}_to_{last}"
                ))
            })
            .collect();
        let mut wrong = 0;
        for row in rows.lines() {
            let (seq, hex) = row.split_once('\t').expect("two columns");
            let seq: u32 = seq.parse().unwrap();
            let input: Vec<u8> = match seq {
                _ if maxlen == 1 => vec![seq as u8],
                0..=0xFFFF => vec![(seq >> 8) as u8, seq as u8],
                _ => seq.to_be_bytes()[1..].to_vec(),
            };
            // A lone surrogate in ucs2 comes back as bytes that are not
            // UTF-8: not text either.
            let Ok(server) = String::from_utf8(unhex(hex)) else {
                continue;
            };
            // '?' is the server's "no such character", U+FFFD its "unknown".
            let question_marks = |s: &[u8]| s.iter().filter(|&&b| b == b'?').count();
            if question_marks(server.as_bytes()) > question_marks(&input)
                || server.contains('\u{FFFD}')
            {
                continue; // not text in this set
            }
            let ours = cs.decode(&input);
            if ours.as_deref() != Some(server.as_str()) {
                wrong += 1;
                if wrong <= 8 {
                    failures.push(format!(
                        "{name}: {input:02X?} server {server:?}, ours {ours:?}"
                    ));
                }
            }
        }
        if wrong > 8 {
            failures.push(format!("{name}: {} more", wrong - 8));
        }
    }
    assert!(
        failures.is_empty(),
        "text decoded unlike the server:\n{}",
        failures.join("\n")
    );
}
