//! Events in, committed transactions out: the [`Decoder`].
//!
//! The decoder is fed whole events one at a time — from a file
//! ([`Decoder::push_event`] with the event's byte offset) or from a
//! replication stream ([`Decoder::push_live`], positions from the event
//! headers) — and returns a [`proto::Record`] each time a transaction
//! commits. Grouping rules:
//!
//! - A transaction opens with `BEGIN` (or `XA START`), or implicitly with a
//!   TABLE_MAP outside one, and closes with XID, `COMMIT`, `XA COMMIT … ONE
//!   PHASE`, XA_PREPARE with one-phase, or (implicit ones) the rows event
//!   flagged end-of-statement. `ROLLBACK` drops it.
//! - A GTID event (MySQL `uuid[:tag]:gno`, anonymous, or MariaDB
//!   `domain-server-seq`) names the next group; its offset is the group's
//!   start position.
//! - A statement outside a transaction is a group on its own: a DDL
//!   (CREATE/ALTER/DROP/RENAME/TRUNCATE) becomes a record with `ddl`,
//!   anything else a record with `statements`.
//! - Two-phase XA: the prepared part is held until `XA COMMIT` (emitted
//!   then, with the commit's GTID and position) or `XA ROLLBACK` (dropped).
//! - A transaction whose events failed to decode is not emitted: its
//!   commit returns an error saying so, so no partial transaction ever
//!   leaves the decoder.
//!
//! Positions: `start` is the offset of the group's first event (GTID, else
//! BEGIN), `next` the offset just after its last. Events inside a
//! TRANSACTION_PAYLOAD take the payload event's positions.

use super::event::{self, Event};
use super::event_type as et;
use super::events::gtid::gtid_set_text;
use super::events::mariadb::{gtid_list_text, FL_COMPLETED_XA, FL_PREPARED_XA};
use super::events::query::{classify, QueryKind};
use super::format_description::{ChecksumAlg, FormatDescription};
use super::header::{EventHeader, HEADER_LEN};
use super::payload::Payload;
use super::rows;
use super::table_map::TableMap;
use super::DecodeError;
use crate::proto;
use std::collections::{BTreeMap, HashMap, VecDeque};

/// Rows event flag: last event of a statement.
const STMT_END_F: u16 = 1;
/// Parsed TABLE_MAPs kept between groups (see `Decoder::tables`).
const MAX_CACHED_TABLE_MAPS: usize = 4096;

/// What the decoder knows of the GTID state of the stream.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GtidState {
    /// GTID of the last group seen (empty for anonymous ones).
    pub last_gtid: String,
    /// MySQL: PREVIOUS_GTIDS of the current file, as a GTID set text.
    pub previous_gtids: Option<String>,
    /// MariaDB: GTID_LIST of the current file (`0-1-5,1-2-7`).
    pub mariadb_gtid_list: Option<String>,
    /// MariaDB: the last BINLOG_CHECKPOINT file name.
    pub binlog_checkpoint: Option<String>,
    /// The file the last ROTATE pointed to.
    pub next_file: Option<String>,
}

#[derive(Clone, Debug)]
struct PendingGtid {
    text: String,
    start: u64,
    server_id: u32,
    commit_us: Option<u64>,
}

#[derive(Debug, Default)]
struct Trx {
    start: u64,
    gtid: String,
    server_id: u32,
    commit_us: Option<u64>,
    changes: Vec<proto::TableChange>,
    /// Table id of the rows event that made the last entry of `changes`:
    /// a following rows event of the same table, kind and statement adds
    /// its rows to that entry (a bulk statement logs thousands of events).
    last_rows_table: Option<u64>,
    /// Bytes of rows events decoded into `changes`.
    rows_bytes: usize,
    ddl: Option<proto::Ddl>,
    statements: Vec<proto::Statement>,
    /// Opened by a TABLE_MAP without BEGIN (old non-transactional binlogs).
    implicit: bool,
    /// Offset of the first event of this transaction that failed.
    failed_at: Option<u64>,
    /// A statement outside any transaction (autocommit): emitted when the
    /// next event is not its XID; holds the statement event's position.
    autocommit: Option<Ctx>,
    /// Opened by a MariaDB GTID event (which stands for BEGIN); a BEGIN
    /// that follows it is part of the same group.
    by_gtid: bool,
}

