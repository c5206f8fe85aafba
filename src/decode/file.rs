//! Decoding whole binlog files: the offline driver shared by `sluice
//! decode`, the conformance tests and the fuzz targets.

use super::reader::BinlogFile;
use super::transaction::Decoder;
use super::DecodeError;
use crate::proto;

/// What decoding a file produces, in order.
#[derive(Debug)]
pub enum Item {
    Record(Box<proto::Record>),
    /// An event (or the file's framing) failed; decoding goes on with the
    /// next event unless the framing itself broke.
    Error(DecodeError),
    /// Not a failure: incomplete transactions dropped, INCIDENT events, ...
    Warning(String),
}

/// Counts of one file's decoding.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FileSummary {
    pub events: u64,
    pub records: u64,
    pub errors: u64,
}

/// Decode every event of `file` through `decoder` (which may carry state
/// from the previous file of a sequence), handing each item to `sink`.
/// `sink` stops the walk by returning an error (e.g. a closed pipe).
pub fn decode_file<E>(
    file: &BinlogFile,
    decoder: &mut Decoder,
    mut sink: impl FnMut(Item) -> Result<(), E>,
) -> Result<FileSummary, E> {
    let mut summary = FileSummary::default();
    decoder.start_file(file.name());
    while let Some(r) = decoder.next_ready() {
        summary.records += 1;
        sink(Item::Record(Box::new(r)))?;
    }
    let slices = file.events();
    if slices.header_len() != decoder.format_description().header_len {
        let mut fd = decoder.format_description().clone();
        fd.header_len = slices.header_len();
        decoder.set_format_description(fd);
    }
    for item in slices {
        match item {
            Ok((offset, bytes)) => {
                summary.events += 1;
                match decoder.push_event(offset, bytes) {
                    Ok(mut rec) => {
                        while let Some(r) = rec {
                            summary.records += 1;
                            sink(Item::Record(Box::new(r)))?;
                            rec = decoder.next_ready();
                        }
                    }
                    Err(e) => {
                        summary.errors += 1;
                        sink(Item::Error(e))?;
                    }
                }
            }
            Err(f) => {
                summary.errors += 1;
                sink(Item::Error(DecodeError::At {
                    file: file.name().to_string(),
                    offset: f.offset,
                    source: Box::new(f.error),
                }))?;
            }
        }
        for w in decoder.take_warnings() {
            sink(Item::Warning(w))?;
        }
    }
    Ok(summary)
}

/// Everything one file gave, collected.
pub struct Decoded {
    pub records: Vec<proto::Record>,
    pub errors: Vec<DecodeError>,
    pub warnings: Vec<String>,
    /// The decoder after the file: counts, GTID state, format description.
    pub decoder: Decoder,
}

/// Decode a whole file on its own and collect everything (tests, tools).
pub fn decode_all(file: &BinlogFile) -> Decoded {
    let mut decoder = Decoder::new(file.name());
    let mut records = Vec::new();
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let _ = decode_file(file, &mut decoder, |item| {
        match item {
            Item::Record(r) => records.push(*r),
            Item::Error(e) => errors.push(e),
            Item::Warning(w) => warnings.push(w),
        }
        Ok::<(), ()>(())
    });
    decoder.finish();
    records.extend(std::iter::from_fn(|| decoder.next_ready()));
    warnings.extend(decoder.take_warnings());
    Decoded {
        records,
        errors,
        warnings,
        decoder,
    }
}
