//! `sluice history`: a table's (or one row's) changes over a time range,
//! read from a log folder. The range is found through the log's time
//! index (`find_time` for both ends), so only the records inside it are
//! read, never the whole log.

use crate::format::{value::canal_text, Format};
use crate::proto::{self, Record};
use crate::serve::http::seek::parse_time;
use anyhow::{bail, Context};
use prost::Message;
use std::io::{ErrorKind, Write};
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct HistoryArgs {
    /// Data folder given to `sluice run`.
    #[arg(long)]
    pub data: PathBuf,
    /// Source name.
    #[arg(long, default_value = "main")]
    pub name: String,
    /// The table, as DB.TABLE.
    #[arg(long)]
    pub table: String,
    /// Only rows whose before or after image has COL equal to VALUE
    /// (compared as text, e.g. `id=42`).
    #[arg(long = "where", value_name = "COL=VALUE")]
    pub filter: Option<String>,
    /// From this commit time (RFC 3339 or ms since the epoch).
    #[arg(long)]
    pub since: Option<String>,
    /// Up to and including this commit time.
    #[arg(long)]
    pub until: Option<String>,
    /// json, canal-json or debezium-json.
    #[arg(long, default_value = "json")]
    pub format: Format,
}

/// Which rows to keep.
pub struct RowFilter {
    pub schema: String,
    pub table: String,
    pub column: Option<(String, String)>,
}

impl RowFilter {
    /// Keeps the table's changes (and, with a column, the matching rows);
    /// `None` when nothing of the record is left.
    pub fn apply(&self, mut rec: Record) -> Option<Record> {
        rec.changes
            .retain(|c| c.schema == self.schema && c.table == self.table);
        if let Some((col, want)) = &self.column {
            for change in &mut rec.changes {
                let Some(i) = change.columns.iter().position(|c| &c.name == col) else {
                    change.rows.clear();
                    continue;
                };
                let matches = |img: &Option<proto::Image>| {
                    img.as_ref()
                        .and_then(|im| im.values.get(i))
                        .and_then(canal_text)
                        .is_some_and(|v| &v == want)
                };
                change
                    .rows
                    .retain(|r| matches(&r.before) || matches(&r.after));
            }
            rec.changes.retain(|c| !c.rows.is_empty());
        }
        if rec.changes.is_empty() {
            None
        } else {
            rec.ddl = None;
            rec.statements.clear();
            Some(rec)
        }
    }
}

pub fn main(args: HistoryArgs) -> anyhow::Result<()> {
    let Some((schema, table)) = args.table.split_once('.') else {
        bail!("--table {:?}: expected DB.TABLE", args.table);
    };
    let column = match &args.filter {
        Some(w) => {
            let (c, v) = w
                .split_once('=')
                .with_context(|| format!("--where {w:?}: expected COL=VALUE"))?;
            Some((c.trim().to_string(), v.to_string()))
        }
        None => None,
    };
    let filter = RowFilter {
        schema: schema.to_string(),
        table: table.to_string(),
        column,
    };
    let since = args
        .since
        .as_deref()
        .map(parse_time)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--since: {e}"))?;
    let until = args
        .until
        .as_deref()
        .map(parse_time)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--until: {e}"))?;
    let log = super::open_log(&args.data, &args.name)?;
    let from = match since {
        Some(t) => log.find_time(t)?,
        None => log.start_offset(),
    };
    let end = match until {
        Some(t) => log.find_time(t.saturating_add(1))?,
        None => log.durable_end(),
    };
    let mut reader = log.read_from(from)?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut buf = Vec::with_capacity(64 << 10);
    while reader.position() < end {
        let Some(record) = reader.next()? else { break };
        let rec = Record::decode(record.payload().as_ref())
            .with_context(|| format!("log record {} is not a change event", record.offset))?;
        if let Some(rec) = filter.apply(rec) {
            args.format.write(&rec, record.offset, &mut buf);
        }
        if buf.len() >= 32 << 10 && !flush(&mut out, &mut buf)? {
            return Ok(());
        }
    }
    flush(&mut out, &mut buf)?;
    Ok(())
}

/// Writes and clears `buf`; false on a closed pipe.
fn flush(out: &mut impl Write, buf: &mut Vec<u8>) -> anyhow::Result<bool> {
    let r = out.write_all(buf).and_then(|_| out.flush());
    buf.clear();
    match r {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(e.into()),
    }
}
