//! A minimal binlog event walker for tests and benches of the row
//! decoder: it finds TABLE_MAP and rows events in a file (also inside
//! TRANSACTION_PAYLOAD), with the post-header lengths and checksum
//! setting of the format description. The full framing lives in the
//! library; this copy only serves to feed `TableMap::parse` and
//! `rows::decode_rows`.

#![allow(dead_code)]

/// One event: its type, file offset and body (after the 19-byte header,
/// without checksum).
pub struct Event<'a> {
    pub type_code: u8,
    pub offset: usize,
    pub body: &'a [u8],
}

#[derive(Clone)]
pub struct Format {
    pub post_header: Vec<u8>,
    pub checksum: bool,
}

impl Format {
    pub fn post_header_len(&self, t: u8) -> u8 {
        self.post_header
            .get(usize::from(t).wrapping_sub(1))
            .copied()
            .unwrap_or(0)
    }
    pub fn table_id_size(&self) -> usize {
        if self.post_header_len(19) == 6 {
            4
        } else {
            6
        }
    }
}

fn version_at_least(v: &str, want: (u32, u32, u32)) -> bool {
    let mut it = v
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty());
    let mut n = || it.next().and_then(|s| s.parse::<u32>().ok()).unwrap_or(0);
    (n(), n(), n()) >= want
}

/// Parse a FORMAT_DESCRIPTION body (including any checksum trailer).
pub fn format_description(body: &[u8]) -> Option<Format> {
    let version = body.get(2..52)?;
    let version = String::from_utf8_lossy(version);
    let version = version.trim_end_matches('\0');
    let with_alg = if version.contains("MariaDB") {
        version_at_least(version, (5, 3, 0))
    } else {
        version_at_least(version, (5, 6, 1))
    };
    let mut end = body.len();
    let mut checksum = false;
    if with_alg && end >= 57 + 5 {
        checksum = body[end - 5] == 1;
        end -= 5;
    }
    Some(Format {
        post_header: body.get(57..end)?.to_vec(),
        checksum,
    })
}

/// Walk events of `data` (a whole binlog file, magic included), calling
/// `f` with each event and the current format. Returns an error text for
/// framing problems (the tests about rows only need TABLE_MAP/rows).
pub fn walk<'a>(data: &'a [u8], f: impl FnMut(&Event<'a>, &Format)) -> Result<(), String> {
    walk_opts(data, false, f)
}

/// As [`walk`]; with `verify_crc`, each CRC32 the format announces is
/// checked (as a real reader does), and a mismatch is an error.
pub fn walk_opts<'a>(
    data: &'a [u8],
    verify_crc: bool,
    mut f: impl FnMut(&Event<'a>, &Format),
) -> Result<(), String> {
    if data.get(..4) != Some(&[0xFE, b'b', b'i', b'n'][..]) {
        return Err("no binlog magic".into());
    }
    let mut fmt = Format {
        post_header: vec![],
        checksum: false,
    };
    let mut pos = 4;
    while pos < data.len() {
        let h = data
            .get(pos..pos + 19)
            .ok_or(format!("truncated header at {pos}"))?;
        let t = h[4];
        let size = u32::from_le_bytes([h[9], h[10], h[11], h[12]]) as usize;
        if size < 19 {
            return Err(format!("event size {size} at {pos}"));
        }
        let ev = data
            .get(pos..pos + size)
            .ok_or(format!("truncated event at {pos}"))?;
        let mut body = &ev[19..];
        if t == 15 {
            fmt = format_description(body).ok_or(format!("bad FDE at {pos}"))?;
        }
        if fmt.checksum && t != 15 {
            if verify_crc && size >= 23 {
                let (covered, crc) = ev.split_at(size - 4);
                let want = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
                if crc32fast::hash(covered) != want {
                    return Err(format!("CRC32 mismatch at {pos}"));
                }
            }
            body = body.get(..body.len().saturating_sub(4)).unwrap_or(&[]);
        }
        if t == 40 {
            payload(body, pos, &fmt, &mut f)?;
        } else {
            f(
                &Event {
                    type_code: t,
                    offset: pos,
                    body,
                },
                &fmt,
            );
        }
        pos += size;
    }
    Ok(())
}

/// MySQL's int<lenenc>: a first byte below 0xFB is the value, 0xFC, 0xFD
/// and 0xFE are followed by a 2, 3 or 8-byte value. 0xFB means NULL and
/// 0xFF starts an error packet: neither is a number, so both give `None`
/// (a length or field tag that is NULL is malformed framing).
fn lenenc(b: &[u8], p: &mut usize) -> Option<u64> {
    let first = *b.get(*p)?;
    *p += 1;
    let n = match first {
        0..=0xFA => return Some(u64::from(first)),
        0xFC => 2,
        0xFD => 3,
        0xFE => 8,
        0xFB | 0xFF => return None,
    };
    let s = b.get(*p..*p + n)?;
    *p += n;
    Some(s.iter().rev().fold(0u64, |a, &x| (a << 8) | u64::from(x)))
}

/// TRANSACTION_PAYLOAD: TLV header fields (1 size, 2 compression, 3
/// uncompressed size, 0 end), then the (zstd) payload of whole events
/// without checksums.
fn payload<'a>(
    body: &'a [u8],
    pos: usize,
    fmt: &Format,
    f: &mut impl FnMut(&Event<'a>, &Format),
) -> Result<(), String> {
    let mut p = 0;
    let mut compression = 0;
    loop {
        let t = lenenc(body, &mut p).ok_or("payload header")?;
        if t == 0 {
            break;
        }
        let len = lenenc(body, &mut p).ok_or("payload header")? as usize;
        let v = body.get(p..p + len).ok_or("payload header")?;
        if t == 2 {
            compression = v.iter().rev().fold(0u64, |a, &x| (a << 8) | u64::from(x));
        }
        p += len;
    }
    let data = body.get(p..).ok_or("payload")?;
    let inner = match compression {
        0 => zstd::stream::decode_all(data).map_err(|e| format!("zstd at {pos}: {e}"))?,
        _ => data.to_vec(),
    };
    // Inner bodies borrow from a buffer we must keep alive for 'a.
    let inner: &'a [u8] = Box::leak(inner.into_boxed_slice());
    let mut q = 0;
    let mut inner_fmt = fmt.clone();
    inner_fmt.checksum = false;
    while q + 19 <= inner.len() {
        let t = inner[q + 4];
        let size = u32::from_le_bytes([inner[q + 9], inner[q + 10], inner[q + 11], inner[q + 12]])
            as usize;
        if size < 19 || q + size > inner.len() {
            return Err(format!("bad inner event in payload at {pos}"));
        }
        f(
            &Event {
                type_code: t,
                offset: pos,
                body: &inner[q + 19..q + size],
            },
            &inner_fmt,
        );
        q += size;
    }
    Ok(())
}
