//! The replica connection against a real private MariaDB: connect, query,
//! each authentication plugin MariaDB offers, and the errors a user sees
//! for a wrong password or an unreachable server.

use sluice::source::{Connection, Flavour, SourceConfig, SourceError};
use sluice_testkit::MariaDb;

fn config(db: &MariaDb) -> SourceConfig {
    SourceConfig::from_url(&db.url()).expect("harness URL parses")
}

#[tokio::test]
async fn connects_detects_mariadb_and_runs_queries() {
    let Some(db) = MariaDb::shared() else { return };
    let mut conn = Connection::connect(&config(db)).await.unwrap();
    let info = conn.server_info().clone();
    assert_eq!(info.flavour, Flavour::MariaDb);
    let version = db.sql("SELECT VERSION()");
    let expected: Vec<u16> = version
        .trim()
        .split(|c: char| !c.is_ascii_digit())
        .take(3)
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(
        [info.version.0, info.version.1, info.version.2].to_vec(),
        expected
    );
    assert_eq!(info.server_id, 1);
    assert_eq!(info.checksum, "CRC32");
    assert!(info.has_checksum());
    assert_eq!(
        info.connection_id.to_string(),
        conn.query_value("SELECT CONNECTION_ID()")
            .await
            .unwrap()
            .unwrap()
    );

    let rs = conn
        .query_with_columns("SELECT 1 AS one, NULL AS nothing, 'x''y' AS s, '' AS empty")
        .await
        .unwrap();
    assert_eq!(rs.columns, ["one", "nothing", "s", "empty"]);
    assert_eq!(
        rs.rows,
        vec![vec![
            Some("1".to_string()),
            None,
            Some("x'y".to_string()),
            Some(String::new())
        ]]
    );

    conn.exec("CREATE DATABASE IF NOT EXISTS conn_q")
        .await
        .unwrap();
    conn.exec("CREATE TABLE conn_q.t (id INT PRIMARY KEY, v VARCHAR(300))")
        .await
        .unwrap();
    let long = "é".repeat(300);
    let n = conn
        .exec(&format!(
            "INSERT INTO conn_q.t VALUES (1, 'a'), (2, NULL), (3, '{long}')"
        ))
        .await
        .unwrap();
    assert_eq!(n, 3);
    let rows = conn
        .query("SELECT id, v FROM conn_q.t ORDER BY id")
        .await
        .unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[1], vec![Some("2".into()), None]);
    assert_eq!(rows[2][1].as_deref(), Some(long.as_str()));
    assert_eq!(db.sql("SELECT COUNT(*) FROM conn_q.t").trim(), "3");

    // A bad statement is a server error naming the server and the query,
    // and the connection stays usable.
    let e = conn.query("SELEC 1").await.unwrap_err();
    assert_eq!(e.server_code(), Some(1064), "{e}");
    let text = e.to_string();
    assert!(text.contains(&format!("127.0.0.1:{}", db.port())), "{text}");
    assert!(text.contains("SELEC 1"), "{text}");
    assert!(!e.is_retryable());
    assert_eq!(
        conn.query_value("SELECT 40 + 2").await.unwrap().as_deref(),
        Some("42")
    );
}

#[tokio::test]
async fn mysql_native_password_account() {
    let Some(db) = MariaDb::shared() else { return };
    db.sql(
        "CREATE USER IF NOT EXISTS 'native_u'@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD('n@tive pw');
         GRANT SELECT ON *.* TO 'native_u'@'%';",
    );
    let url = format!("mysql://native_u:n%40tive%20pw@127.0.0.1:{}", db.port());
    let mut conn = Connection::connect(&SourceConfig::from_url(&url).unwrap())
        .await
        .unwrap();
    assert_eq!(
        conn.query_value("SELECT CURRENT_USER()")
            .await
            .unwrap()
            .as_deref(),
        Some("native_u@%")
    );
}

