//! `sluice decode FILE...`: binlog files to change events, one JSON object
//! per line on stdout, like a `mysqlbinlog -v` that speaks JSON.
//!
//! The files are decoded in order through one [`Decoder`], so a sequence
//! of binlog files reads as one stream. Errors go to stderr as `error:`
//! lines, as every `sluice` command prints them, naming the file and byte
//! offset, and decoding goes on with the next event (or file); the exit
//! status is 1 when any event or file failed. A closed stdout (e.g.
//! `| head`) ends the command quietly: it is not an error.

use super::file::{decode_file, Item};
use super::reader::BinlogFile;
use super::transaction::Decoder;
use crate::format::Format;
use std::io::{self, Write};
use std::path::PathBuf;

/// The outcome of a decode run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    pub records: u64,
    pub errors: u64,
    /// stdout was closed before the end.
    pub stopped_by_reader: bool,
}

impl Outcome {
    /// The process exit status: 0 when everything decoded, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        i32::from(self.errors > 0)
    }
}

enum Stop {
    Pipe,
    Io(io::Error),
}

/// Decode `files` in `format` to `out`, reporting problems to `err`.
/// Only an I/O error on `out` other than a broken pipe is returned as an
/// error.
pub fn run(
    files: &[PathBuf],
    format: Format,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<Outcome> {
    let mut outcome = Outcome::default();
    let mut decoder = Decoder::new("");
    let mut buf = Vec::with_capacity(1 << 16);
    for path in files {
        let file = match BinlogFile::open(path) {
            Ok(f) => f,
            Err(e) => {
                outcome.errors += 1;
                let _ = writeln!(
                    err,
                    "error: cannot open binlog file {}: {e}",
                    path.display()
                );
                continue;
            }
        };
        let result = decode_file(&file, &mut decoder, |item| {
            match item {
                Item::Record(r) => {
                    format.write(&r, outcome.records, &mut buf);
                    outcome.records += 1;
                    if buf.len() >= 1 << 16 {
                        flush(out, &mut buf)?;
                    }
                }
                Item::Error(e) => {
                    outcome.errors += 1;
                    flush(out, &mut buf)?;
                    let _ = writeln!(err, "error: {e}");
                }
                Item::Warning(w) => {
                    let _ = writeln!(err, "warning: {w}");
                }
            }
            Ok(())
        });
        match result {
            Ok(_) => {}
            Err(Stop::Pipe) => {
                outcome.stopped_by_reader = true;
                return Ok(outcome);
            }
            Err(Stop::Io(e)) => return Err(e),
        }
    }
    decoder.finish();
    while let Some(r) = decoder.next_ready() {
        format.write(&r, outcome.records, &mut buf);
        outcome.records += 1;
    }
    for w in decoder.take_warnings() {
        let _ = writeln!(err, "warning: {w}");
    }
    match flush(out, &mut buf) {
        Ok(()) => {}
        Err(Stop::Pipe) => outcome.stopped_by_reader = true,
        Err(Stop::Io(e)) => return Err(e),
    }
    Ok(outcome)
}

fn flush(out: &mut dyn Write, buf: &mut Vec<u8>) -> Result<(), Stop> {
    let r = out.write_all(buf).and_then(|()| out.flush());
    buf.clear();
    r.map_err(|e| {
        if e.kind() == io::ErrorKind::BrokenPipe {
            Stop::Pipe
        } else {
            Stop::Io(e)
        }
    })
}