/// Where one event sits: its offsets and header.
#[derive(Clone, Copy, Debug)]
struct Ctx {
    start: u64,
    end: u64,
    header: EventHeader,
}

/// Groups binlog events into committed transactions. See the module docs.
pub struct Decoder {
    file: String,
    live: bool,
    live_pos: u64,
    fd: FormatDescription,
    /// Each table id's last TABLE_MAP: its body bytes, the parsed map,
    /// and the group (counted by `group`) that mapped it. Kept across
    /// groups so the TABLE_MAP that servers repeat before every statement
    /// is parsed again only when its bytes change; a rows event may use
    /// only a map of its own group.
    tables: HashMap<u64, (Vec<u8>, TableMap, u64)>,
    group: u64,
    trx: Option<Trx>,
    pending_gtid: Option<PendingGtid>,
    rows_query: Option<String>,
    xa_prepared: HashMap<String, Trx>,
    ready: VecDeque<proto::Record>,
    warnings: Vec<String>,
    gtid_state: GtidState,
    counts: BTreeMap<u8, u64>,
    inner_counts: BTreeMap<u8, u64>,
}

impl Decoder {
    /// A decoder for a binlog file named `file` (positions are the byte
    /// offsets the caller passes to [`Decoder::push_event`]).
    pub fn new(file: impl Into<String>) -> Decoder {
        Decoder {
            file: file.into(),
            live: false,
            live_pos: 4,
            fd: FormatDescription::default(),
            tables: HashMap::new(),
            group: 0,
            trx: None,
            pending_gtid: None,
            rows_query: None,
            xa_prepared: HashMap::new(),
            ready: VecDeque::new(),
            warnings: Vec::new(),
            gtid_state: GtidState::default(),
            counts: BTreeMap::new(),
            inner_counts: BTreeMap::new(),
        }
    }

    /// A decoder for a replication stream: the file name comes from the
    /// server's (possibly artificial) ROTATE events, positions from the
    /// event headers. `checksum` is what the connection negotiated
    /// (`@master_binlog_checksum`), needed before the first
    /// FORMAT_DESCRIPTION arrives.
    pub fn live(file: impl Into<String>, position: u64, checksum: ChecksumAlg) -> Decoder {
        let mut d = Decoder::new(file);
        d.live = true;
        d.live_pos = position;
        d.fd.checksum = checksum;
        d
    }

    /// The file name positions refer to.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// Start decoding another file (offline): a new name, a fresh format
    /// description. An open transaction is dropped with a warning.
    pub fn start_file(&mut self, file: impl Into<String>) {
        self.drop_open("the next file started");
        self.file = file.into();
        self.fd = FormatDescription::default();
        self.tables.clear();
    }

    /// The format description in force.
    pub fn format_description(&self) -> &FormatDescription {
        &self.fd
    }

    /// Override the format description (e.g. v1 files' 13-byte headers).
    pub fn set_format_description(&mut self, fd: FormatDescription) {
        self.fd = fd;
    }

    pub fn gtid_state(&self) -> &GtidState {
        &self.gtid_state
    }

    /// Top-level events framed so far, by type code.
    pub fn event_counts(&self) -> &BTreeMap<u8, u64> {
        &self.counts
    }

    /// Events found inside TRANSACTION_PAYLOAD events, by type code.
    pub fn payload_event_counts(&self) -> &BTreeMap<u8, u64> {
        &self.inner_counts
    }

