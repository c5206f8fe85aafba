//! The MySQL-only paths, against a scripted MySQL 8 server on a real
//! socket (MariaDB cannot serve them): caching_sha2_password's fast path,
//! its full authentication with the server's RSA key, an auth switch to
//! it, and the exact bytes of COM_BINLOG_DUMP_GTID. The scripted server
//! checks every proof the way the protocol documents the server side.

use sha2::{Digest, Sha256};
use sluice::source::packet::PacketIo;
use sluice::source::{Connection, DumpFrom, Flavour, SourceConfig, SourceError};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

const PASSWORD: &str = "mysql8 secret";
const NONCE: &[u8; 20] = b"0123456789abcdefghij";
const GTID_SET: &str = "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5:11";

#[derive(Clone, Copy, PartialEq)]
enum Scenario {
    FastPath,
    FullAuthRsa,
    SwitchFromNative,
    Sha256Switch,
}

struct Script {
    scenario: Scenario,
    rsa: Option<rsa::RsaPrivateKey>,
    /// Commands the client sent after authenticating.
    seen: mpsc::UnboundedSender<Vec<u8>>,
}

fn handshake(plugin: &str) -> Vec<u8> {
    let caps: u32 = 0x1 | 0x4 | 0x200 | 0x2000 | 0x8000 | 0x2_0000 | 0x8_0000 | 0x20_0000;
    let mut p = vec![10];
    p.extend_from_slice(b"8.0.36\0");
    p.extend_from_slice(&9u32.to_le_bytes());
    p.extend_from_slice(&NONCE[..8]);
    p.push(0);
    p.extend_from_slice(&(caps as u16).to_le_bytes());
    p.push(255);
    p.extend_from_slice(&2u16.to_le_bytes());
    p.extend_from_slice(&((caps >> 16) as u16).to_le_bytes());
    p.push(21);
    p.extend_from_slice(&[0; 10]);
    p.extend_from_slice(&NONCE[8..]);
    p.push(0);
    p.extend_from_slice(plugin.as_bytes());
    p.push(0);
    p
}

/// The server side of caching_sha2_password's fast path.
fn sha2_proof_ok(proof: &[u8], nonce: &[u8]) -> bool {
    let cached = Sha256::digest(Sha256::digest(PASSWORD.as_bytes()));
    let mut h = Sha256::new();
    h.update(cached);
    h.update(nonce);
    let mix = h.finalize();
    let stage1: Vec<u8> = proof.iter().zip(mix.iter()).map(|(a, b)| a ^ b).collect();
    proof.len() == 32 && Sha256::digest(&stage1) == cached
}

const OK: &[u8] = &[0, 0, 0, 2, 0, 0, 0];

fn err(code: u16, msg: &str) -> Vec<u8> {
    let mut p = vec![0xFF];
    p.extend_from_slice(&code.to_le_bytes());
    p.extend_from_slice(b"#HY000");
    p.extend_from_slice(msg.as_bytes());
    p
}

fn lenenc_str(out: &mut Vec<u8>, s: &str) {
    out.push(s.len() as u8);
    out.extend_from_slice(s.as_bytes());
}

async fn result_set(io: &mut PacketIo<TcpStream>, columns: &[&str], rows: &[Vec<&str>]) {
    io.write_packet(&[columns.len() as u8]).await.unwrap();
    for c in columns {
        let mut p = Vec::new();
        for s in ["def", "", "", "", c, ""] {
            lenenc_str(&mut p, s);
        }
        p.extend_from_slice(&[0x0C, 45, 0, 0, 1, 0, 0, 253, 0, 0, 0, 0, 0]);
        io.write_packet(&p).await.unwrap();
    }
    io.write_packet(&[0xFE, 0, 0, 2, 0]).await.unwrap();
    for r in rows {
        let mut p = Vec::new();
        for v in r {
            lenenc_str(&mut p, v);
        }
        io.write_packet(&p).await.unwrap();
    }
    io.write_packet(&[0xFE, 0, 0, 2, 0]).await.unwrap();
}

