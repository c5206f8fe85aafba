//! Unit tests of the history over real-world DDL (MySQL and MariaDB
//! syntax as applications, migration tools and dumps write it).

use super::ddl::describe;
use super::*;
use crate::proto::{ChangeKind, Column, Ddl};

fn history() -> SchemaHistory {
    let mut h = SchemaHistory::new(Dialect::default());
    h.set_database("shop", "utf8mb4");
    h.set_database("other", "latin1");
    h
}

fn apply(h: &mut SchemaHistory, sql: &str) -> DdlOutcome {
    h.apply_ddl("shop", sql)
}

fn applied(h: &mut SchemaHistory, sql: &str) -> DdlChange {
    match apply(h, sql) {
        DdlOutcome::Applied(c) => c,
        other => panic!("`{sql}` was not applied: {other:?}"),
    }
}

fn cols(h: &SchemaHistory, schema: &str, table: &str) -> Vec<String> {
    describe(
        h.table(schema, table)
            .unwrap_or_else(|| panic!("no table {schema}.{table}")),
    )
}

#[test]
fn create_table_with_everything() {
    let mut h = history();
    let c = applied(
        &mut h,
        "CREATE TABLE IF NOT EXISTS `orders` (\n\
           `id` bigint(20) unsigned NOT NULL AUTO_INCREMENT,\n\
           `Customer` varchar(64) CHARACTER SET latin1 COLLATE latin1_bin NOT NULL DEFAULT '',\n\
           `status` enum('new','paid','it''s shipped') NOT NULL DEFAULT 'new',\n\
           `total` decimal(12,2) NOT NULL,\n\
           `flags` set('a','b') DEFAULT NULL,\n\
           `note` text,\n\
           `created` timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),\n\
           `doubled` decimal(13,2) GENERATED ALWAYS AS (`total` * 2) VIRTUAL,\n\
           `ok` tinyint(1) NOT NULL DEFAULT 0 COMMENT 'is, it (ok)',\n\
           PRIMARY KEY (`id`),\n\
           UNIQUE KEY `uk` (`Customer`,`created`),\n\
           KEY `idx_status` (`status`) USING BTREE,\n\
           FULLTEXT KEY `ft` (`note`),\n\
           CONSTRAINT `fk1` FOREIGN KEY (`id`) REFERENCES `other` (`id`) ON DELETE CASCADE,\n\
           CONSTRAINT `chk` CHECK (`total` >= 0)\n\
         ) ENGINE=InnoDB AUTO_INCREMENT=42 DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci ROW_FORMAT=DYNAMIC COMMENT='orders';",
    );
    assert_eq!(c.tables.len(), 1);
    assert_eq!(
        cols(&h, "shop", "orders"),
        [
            "id bigint(20) unsigned NOT NULL PK",
            "Customer varchar(64) NOT NULL [latin1]",
            "status enum('new','paid','it''s shipped') NOT NULL [utf8mb4]",
            "total decimal(12,2) NOT NULL",
            "flags set('a','b') [utf8mb4]",
            "note text [utf8mb4]",
            "created timestamp(3) NOT NULL",
            "doubled decimal(13,2)",
            "ok tinyint(1) NOT NULL",
        ]
    );
    assert_eq!(
        h.table("shop", "orders").map(|t| t.charset.as_str()),
        Some("utf8mb4")
    );
    // IF NOT EXISTS on an existing table changes nothing.
    applied(&mut h, "CREATE TABLE IF NOT EXISTS orders (x int)");
    assert_eq!(cols(&h, "shop", "orders").len(), 9);
}

