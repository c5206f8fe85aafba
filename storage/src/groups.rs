//! Consumer groups: a named, durable committed offset per consumer. Each
//! group is one small file, replaced atomically on every commit (temp file,
//! fsync, rename, fsync of the directory), so a crash leaves either the old
//! or the new offset, never a mix. Groups are read from disk on every call,
//! so a second process (read-only log) sees commits made by the first.
//!
//! A *protected* group holds retention back: the segments it has not read
//! yet are kept (up to `retention_max_bytes`). When retention deletes
//! records a group has not read, the group is marked *lost* with the range,
//! never moved on silently.
//!
//! File `groups/{hex of the name}.group` (little endian), version 2:
//!
//! ```text
//!   0  8 bytes  magic "SLCGRP02"
//!   8  u64      committed offset (the next offset the group will read)
//!  16  i64      committed_at_ms (wall clock of the commit)
//!  24  u8       reset policy: 0 none, 1 earliest, 2 latest
//!  25  u8       flags: bit 0 protected; other bits 0
//!  26  u64      records lost to retention, in all
//!  34  u64      the last range lost: first offset
//!  42  u64      the last range lost: end offset (exclusive; equal: none)
//!  50  u16      name length
//!  52  name (UTF-8)
//!  ..  u32      CRC-32 of every byte before it
//! ```
//!
//! Version 1 (magic "SLCGRP01") is the same without bytes 25..50 (name
//! length at 25): an unprotected group that lost nothing. It is read, and
//! rewritten as version 2 on the next commit.

use std::path::{Path, PathBuf};

use crate::codec::{crc, put_i64, put_u16, put_u64, Cursor, Short};
use crate::log::{atomic_write, Log};
use crate::writer::now_ms;
use crate::StorageError;

const GROUP_MAGIC: &[u8; 8] = b"SLCGRP02";
const GROUP_MAGIC_V1: &[u8; 8] = b"SLCGRP01";
const FLAG_PROTECTED: u8 = 1;

/// What a group does when its committed offset fell below the log start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ResetPolicy {
    /// Fail with [`StorageError::GroupOutOfRange`].
    #[default]
    None,
    /// Continue from the log start.
    Earliest,
    /// Continue from the log end.
    Latest,
}

/// A consumer group as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupInfo {
    /// The group's name.
    pub name: String,
    /// The committed offset: the next offset the group will read.
    pub offset: u64,
    /// Wall-clock time of the last commit (ms since the epoch).
    pub committed_at_ms: i64,
    /// What happens when `offset` fell out of retention.
    pub reset: ResetPolicy,
    /// Retention keeps the records this group has not read yet.
    pub protected: bool,
    /// Records deleted by retention before the group read them.
    pub lost: Lost,
}

/// What retention deleted before a group read it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Lost {
    /// Records lost, in all.
    pub records: u64,
    /// The last range lost (empty: none).
    pub last: std::ops::Range<u64>,
}

/// How far a group is behind the durable end.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Lag {
    /// Records between the committed offset and the durable end.
    pub records: u64,
    /// Bytes of batches from the batch holding the committed offset to the
    /// end (batch granularity).
    pub bytes: u64,
}

/// The consumer groups of a log; from [`Log::groups`].
pub struct Groups<'a> {
    log: &'a Log,
}

impl Log {
    /// The log's consumer groups.
    pub fn groups(&self) -> Groups<'_> {
        Groups { log: self }
    }
}

fn encode(g: &GroupInfo) -> Vec<u8> {
    let mut out = Vec::with_capacity(56 + g.name.len());
    out.extend_from_slice(GROUP_MAGIC);
    put_u64(&mut out, g.offset);
    put_i64(&mut out, g.committed_at_ms);
    out.push(match g.reset {
        ResetPolicy::None => 0,
        ResetPolicy::Earliest => 1,
        ResetPolicy::Latest => 2,
    });
    out.push(if g.protected { FLAG_PROTECTED } else { 0 });
    put_u64(&mut out, g.lost.records);
    put_u64(&mut out, g.lost.last.start);
    put_u64(&mut out, g.lost.last.end);
    put_u16(&mut out, g.name.len() as u16);
    out.extend_from_slice(g.name.as_bytes());
    let c = crc(&out);
    out.extend_from_slice(&c.to_le_bytes());
    out
}

