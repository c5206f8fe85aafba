//! TLS against a private MariaDB serving a certificate from its own CA:
//! verification against that CA succeeds, a wrong CA fails with a clear
//! error, `skip-verify` is the explicit opt-out, `disabled` stays plain.

use sluice::source::{Connection, SourceConfig, SourceError};
use sluice_testkit::{MariaDb, MariaDbOptions};
use std::path::Path;

fn url(db: &MariaDb, params: &str) -> SourceConfig {
    SourceConfig::from_url(&format!("{}?{params}", db.url())).unwrap()
}

async fn cipher(conn: &mut Connection) -> String {
    let rows = conn
        .query("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
        .await
        .unwrap();
    rows[0][1].clone().unwrap_or_default()
}

#[tokio::test]
async fn tls_modes_against_a_tls_server() {
    let Some(db) = MariaDb::start(MariaDbOptions {
        tls: true,
        ..Default::default()
    }) else {
        return;
    };
    let tls = db.tls().unwrap().clone();
    let ca = tls.ca.display().to_string();

    // Chain verified against the harness CA, with and without the host check.
    for mode in ["required", "verify", "preferred"] {
        let mut conn = Connection::connect(&url(&db, &format!("tls={mode}&ca={ca}")))
            .await
            .unwrap_or_else(|e| panic!("tls={mode}: {e}"));
        assert!(conn.server_info().tls);
        assert!(!cipher(&mut conn).await.is_empty(), "tls={mode} encrypts");
        // The auth exchange and queries work over TLS.
        assert_eq!(
            conn.query_value("SELECT 6 * 7").await.unwrap().as_deref(),
            Some("42")
        );
    }

    // A CA that did not sign the server certificate: the leaf itself, and
    // the system roots (no ca= given).
    for params in [
        format!("tls=required&ca={}", tls.cert.display()),
        "tls=required".to_string(),
    ] {
        let e = Connection::connect(&url(&db, &params)).await.unwrap_err();
        assert!(matches!(e, SourceError::Tls { .. }), "{params}: {e:?}");
        assert!(!e.is_retryable());
        let text = e.to_string();
        assert!(text.contains(&format!("127.0.0.1:{}", db.port())), "{text}");
        assert!(text.to_lowercase().contains("certificate"), "{text}");
        assert!(text.contains("tls=skip-verify"), "{text}");
    }

    // Explicit opt-out: encrypted, unverified.
    let mut conn = Connection::connect(&url(&db, "tls=skip-verify"))
        .await
        .unwrap();
    assert!(!cipher(&mut conn).await.is_empty());

    // Disabled: plain text even though the server offers TLS.
    let mut conn = Connection::connect(&url(&db, "tls=disabled"))
        .await
        .unwrap();
    assert!(!conn.server_info().tls);
    assert!(cipher(&mut conn).await.is_empty());

    // A missing CA file is a configuration error naming the file.
    let e = Connection::connect(&url(&db, "tls=required&ca=/nonexistent/ca.pem"))
        .await
        .unwrap_err();
    assert!(matches!(e, SourceError::Config(_)), "{e:?}");
    assert!(e.to_string().contains("/nonexistent/ca.pem"));
    assert!(Path::new(&tls.ca).exists());
}
