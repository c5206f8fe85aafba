//! The decoder against the ground truth shipped beside the corpus files
//! (mysqlbinlog dumps, SHOW BINLOG EVENTS in UTF-16, zalora's JSON rows)
//! and against `mariadb-binlog -v` run on the same files: event
//! positions, GTIDs, transaction boundaries, statements, row counts and
//! row values.

use sluice::decode::{decode_all, BinlogFile, Decoded};
use sluice::format::value::canal_text;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn corpus() -> Option<PathBuf> {
    sluice_testkit::binlog_corpus()
}

/// Read a ground-truth text: UTF-8, or UTF-16 LE with a BOM.
fn read_text(path: &Path) -> String {
    let raw = std::fs::read(path).expect("read ground truth");
    if raw.starts_with(&[0xFF, 0xFE]) {
        let units: Vec<u16> = raw[2..]
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        String::from_utf16_lossy(&units)
    } else {
        String::from_utf8_lossy(&raw).into_owned()
    }
}

fn squeeze(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Event start offsets a dump (`# at N`) or a SHOW BINLOG EVENTS table
/// (`| name | Pos | type |`) lists.
fn listed_positions(text: &str) -> BTreeSet<u64> {
    let mut out = BTreeSet::new();
    for line in text.lines() {
        if let Some(n) = line.strip_prefix("# at ") {
            if let Ok(n) = n.trim().parse() {
                out.insert(n);
            }
        } else if line.starts_with('|') {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            if let Some(n) = cells.get(2).and_then(|c| c.parse().ok()) {
                out.insert(n);
            }
        }
    }
    out
}

fn listed_gtids(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        if let Some(i) = line.find("GTID_NEXT= '") {
            let rest = &line[i + "GTID_NEXT= '".len()..];
            if let Some(end) = rest.find('\'') {
                let g = &rest[..end];
                if g != "ANONYMOUS" && g != "AUTOMATIC" {
                    out.push(g.to_string());
                }
            }
        }
    }
    out
}

fn row_images_in_dump(text: &str) -> usize {
    text.lines()
        .filter(|l| {
            l.starts_with("### INSERT INTO")
                || l.starts_with("### UPDATE ")
                || l.starts_with("### DELETE FROM")
        })
        .count()
}

fn row_images(decoded: &Decoded) -> usize {
    decoded
        .records
        .iter()
        .flat_map(|r| &r.changes)
        .map(|c| c.rows.len())
        .sum()
}

fn ground_truth_files(dir: &Path) -> Vec<(PathBuf, PathBuf)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("list corpus") {
        let path = entry.expect("dir entry").path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if let Some(i) = name.find(".expected.") {
            if name.ends_with(".json") {
                continue;
            }
            out.push((dir.join(&name[..i]), path));
        }
    }
    out.sort();
    out
}