#[test]
fn create_table_partitioned_with_version_comments() {
    let mut h = history();
    applied(
        &mut h,
        "CREATE TABLE `other`.`t.p` (\n\
           `a` int NOT NULL, `b` datetime NOT NULL, c char(3), PRIMARY KEY (`a`,`b`)\n\
         ) ENGINE=InnoDB\n\
         /*!50100 PARTITION BY RANGE (year(`b`))\n\
         (PARTITION p0 VALUES LESS THAN (2020) ENGINE = InnoDB,\n\
          PARTITION p1 VALUES LESS THAN MAXVALUE ENGINE = InnoDB) */",
    );
    assert_eq!(
        cols(&h, "other", "t.p"),
        [
            "a int(11) NOT NULL PK",
            "b datetime NOT NULL PK",
            "c char(3) [latin1]"
        ]
    );
    applied(
        &mut h,
        "CREATE TABLE h (id INT PRIMARY KEY, v VARCHAR(5)) PARTITION BY HASH(id) PARTITIONS 4",
    );
    assert_eq!(
        cols(&h, "shop", "h"),
        ["id int(11) NOT NULL PK", "v varchar(5) [utf8mb4]"]
    );
}

#[test]
fn create_like_and_select() {
    let mut h = history();
    applied(
        &mut h,
        "CREATE TABLE a (id INT NOT NULL, PRIMARY KEY (id)) DEFAULT CHARSET latin1",
    );
    applied(&mut h, "CREATE TABLE other.b LIKE shop.a");
    assert_eq!(cols(&h, "other", "b"), ["id int(11) NOT NULL PK"]);
    applied(&mut h, "CREATE TABLE c (LIKE a)");
    assert_eq!(
        h.table("shop", "c").map(|t| t.charset.clone()),
        Some("latin1".into())
    );
    match apply(&mut h, "CREATE TABLE d AS SELECT * FROM a") {
        DdlOutcome::Refresh {
            tables, warning, ..
        } => {
            assert_eq!(tables, [TableKey::new("shop", "d")]);
            assert!(warning.contains("CREATE TABLE d AS SELECT"), "{warning}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        apply(&mut h, "CREATE TABLE e LIKE unknown"),
        DdlOutcome::Refresh { .. }
    ));
    assert!(h.table("shop", "e").is_none());
}

#[test]
fn alter_table_multiple_specs_in_order() {
    let mut h = history();
    applied(
        &mut h,
        "CREATE TABLE t (id INT NOT NULL, a INT, b VARCHAR(10), c TEXT, PRIMARY KEY (id))",
    );
    applied(
        &mut h,
        "ALTER TABLE t ADD COLUMN x BIGINT UNSIGNED NOT NULL DEFAULT 0 AFTER a, DROP COLUMN b, \
         MODIFY c MEDIUMTEXT CHARACTER SET latin1 FIRST, CHANGE COLUMN `a` `A2` DECIMAL(5,1) NULL AFTER x, \
         ADD INDEX ix (x), ALGORITHM=INPLACE, LOCK=NONE",
    );
    assert_eq!(
        cols(&h, "shop", "t"),
        [
            "c mediumtext [latin1]",
            "id int(11) NOT NULL PK",
            "x bigint(20) unsigned NOT NULL",
            "A2 decimal(5,1)"
        ]
    );
    applied(
        &mut h,
        "ALTER TABLE t RENAME COLUMN a2 TO a3, ADD y INT FIRST, ADD COLUMN (p INT, q CHAR(2))",
    );
    assert_eq!(
        cols(&h, "shop", "t"),
        [
            "y int(11)",
            "c mediumtext [latin1]",
            "id int(11) NOT NULL PK",
            "x bigint(20) unsigned NOT NULL",
            "a3 decimal(5,1)",
            "p int(11)",
            "q char(2) [utf8mb4]"
        ]
    );
    applied(
        &mut h,
        "ALTER TABLE t DROP PRIMARY KEY, ADD PRIMARY KEY (x, y)",
    );
    let t = h.table("shop", "t").unwrap();
    let pk: Vec<_> = t
        .columns
        .iter()
        .filter(|c| c.primary_key)
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(pk, ["y", "x"]);
    assert!(
        !t.columns[0].nullable,
        "a primary key column becomes NOT NULL"
    );
    assert!(
        !t.columns[2].nullable,
        "a former primary key column stays NOT NULL"
    );
}

#[test]
fn alter_table_options_partitions_and_charset() {
    let mut h = history();
    applied(&mut h, "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(3))");
    let before = cols(&h, "shop", "t");
    for sql in [
        "ALTER TABLE t ENGINE=InnoDB",
        "ALTER TABLE t COMMENT = 'x', ROW_FORMAT=COMPRESSED KEY_BLOCK_SIZE=8",
        "ALTER TABLE t PARTITION BY HASH(id) PARTITIONS 8",
        "ALTER TABLE t ADD PARTITION (PARTITION p3 VALUES LESS THAN (30))",
        "ALTER TABLE t REMOVE PARTITIONING",
        "ALTER TABLE t DROP PARTITION p1, p2",
        "ALTER TABLE t COALESCE PARTITION 2",
        "ALTER TABLE t ADD UNIQUE KEY u (v), DROP INDEX ix, RENAME INDEX a TO b",
        "ALTER TABLE t ALTER COLUMN v SET DEFAULT 'x', ALTER v DROP DEFAULT",
        "ALTER TABLE t FORCE",
        "ALTER ONLINE TABLE t ADD CONSTRAINT c1 CHECK (id > 0)",
        "ALTER TABLE t /*!50100 ALGORITHM=INPLACE */ ORDER BY v",
        "ALTER TABLE t DISABLE KEYS",
        "ALTER TABLE t",
        "OPTIMIZE TABLE t",
        "CREATE INDEX i ON t (v)",
        "DROP INDEX i ON t",
        "GRANT SELECT ON shop.* TO 'u'@'%'",
        "CREATE USER 'x'@'localhost' IDENTIFIED BY 'y'",
        "CREATE VIEW t_view AS SELECT * FROM t",
        "CREATE DEFINER=`root`@`localhost` PROCEDURE p() BEGIN SELECT 1; END",
        "BEGIN",
        "TRUNCATE TABLE t",
    ] {
        let out = apply(&mut h, sql);
        assert!(
            !matches!(out, DdlOutcome::Refresh { .. }),
            "`{sql}`: {out:?}"
        );
        assert_eq!(cols(&h, "shop", "t"), before, "`{sql}` changed the table");
    }
    applied(
        &mut h,
        "ALTER TABLE t DEFAULT CHARSET=latin1, ADD w VARCHAR(2)",
    );
    applied(
        &mut h,
        "ALTER TABLE t ENGINE=InnoDB DEFAULT CHARACTER SET ascii",
    );
    applied(&mut h, "ALTER TABLE t ADD z TEXT");
    let t = h.table("shop", "t").unwrap();
    assert_eq!(t.columns[2].charset, "latin1");
    assert_eq!(t.columns[3].charset, "ascii");
    assert_eq!(t.charset, "ascii");
}

#[test]
fn convert_to_character_set() {
    let mut h = history();
    applied(
        &mut h,
        "CREATE TABLE t (id INT, a TEXT, b VARCHAR(5), c ENUM('x'), d TINYTEXT CHARSET latin1, e BLOB) CHARSET latin1",
    );
    applied(
        &mut h,
        "ALTER TABLE t CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
    );
    assert_eq!(
        cols(&h, "shop", "t"),
        [
            "id int(11)",
            "a mediumtext [utf8mb4]",
            "b varchar(5) [utf8mb4]",
            "c enum('x') [utf8mb4]",
            "d text [utf8mb4]",
            "e blob"
        ]
    );
    assert_eq!(
        h.table("shop", "t").map(|t| t.charset.as_str()),
        Some("utf8mb4")
    );
}

#[test]
fn unreadable_clauses_refresh_and_keep_other_tables() {
    let mut h = history();
    applied(&mut h, "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(3))");
    applied(&mut h, "CREATE TABLE u (id INT)");
    let u = h.table("shop", "u").cloned();
    for sql in [
        "ALTER TABLE t CONVERT TO CHARACTER SET binary",
        "ALTER TABLE t ADD COLUMN w FROBNICATE(3)",
        "ALTER TABLE t FROB the table",
        "ALTER TABLE t ADD SYSTEM VERSIONING",
        "ALTER TABLE t DROP COLUMN not_there",
    ] {
        match apply(&mut h, sql) {
            DdlOutcome::Refresh {
                tables, warning, ..
            } => {
                assert_eq!(tables, [TableKey::new("shop", "t")], "{sql}");
                assert!(
                    warning.contains(sql),
                    "warning `{warning}` does not name `{sql}`"
                );
            }
            other => panic!("`{sql}`: {other:?}"),
        }
        // Out of the history until refreshed: never a stale definition.
        assert!(h.table("shop", "t").is_none());
        assert_eq!(h.table("shop", "u").cloned(), u);
        applied(&mut h, "CREATE TABLE t (id INT PRIMARY KEY, v VARCHAR(3))");
    }
    // A rename in an unreadable ALTER is still applied.
    match apply(
        &mut h,
        "ALTER TABLE t CONVERT TO CHARSET binary, RENAME TO other.t2",
    ) {
        DdlOutcome::Refresh {
            tables, applied, ..
        } => {
            assert_eq!(tables, [TableKey::new("other", "t2")]);
            assert!(applied.tables.iter().any(|t| t.table == "t" && t.dropped));
        }
        other => panic!("{other:?}"),
    }
    assert!(h.table("shop", "t").is_none());
}

#[test]
fn renames_drops_and_databases() {
    let mut h = history();
    applied(&mut h, "CREATE TABLE a (x INT)");
    applied(&mut h, "CREATE TABLE b (y INT)");
    // Swap through a temporary name, as online schema change tools do.
    let c = applied(&mut h, "RENAME TABLE a TO tmp, b TO a, tmp TO b");
    assert_eq!(cols(&h, "shop", "a"), ["y int(11)"]);
    assert_eq!(cols(&h, "shop", "b"), ["x int(11)"]);
    assert!(c.tables.iter().any(|t| t.table == "tmp" && t.dropped));
    applied(&mut h, "ALTER TABLE a RENAME TO other.`we.ird`");
    assert_eq!(cols(&h, "other", "we.ird"), ["y int(11)"]);
    applied(&mut h, "ALTER TABLE other.`we.ird` RENAME AS `A`");
    assert!(
        h.table("shop", "A").is_some(),
        "table names are case-sensitive, schema defaults to the session's"
    );
    assert!(h.table("shop", "a").is_none());
    let c = applied(
        &mut h,
        "DROP TABLE IF EXISTS `A`, b, nope /* generated by server */",
    );
    assert_eq!(c.tables.len(), 2);
    assert!(h.tables().next().is_none());
    applied(&mut h, "CREATE DATABASE IF NOT EXISTS `new db` /*!40100 DEFAULT CHARACTER SET utf8 COLLATE utf8_bin */");
    assert_eq!(h.database_charset("new db"), Some("utf8mb3"));
    applied(&mut h, "CREATE TABLE `new db`.t (s VARCHAR(2))");
    assert_eq!(cols(&h, "new db", "t"), ["s varchar(2) [utf8mb3]"]);
    applied(&mut h, "ALTER DATABASE `new db` CHARACTER SET latin1");
    applied(&mut h, "CREATE TABLE `new db`.u (s VARCHAR(2))");
    assert_eq!(cols(&h, "new db", "u"), ["s varchar(2) [latin1]"]);
    let c = applied(&mut h, "DROP SCHEMA `new db`");
    assert_eq!(c.tables.len(), 2);
    assert!(c.databases[0].dropped);
    assert!(h.tables().next().is_none());
    // A table in a database the history never saw: ask the server.
    assert!(matches!(
        apply(&mut h, "CREATE TABLE nowhere.t (a int)"),
        DdlOutcome::Refresh { .. }
    ));
}

#[test]
fn mariadb_and_mysql_specific_syntax() {
    let mut h = history();
    applied(&mut h, "CREATE OR REPLACE TABLE t (id INT UNSIGNED ZEROFILL, u UUID, i INET6, j JSON, g POINT NOT NULL, y YEAR, b BIT(3), bo BOOLEAN, n NATIONAL CHAR(2), l LONG VARCHAR)");
    assert_eq!(
        cols(&h, "shop", "t"),
        [
            "id int(10) unsigned zerofill",
            "u uuid",
            "i inet6",
            "j longtext [utf8mb4]",
            "g point NOT NULL",
            "y year(4)",
            "b bit(3)",
            "bo tinyint(1)",
            "n char(2) [utf8mb3]",
            "l mediumtext [utf8mb4]"
        ]
    );
    applied(&mut h, "ALTER TABLE t WAIT 5 ADD COLUMN IF NOT EXISTS id INT, ADD COLUMN IF NOT EXISTS k INT AFTER u, DROP COLUMN IF EXISTS nope, MODIFY COLUMN IF EXISTS nope2 INT");
    assert_eq!(cols(&h, "shop", "t")[2], "k int(11)");
    applied(&mut h, "ALTER TABLE t ADD v INT AS (k + 1) PERSISTENT, ADD w INT GENERATED ALWAYS AS (k * 2) STORED INVISIBLE");
    assert_eq!(&cols(&h, "shop", "t")[11..], ["v int(11)", "w int(11)"]);
    let mut m = SchemaHistory::new(Dialect::from_server_version("8.0.36", "utf8mb4"));
    m.set_database("shop", "utf8mb4");
    assert!(matches!(
        m.apply_ddl(
            "shop",
            "CREATE TABLE t (a INT(11), b TINYINT(1), c YEAR, d JSON, e INT UNSIGNED)"
        ),
        DdlOutcome::Applied(_)
    ));
    assert_eq!(
        cols(&m, "shop", "t"),
        [
            "a int",
            "b tinyint(1)",
            "c year",
            "d json",
            "e int unsigned"
        ]
    );
}

#[test]
fn filter_limits_the_history() {
    let filter: Filter = Arc::new(|s: &str, t: &str| s == "shop" && !t.starts_with("tmp_"));
    let mut h = history().with_filter(filter);
    assert_eq!(
        apply(&mut h, "CREATE TABLE tmp_x (a INT)"),
        DdlOutcome::Ignored
    );
    assert_eq!(
        apply(&mut h, "CREATE TABLE other.y (a INT)"),
        DdlOutcome::Ignored
    );
    applied(&mut h, "CREATE TABLE t (a INT)");
    // Renamed out of the filter: gone from the history.
    applied(&mut h, "RENAME TABLE t TO tmp_t");
    assert!(h.tables().next().is_none());
    // Renamed into the filter from an uncaptured table: must be read.
    match apply(&mut h, "RENAME TABLE tmp_t TO t2") {
        DdlOutcome::Refresh { tables, .. } => assert_eq!(tables, [TableKey::new("shop", "t2")]),
        other => panic!("{other:?}"),
    }
}

struct FakeCatalog(Vec<TableSchema>);

impl Catalog for FakeCatalog {
    fn table(&mut self, schema: &str, table: &str) -> Result<Option<TableSchema>, SchemaError> {
        Ok(self
            .0
            .iter()
            .find(|t| t.schema == schema && t.table == table)
            .cloned())
    }
}

#[test]
fn refresh_replay_and_records() {
    let mut h = history();
    let mut log: Vec<Record> = vec![Record {
        snapshot: Some(h.snapshot()),
        ..Default::default()
    }];
    let server_t = TableSchema {
        schema: "shop".into(),
        table: "t".into(),
        charset: "utf8mb4".into(),
        columns: vec![Column {
            name: "z".into(),
            mysql_type: "int(11)".into(),
            nullable: true,
            ..Default::default()
        }],
        dropped: false,
    };
    let mut cat = FakeCatalog(vec![server_t.clone()]);
    for sql in [
        "CREATE TABLE t (a INT, b INT)",
        "ALTER TABLE t ADD c INT",
        "ALTER TABLE t ADD SYSTEM VERSIONING",
        "CREATE TABLE u (id INT PRIMARY KEY)",
        "RENAME TABLE u TO v",
        "GRANT ALL ON *.* TO x",
    ] {
        let (ddl, warning) = h.apply_ddl_with(&mut cat, "shop", sql).unwrap();
        assert_eq!(warning.is_some(), sql.contains("SYSTEM"), "{sql}");
        if let Some(ddl) = ddl {
            log.push(Record {
                ddl: Some(ddl),
                ..Default::default()
            });
        }
    }
    assert_eq!(h.table("shop", "t"), Some(&server_t));
    let replayed = SchemaHistory::replay(Dialect::default(), &log);
    assert_eq!(replayed.snapshot(), h.snapshot());
    assert_eq!(log.len(), 6, "GRANT is not stored");
    // Replaying half the log gives the schema at that position.
    let early = SchemaHistory::replay(Dialect::default(), &log[..3]);
    assert_eq!(
        cols(&early, "shop", "t"),
        ["a int(11)", "b int(11)", "c int(11)"]
    );
}

#[test]
fn enrich_fills_names_only_when_the_history_fits() {
    let mut h = history();
    applied(
        &mut h,
        "CREATE TABLE t (id BIGINT UNSIGNED NOT NULL PRIMARY KEY, name VARCHAR(5) CHARSET latin1)",
    );
    // As the decoder describes a NO_LOG TABLE_MAP of that table.
    let binlog = [(8, "bigint(20)"), (15, "varchar(5)"), (3, "int(11)")];
    let unnamed = |n: usize| TableChange {
        schema: "shop".into(),
        table: "t".into(),
        kind: ChangeKind::Insert as i32,
        columns: (1..=n)
            .map(|i| Column {
                name: format!("@{i}"),
                type_code: binlog[i - 1].0,
                mysql_type: binlog[i - 1].1.into(),
                ..Default::default()
            })
            .collect(),
        names_known: false,
        ..Default::default()
    };
    let mut ok = unnamed(2);
    assert_eq!(h.enrich(&mut ok, &"f:4"), None);
    assert!(ok.names_known);
    assert_eq!(ok.columns[0].name, "id");
    assert!(ok.columns[0].primary_key && ok.columns[0].unsigned && !ok.columns[0].nullable);
    assert_eq!(ok.columns[0].type_code, 8, "the binlog's type code is kept");
    assert_eq!(
        (
            ok.columns[1].mysql_type.as_str(),
            ok.columns[1].charset.as_str()
        ),
        ("varchar(5)", "latin1")
    );
    let mut bad = unnamed(3);
    let before = bad.clone();
    let w = h.enrich(&mut bad, &"f:4").expect("a warning");
    assert!(w.contains('3') && w.contains("f:4"), "{w}");
    assert_eq!(bad, before);
    // Once per table and reason.
    assert_eq!(h.enrich(&mut bad, &"f:9"), None);
    // A type the history does not have: never named.
    let mut other = unnamed(2);
    other.columns[1].type_code = 3;
    let before = other.clone();
    assert!(h
        .enrich(&mut other, &"f:12")
        .is_some_and(|w| w.contains("another type")));
    assert_eq!(other, before);
    let mut unknown = TableChange {
        table: "nope".into(),
        ..unnamed(1)
    };
    assert!(h.enrich(&mut unknown, &"f:4").is_some());
    assert!(!unknown.names_known);
}

#[test]
fn statements_as_binlogs_carry_them() {
    let mut h = SchemaHistory::new(Dialect::from_server_version("8.0.36", "utf8mb4"));
    h.set_database("shop", "utf8mb4");
    // Lower case, odd spacing, functional index, JSON path generated columns.
    applied(&mut h, "create table if not exists `Line` ( `k` bigint NOT NULL, `q` decimal(12, 3) NOT NULL, j json, n varchar(100) as (j->>'$.name'), a int as (j->'$.age'), index i((k+1)), primary key (`k`) ) engine=innodb");
    assert_eq!(
        cols(&h, "shop", "Line"),
        [
            "k bigint NOT NULL PK",
            "q decimal(12,3) NOT NULL",
            "j json",
            "n varchar(100) [utf8mb4]",
            "a int"
        ]
    );
    // MySQL writes DROP TABLE with a trailing comment, and each name quoted.
    let c = applied(&mut h, "DROP TABLE `Line`,`nope` /* generated by server */");
    assert_eq!(c.tables.len(), 1);
    // A vector column (MySQL 9) and SERIAL.
    applied(
        &mut h,
        "CREATE TABLE v(id SERIAL, vc VECTOR(3) NOT NULL, b BIT(3))",
    );
    assert_eq!(
        cols(&h, "shop", "v"),
        [
            "id bigint unsigned NOT NULL",
            "vc vector(3) NOT NULL",
            "b bit(3)"
        ]
    );
    // ALTER … ALGORITHM=INSTANT with a trailing semicolon and comment.
    applied(&mut h, "ALTER TABLE v ADD COLUMN c INT NOT NULL DEFAULT 0 COMMENT 'x, y' AFTER id, ALGORITHM=INSTANT; -- done");
    assert_eq!(cols(&h, "shop", "v")[1], "c int NOT NULL");
    // Executable comments MariaDB-only are skipped by MySQL.
    applied(&mut h, "ALTER TABLE v /*M!100301 WAIT 5 */ ADD d INT");
    assert_eq!(cols(&h, "shop", "v").len(), 5);
}

#[test]
fn no_default_database() {
    let mut h = history();
    match h.apply_ddl("", "CREATE TABLE t (a INT)") {
        DdlOutcome::Refresh {
            tables, warning, ..
        } => {
            assert!(tables.is_empty());
            assert!(warning.contains("CREATE TABLE t (a INT)"));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        h.apply_ddl("", "CREATE TABLE shop.t (a INT)"),
        DdlOutcome::Applied(_)
    ));
}

#[test]
fn records_from_the_decoder_and_from_the_log() {
    let mut live = history();
    let snapshot = Record {
        snapshot: Some(live.snapshot()),
        ..Default::default()
    };
    let ddl = |sql: &str| Record {
        ddl: Some(Ddl {
            schema: "shop".into(),
            statement: sql.into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let rows = |n: usize| Record {
        changes: vec![TableChange {
            schema: "shop".into(),
            table: "t".into(),
            columns: (1..=n)
                .map(|i| Column {
                    name: format!("@{i}"),
                    type_code: 3,
                    mysql_type: "int(11)".into(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }],
        ..Default::default()
    };
    let server = TableSchema {
        schema: "shop".into(),
        table: "t".into(),
        charset: "latin1".into(),
        columns: vec![
            Column {
                name: "x".into(),
                mysql_type: "int(11)".into(),
                type_code: 3,
                nullable: true,
                ..Default::default()
            },
            Column {
                name: "y".into(),
                mysql_type: "int(11)".into(),
                type_code: 3,
                nullable: true,
                ..Default::default()
            },
        ],
        dropped: false,
    };
    let mut cat = FakeCatalog(vec![server]);
    let mut log = [
        snapshot,
        ddl("CREATE TABLE t (a INT)"),
        rows(1),
        ddl("ALTER TABLE t ADD SYSTEM VERSIONING"),
        rows(2),
        ddl("DROP TABLE t"),
        rows(2),
    ];
    let mut live_warnings = Vec::new();
    for r in log.iter_mut() {
        live_warnings.push(live.process_record(r, Some(&mut cat)).unwrap());
    }
    assert_eq!(log[1].ddl.as_ref().map(|d| d.tables.len()), Some(1));
    assert_eq!(log[2].changes[0].columns[0].name, "a");
    assert!(live_warnings[3]
        .iter()
        .any(|w| w.contains("SYSTEM VERSIONING")));
    assert_eq!(log[4].changes[0].columns[1].name, "y");
    assert!(!log[6].changes[0].names_known);
    assert_eq!(live_warnings[6].len(), 1);
    // A reader of the stored log names the same columns, offline.
    let mut reader = SchemaHistory::new(Dialect::default());
    for r in log.iter_mut() {
        for c in &mut r.changes {
            c.names_known = false;
            for (i, col) in c.columns.iter_mut().enumerate() {
                col.name = format!("@{}", i + 1);
            }
        }
        reader.read_record(r);
    }
    assert_eq!(log[2].changes[0].columns[0].name, "a");
    assert_eq!(log[4].changes[0].columns[0].name, "x");
    assert!(!log[6].changes[0].names_known);
}

#[test]
fn show_create_table_style_definitions() {
    let mut h = history();
    applied(
        &mut h,
        "CREATE TABLE `dump` (\n\
           `id` int(11) unsigned NOT NULL AUTO_INCREMENT,\n\
           `d` datetime NOT NULL DEFAULT '0000-00-00 00:00:00',\n\
           `ts` timestamp NOT NULL DEFAULT current_timestamp() ON UPDATE current_timestamp(),\n\
           `name` varchar(255) COLLATE utf8mb4_unicode_ci DEFAULT NULL,\n\
           `kind` enum('a','b') CHARACTER SET utf8 COLLATE utf8_bin NOT NULL DEFAULT 'a',\n\
           `price` double(16,2) DEFAULT NULL,\n\
           `flag` bit(1) DEFAULT b'0',\n\
           `shape` geometry NOT NULL /*!80003 SRID 4326 */,\n\
           `doc` longtext CHARACTER SET utf8mb4 COLLATE utf8mb4_bin DEFAULT NULL CHECK (json_valid(`doc`)),\n\
           `g` varchar(10) GENERATED ALWAYS AS (concat(`name`,'x')) VIRTUAL,\n\
           `z` decimal(10,2) unsigned zerofill DEFAULT NULL,\n\
           `ok` tinyint(1) NOT NULL DEFAULT '0' COMMENT 'flag, with (comma)',\n\
           `f` float unsigned DEFAULT NULL,\n\
           `u` char(36) CHARACTER SET ascii COLLATE ascii_bin DEFAULT NULL,\n\
           `m` datetime(6) DEFAULT current_timestamp(6),\n\
           `s` varchar(32) NOT NULL DEFAULT _utf8mb4'abc',\n\
           `r` int(11) DEFAULT (rand() * 100),\n\
           PRIMARY KEY (`id`) USING BTREE,\n\
           KEY `idx_name` (`name`(191)),\n\
           SPATIAL KEY `sp` (`shape`)\n\
         ) ENGINE=InnoDB AUTO_INCREMENT=3 DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci ROW_FORMAT=DYNAMIC",
    );
    let c = cols(&h, "shop", "dump");
    assert_eq!(c.len(), 17);
    assert_eq!(
        c[0], "id int(11) unsigned NOT NULL PK",
        "a given display width stays"
    );
    assert_eq!(c[4], "kind enum('a','b') NOT NULL [utf8mb3]");
    assert_eq!(c[8], "doc longtext [utf8mb4]");
    assert_eq!(c[13], "u char(36) [ascii]");
}
