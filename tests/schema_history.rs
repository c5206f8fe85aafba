//! The schema history against a real MariaDB: load a snapshot from
//! `information_schema`, run a sequence of DDL on the server, apply each
//! statement to the history, and after every step compare the history with
//! a fresh snapshot. They must be identical: names, order, primary keys,
//! nullability, types, charsets.

use sluice::proto::{Record, TableSchema};
use sluice::schema::catalog::{self, Catalog, SchemaError};
use sluice::schema::{DdlOutcome, Dialect, Filter, SchemaHistory};
use sluice_testkit::MariaDb;
use std::sync::Arc;

/// `db.sql()` output (tab-separated, `NULL` for NULL) as text result rows.
fn rows(text: &str) -> Vec<Vec<Option<String>>> {
    text.lines()
        .map(|l| {
            l.split('\t')
                .map(|c| {
                    if c == "NULL" {
                        None
                    } else {
                        Some(c.to_string())
                    }
                })
                .collect()
        })
        .collect()
}

/// An `information_schema` query. The private servers share `/tmp` for
/// their internal temporary tables, and another instance's cleanup
/// occasionally removes one mid-query ("Error on delete of
/// '/tmp/#sql-temptable-…'"): that error alone is retried.
fn query(db: &MariaDb, sql: &str) -> String {
    let mut last = String::new();
    for _ in 0..5 {
        match db.try_sql(sql) {
            Ok(out) => return out,
            Err(e) if e.contains("#sql-temptable") => last = e,
            Err(e) => panic!(
                "SQL failed: {e}\n{sql}\n--- server log ---\n{}",
                server_log(db)
            ),
        }
    }
    panic!("SQL failed 5 times: {last}\n{sql}")
}

/// The end of the server's log, for failure messages.
fn server_log(db: &MariaDb) -> String {
    let path = db.datadir().parent().map(|d| d.join("stdout.log"));
    let text = path
        .and_then(|p| std::fs::read_to_string(p).ok())
        .unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(60)..].join("\n")
}

fn live_only(schema: &str, _table: &str) -> bool {
    schema.starts_with("live")
}

fn server_tables(db: &MariaDb, dialect: &Dialect) -> Vec<TableSchema> {
    catalog::parse_columns(
        &rows(&query(db, &catalog::columns_sql())),
        dialect,
        &live_only,
    )
    .expect("columns parse")
}

struct ServerCatalog<'a>(&'a MariaDb, Dialect);

impl Catalog for ServerCatalog<'_> {
    fn table(&mut self, schema: &str, table: &str) -> Result<Option<TableSchema>, SchemaError> {
        let sql = catalog::table_sql(schema, table);
        let text = (0..5)
            .map(|_| self.0.try_sql(&sql))
            .find(|r| !r.as_ref().is_err_and(|e| e.contains("#sql-temptable")))
            .unwrap_or_else(|| Err("temporary table errors".into()))
            .map_err(|e| SchemaError::Catalog {
                table: format!("{schema}.{table}"),
                reason: e,
                retryable: false,
            })?;
        catalog::parse_table(&rows(&text), &self.1)
    }
}

fn describe(t: &TableSchema) -> String {
    let cols: Vec<String> = t
        .columns
        .iter()
        .map(|c| {
            format!(
                "  {} {} null={} pk={} unsigned={} code={} cs={}",
                c.name, c.mysql_type, c.nullable, c.primary_key, c.unsigned, c.type_code, c.charset
            )
        })
        .collect();
    format!(
        "{}.{} (charset {})\n{}",
        t.schema,
        t.table,
        t.charset,
        cols.join("\n")
    )
}

fn compare(step: &str, history: &SchemaHistory, server: &[TableSchema]) {
    let mine: Vec<&TableSchema> = history.tables().collect();
    let theirs: Vec<&TableSchema> = server.iter().collect();
    if mine != theirs {
        let m: Vec<String> = mine.iter().map(|t| describe(t)).collect();
        let s: Vec<String> = theirs.iter().map(|t| describe(t)).collect();
        panic!("after `{step}` the history differs from the server\n--- history ---\n{}\n--- server ---\n{}", m.join("\n"), s.join("\n"));
    }
}