/// Decodes a group file.
pub(crate) fn decode(bytes: &[u8], path: &Path) -> Result<GroupInfo, StorageError> {
    let err = |e: Short| StorageError::corrupt(path, e.at as u64, e.what);
    if bytes.len() < 31 {
        return Err(StorageError::corrupt(path, 0, "group file too short"));
    }
    let (body, tail) = bytes.split_at(bytes.len() - 4);
    if crc(body) != u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]) {
        return Err(StorageError::corrupt(
            path,
            body.len() as u64,
            "group checksum mismatch",
        ));
    }
    let mut c = Cursor::new(body);
    let parse = |c: &mut Cursor<'_>| -> Result<GroupInfo, Short> {
        let v2 = match &c.array::<8>("group magic")? {
            m if m == GROUP_MAGIC => true,
            m if m == GROUP_MAGIC_V1 => false,
            _ => return c.fail("bad group magic"),
        };
        let offset = c.u64("offset")?;
        let committed_at_ms = c.i64("commit time")?;
        let reset = match c.u8("reset policy")? {
            0 => ResetPolicy::None,
            1 => ResetPolicy::Earliest,
            2 => ResetPolicy::Latest,
            p => return c.fail(format!("unknown reset policy {p}")),
        };
        let (protected, lost) = if v2 {
            let flags = c.u8("flags")?;
            if flags & !FLAG_PROTECTED != 0 {
                return c.fail(format!("unknown group flags {flags:#x}"));
            }
            let records = c.u64("lost records")?;
            let from = c.u64("lost range start")?;
            let to = c.u64("lost range end")?;
            if to < from {
                return c.fail("lost range ends before it starts");
            }
            (
                flags & FLAG_PROTECTED != 0,
                Lost {
                    records,
                    last: from..to,
                },
            )
        } else {
            (false, Lost::default())
        };
        let n = c.u16("name length")? as usize;
        let name = String::from_utf8(c.bytes(n, "name")?.to_vec())
            .or_else(|_| c.fail("group name is not UTF-8"))?;
        if c.remaining() != 0 {
            return c.fail("trailing bytes in group file");
        }
        Ok(GroupInfo {
            name,
            offset,
            committed_at_ms,
            reset,
            protected,
            lost,
        })
    };
    parse(&mut c).map_err(err)
}

fn file_name(name: &str) -> String {
    let mut s = String::with_capacity(name.len() * 2 + 6);
    for b in name.bytes() {
        s.push_str(&format!("{b:02x}"));
    }
    s.push_str(".group");
    s
}

/// The groups folder of a log directory.
pub(crate) fn groups_dir(dir: &Path) -> PathBuf {
    dir.join("groups")
}

