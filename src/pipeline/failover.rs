//! Every streaming session starts here: connect to the source's first
//! usable host and decide how to resume on it. On the server the log's
//! last record came from ([`super::origin`]), from that record's binlog
//! position as usual. On any other server, by the log's GTID state — once
//! the server is known to hold every transaction the log holds — and never
//! by a position that only meant something on the old server.

use super::capture::{CaptureError, CaptureOptions};
use super::origin::Origin;
use super::status::StatusHandle;
use crate::source::{failover, Connection, DumpFrom};
use sluice_storage::Log;

/// The connection to stream from, where to start on it, and whether that
/// is another server than the log's (resumed by GTID). `from` is the
/// resume point the log gives for the server it came from; `split`: the
/// log ends inside a split transaction.
pub async fn connect(
    opts: &CaptureOptions,
    log: &Log,
    status: &StatusHandle,
    from: &DumpFrom,
    split: bool,
) -> Result<(Connection, DumpFrom, bool), CaptureError> {
    let name = &opts.name;
    let source = |e| CaptureError::Source {
        name: name.clone(),
        source: Box::new(e),
    };
    let other = |message: String| CaptureError::Other {
        name: name.clone(),
        message,
    };
    let mut conn = failover::connect_first(&opts.source)
        .await
        .map_err(source)?;
    let server = failover::identity(&mut conn).await.map_err(source)?;
    let tail = log.last_record();
    let last = tail.last.as_ref().map(|k| k.offset);
    let origin = Origin::load(&opts.dir).map_err(other)?;
    let same = origin
        .as_ref()
        .is_none_or(|o| o.positions_belong_to(&server, last));
    if same {
        if origin.is_none() {
            Origin {
                server,
                from_offset: 0,
            }
            .store(&opts.dir)
            .map_err(other)?;
        }
        status.connected_to(&conn.addr(), false);
        return Ok((conn, from.clone(), false));
    }
    let old = origin.map(|o| o.server).unwrap_or_default();
    let addr = conn.addr();
    if split {
        return Err(other(format!(
            "{addr} ({server}) is not the server the log came from ({old}), and the log ends inside a \
             transaction split into parts: its rest can only be read from {old}"
        )));
    }
    let gtids = crate::gtid::mariadb_position(&tail.gtid_executed)
        .or_else(|| crate::gtid::mysql_set_text(&tail.gtid_executed))
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            other(format!(
                "{addr} ({server}) is not the server the log came from ({old}) and the log holds no \
                 GTIDs: a binlog position of one server means nothing on another, so capture stops \
                 rather than skip or repeat transactions (enable GTIDs on the servers, or point the \
                 source back at {old})"
            ))
        })?;
    let mut set = gtids.clone();
    if let Some(missing) = failover::missing(&mut conn, &gtids).await.map_err(source)? {
        if !opts.accept_errant {
            return Err(CaptureError::Errant {
                name: name.clone(),
                message: format!(
                    "{addr} ({server}) lacks transactions the log holds (the old server's \
                     unreplicated tail, or a replica behind): {}; nothing is appended until a \
                     server has them (retrying), or restart with --accept-errant to resume from \
                     what {addr} has (the log keeps them; the new server never had them)",
                    missing.description
                ),
            });
        }
        set = missing.without.ok_or_else(|| {
            other(format!(
                "{addr} ({server}) lacks transactions the log holds ({}) and does not say where its \
                 history left the log's (no gtid_slave_pos entry the log passed): --accept-errant \
                 cannot pick a resume point; start a new log on it",
                missing.description
            ))
        })?;
        tracing::warn!(source = %name, server = %addr, missing = %missing.description, from = %set, "--accept-errant: resuming on a server that lacks transactions the log holds");
    }
    Origin {
        server: server.clone(),
        from_offset: tail.next_offset,
    }
    .store(&opts.dir)
    .map_err(other)?;
    tracing::warn!(source = %name, from = %old, to = %server, server = %addr, gtid = %set, "the source server changed: resuming by GTID");
    status.connected_to(&addr, true);
    Ok((conn, DumpFrom::gtid(set), true))
}
