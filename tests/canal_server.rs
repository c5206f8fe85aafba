//! The Canal server over a real socket: a client session end to end,
//! concurrent consumer groups, and malformed input.

mod common;

use std::time::Duration;

use common::canal::*;
use prost::Message as _;
use sluice::proto::canal as c;
use sluice::serve::canal::{CanalClient, CanalConfig, ClientError, Credentials, MemoryDestination};
use tokio::net::TcpStream;

fn config() -> CanalConfig {
    CanalConfig {
        time_zone: sluice::serve::canal::TimeZone::Utc,
        ..Default::default()
    }
}

#[tokio::test]
async fn session_end_to_end_with_ack_rollback_and_redelivery() {
    let shop = MemoryDestination::new("shop");
    for id in 1..=6 {
        // Odd ids go to shop.orders, even ones to shop.audit (filtered out).
        let table = if id % 2 == 1 { "orders" } else { "audit" };
        shop.append(&insert("shop", table, id));
    }
    let server = TestServer::start(
        CanalConfig {
            credentials: Some(Credentials::from_plain("canal", "s3cret")),
            ..config()
        },
        std::slice::from_ref(&shop),
    )
    .await;

    // A wrong password is refused with Canal's message.
    match CanalClient::connect(server.addr, "canal", "wrong").await {
        Err(ClientError::Server { code, message }) => {
            assert_eq!(code, 400);
            assert!(message.contains("auth failed for user:canal"), "{message}");
        }
        Err(other) => panic!("wrong error: {other}"),
        Ok(_) => panic!("wrong password accepted"),
    }

    let mut client = CanalClient::connect(server.addr, "canal", "s3cret")
        .await
        .unwrap();
    // Canal clients roll back right after connecting, before subscribing:
    // silently ignored (no reply that would confuse the next request).
    client.rollback(0).await.unwrap();
    client
        .subscribe("shop", "1001", r"shop\.orders")
        .await
        .unwrap();

    // A transaction is 3 entries (BEGIN, ROWDATA, END): a batch of 6
    // entries holds two of the transactions that pass the filter.
    let m1 = client.get_without_ack(6, None).await.unwrap();
    assert_eq!(m1.batch_id, 1);
    assert_eq!(row_ids(&m1.entries), vec![1, 3]);
    let h = m1.entries[1].header.as_ref().unwrap();
    assert_eq!(h.schema_name, "shop");
    assert_eq!(h.table_name, "orders");
    assert_eq!(h.event_type, Some(c::EventType::Insert as i32));
    assert_eq!(h.logfile_name, "mysql-bin.000001");
    assert_eq!(h.logfile_offset, 104);
    let rc = c::RowChange::decode(&m1.entries[1].store_value[..]).unwrap();
    let name = &rc.row_datas[0].after_columns[1];
    assert_eq!(
        (name.name.as_str(), name.value.as_str(), name.sql_type),
        ("name", "name-1", 12)
    );
    assert_eq!(name.mysql_type, "varchar(32)");

    let m2 = client.get_without_ack(6, None).await.unwrap();
    assert_eq!(m2.batch_id, 2);
    assert_eq!(row_ids(&m2.entries), vec![5]);
    // Nothing more: batch id -1, at once.
    let empty = client.get_without_ack(6, None).await.unwrap();
    assert_eq!((empty.batch_id, empty.entries.len()), (-1, 0));

    // Ack the first, roll back the second: it comes again.
    client.ack(1).await.unwrap();
    client.rollback(2).await.unwrap();
    let again = client.get_without_ack(6, None).await.unwrap();
    assert_eq!(again.batch_id, 3);
    assert_eq!(row_ids(&again.entries), vec![5]);
    assert_eq!(again.entries, m2.entries, "the same entries, byte for byte");
    // Committed offset: the end of batch 1, after id 3 (offset 2).
    assert_eq!(shop_committed(&shop, "1001"), Some(3));

    // Disconnect without acking batch 3: a new connection gets it again.
    drop(client);
    let mut client = CanalClient::connect(server.addr, "canal", "s3cret")
        .await
        .unwrap();
    client
        .subscribe("shop", "1001", r"shop\.orders")
        .await
        .unwrap();
    let redelivered = client.get_without_ack(100, None).await.unwrap();
    assert_eq!(row_ids(&redelivered.entries), vec![5]);
    client.ack(redelivered.batch_id).await.unwrap();
    // A later get after the ack proves the ack was applied in order.
    let none = client.get_without_ack(100, None).await.unwrap();
    assert_eq!(none.batch_id, -1);
    // The trailing filtered record (id 6) was skipped and committed too.
    assert_eq!(shop_committed(&shop, "1001"), Some(6));

    // Another client id reads the same destination from the start.
    let mut other = CanalClient::connect(server.addr, "canal", "s3cret")
        .await
        .unwrap();
    other.subscribe("shop", "2002", "").await.unwrap();
    let all = other.get_without_ack(1000, None).await.unwrap();
    assert_eq!(row_ids(&all.entries), vec![1, 2, 3, 4, 5, 6]);
    server.shutdown().await;
}