    /// True while a transaction is open (its commit not seen yet).
    pub fn in_transaction(&self) -> bool {
        self.trx.is_some()
    }

    /// Position of the open transaction's first event, if one is open.
    pub fn open_start(&self) -> Option<u64> {
        self.trx.as_ref().map(|t| t.start)
    }

    /// Bytes of rows events decoded into the open transaction since it
    /// began or since the last [`Decoder::take_open_changes`].
    pub fn open_rows_bytes(&self) -> usize {
        self.trx.as_ref().map_or(0, |t| t.rows_bytes)
    }

    /// Take the row changes decoded so far out of the open transaction, so
    /// that a caller can encode a large transaction piece by piece instead
    /// of holding all of it decoded; the record emitted at its commit then
    /// carries only the changes decoded after the last take. `None` when no
    /// transaction is open, one of its events failed, or it holds a DDL
    /// (the schema history must apply a DDL before naming the rows that
    /// follow it, and that happens at commit).
    pub fn take_open_changes(&mut self) -> Option<Vec<proto::TableChange>> {
        let trx = self.trx.as_mut()?;
        if trx.failed_at.is_some() || trx.ddl.is_some() || trx.changes.is_empty() {
            return None;
        }
        trx.rows_bytes = 0;
        trx.last_rows_table = None;
        Some(std::mem::take(&mut trx.changes))
    }

