//! Whole binlog files (seeded from ../shared/binlogs) through the file
//! decoder and every output format: no input may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice::decode::{decode_all, BinlogFile};
use sluice::format::Format;

fuzz_target!(|data: &[u8]| {
    let file = BinlogFile::from_bytes("fuzz.000001", data.to_vec());
    let decoded = decode_all(&file);
    for (i, r) in decoded.records.iter().enumerate() {
        for f in [Format::Json, Format::CanalJson, Format::DebeziumJson] {
            let mut out = Vec::new();
            f.write(r, i as u64, &mut out);
        }
    }
});
