//! Property tests of the row decoder over outside bytes: arbitrary bytes
//! and mutated real events (from the corpus) into `TableMap::parse` and
//! `rows::decode_rows` never panic, and never make one allocation much
//! larger than their input (a counting global allocator watches every
//! allocation of this test binary). JSON diff paths (`json_diff::apply`)
//! with arbitrary escapes and multi-byte characters never panic, and their
//! quoted keys read as serde_json reads the same JSON string. The one
//! reader of MySQL bytes (`sluice::wire`, shared by the decoder and the
//! replica connection) reads length-encoded integers as the protocol
//! documentation says (checked against a decoder written here from it),
//! round-trips them, and never panics on arbitrary bytes.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::HashMap;

use common::walker;
use proptest::prelude::*;
use sluice::decode::json_diff;
use sluice::decode::rows;
use sluice::decode::table_map::TableMap;

/// Tracks the largest single allocation while `WATCH` is on.
struct Counting;

thread_local! {
    // Per thread, so that tests running in parallel do not count each
    // other's allocations.
    static WATCH: Cell<bool> = const { Cell::new(false) };
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    let _ = WATCH.try_with(|w| {
        if w.get() {
            let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
        }
    });
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Every allocation during `f` stays within a fixed multiple of the
/// input size.
fn bounded<T>(input_len: usize, f: impl FnOnce() -> T) -> T {
    LARGEST.with(|l| l.set(0));
    WATCH.with(|w| w.set(true));
    let out = f();
    WATCH.with(|w| w.set(false));
    let largest = LARGEST.with(|l| l.get());
    let limit = 512 * input_len + (1 << 16);
    assert!(
        largest <= limit,
        "allocation of {largest} bytes for {input_len} input bytes"
    );
    out
}

/// A table map body, a rows event type, its body and post-header length.
type RowsSample = (Vec<u8>, u8, Vec<u8>, u8);

const ROWS_TYPES: [u8; 13] = [20, 21, 22, 23, 24, 25, 30, 31, 32, 39, 166, 169, 170];

/// (table map body, rows event type, rows body, post-header length) of
/// every rows event in the corpus, plus a few hand-made ones.
fn corpus_events() -> Vec<RowsSample> {
    let mut out = Vec::new();
    let Some(dir) = sluice_testkit::binlog_corpus() else {
        return out;
    };
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| !p.to_string_lossy().contains(".expected."))
        .collect();
    files.sort();
    for f in files {
        let Ok(data) = std::fs::read(&f) else {
            continue;
        };
        if data.len() > 200_000 {
            continue;
        }
        let mut maps: HashMap<u64, Vec<u8>> = HashMap::new();
        let _ = walker::walk(&data, |ev, fmt| {
            if ev.type_code == 19 {
                if let Ok(t) = TableMap::parse(ev.body, fmt.table_id_size()) {
                    maps.insert(t.table_id, ev.body.to_vec());
                }
            } else if sluice::decode::event_type::is_rows(ev.type_code) {
                let phl = fmt.post_header_len(ev.type_code);
                let size = if phl == 6 { 4 } else { 6 };
                if let Some(tm) = rows::table_id(ev.body, size)
                    .ok()
                    .and_then(|id| maps.get(&id))
                {
                    out.push((tm.clone(), ev.type_code, ev.body.to_vec(), phl));
                }
            }
        });
    }
    out
}

fn events() -> &'static [RowsSample] {
    static EVENTS: std::sync::OnceLock<Vec<RowsSample>> = std::sync::OnceLock::new();
    EVENTS.get_or_init(corpus_events)
}

#[derive(Clone, Debug)]
enum Mutation {
    Set(usize, u8),
    Truncate(usize),
    Insert(usize, Vec<u8>),
    Remove(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        1 => any::<usize>().prop_map(Mutation::Truncate),
        1 => (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..9))
            .prop_map(|(i, v)| Mutation::Insert(i, v)),
        1 => (any::<usize>(), 1usize..9).prop_map(|(i, n)| Mutation::Remove(i, n)),
    ]
}

