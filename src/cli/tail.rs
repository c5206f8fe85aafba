//! `sluice tail`: print a log's change events, read straight from its
//! folder (read-only; safe while `sluice run` writes it).

use crate::format::Format;
use crate::proto::Record;
use anyhow::Context;
use prost::Message;
use sluice_storage::Log;
use std::io::{ErrorKind, Write};
use std::path::PathBuf;
use std::time::Duration;

#[derive(clap::Args, Debug)]
pub struct TailArgs {
    /// Data folder given to `sluice run`.
    #[arg(long)]
    pub data: PathBuf,
    /// Source name.
    #[arg(long, default_value = "main")]
    pub name: String,
    /// earliest, latest, or a log offset.
    #[arg(long, default_value = "earliest")]
    pub from: String,
    /// json, canal-json or debezium-json.
    #[arg(long, default_value = "json")]
    pub format: Format,
    /// Stop at the end of the log instead of waiting for more.
    #[arg(long)]
    pub no_follow: bool,
}

pub fn main(args: TailArgs) -> anyhow::Result<()> {
    let dir = crate::pipeline::log_dir(&args.data, &args.name);
    if !dir.is_dir() {
        anyhow::bail!(
            "no log for source {:?} in {} (is --data the folder given to `sluice run`?)",
            args.name,
            args.data.display()
        );
    }
    let log = Log::open_read_only(&dir)
        .with_context(|| format!("cannot open the log in {}", dir.display()))?;
    let from = match args.from.as_str() {
        "earliest" => log.start_offset(),
        "latest" => log.durable_end(),
        n => n
            .parse()
            .with_context(|| format!("--from {n:?}: expected earliest, latest or an offset"))?,
    };
    let mut reader = log.read_from(from)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut buf = Vec::with_capacity(64 << 10);
    loop {
        let next = if args.no_follow {
            reader.next()?
        } else {
            // Wake up now and then to flush what is buffered.
            reader.next_wait(Duration::from_millis(200))?
        };
        let Some(record) = next else {
            if write_all(&mut out, &mut buf)? == Flow::Stop {
                return Ok(());
            }
            if args.no_follow {
                return Ok(());
            }
            continue;
        };
        let rec = Record::decode(record.payload().as_ref())
            .with_context(|| format!("log record {} is not a change event", record.offset))?;
        args.format.write(&rec, record.offset, &mut buf);
        if buf.len() >= 32 << 10 && write_all(&mut out, &mut buf)? == Flow::Stop {
            return Ok(());
        }
    }
}

#[derive(PartialEq, Eq)]
enum Flow {
    Go,
    Stop,
}

/// Write and clear `buf`; a closed pipe (`sluice tail | head`) ends quietly.
fn write_all(out: &mut impl Write, buf: &mut Vec<u8>) -> anyhow::Result<Flow> {
    let result = out.write_all(buf).and_then(|_| out.flush());
    buf.clear();
    match result {
        Ok(()) => Ok(Flow::Go),
        Err(e) if e.kind() == ErrorKind::BrokenPipe => Ok(Flow::Stop),
        Err(e) => Err(e.into()),
    }
}