/// Send the RSA public key, then check the sealed password.
async fn rsa_exchange(io: &mut PacketIo<TcpStream>, script: &Script, nonce: &[u8]) -> bool {
    use rsa::pkcs8::EncodePublicKey;
    let key = script.rsa.as_ref().unwrap();
    let pem = key
        .to_public_key()
        .to_public_key_pem(rsa::pkcs8::LineEnding::LF)
        .unwrap();
    let mut p = vec![0x01];
    p.extend_from_slice(pem.as_bytes());
    io.write_packet(&p).await.unwrap();
    let sealed = io.read_packet(None, "test").await.unwrap();
    let plain = key
        .decrypt(rsa::Oaep::new::<sha1::Sha1>(), &sealed)
        .unwrap();
    let clear: Vec<u8> = plain
        .iter()
        .enumerate()
        .map(|(i, b)| b ^ nonce[i % nonce.len()])
        .collect();
    let mut want = PASSWORD.as_bytes().to_vec();
    want.push(0);
    if clear != want {
        io.write_packet(&err(1045, "Access denied for user 'repl'"))
            .await
            .unwrap();
        return false;
    }
    true
}

/// Authenticate one client per the scenario; false if it was refused.
async fn authenticate(io: &mut PacketIo<TcpStream>, script: &Script) -> bool {
    let initial = match script.scenario {
        Scenario::SwitchFromNative | Scenario::Sha256Switch => "mysql_native_password",
        _ => "caching_sha2_password",
    };
    io.write_packet(&handshake(initial)).await.unwrap();
    let resp = io.read_packet(None, "test").await.unwrap();
    let rest = &resp[32..];
    let user_end = rest.iter().position(|&b| b == 0).unwrap();
    assert_eq!(&rest[..user_end], b"repl");
    let n = rest[user_end + 1] as usize;
    let proof = rest[user_end + 2..user_end + 2 + n].to_vec();
    let plugin = &rest[user_end + 2 + n..];
    match script.scenario {
        Scenario::FastPath => {
            assert_eq!(plugin, b"caching_sha2_password\0");
            if !sha2_proof_ok(&proof, NONCE) {
                io.write_packet(&err(1045, "Access denied for user 'repl'"))
                    .await
                    .unwrap();
                return false;
            }
            io.write_packet(&[0x01, 0x03]).await.unwrap();
        }
        Scenario::FullAuthRsa => {
            // As if the cache were cold: ask for the full password.
            io.write_packet(&[0x01, 0x04]).await.unwrap();
            let ask = io.read_packet(None, "test").await.unwrap();
            assert_eq!(ask.as_ref(), &[0x02], "client asks for the public key");
            if !rsa_exchange(io, script, NONCE).await {
                return false;
            }
        }
        Scenario::Sha256Switch => {
            // MySQL 5.7's sha256_password, reached by an auth switch, without
            // TLS: the client asks for the key with a single 0x01.
            let new_nonce = b"klmnopqrstABCDEFGHIJ";
            let mut p = vec![0xFE];
            p.extend_from_slice(b"sha256_password\0");
            p.extend_from_slice(new_nonce);
            p.push(0);
            io.write_packet(&p).await.unwrap();
            let ask = io.read_packet(None, "test").await.unwrap();
            assert_eq!(ask.as_ref(), &[0x01], "client asks for the public key");
            if !rsa_exchange(io, script, new_nonce).await {
                return false;
            }
        }
        Scenario::SwitchFromNative => {
            assert_eq!(plugin, b"mysql_native_password\0");
            let new_nonce = b"ABCDEFGHIJKLMNOPQRST";
            let mut p = vec![0xFE];
            p.extend_from_slice(b"caching_sha2_password\0");
            p.extend_from_slice(new_nonce);
            p.push(0);
            io.write_packet(&p).await.unwrap();
            let proof = io.read_packet(None, "test").await.unwrap();
            if !sha2_proof_ok(&proof, new_nonce) {
                io.write_packet(&err(1045, "Access denied for user 'repl'"))
                    .await
                    .unwrap();
                return false;
            }
            io.write_packet(&[0x01, 0x03]).await.unwrap();
        }
    }
    io.write_packet(OK).await.unwrap();
    true
}