#[test]
fn positions_gtids_boundaries_and_statements_match_the_dumps() {
    let Some(dir) = corpus() else { return };
    let truths = ground_truth_files(&dir);
    assert!(
        truths.len() >= 25,
        "only {} ground-truth files",
        truths.len()
    );
    let mut failures = Vec::new();
    for (binlog, truth) in &truths {
        let tname = truth.file_name().unwrap().to_string_lossy().into_owned();
        let text = read_text(truth);
        let file = BinlogFile::open(binlog).expect("open binlog");
        let decoded = decode_all(&file);
        if !decoded.errors.is_empty() {
            failures.push(format!("{tname}: decode errors {:?}", decoded.errors));
            continue;
        }
        // Framing: every event we cut starts where the tool listed one.
        let ours: BTreeSet<u64> = file.events().map(|e| e.expect("frames").0).collect();
        let end = file.bytes().len() as u64;
        // A listing made after the copy may show later events: keep what
        // lies within the file.
        let listed: BTreeSet<u64> = listed_positions(&text)
            .into_iter()
            .filter(|&p| p < end)
            .collect();
        if !listed.is_empty() && ours != listed {
            failures.push(format!(
                "{tname}: event offsets differ: ours-only {:?}, listed-only {:?}",
                ours.difference(&listed).collect::<Vec<_>>(),
                listed.difference(&ours).collect::<Vec<_>>()
            ));
        }
        // Transactions start and end on event boundaries the tool listed.
        for r in &decoded.records {
            let p = r.position.clone().unwrap_or_default();
            if !listed.is_empty()
                && (!listed.contains(&p.start) || !(listed.contains(&p.next) || p.next == end))
            {
                failures.push(format!(
                    "{tname}: record {}..{} off the listed events",
                    p.start, p.next
                ));
            }
        }
        // GTIDs: one committed record per GTID the tool printed, in order.
        let gtids: Vec<String> = decoded
            .records
            .iter()
            .filter(|r| !r.gtid.is_empty())
            .map(|r| r.gtid.clone())
            .collect();
        let expected = listed_gtids(&text);
        if gtids != expected {
            failures.push(format!("{tname}: GTIDs {gtids:?}, tool {expected:?}"));
        }
        // DDL and statements appear verbatim (modulo whitespace).
        let flat = squeeze(&text);
        for r in &decoded.records {
            let texts = r
                .ddl
                .iter()
                .map(|d| d.statement.as_str())
                .chain(r.statements.iter().map(|s| s.text.as_str()));
            for t in texts {
                if !flat.contains(&squeeze(t)) {
                    failures.push(format!("{tname}: statement not in the dump: {t:?}"));
                }
            }
        }
        // Row images, where the dump decoded rows (-v).
        let dumped = row_images_in_dump(&text);
        if dumped > 0 && dumped != row_images(&decoded) {
            failures.push(format!(
                "{tname}: {} row images, the dump has {dumped}",
                row_images(&decoded)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn json_objects(text: &str) -> Vec<serde_json::Value> {
    serde_json::Deserializer::from_str(text)
        .into_iter::<serde_json::Value>()
        .map(|v| v.expect("zalora JSON"))
        .collect()
}

/// A row's values as sorted texts (zalora names columns from its own
/// schema lookup; 5.6 binlogs carry no names, so compare the values).
fn sorted_values(row: &serde_json::Value) -> Vec<String> {
    let mut v: Vec<String> = row
        .as_object()
        .map(|m| {
            m.values()
                .map(|x| match x {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Our image's values as sorted texts (TIMESTAMP as `yyyy-mm-dd hh:mm:ss` UTC).
fn sorted_ours(image: Option<&sluice::proto::Image>) -> Vec<String> {
    let mut v: Vec<String> = image
        .map(|i| i.values.iter().filter_map(canal_text).collect())
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn rows_and_queries_match_zalora_json() {
    let Some(dir) = corpus() else { return };
    let mut checked = 0;
    for n in ["01", "02", "03", "05", "06"] {
        let binlog = dir.join(format!("zalora-binlog-parser__mysql-bin.{n}"));
        let truth = dir.join(format!(
            "zalora-binlog-parser__mysql-bin.{n}.expected.{n}.json"
        ));
        let expected = json_objects(&std::fs::read_to_string(&truth).expect("read zalora json"));
        let decoded = decode_all(&BinlogFile::open(&binlog).expect("open"));
        assert!(decoded.errors.is_empty(), "{n}: {:?}", decoded.errors);
        // Our rows and statements in binlog order, in zalora's terms.
        let mut ours = Vec::new();
        for r in &decoded.records {
            let p = r.position.clone().unwrap_or_default();
            if let Some(d) = &r.ddl {
                ours.push((
                    "Query".to_string(),
                    squeeze(&d.statement),
                    vec![],
                    vec![],
                    p.clone(),
                ));
            }
            for s in &r.statements {
                ours.push((
                    "Query".to_string(),
                    squeeze(&s.text),
                    vec![],
                    vec![],
                    p.clone(),
                ));
            }
            for c in &r.changes {
                let kind = match c.kind {
                    1 => "Insert",
                    2 => "Update",
                    _ => "Delete",
                };
                for row in &c.rows {
                    ours.push((
                        kind.to_string(),
                        format!("{}.{}", c.schema, c.table),
                        sorted_ours(row.before.as_ref()),
                        sorted_ours(row.after.as_ref()),
                        p.clone(),
                    ));
                }
            }
        }
        assert_eq!(ours.len(), expected.len(), "{n}: entries");
        for (o, e) in ours.iter().zip(&expected) {
            let ty = e["Type"].as_str().unwrap();
            assert_eq!(o.0, ty, "{n}: type of {e}");
            let pos = e["Header"]["BinlogPosition"].as_u64().unwrap();
            // zalora gives the end position of the event behind the entry.
            assert!(
                (o.4.start + 1..=o.4.next).contains(&pos),
                "{n}: position {pos} outside {:?} for {e}",
                o.4
            );
            match ty {
                "Query" => assert_eq!(o.1, squeeze(e["Query"].as_str().unwrap()), "{n}"),
                "Insert" => assert_eq!(o.3, sorted_values(&e["Data"]["Row"]), "{n}: {e}"),
                "Delete" => assert_eq!(o.2, sorted_values(&e["Data"]["Row"]), "{n}: {e}"),
                _ => {
                    assert_eq!(o.2, sorted_values(&e["OldData"]["Row"]), "{n}: {e}");
                    assert_eq!(o.3, sorted_values(&e["NewData"]["Row"]), "{n}: {e}");
                }
            }
            if ty != "Query" {
                let table = format!(
                    "{}.{}",
                    e["Header"]["Schema"].as_str().unwrap(),
                    e["Header"]["Table"].as_str().unwrap()
                );
                assert_eq!(o.1, table, "{n}");
            }
            checked += 1;
        }
    }
    assert!(checked >= 25, "checked {checked} entries");
}

fn mariadb_binlog() -> Option<PathBuf> {
    ["mariadb-binlog", "mysqlbinlog"].iter().find_map(|b| {
        std::env::var_os("PATH").and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(b))
                .find(|f| f.is_file())
        })
    })
}

#[test]
fn row_image_counts_equal_mariadb_binlog_where_it_reads_the_file() {
    let Some(dir) = corpus() else { return };
    let Some(tool) = mariadb_binlog() else {
        sluice_testkit::missing(
            "mariadb-binlog not installed: `apt-get install -y mariadb-client`",
        );
        return;
    };
    let mut compared = 0;
    let mut failures = Vec::new();
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            !n.contains(".expected.")
                && !n.ends_with(".md")
                && !n.ends_with(".tsv")
                && !n.ends_with(".py")
        })
        .collect();
    names.sort();
    for path in names {
        let out = Command::new(&tool)
            .args(["--no-defaults", "-v", "--base64-output=decode-rows"])
            .arg(&path)
            .output()
            .expect("run mariadb-binlog");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() || stderr.contains("ERROR") || stdout.contains("ERROR:") {
            continue;
        }
        let decoded = decode_all(&BinlogFile::open(&path).unwrap());
        if !decoded.errors.is_empty() {
            continue;
        }
        let theirs = row_images_in_dump(&stdout);
        let ours = row_images(&decoded);
        if theirs != ours {
            failures.push(format!(
                "{}: {ours} row images, mariadb-binlog {theirs}",
                path.file_name().unwrap().to_string_lossy()
            ));
        }
        compared += 1;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(compared >= 30, "mariadb-binlog read only {compared} files");
}