fn shop_committed(d: &MemoryDestination, group: &str) -> Option<u64> {
    d.committed(group)
}

#[tokio::test]
async fn get_waits_for_new_records_and_acks_must_come_in_order() {
    let log = MemoryDestination::new("db");
    let server = TestServer::start(config(), std::slice::from_ref(&log)).await;
    let mut client = CanalClient::connect(server.addr, "", "").await.unwrap();
    client.subscribe("db", "7", "").await.unwrap();
    let writer = {
        let log = log.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            log.append(&insert("db", "t", 1));
        })
    };
    // Waits (up to 10 s) until the batch is full: 3 entries = 1 transaction.
    let m = client
        .get_without_ack(3, Some(Duration::from_secs(10)))
        .await
        .unwrap();
    assert_eq!(row_ids(&m.entries), vec![1]);
    writer.await.unwrap();
    // A short timeout with nothing new returns empty.
    let e = client
        .get_without_ack(3, Some(Duration::from_millis(50)))
        .await
        .unwrap();
    assert_eq!(e.batch_id, -1);

    log.append(&insert("db", "t", 2));
    let m2 = client.get_without_ack(3, None).await.unwrap();
    // Acking batch 2 before batch 1 is an error, reported as the reply to
    // the next request (which is not run), so replies stay in step.
    client.ack(m2.batch_id).await.unwrap();
    match client.get_without_ack(3, None).await {
        Err(ClientError::Server { code: 400, message }) => {
            assert!(
                message.contains("not the first outstanding batch"),
                "{message}"
            )
        }
        other => panic!("expected an ack error, got {other:?}"),
    }
    // Ack 0 is Canal's 402.
    client.ack(0).await.unwrap();
    match client.get_without_ack(3, None).await {
        Err(ClientError::Server { code: 402, .. }) => {}
        other => panic!("expected error 402, got {other:?}"),
    }
    // In order, both acks work and nothing is left.
    client.ack(m.batch_id).await.unwrap();
    client.ack(m2.batch_id).await.unwrap();
    let done = client.get_without_ack(3, None).await.unwrap();
    assert_eq!(done.batch_id, -1);
    assert_eq!(log.committed("7"), Some(2));
    server.shutdown().await;
}

