//! Arbitrary server answers over a real socket never panic the client:
//! a scripted server authenticates normally, then answers a query, the
//! authentication exchange, or the binlog dump with random packets (and
//! random raw bytes); the client must return — an error or a value —
//! within its timeouts, never panic or hang.

use proptest::prelude::*;
use sluice::source::packet::{frame, PacketIo};
use sluice::source::{Connection, DumpFrom, SourceConfig};
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

#[derive(Clone, Copy, Debug)]
enum Phase {
    Auth,
    Query,
    Dump,
    /// Accept the dump command, then say nothing.
    Silent,
}

fn handshake() -> Vec<u8> {
    let caps: u32 = 0x1 | 0x4 | 0x200 | 0x2000 | 0x8000 | 0x2_0000 | 0x8_0000 | 0x20_0000;
    let mut p = vec![10];
    p.extend_from_slice(b"8.0.36\0");
    p.extend_from_slice(&1u32.to_le_bytes());
    p.extend_from_slice(b"abcdefgh");
    p.push(0);
    p.extend_from_slice(&(caps as u16).to_le_bytes());
    p.push(45);
    p.extend_from_slice(&2u16.to_le_bytes());
    p.extend_from_slice(&((caps >> 16) as u16).to_le_bytes());
    p.push(21);
    p.extend_from_slice(&[0; 10]);
    p.extend_from_slice(b"ijklmnopqrst\0");
    p.extend_from_slice(b"mysql_native_password\0");
    p
}

const OK: &[u8] = &[0, 0, 0, 2, 0, 0, 0];

async fn one_value(io: &mut PacketIo<TcpStream>, v: &str) {
    io.write_packet(&[1]).await.unwrap();
    let mut col = Vec::new();
    for s in ["def", "", "", "", "v", ""] {
        col.push(s.len() as u8);
        col.extend_from_slice(s.as_bytes());
    }
    col.extend_from_slice(&[0x0C, 45, 0, 0, 1, 0, 0, 253, 0, 0, 0, 0, 0]);
    io.write_packet(&col).await.unwrap();
    io.write_packet(&[0xFE, 0, 0, 2, 0]).await.unwrap();
    let mut row = vec![v.len() as u8];
    row.extend_from_slice(v.as_bytes());
    io.write_packet(&row).await.unwrap();
    io.write_packet(&[0xFE, 0, 0, 2, 0]).await.unwrap();
}

/// Send the random packets (well framed, continuing the sequence), then
/// the raw tail, then close.
async fn garbage(io: PacketIo<TcpStream>, packets: &[Vec<u8>], raw: &[u8]) {
    let mut seq = io.seq();
    let mut wire = Vec::new();
    for p in packets {
        frame(p, &mut seq, &mut wire);
    }
    wire.extend_from_slice(raw);
    let mut sock = io.into_inner();
    let _ = sock.write_all(&wire).await;
    let _ = sock.shutdown().await;
}

async fn serve(sock: TcpStream, phase: Phase, packets: Vec<Vec<u8>>, raw: Vec<u8>) {
    let mut io = PacketIo::new(sock, "client".into());
    if io.write_packet(&handshake()).await.is_err() || io.read_packet(None, "t").await.is_err() {
        return;
    }
    if let Phase::Auth = phase {
        return garbage(io, &packets, &raw).await;
    }
    let _ = io.write_packet(OK).await;
    loop {
        io.reset_seq();
        let Ok(cmd) = io.read_packet(None, "t").await else {
            return;
        };
        let sql = String::from_utf8_lossy(&cmd[1..]).to_string();
        match (phase, cmd[0]) {
            (_, 0x03) if sql == "SELECT @@server_id" => one_value(&mut io, "1").await,
            (_, 0x03) if sql == "SELECT @@global.binlog_checksum" => {
                one_value(&mut io, "CRC32").await
            }
            (Phase::Dump | Phase::Silent, 0x03) if sql.starts_with("SET ") => {
                let _ = io.write_packet(OK).await;
            }
            (Phase::Dump | Phase::Silent, 0x15) => {
                let _ = io.write_packet(OK).await;
            }
            (Phase::Silent, _) => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                return;
            }
            _ => return garbage(io, &packets, &raw).await,
        }
    }
}