async fn serve_one(sock: TcpStream, script: &Script) {
    let mut io = PacketIo::new(sock, "client".into());
    if !authenticate(&mut io, script).await {
        return;
    }
    loop {
        io.reset_seq();
        let Ok(cmd) = io.read_packet(None, "test").await else {
            return;
        };
        let _ = script.seen.send(cmd.to_vec());
        match cmd[0] {
            0x01 => return,
            0x03 => {
                let sql = String::from_utf8_lossy(&cmd[1..]).to_string();
                if sql == "SELECT @@server_id" {
                    result_set(&mut io, &["@@server_id"], &[vec!["7"]]).await;
                } else if sql == "SELECT @@global.binlog_checksum" {
                    result_set(&mut io, &["@@global.binlog_checksum"], &[vec!["CRC32"]]).await;
                } else if sql == "SHOW BINARY LOGS" {
                    result_set(
                        &mut io,
                        &["Log_name", "File_size", "Encrypted"],
                        &[vec!["binlog.000042", "1000", "No"]],
                    )
                    .await;
                } else if sql.starts_with("SET ") {
                    io.write_packet(OK).await.unwrap();
                } else {
                    io.write_packet(&err(1064, "syntax")).await.unwrap();
                }
            }
            0x15 => io.write_packet(OK).await.unwrap(),
            0x1E => {
                // One event (a heartbeat-shaped 19-byte header + body), then
                // the server's refusal for purged GTIDs.
                let mut ev = vec![0u8];
                ev.extend_from_slice(&0u32.to_le_bytes());
                ev.push(27);
                ev.extend_from_slice(&7u32.to_le_bytes());
                ev.extend_from_slice(&(19u32 + 13).to_le_bytes());
                ev.extend_from_slice(&0u32.to_le_bytes());
                ev.extend_from_slice(&0u16.to_le_bytes());
                ev.extend_from_slice(b"binlog.000042");
                io.write_packet(&ev).await.unwrap();
                io.write_packet(&err(
                    1236,
                    "Cannot replicate because the source purged required binary logs. Replicate the missing transactions from elsewhere, or provision a new replica from backup. Consider increasing the source's binary log expiration period. The GTID sets and the missing purged transactions are too long to print in this message.",
                ))
                .await
                .unwrap();
            }
            other => panic!("unexpected command {other:#x}"),
        }
    }
}

async fn fake_server(scenario: Scenario) -> (u16, mpsc::UnboundedReceiver<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::unbounded_channel();
    let rsa = matches!(scenario, Scenario::FullAuthRsa | Scenario::Sha256Switch)
        .then(|| rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 1024).unwrap());
    let script = std::sync::Arc::new(Script {
        scenario,
        rsa,
        seen: tx,
    });
    tokio::spawn(async move {
        loop {
            let (sock, _) = listener.accept().await.unwrap();
            let script = script.clone();
            tokio::spawn(async move { serve_one(sock, &script).await });
        }
    });
    (port, rx)
}

fn config(port: u16, password: &str) -> SourceConfig {
    let mut c =
        SourceConfig::from_url(&format!("mysql://repl@127.0.0.1:{port}?server_id=4242")).unwrap();
    c.password = sluice::source::Password::new(password);
    c
}

#[tokio::test]
async fn caching_sha2_fast_path() {
    let (port, _rx) = fake_server(Scenario::FastPath).await;
    let conn = Connection::connect(&config(port, PASSWORD)).await.unwrap();
    let info = conn.server_info();
    assert_eq!(info.flavour, Flavour::MySql);
    assert_eq!(info.version, (8, 0, 36));
    assert_eq!(info.server_id, 7);
    assert!(info.has_checksum());
    let e = Connection::connect(&config(port, "wrong"))
        .await
        .unwrap_err();
    assert!(matches!(e, SourceError::Auth { .. }), "{e:?}");
}