const STEPS: &[&str] = &[
    "CREATE TABLE orders (
        id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
        customer VARCHAR(64) CHARACTER SET latin1 COLLATE latin1_bin NOT NULL DEFAULT '',
        status ENUM('new','paid','it''s shipped','a\\\\b') NOT NULL DEFAULT 'new',
        total DECIMAL(12,2) NOT NULL,
        flags SET('a','b') DEFAULT NULL,
        created TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
        PRIMARY KEY (id),
        UNIQUE KEY uk (customer, created),
        KEY idx_status (status) USING BTREE,
        CONSTRAINT chk CHECK (total >= 0)
     ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci COMMENT='orders'",
    "ALTER TABLE orders ADD COLUMN note TEXT AFTER status, ALGORITHM=INPLACE, LOCK=NONE",
    "ALTER TABLE orders DROP COLUMN flags",
    "ALTER TABLE orders MODIFY total DECIMAL(14,3) UNSIGNED NOT NULL FIRST",
    "ALTER TABLE `live`.`orders` CHANGE COLUMN note memo VARCHAR(200) CHARACTER SET latin1 NULL AFTER id",
    "ALTER TABLE orders RENAME COLUMN memo TO remark",
    "ALTER TABLE orders ADD (a INT, b BIGINT UNSIGNED), ADD INDEX ia (a)",
    "ALTER TABLE orders DROP PRIMARY KEY, ADD PRIMARY KEY (id, total)",
    "RENAME TABLE orders TO orders_old, pre TO orders",
    "CREATE TABLE live2.copy LIKE live.orders_old",
    "CREATE TABLE parts (id INT NOT NULL, d DATE NOT NULL, v VARCHAR(10), PRIMARY KEY (id, d))
     /*!50100 PARTITION BY RANGE (YEAR(d))
     (PARTITION p0 VALUES LESS THAN (2020) ENGINE = InnoDB,
      PARTITION p1 VALUES LESS THAN MAXVALUE ENGINE = InnoDB) */",
    "ALTER TABLE parts ADD COLUMN w INT, ALGORITHM=COPY",
    "ALTER TABLE parts REORGANIZE PARTITION p1 INTO (PARTITION p1 VALUES LESS THAN (2030), PARTITION p2 VALUES LESS THAN MAXVALUE)",
    "ALTER TABLE parts ENGINE=InnoDB ROW_FORMAT=DYNAMIC COMMENT='partitioned'",
    "ALTER TABLE parts DEFAULT CHARSET=latin1, ADD z VARCHAR(3)",
    "ALTER TABLE parts DROP PARTITION p0, p1",
    "ALTER TABLE parts CONVERT TO CHARACTER SET utf8mb4",
    "ALTER TABLE live2.copy RENAME TO live.copy2",
    "CREATE TABLE t_types (
        a TINYINT, b SMALLINT UNSIGNED, c MEDIUMINT, d INT(5) ZEROFILL, e BIGINT, f FLOAT, g DOUBLE,
        h FLOAT(7,3), i DECIMAL, j BIT(5), k BOOL, l CHAR(3) BINARY, m VARBINARY(9), n BLOB, o TINYTEXT,
        p MEDIUMBLOB, q LONGTEXT, r JSON, s DATE, t TIME(3), u DATETIME(6), v TIMESTAMP NULL, w YEAR,
        x ENUM('x','y') CHARACTER SET ascii, y SET('p','q'), z UUID, aa INET6, ab POINT, ac GEOMETRY,
        ad NCHAR(4), ae NATIONAL VARCHAR(5), af TEXT(300), ag SERIAL, ah DOUBLE PRECISION, ai REAL,
        aj INTEGER UNSIGNED, ak NUMERIC(6), al FLOAT(30), am BINARY, an CHAR, ao LONG VARCHAR,
        ap VARCHAR(4) CHARSET utf8 COLLATE utf8_bin, aq INT1, ar INT8 UNSIGNED, `as` DEC(4,2) UNSIGNED
     ) DEFAULT CHARSET=utf8mb4",
    "ALTER TABLE t_types ADD gv INT AS (a + 1) VIRTUAL, ADD gs INT GENERATED ALWAYS AS (a * 2) PERSISTENT",
    "TRUNCATE TABLE t_types",
    "ALTER TABLE t_types CONVERT TO CHARACTER SET latin1",
    "ALTER TABLE t_types CONVERT TO CHARSET utf8mb4 COLLATE utf8mb4_unicode_ci",
    "ALTER TABLE parts CONVERT TO CHARACTER SET binary",
    "DROP TABLE IF EXISTS orders_old, nope",
    "CREATE TABLE `we.ird``name` (`col.1` INT, `Col2` INT) ENGINE=InnoDB",
    "ALTER TABLE `we.ird``name` MODIFY COL2 BIGINT NOT NULL, ADD PRIMARY KEY (`col.1`)",
    "CREATE INDEX ix ON parts (v)",
    "CREATE TABLE IF NOT EXISTS orders (x INT)",
    "CREATE OR REPLACE TABLE copy2 (x INT PRIMARY KEY, y TEXT) CHARSET latin1",
    "ALTER ONLINE TABLE copy2 ADD COLUMN IF NOT EXISTS x INT, ADD COLUMN IF NOT EXISTS z INT FIRST",
    "CREATE DATABASE live3",
    "CREATE TABLE live3.t (v VARCHAR(5))",
    "DROP DATABASE live2",
    "DROP SCHEMA live3",
    "GRANT SELECT ON live.* TO 'sluice'@'%'",
    "CREATE TABLE sv (id INT PRIMARY KEY, v INT) WITH SYSTEM VERSIONING",
];