fn run_case(phase: Phase, packets: Vec<Vec<u8>>, raw: Vec<u8>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(async move {
            let (sock, _) = listener.accept().await.unwrap();
            serve(sock, phase, packets, raw).await;
        });
        let config = SourceConfig::from_url(&format!(
            "mysql://u:p@127.0.0.1:{port}?connect_timeout=2&heartbeat=0.5&tls=disabled"
        ))
        .unwrap();
        let client = async {
            let mut conn = match Connection::connect(&config).await {
                Ok(c) => c,
                Err(_) => return,
            };
            match phase {
                Phase::Auth => {}
                Phase::Query => {
                    let _ = conn.query("SELECT fuzz").await;
                }
                Phase::Silent => unreachable!("tested separately"),
                Phase::Dump => {
                    let Ok(mut stream) = conn
                        .start_dump(&DumpFrom::gtid("3e11fa47-71ca-11e1-9e33-c80aa9429562:1"))
                        .await
                    else {
                        return;
                    };
                    for _ in 0..64 {
                        match stream.next_event().await {
                            Ok(Some(_)) => continue,
                            _ => break,
                        }
                    }
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(20), client)
            .await
            .expect("the client returned within its timeouts");
        server.abort();
    });
}

fn packets() -> impl Strategy<Value = Vec<Vec<u8>>> {
    let packet = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..40),
        // Plausible starts: OK, ERR, EOF, auth switch / more data, counts.
        (
            prop_oneof![
                Just(0u8),
                Just(0xFF),
                Just(0xFE),
                Just(0x01),
                Just(0x02),
                Just(0xFB)
            ],
            proptest::collection::vec(any::<u8>(), 0..40)
        )
            .prop_map(|(h, mut rest)| {
                rest.insert(0, h);
                rest
            }),
    ];
    proptest::collection::vec(packet, 0..8)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn arbitrary_auth_answers(p in packets(), raw in proptest::collection::vec(any::<u8>(), 0..8)) {
        run_case(Phase::Auth, p, raw);
    }

    #[test]
    fn arbitrary_query_answers(p in packets(), raw in proptest::collection::vec(any::<u8>(), 0..8)) {
        run_case(Phase::Query, p, raw);
    }

    #[test]
    fn arbitrary_dump_answers(p in packets(), raw in proptest::collection::vec(any::<u8>(), 0..8)) {
        run_case(Phase::Dump, p, raw);
    }
}

/// A server that stops talking mid-stream (no events, no heartbeats) is
/// noticed after twice the heartbeat period, as a retryable error.
#[tokio::test]
async fn a_silent_stream_times_out_after_two_heartbeats() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (sock, _) = listener.accept().await.unwrap();
        serve(sock, Phase::Silent, Vec::new(), Vec::new()).await;
    });
    let config = SourceConfig::from_url(&format!(
        "mysql://u:p@127.0.0.1:{port}?heartbeat=0.3&tls=disabled"
    ))
    .unwrap();
    let conn = Connection::connect(&config).await.unwrap();
    let mut stream = conn
        .start_dump(&DumpFrom::gtid("3e11fa47-71ca-11e1-9e33-c80aa9429562:1"))
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let e = stream.next_event().await.unwrap_err();
    let waited = started.elapsed();
    assert!(
        matches!(e, sluice::source::SourceError::Timeout { .. }),
        "{e:?}"
    );
    assert!(e.is_retryable());
    assert!(
        waited >= Duration::from_millis(600) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    assert!(e.to_string().contains("the connection is dead"), "{e}");
    server.abort();
}