    /// Notes that are not errors (dropped incomplete transactions,
    /// INCIDENT events, ...), oldest first; taking them clears them.
    pub fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }

    /// A further record completed by the last pushed event, if any
    /// (a TRANSACTION_PAYLOAD may complete more than one).
    pub fn next_ready(&mut self) -> Option<proto::Record> {
        self.ready.pop_front()
    }

    /// End of input: a pending autocommitted statement is emitted (take it
    /// with [`Decoder::next_ready`]); an open transaction is incomplete and
    /// dropped, with a warning.
    pub fn finish(&mut self) {
        self.drop_open("the input ended");
    }

    /// Feed one whole event found at byte `offset` of the current file.
    /// Returns a record when this event committed a transaction (call
    /// [`Decoder::next_ready`] for any further one). Errors name the file
    /// and the offset.
    pub fn push_event(
        &mut self,
        offset: u64,
        bytes: &[u8],
    ) -> Result<Option<proto::Record>, DecodeError> {
        match EventHeader::parse(bytes, self.fd.header_len) {
            Ok(header) => self.push_at(offset, &header, bytes),
            Err(e) => Err(self.failed(offset, e)),
        }
    }

    /// Feed one event from a replication stream, with the common header
    /// the stream already parsed from `bytes` (the v4 one: live streams
    /// are never v1). Its position comes from the header (`log_pos -
    /// event_size`), else from the previous event.
    pub fn push_live(
        &mut self,
        header: &EventHeader,
        bytes: &[u8],
    ) -> Result<Option<proto::Record>, DecodeError> {
        let size = u64::from(header.event_size);
        let log_pos = u64::from(header.log_pos);
        let start = if log_pos >= size && log_pos != 0 {
            log_pos - size
        } else {
            self.live_pos
        };
        let result = self.push_at(start, header, bytes);
        if log_pos != 0 && header.type_code != et::ROTATE {
            self.live_pos = log_pos;
        }
        result
    }

    fn push_at(
        &mut self,
        offset: u64,
        header: &EventHeader,
        bytes: &[u8],
    ) -> Result<Option<proto::Record>, DecodeError> {
        let end = offset + bytes.len() as u64;
        match self.push_inner(offset, end, header, bytes) {
            Ok(()) => Ok(self.ready.pop_front()),
            Err(e) => Err(self.failed(offset, e)),
        }
    }

    /// The event at `offset` failed: so does the transaction it is part of.
    fn failed(&mut self, offset: u64, e: DecodeError) -> DecodeError {
        if let Some(trx) = self.trx.as_mut() {
            trx.failed_at.get_or_insert(offset);
        }
        DecodeError::At {
            file: self.file.clone(),
            offset,
            source: Box::new(e),
        }
    }

    fn push_inner(
        &mut self,
        start: u64,
        end: u64,
        header: &EventHeader,
        bytes: &[u8],
    ) -> Result<(), DecodeError> {
        let raw = event::frame_parsed(*header, bytes, &self.fd)?;
        *self.counts.entry(raw.header.type_code).or_default() += 1;
        let ev = event::parse(&raw, &self.fd)?;
        let ctx = Ctx {
            start,
            end,
            header: raw.header,
        };
        self.handle(ev, ctx)
    }

    fn handle(&mut self, ev: Event<'_>, ctx: Ctx) -> Result<(), DecodeError> {
        if !matches!(ev, Event::Xid(_) | Event::Skipped | Event::Query(_)) {
            self.flush_autocommit()?;
        }
        match ev {
            Event::FormatDescription(fd) | Event::StartV3(fd) => {
                self.drop_open("a new FORMAT_DESCRIPTION arrived");
                self.fd = fd;
                self.tables.clear();
            }
            Event::Query(q) => {
                let text = q.text().into_owned();
                let schema = q.schema.into_owned();
                self.on_query(classify(&text), schema, text, ctx)?;
            }
            Event::Xid(_) => self.commit_or_warn(ctx, "XID")?,
            Event::TableMap(body) => {
                // Servers repeat a table's TABLE_MAP before every statement;
                // parse it only when its bytes changed.
                let id = rows::table_id(body, self.fd.table_id_size())?;
                let group = self.group;
                match self.tables.get_mut(&id) {
                    Some((raw, _, mapped_in)) if raw.as_slice() == body => *mapped_in = group,
                    _ => {
                        let map = TableMap::parse(body, self.fd.table_id_size())?;
                        self.tables.insert(id, (body.to_vec(), map, group));
                    }
                }
                self.open_implicit(ctx);
            }
            Event::Rows { type_code, body } => self.on_rows(type_code, body, ctx)?,
            Event::MysqlGtid(g) => {
                self.drop_open("a GTID event opened another transaction");
                let text = g.text();
                self.gtid_state.last_gtid.clone_from(&text);
                self.pending_gtid = Some(PendingGtid {
                    text,
                    start: ctx.start,
                    server_id: ctx.header.server_id,
                    commit_us: g.immediate_commit_us,
                });
            }
            Event::MariaGtid(g) => {
                self.drop_open("a GTID event opened another transaction");
                let text = g.gtid.text();
                self.gtid_state.last_gtid.clone_from(&text);
                self.pending_gtid = Some(PendingGtid {
                    text,
                    start: ctx.start,
                    server_id: ctx.header.server_id,
                    commit_us: None,
                });
                // MariaDB's GTID event replaces BEGIN unless it marks a
                // stand-alone statement (DDL) or an XA group (XA START
                // follows and opens it).
                let xa = g.flags & (FL_PREPARED_XA | FL_COMPLETED_XA) != 0;
                if !g.standalone() && !xa {
                    let mut trx = self.new_trx(ctx);
                    trx.by_gtid = true;
                    self.trx = Some(trx);
                }
            }
            Event::PreviousGtids(set) => self.gtid_state.previous_gtids = Some(gtid_set_text(&set)),
            Event::MariaGtidList(list) => {
                self.gtid_state.mariadb_gtid_list = Some(gtid_list_text(&list))
            }
            Event::BinlogCheckpoint(name) => self.gtid_state.binlog_checkpoint = Some(name),
            Event::RowsQuery(text) | Event::AnnotateRows(text) => self.rows_query = Some(text),
            Event::TransactionPayload(body) => self.on_payload(body, ctx)?,
            Event::XaPrepare { one_phase, xid } => {
                if one_phase {
                    self.commit_or_warn(ctx, "XA_PREPARE (one phase)")?;
                } else if let Some(trx) = self.trx.take() {
                    self.xa_prepared.insert(xa_key(&xid), trx);
                    self.after_group();
                }
            }
            Event::Incident { kind, message } => self.warnings.push(format!(
                "{} at byte {}: INCIDENT event {kind}: {message} (the source may have lost events here)",
                self.file, ctx.start
            )),
            Event::Rotate(r) => {
                if self.live {
                    self.file.clone_from(&r.next_file);
                    self.live_pos = r.position;
                }
                self.gtid_state.next_file = Some(r.next_file);
            }
            Event::Stop | Event::Heartbeat { .. } | Event::Skipped => {}
        }
        Ok(())
    }

    fn on_query(
        &mut self,
        kind: QueryKind,
        schema: String,
        text: String,
        ctx: Ctx,
    ) -> Result<(), DecodeError> {
        if kind != QueryKind::Commit {
            self.flush_autocommit()?;
        }
        match kind {
            QueryKind::Begin => {
                let continues = self.trx.as_ref().is_some_and(|t| {
                    t.by_gtid && t.changes.is_empty() && t.statements.is_empty() && t.ddl.is_none()
                });
                if !continues {
                    self.drop_open("BEGIN opened another transaction");
                    self.open(ctx);
                }
            }
            QueryKind::XaStart(_) => {
                self.drop_open("XA START opened another transaction");
                self.open(ctx);
            }
            QueryKind::Commit => self.commit_or_warn(ctx, "COMMIT")?,
            QueryKind::Rollback => {
                self.trx = None;
                self.after_group();
            }
            QueryKind::Savepoint | QueryKind::XaEnd => {}
            QueryKind::XaPrepare(xid) => {
                if let Some(trx) = self.trx.take() {
                    self.xa_prepared.insert(xa_key(&xid), trx);
                }
                self.after_group();
            }
            QueryKind::XaCommit { xid, one_phase } => {
                if one_phase && self.trx.is_some() {
                    return self.commit(ctx);
                }
                self.drop_open("XA COMMIT arrived");
                let mut trx = match self.xa_prepared.remove(&xa_key(&xid)) {
                    Some(t) => t,
                    None => {
                        self.warnings.push(format!(
                            "{} at byte {}: XA COMMIT {xid} of a transaction prepared before the decoded range: its changes are not in this input",
                            self.file, ctx.start
                        ));
                        Trx::default()
                    }
                };
                let fresh = self.new_trx(ctx);
                trx.start = fresh.start;
                trx.gtid = fresh.gtid;
                trx.server_id = fresh.server_id;
                trx.commit_us = fresh.commit_us;
                self.trx = Some(trx);
                self.commit(ctx)?;
            }
            QueryKind::XaRollback(xid) => {
                self.drop_open("XA ROLLBACK arrived");
                self.xa_prepared.remove(&xa_key(&xid));
                self.after_group();
            }
            QueryKind::Ddl => {
                let ddl = proto::Ddl {
                    schema,
                    statement: text,
                    tables: Vec::new(),
                    databases: Vec::new(),
                };
                match self.trx.as_mut() {
                    Some(trx) if !trx.implicit => trx.ddl = Some(ddl),
                    _ => {
                        self.drop_open("a DDL statement arrived");
                        let mut trx = self.new_trx(ctx);
                        trx.ddl = Some(ddl);
                        self.trx = Some(trx);
                        self.commit(ctx)?;
                    }
                }
            }
            QueryKind::Other => {
                let st = proto::Statement { schema, text };
                match self.trx.as_mut() {
                    Some(trx) if !trx.implicit => trx.statements.push(st),
                    _ => {
                        // Old servers log an autocommitted statement on a
                        // transactional table as the statement and an XID,
                        // without BEGIN: wait one event for that XID.
                        self.drop_open("a statement arrived");
                        let mut trx = self.new_trx(ctx);
                        trx.statements.push(st);
                        trx.autocommit = Some(ctx);
                        self.trx = Some(trx);
                    }
                }
            }
        }
        Ok(())
    }

    fn on_rows(&mut self, type_code: u8, body: &[u8], ctx: Ctx) -> Result<(), DecodeError> {
        let id_size = self.fd.table_id_size();
        self.open_implicit(ctx);
        let table_id = rows::table_id(body, id_size)?;
        let table = match self.tables.get(&table_id) {
            Some((_, map, mapped_in)) if *mapped_in == self.group => map,
            _ => return Err(DecodeError::UnknownTable(table_id)),
        };
        let ph = self.fd.post_header_len(type_code);
        let kind = rows::change_kind(type_code).map(|k| k as i32);
        let query = self.rows_query.as_deref().unwrap_or("");
        let flags = body
            .get(id_size..id_size + 2)
            .map(|b| {
                u16::from_le_bytes([
                    b.first().copied().unwrap_or(0),
                    b.get(1).copied().unwrap_or(0),
                ])
            })
            .unwrap_or(0);
        let Some(trx) = self.trx.as_mut() else {
            return Ok(());
        };
        match trx.changes.last_mut() {
            Some(last)
                if trx.last_rows_table == Some(table_id)
                    && Some(last.kind) == kind
                    && last.query == query =>
            {
                let before = last.rows.len();
                if let Err(e) = rows::decode_rows_into(type_code, body, ph, table, last) {
                    last.rows.truncate(before);
                    return Err(e);
                }
            }
            _ => {
                let mut change = rows::decode_rows(type_code, body, ph, table)?;
                change.query = query.to_string();
                trx.changes.push(change);
                trx.last_rows_table = Some(table_id);
            }
        }
        trx.rows_bytes += body.len();
        let implicit_end = trx.implicit && flags & STMT_END_F != 0;
        if implicit_end {
            self.commit(ctx)?;
        }
        Ok(())
    }

    fn on_payload(&mut self, body: &[u8], ctx: Ctx) -> Result<(), DecodeError> {
        let payload = Payload::parse(body)?;
        let inner = payload.decompress()?;
        let mut pos = 0usize;
        let mut first_error = None;
        while pos < inner.len() {
            let rest = inner.get(pos..).unwrap_or_default();
            let header = EventHeader::parse(rest, HEADER_LEN).map_err(|e| inner_error(pos, e))?;
            let size = header.event_size as usize;
            let bytes = rest
                .get(..size)
                .filter(|_| size >= HEADER_LEN)
                .ok_or_else(|| {
                    inner_error(
                        pos,
                        DecodeError::Truncated {
                            what: "event inside transaction payload",
                            need: size.max(HEADER_LEN),
                            have: rest.len(),
                        },
                    )
                })?;
            // An inner event that fails is reported (the first one) after
            // the others were walked, like top-level events.
            if let Err(e) = self.push_payload_event(bytes, ctx) {
                if let Some(trx) = self.trx.as_mut() {
                    trx.failed_at.get_or_insert(ctx.start);
                }
                first_error.get_or_insert(inner_error(pos, e));
            }
            pos += size;
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn push_payload_event(&mut self, bytes: &[u8], ctx: Ctx) -> Result<(), DecodeError> {
        // Inner events carry no checksum.
        let mut inner_fd = self.fd.clone();
        inner_fd.checksum = ChecksumAlg::Off;
        let raw = event::frame(bytes, &inner_fd)?;
        *self.inner_counts.entry(raw.header.type_code).or_default() += 1;
        let ev = event::parse(&raw, &inner_fd)?;
        if matches!(ev, Event::TransactionPayload(_)) {
            return Err(DecodeError::Invalid {
                what: "transaction payload",
                detail: "nested payload event".into(),
            });
        }
        self.handle(
            ev,
            Ctx {
                header: raw.header,
                ..ctx
            },
        )
    }

    fn new_trx(&mut self, ctx: Ctx) -> Trx {
        match self.pending_gtid.take() {
            Some(g) => Trx {
                start: g.start,
                gtid: g.text,
                server_id: g.server_id,
                commit_us: g.commit_us,
                ..Trx::default()
            },
            None => Trx {
                start: ctx.start,
                server_id: ctx.header.server_id,
                ..Trx::default()
            },
        }
    }

    fn open(&mut self, ctx: Ctx) {
        let trx = self.new_trx(ctx);
        self.trx = Some(trx);
    }

    fn open_implicit(&mut self, ctx: Ctx) {
        if self.trx.is_none() {
            let mut trx = self.new_trx(ctx);
            trx.implicit = true;
            self.trx = Some(trx);
        }
    }

    fn commit_or_warn(&mut self, ctx: Ctx, what: &str) -> Result<(), DecodeError> {
        if self.trx.is_some() {
            return self.commit(ctx);
        }
        self.warnings.push(format!(
            "{} at byte {}: {what} without an open transaction (it began before the decoded range)",
            self.file, ctx.start
        ));
        self.pending_gtid = None;
        self.after_group();
        Ok(())
    }

    fn commit(&mut self, ctx: Ctx) -> Result<(), DecodeError> {
        let Some(trx) = self.trx.take() else {
            return Ok(());
        };
        self.after_group();
        if let Some(at) = trx.failed_at {
            return Err(DecodeError::Invalid {
                what: "transaction",
                detail: format!(
                    "the transaction from byte {} to {} is not emitted: its event at byte {at} failed to decode",
                    trx.start, ctx.end
                ),
            });
        }
        let commit_time_ms = match trx.commit_us {
            Some(us) => (us / 1000) as i64,
            None => i64::from(ctx.header.timestamp) * 1000,
        };
        self.ready.push_back(proto::Record {
            position: Some(proto::BinlogPosition {
                file: self.file.clone(),
                start: trx.start,
                next: ctx.end,
            }),
            gtid: trx.gtid,
            server_id: trx.server_id,
            commit_time_ms,
            changes: trx.changes,
            ddl: trx.ddl,
            snapshot: None,
            part: 0,
            last_part: true,
            statements: trx.statements,
            snapshot_chunk: None,
        });
        Ok(())
    }

    /// After a group ends: table maps and the annotation are per group.
    fn after_group(&mut self) {
        self.group += 1;
        // Table ids grow as the server reopens tables: bound the cache.
        if self.tables.len() > MAX_CACHED_TABLE_MAPS {
            self.tables.clear();
        }
        self.rows_query = None;
    }

    /// Emit a pending autocommitted statement (its XID did not follow).
    fn flush_autocommit(&mut self) -> Result<(), DecodeError> {
        match self.trx.as_ref().and_then(|t| t.autocommit) {
            Some(at) => self.commit(at),
            None => Ok(()),
        }
    }

    fn drop_open(&mut self, why: &str) {
        if let Err(e) = self.flush_autocommit() {
            self.warnings.push(e.to_string());
        }
        if let Some(trx) = self.trx.take() {
            self.warnings.push(format!(
                "{}: transaction starting at byte {} dropped uncommitted: {why}",
                self.file, trx.start
            ));
            self.after_group();
        }
    }
}

fn xa_key(xid: &str) -> String {
    xid.split_whitespace()
        .collect::<String>()
        .to_ascii_uppercase()
}

fn inner_error(pos: usize, e: DecodeError) -> DecodeError {
    DecodeError::Invalid {
        what: "event inside transaction payload",
        detail: format!("at uncompressed offset {pos}: {e}"),
    }
}

#[cfg(test)]
#[path = "transaction_tests.rs"]
mod tests;