#[tokio::test]
async fn empty_password_account() {
    let Some(db) = MariaDb::shared() else { return };
    db.sql("CREATE USER IF NOT EXISTS 'nopw_u'@'%'; GRANT SELECT ON *.* TO 'nopw_u'@'%';");
    let url = format!("mysql://nopw_u@127.0.0.1:{}", db.port());
    let mut conn = Connection::connect(&SourceConfig::from_url(&url).unwrap())
        .await
        .unwrap();
    assert_eq!(
        conn.query_value("SELECT CURRENT_USER()")
            .await
            .unwrap()
            .as_deref(),
        Some("nopw_u@%")
    );
}

#[tokio::test]
async fn client_ed25519_account_via_auth_switch() {
    let Some(db) = MariaDb::shared() else { return };
    if db.try_sql("INSTALL SONAME 'auth_ed25519'").is_err() {
        // Installed already by an earlier run of this test on this server.
        assert!(db
            .sql("SELECT PLUGIN_STATUS FROM information_schema.PLUGINS WHERE PLUGIN_NAME='ed25519'")
            .contains("ACTIVE"));
    }
    db.sql(
        "CREATE USER IF NOT EXISTS 'ed_u'@'%' IDENTIFIED VIA ed25519 USING PASSWORD('ed secret');
         GRANT SELECT ON *.* TO 'ed_u'@'%';",
    );
    let mut cfg = config(db);
    cfg.user = "ed_u".into();
    cfg.password = sluice::source::Password::new("ed secret");
    let mut conn = Connection::connect(&cfg).await.unwrap();
    assert_eq!(
        conn.query_value("SELECT CURRENT_USER()")
            .await
            .unwrap()
            .as_deref(),
        Some("ed_u@%")
    );
    // The wrong password fails the signature check.
    cfg.password = sluice::source::Password::new("ed secreT");
    let e = Connection::connect(&cfg).await.unwrap_err();
    assert!(matches!(e, SourceError::Auth { .. }), "{e}");
}

#[tokio::test]
async fn wrong_password_is_a_fatal_auth_error() {
    let Some(db) = MariaDb::shared() else { return };
    let url = format!("mysql://sluice:not-the-password@127.0.0.1:{}", db.port());
    let e = Connection::connect(&SourceConfig::from_url(&url).unwrap())
        .await
        .unwrap_err();
    assert!(matches!(e, SourceError::Auth { .. }), "{e:?}");
    assert!(!e.is_retryable());
    let text = e.to_string();
    assert!(text.contains("user 'sluice'"), "{text}");
    assert!(text.contains(&format!("127.0.0.1:{}", db.port())), "{text}");
    assert!(text.contains("1045"), "{text}");
    assert!(!text.contains("not-the-password"), "{text}");
}

#[tokio::test]
async fn unreachable_server_is_a_retryable_connect_error() {
    let port = sluice_testkit::free_port();
    let url = format!("mysql://u:p@127.0.0.1:{port}?connect_timeout=2");
    let e = Connection::connect(&SourceConfig::from_url(&url).unwrap())
        .await
        .unwrap_err();
    assert!(matches!(e, SourceError::Connect { .. }), "{e:?}");
    assert!(e.is_retryable());
    let text = e.to_string();
    assert!(
        text.contains(&format!("cannot connect to 127.0.0.1:{port}")),
        "{text}"
    );
}

#[tokio::test]
async fn tls_required_against_a_plain_server_is_refused() {
    let Some(db) = MariaDb::shared() else { return };
    let mut cfg = config(db);
    cfg.tls = sluice::source::TlsMode::Required;
    let e = Connection::connect(&cfg).await.unwrap_err();
    assert!(matches!(e, SourceError::Tls { .. }), "{e:?}");
    assert!(e.to_string().contains("does not offer TLS"), "{e}");
    // The default (preferred) falls back to plain text.
    cfg.tls = sluice::source::TlsMode::Preferred;
    let conn = Connection::connect(&cfg).await.unwrap();
    assert!(!conn.server_info().tls);
}