fn apply(mut v: Vec<u8>, muts: &[Mutation]) -> Vec<u8> {
    for m in muts {
        if v.is_empty() {
            break;
        }
        let n = v.len();
        match m {
            Mutation::Set(i, b) => v[i % n] = *b,
            Mutation::Truncate(i) => v.truncate(i % n),
            Mutation::Insert(i, x) => {
                let at = i % n;
                v.splice(at..at, x.iter().copied());
            }
            Mutation::Remove(i, k) => {
                let at = i % n;
                let end = (at + k).min(n);
                v.drain(at..end);
            }
        }
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..600),
                                   t in proptest::sample::select(&ROWS_TYPES[..]),
                                   phl in proptest::sample::select(&[0u8, 6, 8, 10][..])) {
        bounded(body.len(), || {
            let _ = TableMap::parse(&body, 6);
            let _ = TableMap::parse(&body, 4);
        });
        let events = events();
        if let Some((tm, _, _, _)) = events.first() {
            let table = TableMap::parse(tm, 6).unwrap();
            bounded(body.len() + tm.len(), || {
                let _ = rows::decode_rows(t, &body, phl, &table);
            });
        }
    }

    #[test]
    fn mutated_corpus_events_never_panic(pick in any::<usize>(),
                                         tm_muts in proptest::collection::vec(mutation(), 0..3),
                                         row_muts in proptest::collection::vec(mutation(), 0..4)) {
        let events = events();
        prop_assume!(!events.is_empty());
        let (tm, t, body, phl) = &events[pick % events.len()];
        let tm = apply(tm.clone(), &tm_muts);
        let body = apply(body.clone(), &row_muts);
        let table = bounded(tm.len(), || TableMap::parse(&tm, 6));
        if let Ok(table) = table {
            bounded(body.len() + tm.len(), || {
                let _ = rows::decode_rows(*t, &body, *phl, &table);
            });
        }
    }
}

/// One piece of the inside of a quoted JSON path key: plain characters
/// (any but the quote and the backslash, control characters included),
/// valid escapes, `\uXXXX` of any code unit (lone surrogates included),
/// surrogate pairs, and broken escapes (a backslash before any character,
/// too few hex digits).
fn key_piece() -> impl Strategy<Value = String> {
    let plain = any::<char>()
        .prop_filter("quote and backslash are pieces of their own", |c| {
            *c != '"' && *c != '\\'
        })
        .prop_map(String::from);
    let simple = proptest::sample::select(
        &[
            "\\\"", "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t", "é", "€", "😀",
        ][..],
    )
    .prop_map(String::from);
    prop_oneof![
        4 => plain,
        3 => simple,
        2 => (any::<u16>(), any::<bool>())
            .prop_map(|(u, up)| if up { format!("\\u{u:04X}") } else { format!("\\u{u:04x}") }),
        2 => (0x10000u32..=0x10FFFF).prop_map(|c| {
            let c = c - 0x10000;
            format!("\\u{:04X}\\u{:04x}", 0xD800 + (c >> 10), 0xDC00 + (c & 0x3FF))
        }),
        1 => any::<char>().prop_map(|c| format!("\\{c}")),
        1 => (0u16..0x1000, 0usize..4).prop_map(|(u, n)| format!("\\u{}", &format!("{u:03x}")[..n])),
    ]
}

/// The empty object in MySQL's binary JSON: small object, 0 members,
/// 4 bytes.
const EMPTY_OBJECT: &[u8] = &[0x00, 0, 0, 4, 0];

/// The diff that INSERTs `true` (binary JSON literal 0x04 0x01) at `path`,
/// lengths packed (1 byte below 251, else 0xFC and 2 bytes).
fn insert_true(path: &str) -> Vec<u8> {
    let mut d = vec![1];
    let n = path.len();
    if n < 251 {
        d.push(n as u8);
    } else {
        d.push(0xFC);
        d.extend(
            u16::try_from(n)
                .expect("test paths stay short")
                .to_le_bytes(),
        );
    }
    d.extend(path.as_bytes());
    d.extend([2, 0x04, 0x01]);
    d
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn json_diff_keys_read_as_serde_json_reads_them(
        pieces in proptest::collection::vec(key_piece(), 0..12)
    ) {
        let inner = pieces.concat();
        let path = format!("$.\"{inner}\"");
        let expected = serde_json::from_str::<String>(&format!("\"{inner}\""));
        let got = json_diff::apply(Some(EMPTY_OBJECT), &insert_true(&path));
        match expected {
            Ok(key) => {
                let text = got.map_err(|e| TestCaseError::fail(format!("{path:?}: {e}")))?;
                let doc: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&text)
                    .map_err(|e| TestCaseError::fail(format!("{text:?} is not JSON: {e}")))?;
                prop_assert_eq!(doc.len(), 1);
                prop_assert_eq!(doc.get(&key), Some(&serde_json::Value::Bool(true)), "{}", text);
            }
            Err(_) => prop_assert!(got.is_err(), "{:?} accepted: {:?}", path, got),
        }
    }

    #[test]
    fn arbitrary_json_diff_paths_never_panic(path in "\\PC{0,40}", tail in "[\\\\\"$.\\[\\]éa]{0,12}") {
        for p in [format!("{path}{tail}"), format!("$.\"{path}{tail}"), format!("${tail}{path}")] {
            let _ = json_diff::apply(Some(EMPTY_OBJECT), &insert_true(&p));
            let _ = json_diff::ops(&insert_true(&p));
        }
    }
}

