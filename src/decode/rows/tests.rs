//! Hand-built rows events for every event form.

use super::*;
use crate::decode::table_map::TableMap;

/// `t (id INT NOT NULL, name VARCHAR(10) NULL utf8mb4, n BIGINT UNSIGNED NULL)`.
fn table() -> TableMap {
    let mut b = vec![7, 0, 0, 0, 0, 0, 1, 0];
    b.extend([1, b'd', 0, 1, b't', 0]);
    b.push(3);
    b.extend([code::LONG, code::VARCHAR, code::LONGLONG]);
    b.push(2);
    b.extend([40, 0]);
    b.push(0b110);
    b.extend([1, 1, 0b0100_0000]); // id signed, n unsigned
    b.extend([2, 1, 45]);
    TableMap::parse(&b, 6).unwrap()
}

fn header(v2: bool) -> Vec<u8> {
    let mut b = vec![7, 0, 0, 0, 0, 0, 1, 0];
    if v2 {
        b.extend([2, 0]);
    }
    b
}

fn row(id: i32, name: Option<&str>, n: u64) -> Vec<u8> {
    let mut b = vec![if name.is_none() { 0b010 } else { 0 }];
    b.extend(id.to_le_bytes());
    if let Some(s) = name {
        b.push(s.len() as u8);
        b.extend(s.as_bytes());
    }
    b.extend(n.to_le_bytes());
    b
}

fn vals(img: &proto::Image) -> Vec<Kind> {
    img.values.iter().map(|v| v.kind.clone().unwrap()).collect()
}

#[test]
fn write_rows_v2_two_rows() {
    let mut b = header(true);
    b.extend([3, 0b111]);
    b.extend(row(-5, Some("héllo"), u64::MAX));
    b.extend(row(6, None, 0));
    let t = table();
    let ch = decode_rows(event_type::WRITE_ROWS, &b, 10, &t).unwrap();
    assert_eq!(ch.kind, proto::ChangeKind::Insert as i32);
    assert_eq!(ch.rows.len(), 2);
    assert_eq!(
        vals(ch.rows[0].after.as_ref().unwrap()),
        vec![
            Kind::Int(-5),
            Kind::Text("héllo".into()),
            Kind::Uint(u64::MAX)
        ]
    );
    assert_eq!(
        vals(ch.rows[1].after.as_ref().unwrap()),
        vec![Kind::Int(6), Kind::Null(true), Kind::Uint(0)]
    );
    assert!(ch.rows[0].before.is_none());
    assert_eq!(ch.columns[2].mysql_type, "bigint(20) unsigned");
}

#[test]
fn update_v1_minimal_image_marks_absent() {
    // Before image: only id; after image: only name.
    let mut b = header(false);
    b.extend([3, 0b001, 0b010]);
    b.push(0);
    b.extend(9i32.to_le_bytes());
    b.push(0);
    b.extend([2, b'o', b'k']);
    let ch = decode_rows(event_type::UPDATE_ROWS_V1, &b, 8, &table()).unwrap();
    assert_eq!(ch.kind, proto::ChangeKind::Update as i32);
    let r = &ch.rows[0];
    assert_eq!(
        vals(r.before.as_ref().unwrap()),
        vec![Kind::Int(9), Kind::Absent(true), Kind::Absent(true)]
    );
    assert_eq!(
        vals(r.after.as_ref().unwrap()),
        vec![
            Kind::Absent(true),
            Kind::Text("ok".into()),
            Kind::Absent(true)
        ]
    );
}

#[test]
fn delete_with_four_byte_table_id() {
    let mut b = vec![7, 0, 0, 0, 1, 0];
    b.extend([3, 0b111]);
    b.extend(row(1, Some("a"), 2));
    let ch = decode_rows(event_type::DELETE_ROWS_V1, &b, 6, &table()).unwrap();
    assert_eq!(ch.kind, proto::ChangeKind::Delete as i32);
    assert_eq!(
        vals(ch.rows[0].before.as_ref().unwrap())[1],
        Kind::Text("a".into())
    );
    assert_eq!(table_id(&b, 4).unwrap(), 7);
}

#[test]
fn v2_extra_data_is_skipped() {
    let mut b = vec![7, 0, 0, 0, 0, 0, 1, 0, 5, 0, 1, 1, 0];
    b.extend([3, 0b111]);
    b.extend(row(1, Some("a"), 2));
    let mut change = proto::TableChange::default();
    let h = decode_rows_into(event_type::WRITE_ROWS, &b, 10, &table(), &mut change).unwrap();
    assert_eq!(h.extra, vec![1, 1, 0]);
    assert_eq!(change.rows.len(), 1);
}