impl Groups<'_> {
    fn path(&self, name: &str) -> Result<PathBuf, StorageError> {
        if name.is_empty() || name.len() > 255 {
            return Err(StorageError::InvalidGroupName(name.to_string()));
        }
        Ok(groups_dir(self.log.dir()).join(file_name(name)))
    }

    fn store(&self, g: &GroupInfo) -> Result<(), StorageError> {
        let dir = groups_dir(self.log.dir());
        std::fs::create_dir_all(&dir).map_err(|e| StorageError::io("create", &dir, e))?;
        atomic_write(&dir, &self.path(&g.name)?, &encode(g))
    }

    /// Creates an unprotected group starting at the log start (`None`,
    /// `Earliest`) or at the durable end (`Latest`). Fails if it exists.
    pub fn create(&self, name: &str, reset: ResetPolicy) -> Result<GroupInfo, StorageError> {
        self.create_with(name, reset, false)
    }

    /// [`create`](Self::create), `protected` or not.
    pub fn create_with(
        &self,
        name: &str,
        reset: ResetPolicy,
        protected: bool,
    ) -> Result<GroupInfo, StorageError> {
        let _g = self.log.inner.groups_lock.lock();
        if self.get(name)?.is_some() {
            return Err(StorageError::GroupExists(name.to_string()));
        }
        self.log.refresh()?;
        let offset = match reset {
            ResetPolicy::Latest => self.log.durable_end(),
            _ => self.log.start_offset(),
        };
        let g = GroupInfo {
            name: name.to_string(),
            offset,
            committed_at_ms: now_ms(),
            reset,
            protected,
            lost: Lost::default(),
        };
        self.store(&g)?;
        Ok(g)
    }

    /// The group, creating it as [`Groups::create`] does if it does not exist.
    pub fn get_or_create(&self, name: &str, reset: ResetPolicy) -> Result<GroupInfo, StorageError> {
        self.get_or_create_with(name, reset, false)
    }

    /// The group, creating it as [`Groups::create_with`] does if it does
    /// not exist (an existing group keeps its own protection).
    pub fn get_or_create_with(
        &self,
        name: &str,
        reset: ResetPolicy,
        protected: bool,
    ) -> Result<GroupInfo, StorageError> {
        match self.create_with(name, reset, protected) {
            Err(StorageError::GroupExists(_)) => self
                .get(name)?
                .ok_or_else(|| StorageError::GroupNotFound(name.to_string())),
            r => r,
        }
    }

    /// The group as stored, if it exists.
    pub fn get(&self, name: &str) -> Result<Option<GroupInfo>, StorageError> {
        let path = self.path(name)?;
        match std::fs::read(&path) {
            Ok(b) => decode(&b, &path).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StorageError::io("read", &path, e)),
        }
    }

    /// Every group, by name.
    pub fn list(&self) -> Result<Vec<GroupInfo>, StorageError> {
        let dir = groups_dir(self.log.dir());
        let rd = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(StorageError::io("list", &dir, e)),
        };
        let mut out = Vec::new();
        for e in rd {
            let e = e.map_err(|e| StorageError::io("list", &dir, e))?;
            let path = e.path();
            if path.extension().is_some_and(|x| x == "group") {
                let b = std::fs::read(&path).map_err(|e| StorageError::io("read", &path, e))?;
                out.push(decode(&b, &path)?);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Commits `offset` (the next offset the group will read). Refused
    /// beyond the durable end and below the log start.
    pub fn commit(&self, name: &str, offset: u64) -> Result<GroupInfo, StorageError> {
        let _g = self.log.inner.groups_lock.lock();
        let mut g = self
            .get(name)?
            .ok_or_else(|| StorageError::GroupNotFound(name.to_string()))?;
        let end = self.log.durable_end();
        if offset > end {
            self.log.refresh()?;
        }
        let end = self.log.durable_end();
        if offset > end {
            return Err(StorageError::BeyondEnd {
                requested: offset,
                end,
            });
        }
        let start = self.log.start_offset();
        if offset < start {
            return Err(StorageError::BelowStart {
                requested: offset,
                start,
            });
        }
        g.offset = offset;
        g.committed_at_ms = now_ms();
        self.store(&g)?;
        Ok(g)
    }

    /// Where the group resumes: its committed offset, or, when that fell
    /// below the log start, the start or end per its reset policy (and
    /// [`StorageError::GroupOutOfRange`] without one).
    pub fn resume_offset(&self, name: &str) -> Result<u64, StorageError> {
        let g = self
            .get(name)?
            .ok_or_else(|| StorageError::GroupNotFound(name.to_string()))?;
        self.log.refresh()?;
        let start = self.log.start_offset();
        if g.offset >= start {
            return Ok(g.offset);
        }
        match g.reset {
            ResetPolicy::None => Err(StorageError::GroupOutOfRange {
                name: g.name,
                offset: g.offset,
                start,
            }),
            ResetPolicy::Earliest => Ok(start),
            ResetPolicy::Latest => Ok(self.log.durable_end()),
        }
    }

    /// Marks every group that had not read up to `new_start` as having lost
    /// the records retention deleted below it (`old_start..new_start`).
    /// Returns the groups marked.
    pub(crate) fn mark_lost(
        &self,
        old_start: u64,
        new_start: u64,
    ) -> Result<Vec<GroupInfo>, StorageError> {
        let _g = self.log.inner.groups_lock.lock();
        let mut marked = Vec::new();
        for mut g in self.list()? {
            let from = g.offset.max(old_start);
            if from >= new_start {
                continue;
            }
            g.lost.records += new_start - from;
            g.lost.last = from..new_start;
            self.store(&g)?;
            tracing::error!(
                group = %g.name,
                from,
                to = new_start,
                protected = g.protected,
                "retention deleted records {from}..{new_start} that consumer group {:?} had not read",
                g.name
            );
            marked.push(g);
        }
        Ok(marked)
    }

    /// Deletes a group; returns whether it existed.
    pub fn delete(&self, name: &str) -> Result<bool, StorageError> {
        let _g = self.log.inner.groups_lock.lock();
        let path = self.path(name)?;
        match std::fs::remove_file(&path) {
            Ok(()) => {
                crate::live::sync_dir(&groups_dir(self.log.dir()))?;
                Ok(true)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(StorageError::io("delete", &path, e)),
        }
    }

    /// How far the group is behind the durable end.
    pub fn lag(&self, name: &str) -> Result<Lag, StorageError> {
        let g = self
            .get(name)?
            .ok_or_else(|| StorageError::GroupNotFound(name.to_string()))?;
        self.log.refresh()?;
        let end = self.log.durable_end();
        let from = g.offset.max(self.log.start_offset());
        if from >= end {
            return Ok(Lag::default());
        }
        let loc = self.log.locate(from)?;
        let mut bytes = 0;
        for s in self.log.segments() {
            if s.path == loc.segment {
                bytes += s.data_end.saturating_sub(loc.batch_pos);
            } else if s.base_offset > from {
                bytes += s.data_bytes();
            }
        }
        Ok(Lag {
            records: end - from,
            bytes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn version_1_files_read_as_unprotected_and_never_lost() {
        let mut b = GROUP_MAGIC_V1.to_vec();
        put_u64(&mut b, 42);
        put_i64(&mut b, 7);
        b.push(1);
        put_u16(&mut b, 2);
        b.extend_from_slice(b"g1");
        let c = crc(&b);
        b.extend_from_slice(&c.to_le_bytes());
        let g = decode(&b, Path::new("x")).unwrap();
        assert_eq!(
            (g.name.as_str(), g.offset, g.reset),
            ("g1", 42, ResetPolicy::Earliest)
        );
        assert!(!g.protected);
        assert_eq!(g.lost, Lost::default());
    }

    proptest! {
        #[test]
        fn group_file_roundtrip_and_garbage(name in "[a-z]{1,20}", off in any::<u64>(), flip in any::<usize>()) {
            let g = GroupInfo { name, offset: off, committed_at_ms: 5, reset: ResetPolicy::Latest,
                protected: off % 2 == 0, lost: Lost { records: off / 3, last: off / 4..off / 2 } };
            let mut b = encode(&g);
            prop_assert_eq!(decode(&b, Path::new("x")).unwrap(), g);
            let i = flip % b.len();
            b[i] ^= 1;
            prop_assert!(decode(&b, Path::new("x")).is_err());
        }
    }
}
