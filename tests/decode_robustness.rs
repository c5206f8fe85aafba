//! Bad bytes through the whole decoder: corpus files mutated by bit
//! flips, overwrites, truncations and splices (with their CRC32s
//! recomputed, so the mutations reach the event parsers instead of
//! stopping at the checksum), and random event bodies of every type.
//! Nothing may panic, hang, or allocate from a length field: a counting
//! allocator fails any single allocation above 64 MiB.

use proptest::prelude::*;
use sluice::decode::header::{EventHeader, HEADER_LEN};
use sluice::decode::{decode_all, BinlogFile, Decoder};
use std::alloc::{GlobalAlloc, Layout, System};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

struct Counting;

static LARGEST: AtomicUsize = AtomicUsize::new(0);
const LIMIT: usize = 64 << 20;

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        if layout.size() > LIMIT {
            return std::ptr::null_mut();
        }
        // SAFETY: forwarding the caller's layout to the system allocator.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: ptr came from System.alloc with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        if new_size > LIMIT {
            return std::ptr::null_mut();
        }
        // SAFETY: as for alloc/dealloc.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Corpus files small enough to mutate many times.
fn seeds() -> &'static Vec<(String, Vec<u8>)> {
    static SEEDS: OnceLock<Vec<(String, Vec<u8>)>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        let Some(dir) = sluice_testkit::binlog_corpus() else {
            return Vec::new();
        };
        let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p: &PathBuf| {
                let n = p.file_name().unwrap().to_string_lossy();
                !n.contains(".expected.")
                    && !n.ends_with(".tsv")
                    && !n.ends_with(".md")
                    && !n.ends_with(".py")
            })
            .map(|p| {
                (
                    p.file_name().unwrap().to_string_lossy().into_owned(),
                    std::fs::read(&p).unwrap(),
                )
            })
            .filter(|(_, b)| b.len() <= 64 * 1024)
            .collect();
        out.sort();
        out
    })
}

/// Recompute every event's CRC32 (for files whose format description
/// announces CRC32), following the sizes in the headers as far as they go.
fn refresh_crcs(bytes: &mut [u8]) {
    let mut pos = 4usize;
    let mut crc = false;
    while pos + 19 <= bytes.len() {
        let size = u32::from_le_bytes(bytes[pos + 9..pos + 13].try_into().unwrap()) as usize;
        if size < 19 || pos + size > bytes.len() {
            return;
        }
        if bytes[pos + 4] == 15 {
            let body = &bytes[pos + 19..pos + size];
            crc = sluice::decode::FormatDescription::parse(body)
                .map(|fd| fd.checksum == sluice::decode::ChecksumAlg::Crc32)
                .unwrap_or(false);
        }
        if crc && size >= 23 {
            let sum = crc32fast::hash(&bytes[pos..pos + size - 4]);
            bytes[pos + size - 4..pos + size].copy_from_slice(&sum.to_le_bytes());
        }
        pos += size;
    }
}

#[derive(Clone, Debug)]
enum Mutation {
    Flip {
        at: usize,
        bit: u8,
    },
    Set {
        at: usize,
        value: u8,
    },
    Truncate {
        len: usize,
    },
    Splice {
        from: usize,
        len: usize,
        to: usize,
        other: usize,
    },
    /// Make a 4-byte little-endian field huge (length fields).
    Huge {
        at: usize,
    },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(at, bit)| Mutation::Flip { at, bit }),
        (any::<usize>(), any::<u8>()).prop_map(|(at, value)| Mutation::Set { at, value }),
        any::<usize>().prop_map(|len| Mutation::Truncate { len }),
        (any::<usize>(), 0usize..512, any::<usize>(), any::<usize>()).prop_map(
            |(from, len, to, other)| Mutation::Splice {
                from,
                len,
                to,
                other
            }
        ),
        any::<usize>().prop_map(|at| Mutation::Huge { at }),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    let n = bytes.len().max(1);
    match *m {
        Mutation::Flip { at, bit } => {
            if let Some(b) = bytes.get_mut(at % n) {
                *b ^= 1 << bit;
            }
        }
        Mutation::Set { at, value } => {
            if let Some(b) = bytes.get_mut(at % n) {
                *b = value;
            }
        }
        Mutation::Truncate { len } => bytes.truncate(len % n),
        Mutation::Splice {
            from,
            len,
            to,
            other,
        } => {
            let seeds = seeds();
            let src = &seeds[other % seeds.len()].1;
            let start = from % src.len().max(1);
            let piece = src[start..(start + len).min(src.len())].to_vec();
            let at = to % n;
            bytes.splice(at..at, piece);
        }
        Mutation::Huge { at } => {
            let at = at % n;
            if at + 4 <= bytes.len() {
                bytes[at..at + 4].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
            }
        }
    }
}