#[test]
fn mariadb_compressed_rows() {
    use std::io::Write;
    let mut rows = row(1, Some("zip"), 3);
    rows.extend(row(2, None, 4));
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(&rows).unwrap();
    let zipped = z.finish().unwrap();
    let mut b = header(false);
    b.extend([3, 0b111]);
    b.push(0x80 | 1);
    b.push(rows.len() as u8);
    b.extend(&zipped);
    let ch = decode_rows(
        event_type::MARIADB_WRITE_ROWS_COMPRESSED_V1,
        &b,
        8,
        &table(),
    )
    .unwrap();
    assert_eq!(ch.rows.len(), 2);
    assert_eq!(
        vals(ch.rows[0].after.as_ref().unwrap())[1],
        Kind::Text("zip".into())
    );
    // A wrong length in the header is an error.
    let mut bad = b.clone();
    bad[11] = rows.len() as u8 + 1;
    assert!(decode_rows(
        event_type::MARIADB_WRITE_ROWS_COMPRESSED_V1,
        &bad,
        8,
        &table()
    )
    .is_err());
}

#[test]
fn errors_not_panics() {
    let t = table();
    let mut b = header(true);
    b.extend([3, 0b111]);
    b.extend(row(-5, Some("héllo"), 1));
    for n in 0..b.len() {
        // Cut right after the bitmaps, the event is whole with no rows.
        if let Ok(ch) = decode_rows(event_type::WRITE_ROWS, &b[..n], 10, &t) {
            assert!(n == 12 && ch.rows.is_empty(), "cut at {n} decoded");
        }
    }
    // More columns than the table map has.
    let mut w = header(true);
    w.extend([4, 0b1111]);
    assert!(decode_rows(event_type::WRITE_ROWS, &w, 10, &t).is_err());
    assert!(decode_rows(2, &b, 10, &t).is_err());
}

#[test]
fn partial_json_update_applies_the_diff() {
    // t (id INT, j JSON): before {"a": 1}, diff: REPLACE $.a "x".
    let mut tm = vec![8, 0, 0, 0, 0, 0, 1, 0, 1, b'd', 0, 1, b't', 0, 2];
    tm.extend([code::LONG, code::JSON, 1, 4, 0b10]);
    let t = TableMap::parse(&tm, 6).unwrap();
    let before_json: Vec<u8> = {
        let mut o = vec![0x00];
        o.extend([1, 0, 12, 0, 11, 0, 1, 0, 0x05, 1, 0, b'a']);
        o
    };
    let mut b = vec![8, 0, 0, 0, 0, 0, 1, 0, 2, 0];
    b.extend([2, 0b11, 0b11]);
    b.push(0);
    b.extend(1i32.to_le_bytes());
    b.extend((before_json.len() as u32).to_le_bytes());
    b.extend(&before_json);
    // value_options = PARTIAL_JSON, partial bitmap: JSON column 0 partial.
    b.extend([1, 0b1]);
    b.push(0);
    b.extend(1i32.to_le_bytes());
    let diff = [0u8, 3, b'$', b'.', b'a', 3, 0x0C, 1, b'x'];
    b.extend((diff.len() as u32).to_le_bytes());
    b.extend(diff);
    let ch = decode_rows(event_type::PARTIAL_UPDATE_ROWS, &b, 10, &t).unwrap();
    let r = &ch.rows[0];
    assert_eq!(
        vals(r.before.as_ref().unwrap())[1],
        Kind::Json(r#"{"a": 1}"#.into())
    );
    assert_eq!(
        vals(r.after.as_ref().unwrap())[1],
        Kind::Json(r#"{"a": "x"}"#.into())
    );
}

#[test]
fn all_null_row_is_shorter_than_its_column_count() {
    // 11 columns, all NULL but the first: fewer bytes left than columns.
    let mut tm = vec![9, 0, 0, 0, 0, 0, 1, 0, 1, b'd', 0, 1, b't', 0, 11];
    tm.extend([code::LONG; 11]);
    tm.extend([0, 0xFE, 0x07]);
    let t = TableMap::parse(&tm, 6).unwrap();
    let mut b = vec![9, 0, 0, 0, 0, 0, 1, 0];
    b.extend([11, 0xFF, 0x07, 0xFE, 0xFF, 4, 0, 0, 0]);
    let ch = decode_rows(event_type::WRITE_ROWS_V1, &b, 8, &t).unwrap();
    let v = vals(ch.rows[0].after.as_ref().unwrap());
    assert_eq!(v[0], Kind::Int(4));
    assert!(v[1..].iter().all(|k| *k == Kind::Null(true)));
}

#[test]
fn images_without_columns_do_not_loop() {
    // Bitmap with no column present, then leftover bytes.
    let mut b = header(true);
    b.extend([3, 0b000, 1, 2, 3]);
    assert!(decode_rows(event_type::WRITE_ROWS, &b, 10, &table()).is_err());
}
