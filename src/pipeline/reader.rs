//! The read-and-decode half of a streaming session. Its own task reads
//! events from the socket and decodes them into committed transactions,
//! while the capture task names, filters, encodes and appends them: on
//! small transactions each half is about half the work, so the two run on
//! both cores.
//!
//! Items cross in batches (one channel operation per batch, not per
//! event): a batch is handed on once the next event is not already read
//! from the socket, or it holds [`BATCH_ITEMS`] items or [`BATCH_BYTES`]
//! of events. The channel holds [`CHANNEL_BATCHES`] batches, which bounds
//! the decoded rows in flight.

use super::resume::at_or_after;
use super::staging::PART_BYTES;
use crate::decode::header::EventHeader;
use crate::decode::{event_type, DecodeError, Decoder};
use crate::proto::{Record, TableChange};
use crate::source::{BinlogStream, SourceError, StreamEvent};
use tokio::sync::mpsc;

/// Items per batch at most.
const BATCH_ITEMS: usize = 256;
/// A batch is handed on once its events reach this many bytes.
const BATCH_BYTES: usize = 1 << 20;
/// Batches waiting in the channel at most.
const CHANNEL_BATCHES: usize = 4;

/// What the read-and-decode task hands to the capture task, in binlog
/// order.
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

/// Start the task: read `stream` with `decoder` (positioned at `pos` of
/// its file) until the stream ends, `until` is passed, or the receiver is
/// dropped. `source` names the source in warnings.
pub(super) fn spawn(
    stream: BinlogStream,
    decoder: Decoder,
    pos: u64,
    until: Option<(String, u64)>,
    source: String,
) -> (mpsc::Receiver<Vec<Item>>, tokio::task::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel(CHANNEL_BATCHES);
    let session = Session {
        decoder,
        last_pos: pos,
        until,
        source,
    };
    (rx, tokio::spawn(session.run(stream, tx)))
}

struct Session {
    decoder: Decoder,
    /// End position of the last event read, in `decoder.file()`.
    last_pos: u64,
    until: Option<(String, u64)>,
    source: String,
}

impl Session {
    async fn run(mut self, mut stream: BinlogStream, tx: mpsc::Sender<Vec<Item>>) {
        let mut batch: Vec<Item> = Vec::new();
        let mut batch_bytes = 0usize;
        loop {
            let end = match stream.next_event().await {
                Ok(Some(event)) => {
                    batch_bytes += event.bytes.len();
                    self.push(&event, &mut batch)
                }
                Ok(None) => Some(self.closed()),
                Err(e) => Some(End::Source(e)),
            };
            if let Some(end) = end {
                batch.push(Item::End(end));
                let _ = tx.send(batch).await;
                return;
            }
            let full = batch.len() >= BATCH_ITEMS || batch_bytes >= BATCH_BYTES;
            if full || (!batch.is_empty() && !stream.event_buffered()) {
                batch_bytes = 0;
                if tx.send(std::mem::take(&mut batch)).await.is_err() {
                    return;
                }
            }
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
