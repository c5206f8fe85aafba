//! Appending: staged records into log batches, here or behind the loop
//! (one batch in flight, [`crate::pipeline::appender`]), the side lists
//! of schema and snapshot records written before their records, and a
//! schema checkpoint in every segment.

use super::*;

impl Capture {
    /// See [`stage`].
    pub(super) fn stage(
        &mut self,
        record: Record,
        chunks: Vec<Chunk>,
        staged: &mut Vec<Staged>,
    ) -> usize {
        stage(record, chunks, &mut self.skip_parts, staged)
    }

    /// Stage and append `records` (the snapshot record, not counted in
    /// the status).
    pub(super) fn append_records(&mut self, records: Vec<Record>) -> Result<(), CaptureError> {
        let mut staged = Vec::new();
        for record in records {
            self.stage(record, Vec::new(), &mut staged);
        }
        self.append(staged, false)
    }

    /// Wait for the append in flight, then append `staged` here.
    pub(super) async fn flush(&mut self, staged: Vec<Staged>) -> Result<(), CaptureError> {
        self.settle().await?;
        self.append(staged, true)
    }

    /// Append `staged` behind the loop (see [`super::appender`]) once the
    /// append in flight is done; here, when it holds schema records.
    pub(super) async fn append_behind(&mut self, staged: Vec<Staged>) -> Result<(), CaptureError> {
        self.settle().await?;
        if staged.is_empty() {
            return Ok(());
        }
        // Snapshot records are listed before they are appended: here too.
        if staged
            .iter()
            .any(|s| s.schema || s.snapshot_label.is_some())
        {
            return self.append(staged, true);
        }
        let bytes = staged.iter().map(|s| s.bytes.len() as u64).sum();
        let rows = staged.iter().map(|s| s.rows).sum();
        self.progress.add(rows, bytes);
        self.in_flight = Some(InFlight::start(
            &self.log,
            &self.opts.name,
            &self.status,
            staged,
        ));
        Ok(())
    }

    /// Wait for the append in flight, if any, and add the schema
    /// checkpoint after it.
    pub(super) async fn settle(&mut self) -> Result<(), CaptureError> {
        let Some(in_flight) = self.in_flight.take() else {
            return Ok(());
        };
        let boundary = in_flight.boundary.clone();
        in_flight
            .wait()
            .await
            .map_err(|message| CaptureError::Other {
                name: self.opts.name.clone(),
                message,
            })?
            .map_err(|e| self.storage_err(e))?;
        match boundary {
            Some((file, next, time)) => self.checkpoint(&file, next, time),
            None => Ok(()),
        }
    }

    /// Append staged records in as few batches of at most `BATCH_BYTES` as
    /// fit. `track`: count them in the status.
    /// After them, in a segment without a checkpoint and between two
    /// transactions, a checkpoint: the history is then exactly as of the
    /// last staged record.
    pub(super) fn append(&mut self, staged: Vec<Staged>, track: bool) -> Result<(), CaptureError> {
        debug_assert!(
            self.in_flight.is_none(),
            "appending past an append in flight"
        );
        let boundary = staged
            .last()
            .filter(|s| s.last_part && !s.snapshot)
            .map(|s| (s.file.clone(), s.next, s.commit_time_ms));
        for batch in appender::cut(staged) {
            self.append_batch(batch, track)?;
        }
        match boundary {
            Some((file, next, time)) => self.checkpoint(&file, next, time),
            None => Ok(()),
        }
    }

    /// A schema checkpoint at `file:next` if the active segment has none.
    pub(super) fn checkpoint(
        &mut self,
        file: &str,
        next: u64,
        time: i64,
    ) -> Result<(), CaptureError> {
        match self
            .schema_log
            .checkpoint(&self.log, &self.history, file, next, time)
        {
            Some(record) => {
                tracing::debug!(source = %self.opts.name, "schema checkpoint in the new segment");
                self.append_records(vec![record])
            }
            None => Ok(()),
        }
    }

    pub(super) fn append_batch(
        &mut self,
        batch: Vec<Staged>,
        track: bool,
    ) -> Result<(), CaptureError> {
        if batch.is_empty() {
            return Ok(());
        }
        let next = self.log.last_record().next_offset;
        for (i, s) in batch.iter().enumerate() {
            // Snapshot hook: list the snapshot records (src/snapshot/progress.rs).
            if let (Some(label), Some(driver)) = (&s.snapshot_label, &self.snapshot) {
                driver
                    .note(next + i as u64, label)
                    .map_err(|e| self.side_list_err("snapshot", e))?;
            }
            if s.schema {
                self.schema_log
                    .note(next + i as u64)
                    .map_err(|e| self.side_list_err("schema", e))?;
            }
        }
        let status = track.then_some(&self.status);
        appender::write(&self.log, &self.opts.name, &batch, status)
            .map_err(|e| self.storage_err(e))?;
        if track {
            let bytes = batch.iter().map(|s| s.bytes.len() as u64).sum();
            self.progress.add(batch.iter().map(|s| s.rows).sum(), bytes);
        }
        if let Some(i) = batch.iter().rposition(|s| s.snapshot) {
            self.schema_log.checkpointed(&self.log, next + i as u64);
        }
        Ok(())
    }

    /// A side list (`schema-records`, `snapshot-records`) that could not be
    /// written: a full disk pauses capture like the log's own writes.
    pub(super) fn side_list_err(&self, what: &str, e: std::io::Error) -> CaptureError {
        let name = self.opts.name.clone();
        let message = format!("writing the {what} record list: {e}");
        if sluice_storage::is_disk_full(&e) {
            CaptureError::DiskFull { name, message }
        } else {
            CaptureError::Other { name, message }
        }
    }
}
