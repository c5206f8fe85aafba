//! A streaming session's two halves: the socket task reads events and
//! hands them on in batches (one channel operation per batch, not per
//! event), while the capture task decodes them ([`Decoding`]) and names,
//! encodes and appends the transactions. A batch is handed on once the
//! next event is not already read from the socket, or it holds
//! [`BATCH_EVENTS`] events or [`BATCH_BYTES`] bytes; the channel holds
//! [`CHANNEL_BATCHES`] batches. (Decoding in the socket task was tried:
//! the decoded values then cross threads, and freeing in one thread what
//! another allocated took 1.2–1.4 s of CPU on the sysbench binlog, against
//! 0.95 s with decoding here.)

use super::resume::at_or_after;
use super::staging::PART_BYTES;
use crate::decode::header::EventHeader;
use crate::decode::{event_type, DecodeError, Decoder};
use crate::proto::{Record, TableChange};
use crate::source::{BinlogStream, SourceError, StreamEvent};
use tokio::sync::mpsc;

/// Events per batch at most.
const BATCH_EVENTS: usize = 256;
/// A batch is handed on once its events reach this many bytes (a batch is
/// decoded at once: its rows take a few times this while decoded).
const BATCH_BYTES: usize = 256 << 10;
/// Batches waiting in the channel at most.
const CHANNEL_BATCHES: usize = 4;

/// Events read from the socket, in order; `end` on the last batch.
pub(super) struct Events {
    pub events: Vec<StreamEvent>,
    /// `Ok`: a non-blocking dump reached the server's end.
    pub end: Option<Result<(), SourceError>>,
}

/// Start the socket task: read `stream` until it ends or the receiver is
/// dropped.
pub(super) fn spawn(
    mut stream: BinlogStream,
) -> (mpsc::Receiver<Events>, tokio::task::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(CHANNEL_BATCHES);
    let task = tokio::spawn(async move {
        let mut events = Vec::new();
        let mut bytes = 0usize;
        loop {
            let end = match stream.next_event().await {
                Ok(Some(event)) => {
                    bytes += event.bytes.len();
                    events.push(event);
                    None
                }
                Ok(None) => Some(Ok(())),
                Err(e) => Some(Err(e)),
            };
            let full = events.len() >= BATCH_EVENTS || bytes >= BATCH_BYTES;
            let idle = !events.is_empty() && !stream.event_buffered();
            if end.is_some() || full || idle {
                bytes = 0;
                let batch = Events {
                    events: std::mem::take(&mut events),
                    end,
                };
                let last = batch.end.is_some();
                if tx.send(batch).await.is_err() || last {
                    return;
                }
            }
        }
    });
    (rx, task)
}

/// What decoding hands to the capture loop, in binlog order.
// A record moves through by value once; boxing it would add an allocation
// per transaction for the rare small variants' sake.
#[allow(clippy::large_enum_variant)]
pub(super) enum Item {
    /// A committed transaction (or DDL, or statement group).
    Record(Record),
    /// Row changes taken out of the large open transaction that starts at
    /// `owner` (file, position), to be encoded ahead (see
    /// [`super::spill`]).
    Open {
        owner: (String, u64),
        changes: Vec<TableChange>,
    },
    /// The last item: why the session's stream ended.
    End(End),
}

pub(super) enum End {
    /// Past the `--until` position, outside any transaction: everything
    /// asked for is read.
    Reached,
    /// The server ended the dump before `--until` (a server shutting down
    /// ends a blocking dump this way): a disconnect to resume from.
    Closed,
    Source(SourceError),
    Decode(DecodeError),
}

/// A session's decoder and where it stands against `--until`.
pub(super) struct Decoding {
    decoder: Decoder,
    /// End position of the last event read, in `decoder.file()`.
    last_pos: u64,
    until: Option<(String, u64)>,
    source: String,
}

impl Decoding {
    /// `decoder` positioned at `pos` of its file; `source` names the
    /// source in warnings.
    pub fn new(decoder: Decoder, pos: u64, until: Option<(String, u64)>, source: String) -> Self {
        Decoding {
            decoder,
            last_pos: pos,
            until,
            source,
        }
    }

    /// Decode a batch of events into `items`, ending with an `End` when
    /// the session ends in it.
    pub fn push_all(&mut self, batch: Events, items: &mut Vec<Item>) {
        for event in &batch.events {
            if let Some(end) = self.push(event, items) {
                items.push(Item::End(end));
                return;
            }
        }
        match batch.end {
            Some(Ok(())) => items.push(Item::End(self.closed())),
            Some(Err(e)) => items.push(Item::End(End::Source(e))),
            None => {}
        }
    }

    /// Decode one event into `batch`; `Some` when the session ends here.
    fn push(&mut self, event: &StreamEvent, batch: &mut Vec<Item>) -> Option<End> {
        let header = &event.header;
        if header.type_code != event_type::ROTATE && header.log_pos != 0 {
            self.last_pos = u64::from(header.log_pos);
        }
        let ready = match self.decoder.push_live(header, &event.bytes) {
            Ok(ready) => ready,
            Err(e) => return Some(End::Decode(e)),
        };
        for warning in self.decoder.take_warnings() {
            tracing::warn!(source = %self.source, "{warning}");
        }
        batch.extend(ready.map(Item::Record));
        while let Some(r) = self.decoder.next_ready() {
            batch.push(Item::Record(r));
        }
        if self.decoder.open_rows_bytes() >= PART_BYTES {
            if let (Some(start), Some(changes)) =
                (self.decoder.open_start(), self.decoder.take_open_changes())
            {
                let owner = (self.decoder.file().to_string(), start);
                batch.push(Item::Open { owner, changes });
            }
        }
        self.reached_until(header).then_some(End::Reached)
    }

    /// Between transactions: the binlog file and the end of the last
    /// event read (where a snapshot record may go).
    pub fn boundary(&self) -> Option<(String, u64)> {
        (!self.decoder.in_transaction()).then(|| (self.decoder.file().to_string(), self.last_pos))
    }

    /// Past the `--until` position, outside any transaction?
    fn reached_until(&self, event: &EventHeader) -> bool {
        let Some((file, pos)) = &self.until else {
            return false;
        };
        // A ROTATE's position is in the file it closes, while the decoder
        // already names the next one: never compare it.
        if self.decoder.in_transaction() || event.type_code == event_type::ROTATE {
            return false;
        }
        event.log_pos != 0
            && at_or_after(
                (self.decoder.file(), u64::from(event.log_pos)),
                (file, *pos),
            )
    }

    /// The end of a non-blocking dump: at `--until` everything is read;
    /// any other end is a disconnect.
    fn closed(&self) -> End {
        let reached = self.until.as_ref().is_some_and(|(file, pos)| {
            !self.decoder.in_transaction()
                && at_or_after((self.decoder.file(), self.last_pos), (file, *pos))
        });
        if reached {
            End::Reached
        } else {
            End::Closed
        }
    }
}
