//! The schema history against a real MariaDB: load a snapshot from
//! `information_schema`, run a sequence of DDL on the server, apply each
//! statement to the history, and after every step compare the history with
//! a fresh snapshot. They must be identical: names, order, primary keys,
//! nullability, types, charsets.

use sluice::proto::TableSchema;
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

fn live_only(schema: &str, _table: &str) -> bool {
    schema.starts_with("live")
}

fn server_tables(db: &MariaDb, dialect: &Dialect) -> Vec<TableSchema> {
    catalog::parse_columns(&rows(&db.sql(&catalog::columns_sql())), dialect, &live_only)
        .expect("columns parse")
}

struct ServerCatalog<'a>(&'a MariaDb, Dialect);

impl Catalog for ServerCatalog<'_> {
    fn table(&mut self, schema: &str, table: &str) -> Result<Option<TableSchema>, SchemaError> {
        let text = self
            .0
            .try_sql(&catalog::table_sql(schema, table))
            .map_err(|e| SchemaError::Catalog {
                table: format!("{schema}.{table}"),
                reason: e,
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
        status ENUM('new','paid','it''s shipped') NOT NULL DEFAULT 'new',
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
        &rows(&db.sql(catalog::DATABASES_SQL)),
        &rows(&db.sql(&catalog::columns_sql())),
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

    let mut refreshes = 0;
    for step in STEPS {
        db.sql(&format!("USE live; {step}"));
        let mut cat = ServerCatalog(db, dialect.clone());
        let outcome = history.apply_ddl("live", step);
        if let DdlOutcome::Refresh {
            tables, warning, ..
        } = &outcome
        {
            assert!(
                warning.contains(
                    &step
                        .split_whitespace()
                        .take(4)
                        .collect::<Vec<_>>()
                        .join(" ")
                ),
                "{warning}"
            );
            eprintln!("refresh: {warning}");
            history.refresh(&mut cat, tables).expect("refresh");
            refreshes += 1;
        }
        compare(step, &history, &server_tables(db, &dialect));
    }
    // Only the CONVERT TO CHARACTER SET needs the server.
    assert_eq!(refreshes, 1);
    db.sql("DROP DATABASE IF EXISTS live");
}