#[tokio::test]
async fn caching_sha2_full_auth_with_the_server_rsa_key() {
    let (port, _rx) = fake_server(Scenario::FullAuthRsa).await;
    Connection::connect(&config(port, PASSWORD)).await.unwrap();
    let e = Connection::connect(&config(port, "wrong"))
        .await
        .unwrap_err();
    assert!(matches!(e, SourceError::Auth { .. }), "{e:?}");
}

#[tokio::test]
async fn auth_switch_to_sha256_password_with_the_server_rsa_key() {
    let (port, _rx) = fake_server(Scenario::Sha256Switch).await;
    Connection::connect(&config(port, PASSWORD)).await.unwrap();
    let e = Connection::connect(&config(port, "wrong"))
        .await
        .unwrap_err();
    assert!(matches!(e, SourceError::Auth { .. }), "{e:?}");
}

#[tokio::test]
async fn auth_switch_from_native_to_caching_sha2() {
    let (port, _rx) = fake_server(Scenario::SwitchFromNative).await;
    Connection::connect(&config(port, PASSWORD)).await.unwrap();
}

#[tokio::test]
async fn mysql_gtid_dump_sends_the_encoded_set_and_maps_purged() {
    let (port, mut rx) = fake_server(Scenario::FastPath).await;
    let conn = Connection::connect(&config(port, PASSWORD)).await.unwrap();
    let mut stream = conn.start_dump(&DumpFrom::gtid(GTID_SET)).await.unwrap();
    let event = stream.next_event().await.unwrap().unwrap();
    assert_eq!(event.bytes.len(), 32);
    assert_eq!(event.header.type_code, 27);
    assert_eq!((event.header.event_size, event.header.server_id), (32, 7));
    let e = stream.next_event().await.unwrap_err();
    let SourceError::Purged {
        oldest, requested, ..
    } = &e
    else {
        panic!("{e:?}")
    };
    assert_eq!(oldest.as_deref(), Some("binlog.000042"));
    assert!(requested.contains(GTID_SET));
    assert!(!e.is_retryable());

    let mut commands = Vec::new();
    while let Ok(c) = rx.try_recv() {
        commands.push(c);
    }
    let sql: Vec<String> = commands
        .iter()
        .filter(|c| c[0] == 0x03)
        .map(|c| String::from_utf8_lossy(&c[1..]).to_string())
        .collect();
    assert!(sql
        .iter()
        .any(|s| s.contains("@master_binlog_checksum = @@global.binlog_checksum")));
    assert!(sql
        .iter()
        .any(|s| s.contains("@master_heartbeat_period = 10000000000")));
    assert!(!sql.iter().any(|s| s.contains("mariadb")), "{sql:?}");
    assert!(
        sql.iter()
            .any(|s| s.contains("@slave_uuid = '51ce0000-0000-4000-8000-000000001092'")),
        "{sql:?}"
    );
    let register = commands.iter().find(|c| c[0] == 0x15).unwrap();
    assert_eq!(&register[1..5], &4242u32.to_le_bytes());
    let dump = commands.iter().find(|c| c[0] == 0x1E).unwrap();
    // flags (through GTID) | server id | empty file name | pos 4 | data
    assert_eq!(&dump[1..3], &4u16.to_le_bytes());
    assert_eq!(&dump[3..7], &4242u32.to_le_bytes());
    assert_eq!(&dump[7..11], &0u32.to_le_bytes());
    assert_eq!(&dump[11..19], &4u64.to_le_bytes());
    assert_eq!(&dump[19..23], &64u32.to_le_bytes());
    let data = &dump[23..];
    assert_eq!(data.len(), 64);
    assert_eq!(&data[..8], &1u64.to_le_bytes());
    assert_eq!(
        &data[8..24],
        &[
            0x3e, 0x11, 0xfa, 0x47, 0x71, 0xca, 0x11, 0xe1, 0x9e, 0x33, 0xc8, 0x0a, 0xa9, 0x42,
            0x95, 0x62
        ]
    );
    assert_eq!(&data[24..32], &2u64.to_le_bytes());
    let ints: Vec<u64> = data[32..]
        .chunks(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(ints, vec![1, 6, 11, 12]);
}

/// caching_sha2_password full authentication over TLS sends the password
/// in clear (the channel is encrypted), never via RSA. The scripted server
/// uses the private MariaDB's TLS files for its certificate.
#[tokio::test]
async fn caching_sha2_full_auth_over_tls_sends_the_clear_password() {
    use tokio_rustls::rustls;
    let Some(db) = sluice_testkit::MariaDb::start(sluice_testkit::MariaDbOptions {
        tls: true,
        ..Default::default()
    }) else {
        return;
    };
    let files = db.tls().unwrap().clone();
    let certs: Vec<_> = rustls_pemfile::certs(&mut std::fs::read(&files.cert).unwrap().as_slice())
        .collect::<Result<_, _>>()
        .unwrap();
    let key = rustls_pemfile::private_key(&mut std::fs::read(&files.key).unwrap().as_slice())
        .unwrap()
        .unwrap();
    let server_config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(server_config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut hs = handshake("caching_sha2_password");
        // Offer CLIENT_SSL (0x800) in the low capability bytes.
        let caps_at = 1 + b"8.0.36\0".len() + 4 + 8 + 1;
        hs[caps_at + 1] |= 0x08;
        // Raw reads here: the client's TLS hello follows the SSL request at
        // once, and a buffering reader would swallow it.
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut seq = 0u8;
        let mut wire = Vec::new();
        sluice::source::packet::frame(&hs, &mut seq, &mut wire);
        sock.write_all(&wire).await.unwrap();
        let mut ssl_request = [0u8; 36];
        sock.read_exact(&mut ssl_request).await.unwrap();
        assert_eq!(&ssl_request[..4], &[32, 0, 0, 1]);
        assert!(u32::from_le_bytes(ssl_request[4..8].try_into().unwrap()) & 0x800 != 0);
        let seq = 2;
        let tls = acceptor.accept(sock).await.unwrap();
        let mut io = PacketIo::new(tls, "client".into());
        io.set_seq(seq);
        io.read_packet(None, "t").await.unwrap();
        io.write_packet(&[0x01, 0x04]).await.unwrap();
        let clear = io.read_packet(None, "t").await.unwrap();
        let mut want = PASSWORD.as_bytes().to_vec();
        want.push(0);
        assert_eq!(clear.as_ref(), &want[..], "the clear password over TLS");
        io.write_packet(OK).await.unwrap();
        for value in ["7", "CRC32"] {
            io.reset_seq();
            io.read_packet(None, "t").await.unwrap();
            io.write_packet(&[1]).await.unwrap();
            let mut col = Vec::new();
            for s in ["def", "", "", "", "v", ""] {
                lenenc_str(&mut col, s);
            }
            col.extend_from_slice(&[0x0C, 45, 0, 0, 1, 0, 0, 253, 0, 0, 0, 0, 0]);
            io.write_packet(&col).await.unwrap();
            io.write_packet(&[0xFE, 0, 0, 2, 0]).await.unwrap();
            let mut row = Vec::new();
            lenenc_str(&mut row, value);
            io.write_packet(&row).await.unwrap();
            io.write_packet(&[0xFE, 0, 0, 2, 0]).await.unwrap();
        }
    });
    let mut cfg = config(port, PASSWORD);
    cfg.host = "localhost".into();
    cfg.tls = sluice::source::TlsMode::Verify;
    cfg.ca = Some(files.ca.clone());
    let conn = Connection::connect(&cfg).await.unwrap();
    assert!(conn.server_info().tls);
    assert_eq!(conn.server_info().server_id, 7);
    server.await.unwrap();
}