#[tokio::test]
async fn eight_groups_read_concurrently_each_sees_everything_once_in_order() {
    const N: i64 = 400;
    let log = MemoryDestination::new("src");
    let server = TestServer::start(config(), std::slice::from_ref(&log)).await;
    let writer = {
        let log = log.clone();
        tokio::spawn(async move {
            for id in 1..=N {
                log.append(&insert("app", "t", id));
                if id % 25 == 0 {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        })
    };
    let mut readers = Vec::new();
    for g in 0..8u64 {
        let addr = server.addr;
        readers.push(tokio::spawn(async move {
            let mut client = CanalClient::connect(addr, "", "").await.unwrap();
            let group = format!("group-{g}");
            client.subscribe("src", &group, r"app\..*").await.unwrap();
            let mut seen = Vec::new();
            let batch = 3 * (g as i32 + 1) * 4;
            let mut round = 0u64;
            while seen.len() < N as usize {
                let m = client
                    .get_without_ack(batch, Some(Duration::from_millis(200)))
                    .await
                    .unwrap();
                if m.batch_id == -1 {
                    continue;
                }
                round += 1;
                // Every third batch of odd groups is rolled back once and
                // read again: still seen exactly once after the ack.
                if g % 2 == 1 && round % 3 == 0 {
                    client.rollback(m.batch_id).await.unwrap();
                    continue;
                }
                seen.extend(row_ids(&m.entries));
                client.ack(m.batch_id).await.unwrap();
                if g % 3 == 0 {
                    tokio::time::sleep(Duration::from_millis(2 * g)).await;
                }
            }
            // Acks get no reply; a last get makes sure the server has
            // applied the final one.
            let last = client.get_without_ack(batch, None).await.unwrap();
            assert_eq!(last.batch_id, -1);
            (group, seen)
        }));
    }
    writer.await.unwrap();
    for r in readers {
        let (group, seen) = tokio::time::timeout(Duration::from_secs(60), r)
            .await
            .expect("reader stuck")
            .unwrap();
        assert_eq!(seen, (1..=N).collect::<Vec<_>>(), "{group}");
        assert_eq!(log.committed(&group), Some(N as u64), "{group}");
    }
    // A group's committed offset is where a new connection resumes.
    log.append(&insert("app", "t", N + 1));
    let mut client = CanalClient::connect(server.addr, "", "").await.unwrap();
    client.subscribe("src", "group-3", "").await.unwrap();
    let m = client.get_without_ack(1000, None).await.unwrap();
    assert_eq!(row_ids(&m.entries), vec![N + 1]);
    server.shutdown().await;
}

/// Connects a raw socket past the handshake and authentication.
async fn raw_session(addr: std::net::SocketAddr) -> TcpStream {
    let mut sock = TcpStream::connect(addr).await.unwrap();
    let hello = read_packet(&mut sock).await.unwrap();
    assert_eq!(hello.r#type, c::PacketType::Handshake as i32);
    assert_eq!(hello.version, Some(1));
    let auth = c::ClientAuth::default();
    let packet = c::Packet {
        r#type: c::PacketType::Clientauthentication as i32,
        body: auth.encode_to_vec(),
        ..Default::default()
    };
    write_frame(&mut sock, &packet.encode_to_vec()).await;
    assert_eq!(ack_of(&read_packet(&mut sock).await.unwrap()).0, 0);
    sock
}

#[tokio::test]
async fn malformed_input_gets_a_clear_error_and_others_are_served() {
    let log = MemoryDestination::new("db");
    log.append(&insert("db", "t", 1));
    let server = TestServer::start(config(), std::slice::from_ref(&log)).await;
    // A healthy client, connected throughout.
    let mut healthy = CanalClient::connect(server.addr, "", "").await.unwrap();
    healthy.subscribe("db", "1", "").await.unwrap();

    // Garbage bytes in place of the auth packet.
    let mut sock = TcpStream::connect(server.addr).await.unwrap();
    read_packet(&mut sock).await.unwrap();
    use tokio::io::AsyncWriteExt;
    sock.write_all(&[0, 0, 0, 5, 0xff, 0xff, 0xff, 0xff, 0xff])
        .await
        .unwrap();
    let (code, msg) = ack_of(&read_packet(&mut sock).await.unwrap());
    assert_eq!(code, 400);
    assert!(msg.contains("not a valid Canal Packet"), "{msg}");
    assert!(closed(&mut sock).await);

    // A 2 GB frame length: refused at once, no allocation, closed.
    let mut sock = raw_session(server.addr).await;
    sock.write_all(&[0x80, 0, 0, 0, 1, 2, 3]).await.unwrap();
    let (code, msg) = ack_of(&read_packet(&mut sock).await.unwrap());
    assert_eq!(code, 400);
    assert!(
        msg.contains("2147483648") && msg.contains("exceeds the limit"),
        "{msg}"
    );
    assert!(closed(&mut sock).await);

    // A truncated protobuf: a valid Sub packet cut short (the frame length
    // matches the cut bytes, so the frame is whole but the protobuf is not).
    let mut sock = raw_session(server.addr).await;
    let sub = c::Sub {
        destination: "db".into(),
        client_id: "2".into(),
        filter: ".*".into(),
    };
    let full = c::Packet {
        r#type: c::PacketType::Subscription as i32,
        body: sub.encode_to_vec(),
        ..Default::default()
    }
    .encode_to_vec();
    write_frame(&mut sock, &full[..full.len() - 3]).await;
    let (code, msg) = ack_of(&read_packet(&mut sock).await.unwrap());
    assert_eq!(code, 400);
    assert!(msg.contains("not a valid Canal Packet"), "{msg}");
    assert!(closed(&mut sock).await);

    // A frame cut off by the client closing mid-way: the server just logs.
    let mut sock = raw_session(server.addr).await;
    sock.write_all(&[0, 0, 0, 100, 1, 2]).await.unwrap();
    drop(sock);

    // An unknown destination: an error naming it, the connection goes on.
    let mut client = CanalClient::connect(server.addr, "", "").await.unwrap();
    match client.subscribe("nope", "1", "").await {
        Err(ClientError::Server { code: 400, message }) => {
            assert!(
                message.contains("unknown destination \"nope\""),
                "{message}"
            );
            assert!(message.contains("db"), "names the known ones: {message}");
        }
        other => panic!("expected an error, got {other:?}"),
    }
    // A bad filter likewise.
    match client.subscribe("db", "1", "db\\.(").await {
        Err(ClientError::Server { code: 400, message }) => {
            assert!(message.contains("bad subscription filter"), "{message}")
        }
        other => panic!("expected an error, got {other:?}"),
    }
    // A get before subscribing.
    match client.get_without_ack(10, None).await {
        Err(ClientError::Server { code: 401, .. }) => {}
        other => panic!("expected error 401, got {other:?}"),
    }
    client.subscribe("db", "1", "").await.unwrap();
    let m = client.get_without_ack(10, None).await.unwrap();
    assert_eq!(row_ids(&m.entries), vec![1]);

    // The healthy client never noticed.
    let m = healthy.get_without_ack(10, None).await.unwrap();
    assert_eq!(row_ids(&m.entries), vec![1]);

    // A record in the log that is not a change event: a clear error, no panic.
    log.append_raw(bytes::Bytes::from_static(&[0xff, 0xff, 0xff]));
    client.ack(m.batch_id).await.unwrap();
    match client.get_without_ack(10, None).await {
        Err(ClientError::Server { code: 400, message }) => {
            assert!(message.contains("record at offset 1"), "{message}")
        }
        other => panic!("expected an error, got {other:?}"),
    }
    server.shutdown().await;
}

#[tokio::test]
async fn connection_limit_retention_and_shutdown() {
    let log = MemoryDestination::new("db");
    for id in 1..=3 {
        log.append(&insert("db", "t", id));
    }
    let server = TestServer::start(
        CanalConfig {
            max_connections: 1,
            ..config()
        },
        std::slice::from_ref(&log),
    )
    .await;
    let mut first = CanalClient::connect(server.addr, "", "").await.unwrap();
    first.subscribe("db", "g", "").await.unwrap();
    let m = first.get_without_ack(3, None).await.unwrap();
    first.ack(m.batch_id).await.unwrap();
    // The second connection is over the limit.
    let mut sock = TcpStream::connect(server.addr).await.unwrap();
    let (code, msg) = ack_of(&read_packet(&mut sock).await.unwrap());
    assert_eq!(code, 400);
    assert!(msg.contains("too many connections (limit 1)"), "{msg}");
    drop(first);
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Retention drops what group "g" has not read: a clear error.
    log.truncate_before(2);
    let mut client = CanalClient::connect(server.addr, "", "").await.unwrap();
    match client.subscribe("db", "g", "").await {
        Err(ClientError::Server { code: 400, message }) => {
            assert!(message.contains("fell out of retention"), "{message}");
            assert!(
                message.contains("offset 1") && message.contains("starts at 2"),
                "{message}"
            );
        }
        other => panic!("expected a retention error, got {other:?}"),
    }
    // A client waiting in a long get is released by shutdown.
    client.subscribe("db", "fresh", "").await.unwrap();
    let m = client.get_without_ack(1000, None).await.unwrap();
    assert_eq!(row_ids(&m.entries), vec![3]);
    let waiting = tokio::spawn(async move {
        client
            .get_without_ack(1000, Some(Duration::from_secs(60)))
            .await
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.shutdown().await;
    let r = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .unwrap()
        .unwrap();
    // It gets what was there (nothing), then the server closes.
    assert_eq!(r.unwrap().batch_id, -1);
}

#[tokio::test]
async fn split_transactions_are_delivered_whole() {
    let log = MemoryDestination::new("db");
    let server = TestServer::start(config(), std::slice::from_ref(&log)).await;
    let mut client = CanalClient::connect(server.addr, "", "").await.unwrap();
    client.subscribe("db", "g", "").await.unwrap();
    // One transaction in three parts; the last one arrives later.
    let part = |p: u32, id: i64, last: bool| {
        let mut r = insert("db", "t", id);
        r.position = insert("db", "t", 100).position;
        r.gtid = "0-1-100".into();
        r.part = p;
        r.last_part = last;
        r
    };
    log.append(&part(0, 1, false));
    log.append(&part(1, 2, false));
    let m = client.get_without_ack(1, None).await.unwrap();
    assert_eq!(m.batch_id, -1, "half a transaction is not delivered");
    log.append(&part(2, 3, true));
    log.append(&insert("db", "t", 4));
    // A batch size of 1 entry still takes the whole transaction.
    let m = client.get_without_ack(1, None).await.unwrap();
    assert_eq!(row_ids(&m.entries), vec![1, 2, 3]);
    assert_eq!(m.entries.len(), 5, "one BEGIN, three ROWDATA, one END");
    let m2 = client.get_without_ack(1, None).await.unwrap();
    assert_eq!(row_ids(&m2.entries), vec![4]);
    server.shutdown().await;
}