fn decode_bytes(name: &str, bytes: Vec<u8>) {
    LARGEST.store(0, Ordering::Relaxed);
    let file = BinlogFile::from_bytes(name, bytes);
    let decoded = decode_all(&file);
    // Every error names the file and a byte offset.
    for e in &decoded.errors {
        let text = e.to_string();
        assert!(text.starts_with(&format!("{name} at byte ")), "{text}");
    }
    // Formats must cope with whatever came out.
    for (i, r) in decoded.records.iter().enumerate() {
        for f in [
            sluice::format::Format::Json,
            sluice::format::Format::CanalJson,
            sluice::format::Format::DebeziumJson,
        ] {
            let mut out = Vec::new();
            f.write(r, i as u64, &mut out);
        }
    }
    let largest = LARGEST.load(Ordering::Relaxed);
    assert!(largest <= LIMIT, "an allocation of {largest} bytes");
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 768,
        timeout: 20_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn mutated_corpus_files_never_panic(
        pick in any::<usize>(),
        mutations in proptest::collection::vec(mutation(), 1..6),
        fix_crc in any::<bool>(),
    ) {
        let seeds = seeds();
        if seeds.is_empty() {
            return Ok(());
        }
        let (name, original) = &seeds[pick % seeds.len()];
        let mut bytes = original.clone();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        if fix_crc {
            refresh_crcs(&mut bytes);
        }
        decode_bytes(name, bytes);
    }

    #[test]
    fn random_event_bodies_of_every_type_never_panic(
        type_code in prop_oneof![0u8..=42, 160u8..=171, Just(100u8), any::<u8>()],
        body in proptest::collection::vec(any::<u8>(), 0..300),
        prefix in 0usize..3,
    ) {
        // A valid FORMAT_DESCRIPTION (from a MySQL 8 and a MariaDB file,
        // CRC32 recomputed) then the random event with a correct CRC.
        let seeds = seeds();
        let Some((_, fdfile)) = seeds.iter().find(|(n, _)| {
            n == if prefix == 0 { "rust_mysql_common__transaction_compression.000001" }
                 else { "rust_mysql_common__mariadb-bin.000001" }
        }) else { return Ok(()) };
        let fd_size = u32::from_le_bytes(fdfile[4 + 9..4 + 13].try_into().unwrap()) as usize;
        let mut bytes = fdfile[..4 + fd_size].to_vec();
        let start = bytes.len();
        let size = (19 + body.len() + 4) as u32;
        bytes.extend_from_slice(&1_700_000_000u32.to_le_bytes());
        bytes.push(type_code);
        bytes.extend_from_slice(&1u32.to_le_bytes());
        bytes.extend_from_slice(&size.to_le_bytes());
        bytes.extend_from_slice(&(start as u32 + size).to_le_bytes());
        bytes.extend_from_slice(&0u16.to_le_bytes());
        bytes.extend_from_slice(&body);
        let sum = crc32fast::hash(&bytes[start..]);
        bytes.extend_from_slice(&sum.to_le_bytes());
        decode_bytes("random", bytes.clone());

        // The same event pushed live, without a file.
        let mut d = Decoder::live("live.000001", 4, sluice::decode::ChecksumAlg::Crc32);
        for event in [&bytes[4..start], &bytes[start..]] {
            if let Ok(header) = EventHeader::parse(event, HEADER_LEN) {
                let _ = d.push_live(&header, event);
            }
        }
        while d.next_ready().is_some() {}
        d.finish();
    }
}

#[test]
fn prefixes_of_small_files_decode_or_fail_cleanly() {
    for (name, bytes) in seeds().iter().filter(|(_, b)| b.len() <= 4096) {
        // Every cut in the first 300 bytes (headers, format description),
        // then about 100 more spread over the rest.
        let step = (bytes.len() / 100).max(1);
        let cuts = (0..bytes.len().min(300)).chain((300..bytes.len()).step_by(step));
        for len in cuts {
            decode_bytes(name, bytes[..len].to_vec());
        }
    }
}
