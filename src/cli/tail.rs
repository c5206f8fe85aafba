//! `sluice tail`: print a log's change events, read straight from its
//! folder (`--data`, read-only; safe while `sluice run` writes it), or
//! from a running server's HTTP API (`--server`, optionally as a consumer
//! group whose offset is committed after each batch is written out).

use crate::format::Format;
use crate::proto::Record;
use anyhow::Context;
use prost::Message;
use std::io::{ErrorKind, Write};
use std::path::PathBuf;
use std::time::Duration;

#[derive(clap::Args, Debug)]
pub struct TailArgs {
    /// Data folder given to `sluice run`.
    #[arg(long, required_unless_present = "server", conflicts_with = "server")]
    pub data: Option<PathBuf>,
    /// A running server's HTTP API, e.g. http://127.0.0.1:8080.
    #[arg(long)]
    pub server: Option<String>,
    /// Bearer token of the server.
    #[arg(long, env = "SLUICE_HTTP_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Consumer group (with --server): resume from and commit its offset.
    #[arg(long, requires = "server")]
    pub group: Option<String>,
    /// Source name.
    #[arg(long, alias = "source", default_value = "main")]
    pub name: String,
    /// earliest, latest, or a log offset (with --server also time:T,
    /// FILE:POS or gtid:SET; for a group, where a new group starts).
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
    let data = match (&args.data, &args.server) {
        (_, Some(server)) => return remote(server, &args),
        (Some(d), None) => d,
        (None, None) => anyhow::bail!("give --data DIR or --server URL"),
    };
    let log = super::open_log(data, &args.name)?;
    let from = match args.from.as_str() {
        "earliest" => log.start_offset(),
        "latest" => log.durable_end(),
        n => n
            .parse()
            .map_err(|_| anyhow::anyhow!("--from {n:?}: expected earliest, latest or an offset"))?,
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

/// The networked form: long-polls of the changes endpoint; with a group,
/// its offset is committed after each batch reached stdout.
fn remote(server: &str, args: &TailArgs) -> anyhow::Result<()> {
    let api = super::client::Api::new(server, args.token.clone())?;
    let path = format!("/v1/sources/{}/changes", args.name);
    let commit_path = |g: &str| format!("/v1/sources/{}/groups/{g}/commit", args.name);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut next: Option<u64> = None;
    loop {
        let mut query = vec![
            ("format", args.format.to_string()),
            ("max", "5000".to_string()),
            (
                "wait_ms",
                if args.no_follow { "0" } else { "10000" }.to_string(),
            ),
        ];
        match (&args.group, next) {
            (Some(g), _) => {
                query.push(("group", g.clone()));
                query.push(("from", args.from.clone()));
            }
            (None, Some(n)) => query.push(("from", n.to_string())),
            (None, None) => query.push(("from", args.from.clone())),
        }
        let resp = api.get(&path, &query)?;
        let at: Option<u64> = resp
            .headers()
            .get("sluice-next-offset")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        let at = at.context("the server sent no Sluice-Next-Offset header")?;
        let mut body = resp.bytes()?.to_vec();
        let empty = body.is_empty();
        if write_all(&mut out, &mut body)? == Flow::Stop {
            return Ok(());
        }
        if let Some(g) = &args.group {
            if Some(at) != next && !empty {
                api.post(&commit_path(g), &serde_json::json!({ "offset": at }))?;
            }
        }
        next = Some(at);
        if empty && args.no_follow {
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