#[test]
fn history_matches_information_schema_after_every_ddl() {
    let Some(db) = MariaDb::shared() else { return };
    db.sql(
        "DROP DATABASE IF EXISTS live; DROP DATABASE IF EXISTS live2; DROP DATABASE IF EXISTS live3;
         CREATE DATABASE live CHARACTER SET utf8mb4; CREATE DATABASE live2 CHARACTER SET latin1;
         CREATE TABLE live.pre (id INT PRIMARY KEY, name VARCHAR(20), created DATETIME) CHARSET latin1;",
    );
    let version = db.sql("SELECT VERSION()");
    let dialect = Dialect::from_server_version(version.trim(), "latin1");
    let snapshot = catalog::parse_snapshot(
        &rows(&query(db, catalog::DATABASES_SQL)),
        &rows(&query(db, &catalog::columns_sql())),
        &dialect,
        &live_only,
    )
    .expect("snapshot parses");
    assert!(snapshot
        .databases
        .iter()
        .any(|d| d.name == "live2" && d.charset == "latin1"));
    let filter: Filter = Arc::new(live_only);
    let mut history = SchemaHistory::new(dialect.clone()).with_filter(filter);
    history.load_snapshot(&snapshot);
    compare("snapshot", &history, &server_tables(db, &dialect));
    assert_eq!(history.tables().count(), 1);

    // The log as the pipeline would write it: snapshot, then DDL records.
    let mut log = vec![Record {
        snapshot: Some(snapshot.clone()),
        ..Default::default()
    }];
    let mut refreshes = 0;
    for step in STEPS {
        db.sql(&format!("USE live; {step}"));
        let mut cat = ServerCatalog(db, dialect.clone());
        let outcome = history.apply_ddl("live", step);
        let mut refreshed = Vec::new();
        if let DdlOutcome::Refresh {
            tables, warning, ..
        } = &outcome
        {
            let words: Vec<&str> = step.split_whitespace().take(4).collect();
            assert!(warning.contains(&words.join(" ")), "{warning}");
            refreshed = history.refresh(&mut cat, tables).expect("refresh");
            refreshes += 1;
        }
        if outcome != DdlOutcome::Ignored {
            log.push(Record {
                ddl: Some(outcome.to_record("live", step, &refreshed)),
                ..Default::default()
            });
        }
        compare(step, &history, &server_tables(db, &dialect));
        // A reader of the log alone knows the same schema at this position.
        let replayed =
            SchemaHistory::replay(dialect.clone(), &log).with_filter(Arc::new(live_only));
        compare(step, &replayed, &server_tables(db, &dialect));
    }
    // Only the CONVERT TO CHARACTER SET binary needs the server.
    assert_eq!(refreshes, 1);
    db.sql("DROP DATABASE IF EXISTS live");
}