#[test]
fn corpus_gives_events_to_mutate() {
    if sluice_testkit::binlog_corpus().is_none() {
        return;
    }
    assert!(
        events().len() > 50,
        "only {} rows events found",
        events().len()
    );
}

/// `int<lenenc>` as the MySQL protocol documentation gives it, written
/// here apart from `sluice::wire`: `None` for 0xFB (NULL) and 0xFF
/// (never a number) and for bytes that end too soon; else the value and
/// the bytes it took.
fn spec_lenenc(b: &[u8]) -> Option<(u64, usize)> {
    let (&first, rest) = b.split_first()?;
    let n = match first {
        0..=0xFA => return Some((u64::from(first), 1)),
        0xFC => 2,
        0xFD => 3,
        0xFE => 8,
        _ => return None,
    };
    let v = rest
        .get(..n)?
        .iter()
        .rev()
        .fold(0u64, |a, &x| (a << 8) | u64::from(x));
    Some((v, 1 + n))
}

/// The spec's shortest encoding of `v`.
fn spec_put_lenenc(v: u64) -> Vec<u8> {
    let le = v.to_le_bytes();
    match v {
        0..=0xFA => vec![v as u8],
        0xFB..=0xFFFF => [&[0xFC][..], &le[..2]].concat(),
        0x1_0000..=0xFF_FFFF => [&[0xFD][..], &le[..3]].concat(),
        _ => [&[0xFE][..], &le[..]].concat(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    /// The one reader of MySQL bytes (binlog and protocol) reads every
    /// length-encoded integer as the spec does, refuses 0xFB and 0xFF
    /// where no NULL can be, and its writer round-trips.
    #[test]
    fn lenenc_reads_as_the_spec_says(bytes in proptest::collection::vec(any::<u8>(), 0..12)) {
        let mut r = sluice::wire::Reader::new(&bytes);
        match (r.lenenc("n"), spec_lenenc(&bytes)) {
            (Ok(v), Some((want, len))) => {
                prop_assert_eq!(v, want);
                prop_assert_eq!(r.pos(), len);
            }
            (Err(_), None) => {}
            (got, want) => prop_assert!(false, "{bytes:02x?}: read {got:?}, spec {want:?}"),
        }
        let mut r = sluice::wire::Reader::new(&bytes);
        let null = bytes.first() == Some(&0xFB);
        match r.lenenc_or_null("cell") {
            Ok(None) => prop_assert!(null),
            Ok(Some(v)) => prop_assert_eq!(Some(v), spec_lenenc(&bytes).map(|(v, _)| v)),
            Err(_) => prop_assert!(!null && spec_lenenc(&bytes).is_none()),
        }
    }

    #[test]
    fn lenenc_round_trips(v in prop_oneof![any::<u64>(), 0u64..0x1_0000, 0xF0u64..0x110, 0xFF_FF00u64..0x100_0100]) {
        let mut out = Vec::new();
        sluice::wire::put_lenenc(&mut out, v);
        prop_assert_eq!(&out, &spec_put_lenenc(v));
        let mut r = sluice::wire::Reader::new(&out);
        prop_assert_eq!(r.lenenc("n").unwrap(), v);
        prop_assert!(r.is_empty());
    }

    /// Arbitrary bytes through every kind of read: errors, never a panic,
    /// never a position past the end, and a string length never taken
    /// beyond the bytes present.
    #[test]
    fn wire_reader_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..48),
                                ops in proptest::collection::vec(0u8..9, 1..24)) {
        let mut r = sluice::wire::Reader::in_packet(&bytes, "fuzz");
        for op in ops {
            let left = r.remaining();
            match op {
                0 => { let _ = r.u8("f"); }
                1 => { let _ = r.u32("f"); }
                2 => { let _ = r.uint_be(3, "f"); }
                3 => { let _ = r.lenenc("f"); }
                4 => if let Ok(b) = r.lenenc_bytes("f") { prop_assert!(b.len() < left) },
                5 => { let _ = r.lenenc_bytes_or_null("f"); }
                6 => { let _ = r.nul_bytes("f"); }
                7 => { let _ = r.varlen_u64("f"); }
                _ => if let Ok(n) = r.lenenc_len(4, "f") { prop_assert!(n * 4 <= r.remaining()) },
            }
            prop_assert!(r.pos() <= bytes.len());
        }
    }
}
