//! Single events pushed into a live decoder (no file framing, no
//! checksum): the first byte picks the event type, the rest is the body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice::decode::header::{EventHeader, HEADER_LEN};
use sluice::decode::{ChecksumAlg, Decoder};

fuzz_target!(|data: &[u8]| {
    let Some((&type_code, body)) = data.split_first() else {
        return;
    };
    let mut event = Vec::with_capacity(19 + body.len());
    event.extend_from_slice(&0u32.to_le_bytes());
    event.push(type_code);
    event.extend_from_slice(&1u32.to_le_bytes());
    event.extend_from_slice(&((19 + body.len()) as u32).to_le_bytes());
    event.extend_from_slice(&0u32.to_le_bytes());
    event.extend_from_slice(&0u16.to_le_bytes());
    event.extend_from_slice(body);
    let mut d = Decoder::live("fuzz.000001", 4, ChecksumAlg::Off);
    if let Ok(header) = EventHeader::parse(&event, HEADER_LEN) {
        let _ = d.push_live(&header, &event);
    }
    while d.next_ready().is_some() {}
    d.finish();
});