/// The whole path as capture runs it: DDL and rows written to a real
/// MariaDB, its binlog decoded by sluice's decoder, each record passed
/// through the history; every row event must carry the column names the
/// table had when the row was written.
#[test]
fn decoded_row_events_get_the_names_of_their_position() {
    let Some(db) = MariaDb::shared() else { return };
    db.sql("DROP DATABASE IF EXISTS names; CREATE DATABASE names CHARACTER SET utf8mb4");
    let version = db.sql("SELECT VERSION()");
    let dialect = Dialect::from_server_version(version.trim(), "latin1");
    let names_only = |s: &str, _: &str| s == "names";
    let status = db.sql("SHOW MASTER STATUS");
    let mut cells = status.split('\t');
    let start_file = cells.next().unwrap_or_default().to_string();
    let start_pos: u64 = cells
        .next()
        .and_then(|p| p.trim().parse().ok())
        .expect("binlog position");
    let snapshot = catalog::parse_snapshot(
        &rows(&query(db, catalog::DATABASES_SQL)),
        &rows(&query(db, &catalog::columns_sql())),
        &dialect,
        &names_only,
    )
    .expect("snapshot");
    let mut history = SchemaHistory::new(dialect.clone()).with_filter(Arc::new(names_only));
    history.load_snapshot(&snapshot);

    // (statement, table its rows go to): after each, the expected names of
    // that table's next row event are read from the server.
    let steps: &[(&str, &str)] = &[
        ("CREATE TABLE a (id INT PRIMARY KEY, v VARCHAR(10))", ""),
        ("INSERT INTO a VALUES (1, 'x')", "a"),
        ("ALTER TABLE a ADD COLUMN w INT FIRST", ""),
        ("INSERT INTO a (id, v, w) VALUES (2, 'y', 3)", "a"),
        ("ALTER TABLE a RENAME COLUMN v TO v2, ALGORITHM=INPLACE", ""),
        ("INSERT INTO a (id, v2) VALUES (3, 'z')", "a"),
        ("ALTER TABLE a DROP COLUMN w", ""),
        ("UPDATE a SET v2 = 'u' WHERE id = 1", "a"),
        ("RENAME TABLE a TO b", ""),
        ("DELETE FROM b WHERE id = 2", "b"),
        ("CREATE TABLE c SELECT * FROM b", "c"),
        (
            "ALTER TABLE b CHANGE v2 v3 TEXT AFTER id, ADD k INT NOT NULL DEFAULT 7 FIRST",
            "",
        ),
        ("INSERT INTO b (id, v3) VALUES (4, 't')", "b"),
        ("DROP TABLE c", ""),
        ("CREATE TABLE d LIKE b", ""),
        ("INSERT INTO d SELECT * FROM b", "d"),
        ("ALTER TABLE d PARTITION BY HASH(id) PARTITIONS 2", ""),
        ("INSERT INTO d (id, k) VALUES (9, 1)", "d"),
    ];
    let mut expected: Vec<(String, Vec<String>)> = Vec::new();
    for (sql, table) in steps {
        db.sql(&format!("USE names; {sql}"));
        if !table.is_empty() {
            let columns = rows(&query(db, &catalog::columns_sql()));
            let t = catalog::parse_columns(&columns, &dialect, &|s, t| s == "names" && t == *table)
                .expect("columns parse")
                .pop()
                .expect("table exists");
            expected.push((
                table.to_string(),
                t.columns.iter().map(|c| c.name.clone()).collect(),
            ));
        }
    }

    let mut got: Vec<(String, Vec<String>)> = Vec::new();
    let mut unnamed_before = 0;
    let mut ctas_records = 0;
    let mut cat = ServerCatalog(db, dialect.clone());
    for path in db.binlog_files() {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        if name < start_file {
            continue;
        }
        let bytes = std::fs::read(&path).expect("read binlog");
        let file = sluice::decode::reader::BinlogFile::from_bytes(name.clone(), bytes);
        let decoded = sluice::decode::file::decode_all(&file);
        let (records, errors) = (decoded.records, decoded.errors);
        assert!(errors.is_empty(), "decoding {name}: {errors:?}");
        for mut r in records {
            let pos = r.position.clone().unwrap_or_default();
            if pos.file == start_file && pos.start < start_pos {
                continue;
            }
            unnamed_before += r.changes.iter().filter(|c| !c.names_known).count();
            // CREATE TABLE … SELECT: the (rewritten) statement and its rows
            // arrive in one record; the rows need the new table.
            ctas_records += usize::from(r.ddl.is_some() && !r.changes.is_empty());
            let warnings = history
                .process_record(&mut r, Some(&mut cat))
                .expect("process");
            for c in r.changes.iter().filter(|c| c.schema == "names") {
                assert!(c.names_known, "{}.{}: {warnings:?}", c.schema, c.table);
                got.push((
                    c.table.clone(),
                    c.columns.iter().map(|c| c.name.clone()).collect(),
                ));
            }
        }
    }
    assert!(
        unnamed_before > 0,
        "the binlog carried names: the history was not exercised"
    );
    assert_eq!(got, expected);
    assert_eq!(ctas_records, 1);
    db.sql("DROP DATABASE IF EXISTS names");
}
