//! `sluice decode` on the binlog files of a private MariaDB: the
//! transactions we ran come out whole, with the GTIDs and positions that
//! SHOW BINLOG EVENTS gives; DDL stands alone; a rolled-back transaction
//! is not there.

use sluice_testkit::MariaDb;
use std::process::Command;

struct ShowEvent {
    pos: u64,
    kind: String,
    end: u64,
    info: String,
}

fn show_events(db: &MariaDb, file: &str) -> Vec<ShowEvent> {
    db.sql(&format!("SHOW BINLOG EVENTS IN '{file}'"))
        .lines()
        .filter_map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            Some(ShowEvent {
                pos: c.get(1)?.parse().ok()?,
                kind: c.get(2)?.to_string(),
                end: c.get(4)?.parse().ok()?,
                info: c.get(5).unwrap_or(&"").to_string(),
            })
        })
        .collect()
}

#[test]
fn transactions_of_a_live_server_decode_with_its_gtids_and_positions() {
    let Some(db) = MariaDb::shared() else { return };
    db.sql(
        "CREATE DATABASE live_decode;
         CREATE TABLE live_decode.t (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB;
         CREATE TABLE live_decode.m (id INT PRIMARY KEY) ENGINE=MyISAM;
         BEGIN; INSERT INTO live_decode.t VALUES (1,'a'),(2,'b'); INSERT INTO live_decode.t VALUES (3,'c'); COMMIT;
         UPDATE live_decode.t SET v='B' WHERE id=2;
         BEGIN; INSERT INTO live_decode.t VALUES (9,'rolled back'); ROLLBACK;
         BEGIN; INSERT INTO live_decode.m VALUES (5); INSERT INTO live_decode.t VALUES (8,'rolled back'); ROLLBACK;
         SET SESSION binlog_format='STATEMENT';
         BEGIN; INSERT INTO live_decode.m VALUES (6); INSERT INTO live_decode.t VALUES (7,'rolled back'); ROLLBACK;
         SET SESSION binlog_format='ROW';
         DELETE FROM live_decode.t WHERE id=1;
         ALTER TABLE live_decode.t ADD COLUMN w INT;
         INSERT INTO live_decode.t VALUES (4,'d',40);
         FLUSH BINARY LOGS;",
    );
    let files = db.binlog_files();
    let first = files
        .iter()
        .position(|f| {
            show_events(db, &f.file_name().unwrap().to_string_lossy())
                .iter()
                .any(|e| e.info.contains("CREATE DATABASE live_decode"))
        })
        .expect("binlog with our statements");
    let file = &files[first];
    let name = file.file_name().unwrap().to_string_lossy().into_owned();

    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .arg("decode")
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|r: &serde_json::Value| r.to_string().contains("live_decode"))
        .collect();

    // What the server says: each GTID event's position and GTID, and where
    // its group ends (the XID, or the query of a stand-alone statement).
    let events = show_events(db, &name);
    let mut groups = Vec::new();
    for (i, e) in events.iter().enumerate() {
        if e.kind != "Gtid" {
            continue;
        }
        let gtid = e.info.split_whitespace().last().unwrap().to_string();
        let last = events[i + 1..]
            .iter()
            .take_while(|x| x.kind != "Gtid")
            .filter(|x| x.kind == "Xid" || x.kind == "Query")
            .last()
            .unwrap();
        groups.push((
            gtid,
            e.pos,
            last.end,
            events[i + 1..]
                .iter()
                .take_while(|x| x.kind != "Gtid")
                .map(|x| x.info.clone())
                .collect::<Vec<_>>()
                .join(" "),
        ));
    }
    // The server wrote the statement-format group that rolled back, with
    // its ROLLBACK: the decoder must drop it.
    assert!(
        groups
            .iter()
            .any(|g| g.3.contains("rolled back") && g.3.ends_with("ROLLBACK")),
        "no rolled-back group in the binlog: {groups:#?}"
    );
    let ours: Vec<_> = groups
        .iter()
        .filter(|g| g.3.contains("live_decode") && !g.3.ends_with("ROLLBACK"))
        .collect();

    let kinds: Vec<String> = records
        .iter()
        .map(|r| {
            if let Some(st) = r.get("statements") {
                format!("statement:{}", st[0]["text"].as_str().unwrap())
            } else if r.get("ddl").is_some() {
                format!(
                    "ddl:{}",
                    r["ddl"]["statement"]
                        .as_str()
                        .unwrap()
                        .split_whitespace()
                        .next()
                        .unwrap()
                )
            } else {
                r["changes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| {
                        format!(
                            "{}:{}",
                            c["kind"].as_str().unwrap(),
                            c["rows"].as_array().unwrap().len()
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(",")
            }
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "ddl:CREATE",
            "ddl:CREATE",
            "ddl:CREATE",
            "insert:2,insert:1",
            "update:1",
            "insert:1",
            // Statement format: the MyISAM insert is committed on its own.
            "statement:INSERT INTO live_decode.m VALUES (6)",
            "delete:1",
            "ddl:ALTER",
            "insert:1"
        ],
        "records: {records:#?}"
    );
    assert_eq!(records.len(), ours.len(), "server groups: {ours:#?}");
    for (r, (gtid, start, next, _)) in records.iter().zip(ours) {
        assert_eq!(r["gtid"], gtid.as_str());
        assert_eq!(r["start"], *start);
        assert_eq!(r["next"], *next);
        assert_eq!(r["file"], name.as_str());
        assert_eq!(r["server_id"], 1);
    }
    // The rolled-back row never appears.
    assert!(!String::from_utf8_lossy(&out.stdout).contains("rolled back"));
    let update = &records[4]["changes"][0]["rows"][0];
    // binlog_row_metadata=NO_LOG (MariaDB's default) and no history: no names.
    assert_eq!(update["before"]["@2"], "b");
    assert_eq!(update["after"]["@2"], "B");
}
