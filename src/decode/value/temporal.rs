//! Date and time columns, in every binlog form, to text (DATE, TIME,
//! DATETIME) or to a UTC instant (TIMESTAMP).
//!
//! ```text
//! DATE        3 bytes LE: day (5 bits) | month (4 bits) | year (rest)
//! TIME        3 bytes LE signed: [-]HHMMSS as a decimal number
//! DATETIME    8 bytes LE: YYYYMMDDhhmmss as a decimal number
//! TIMESTAMP   4 bytes LE: seconds since the epoch
//! TIMESTAMP2  4 bytes BE seconds, then (fsp+1)/2 bytes BE fraction
//! DATETIME2   5 bytes BE, minus 0x80_0000_0000: sign(1) year*13+month(17)
//!             day(5) hour(5) minute(6) second(6); then the fraction
//! TIME2       3 bytes BE, minus 0x80_0000: sign(1) unused(1) hour(10)
//!             minute(6) second(6); then the fraction; negative values
//!             are stored as the two's complement of the packed value
//! fraction    fsp 1-2: 1 byte (hundredths), 3-4: 2 bytes (1/10000),
//!             5-6: 3 bytes (microseconds), all big-endian
//! ```

use super::super::decimal::push_digits;
use super::super::DecodeError;
use crate::proto;
use crate::wire::{be_uint, Reader};

#[inline]
fn frac_len(fsp: u8) -> usize {
    usize::from(fsp).div_ceil(2)
}

/// Append `.ffffff` cut to `fsp` digits (nothing when fsp is 0).
#[inline]
fn push_frac(out: &mut String, micros: u32, fsp: u8) {
    if fsp == 0 {
        return;
    }
    out.push('.');
    let mut v = micros % 1_000_000;
    let mut div = 100_000;
    for _ in 0..fsp.min(6) {
        out.push(char::from(b'0' + (v / div) as u8));
        v %= div;
        div /= 10;
    }
}

#[inline]
fn push_date(out: &mut String, y: u64, m: u64, d: u64) {
    push_digits(out, y, 4);
    out.push('-');
    push_digits(out, m, 2);
    out.push('-');
    push_digits(out, d, 2);
}

#[inline]
fn push_hms(out: &mut String, h: u64, m: u64, s: u64) {
    push_digits(out, h, 2);
    out.push(':');
    push_digits(out, m, 2);
    out.push(':');
    push_digits(out, s, 2);
}

pub fn date(c: &mut Reader<'_>) -> Result<String, DecodeError> {
    let v = c.uint_le(3, "DATE value")?;
    let mut s = String::with_capacity(10);
    push_date(&mut s, v >> 9, (v >> 5) & 15, v & 31);
    Ok(s)
}

pub fn time_old(c: &mut Reader<'_>) -> Result<String, DecodeError> {
    let raw = c.uint_le(3, "TIME value")? as u32;
    // Sign-extend the 24-bit value.
    let v = ((raw << 8) as i32) >> 8;
    let mut s = String::with_capacity(10);
    if v < 0 {
        s.push('-');
    }
    let a = u64::from(v.unsigned_abs());
    push_hms(&mut s, a / 10000, (a / 100) % 100, a % 100);
    Ok(s)
}

pub fn datetime_old(c: &mut Reader<'_>) -> Result<String, DecodeError> {
    let v = c.u64("DATETIME value")?;
    let (d, t) = (v / 1_000_000, v % 1_000_000);
    let mut s = String::with_capacity(19);
    push_date(&mut s, d / 10000, (d / 100) % 100, d % 100);
    s.push(' ');
    push_hms(&mut s, t / 10000, (t / 100) % 100, t % 100);
    Ok(s)
}

pub fn timestamp_old(c: &mut Reader<'_>) -> Result<proto::Timestamp, DecodeError> {
    let secs = c.u32("TIMESTAMP value")?;
    Ok(proto::Timestamp {
        seconds: i64::from(secs),
        micros: 0,
        fsp: 0,
    })
}

/// The fraction bytes of TIMESTAMP2 (unsigned) in microseconds.
#[inline]
fn unsigned_frac(c: &mut Reader<'_>, fsp: u8, what: &'static str) -> Result<u32, DecodeError> {
    let n = frac_len(fsp);
    let v = c.uint_be(n, what)? as u32;
    Ok(match n {
        1 => v * 10_000,
        2 => v * 100,
        _ => v,
    })
}

pub fn timestamp2(c: &mut Reader<'_>, fsp: u8) -> Result<proto::Timestamp, DecodeError> {
    let secs = c.uint_be(4, "TIMESTAMP2 value")?;
    let micros = unsigned_frac(c, fsp, "TIMESTAMP2 fraction")?;
    Ok(proto::Timestamp {
        seconds: secs as i64,
        micros,
        fsp: u32::from(fsp),
    })
}

pub fn datetime2(c: &mut Reader<'_>, fsp: u8) -> Result<String, DecodeError> {
    let b = c.take(5 + frac_len(fsp), "DATETIME2 value")?;
    let int = be_uint(&b[..5]) as i64 - 0x80_0000_0000;
    // The fraction of a (never negative in practice) datetime is signed.
    let frac: i64 = match frac_len(fsp) {
        0 => 0,
        1 => i64::from(b[5] as i8) * 10_000,
        2 => i64::from(i16::from_be_bytes([b[5], b[6]])) * 100,
        _ => {
            let v = be_uint(&b[5..8]) as i64;
            if v & 0x80_0000 != 0 {
                v - 0x100_0000
            } else {
                v
            }
        }
    };
    let mut s = String::with_capacity(26);
    let (int, frac) = if int < 0 {
        s.push('-');
        ((-int) as u64, frac.unsigned_abs())
    } else {
        (int as u64, frac.unsigned_abs())
    };
    let ymd = int >> 17;
    let ym = ymd >> 5;
    let hms = int & 0x1_FFFF;
    push_date(&mut s, ym / 13, ym % 13, ymd & 31);
    s.push(' ');
    push_hms(&mut s, hms >> 12, (hms >> 6) & 63, hms & 63);
    push_frac(&mut s, frac as u32, fsp);
    Ok(s)
}

pub fn time2(c: &mut Reader<'_>, fsp: u8) -> Result<String, DecodeError> {
    let b = c.take(3 + frac_len(fsp), "TIME2 value")?;
    let mut int = be_uint(&b[..3]) as i64 - 0x80_0000;
    // Packed value: (integer part << 24) + microseconds, signed.
    let packed: i64 = match frac_len(fsp) {
        0 => int << 24,
        1 => {
            let mut f = i64::from(b[3]);
            if int < 0 && f != 0 {
                int += 1;
                f -= 0x100;
            }
            (int << 24) + f * 10_000
        }
        2 => {
            let mut f = i64::from(u16::from_be_bytes([b[3], b[4]]));
            if int < 0 && f != 0 {
                int += 1;
                f -= 0x1_0000;
            }
            (int << 24) + f * 100
        }
        _ => be_uint(b) as i64 - 0x8000_0000_0000,
    };
    let mut s = String::with_capacity(18);
    if packed < 0 {
        s.push('-');
    }
    let p = packed.unsigned_abs();
    let hms = p >> 24;
    let micros = (p & 0xFF_FFFF) as u32;
    push_hms(&mut s, (hms >> 12) & 0x3FF, (hms >> 6) & 63, hms & 63);
    push_frac(&mut s, micros, fsp);
    Ok(s)
}

/// MySQL's "packed" temporal value (JSON opaque DATE/TIME/DATETIME):
/// `(integer part << 24) | microseconds`, signed.
pub fn packed_datetime_text(packed: i64, with_time: bool) -> String {
    let mut s = String::with_capacity(26);
    if packed < 0 {
        s.push('-');
    }
    let p = packed.unsigned_abs();
    let int = p >> 24;
    let micros = (p & 0xFF_FFFF) as u32;
    let ymd = int >> 17;
    let ym = ymd >> 5;
    let hms = int & 0x1_FFFF;
    push_date(&mut s, ym / 13, ym % 13, ymd & 31);
    if with_time {
        s.push(' ');
        push_hms(&mut s, hms >> 12, (hms >> 6) & 63, hms & 63);
        push_frac(&mut s, micros, 6);
    }
    s
}

pub fn packed_time_text(packed: i64) -> String {
    let mut s = String::with_capacity(18);
    if packed < 0 {
        s.push('-');
    }
    let p = packed.unsigned_abs();
    let hms = p >> 24;
    push_hms(&mut s, (hms >> 12) & 0x3FF, (hms >> 6) & 63, hms & 63);
    push_frac(&mut s, (p & 0xFF_FFFF) as u32, 6);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt2(y: u64, mo: u64, d: u64, h: u64, mi: u64, s: u64) -> [u8; 5] {
        let ym = y * 13 + mo;
        let v = (1u64 << 39) | (ym << 22) | (d << 17) | (h << 12) | (mi << 6) | s;
        let b = v.to_be_bytes();
        [b[3], b[4], b[5], b[6], b[7]]
    }

    #[test]
    fn date_layout() {
        let v: u32 = (2024 << 9) | (2 << 5) | 29;
        let b = v.to_le_bytes();
        assert_eq!(date(&mut Reader::new(&b[..3])).unwrap(), "2024-02-29");
        assert_eq!(date(&mut Reader::new(&[0, 0, 0])).unwrap(), "0000-00-00");
    }

    #[test]
    fn datetime2_with_fractions() {
        let mut b = dt2(9999, 12, 31, 23, 59, 59).to_vec();
        b.extend([0x0F, 0x42, 0x3F]); // 999999
        assert_eq!(
            datetime2(&mut Reader::new(&b), 6).unwrap(),
            "9999-12-31 23:59:59.999999"
        );
        let mut b = dt2(1000, 1, 1, 0, 0, 0).to_vec();
        b.push(5); // fsp 1: 5 hundredths = .0 ... .05 -> tenths digit 0
        assert_eq!(
            datetime2(&mut Reader::new(&b), 1).unwrap(),
            "1000-01-01 00:00:00.0"
        );
        b.pop();
        b.push(50);
        assert_eq!(
            datetime2(&mut Reader::new(&b), 2).unwrap(),
            "1000-01-01 00:00:00.50"
        );
        let z = dt2(0, 0, 0, 0, 0, 0);
        assert_eq!(
            datetime2(&mut Reader::new(&z), 0).unwrap(),
            "0000-00-00 00:00:00"
        );
        let mut b = dt2(2020, 1, 2, 3, 4, 5).to_vec();
        b.extend(1234u16.to_be_bytes());
        assert_eq!(
            datetime2(&mut Reader::new(&b), 4).unwrap(),
            "2020-01-02 03:04:05.1234"
        );
    }

    fn time2_bytes(neg: bool, h: i64, m: i64, s: i64, micros: i64, fsp: u8) -> Vec<u8> {
        // Build the packed value the way the server does, then store it.
        let int = (h << 12) | (m << 6) | s;
        let mut packed = (int << 24) + micros;
        if neg {
            packed = -packed;
        }
        // Integer part rounded down, fraction truncated toward zero
        // (C's `>>` and `%`), as the server stores it.
        let ip = packed >> 24;
        let f = packed % (1 << 24);
        let mut v = ((ip + 0x80_0000) as u64).to_be_bytes()[5..].to_vec();
        match frac_len(fsp) {
            0 => v,
            1 => {
                v.push((f / 10_000) as u8);
                v
            }
            2 => {
                v.extend(((f / 100) as u16).to_be_bytes());
                v
            }
            _ => ((packed + 0x8000_0000_0000) as u64).to_be_bytes()[2..].to_vec(),
        }
    }

    #[test]
    fn time2_negative_and_fractional() {
        let b = time2_bytes(false, 838, 59, 59, 0, 0);
        assert_eq!(time2(&mut Reader::new(&b), 0).unwrap(), "838:59:59");
        let b = time2_bytes(true, 838, 59, 59, 0, 0);
        assert_eq!(time2(&mut Reader::new(&b), 0).unwrap(), "-838:59:59");
        let b = time2_bytes(true, 1, 2, 3, 500_000, 6);
        assert_eq!(time2(&mut Reader::new(&b), 6).unwrap(), "-01:02:03.500000");
        let b = time2_bytes(true, 0, 0, 1, 100_000, 1);
        assert_eq!(time2(&mut Reader::new(&b), 1).unwrap(), "-00:00:01.1");
        let b = time2_bytes(false, 12, 0, 0, 990_000, 2);
        assert_eq!(time2(&mut Reader::new(&b), 2).unwrap(), "12:00:00.99");
    }

    #[test]
    fn old_forms() {
        let v: i32 = -123456;
        let b = v.to_le_bytes();
        assert_eq!(time_old(&mut Reader::new(&b[..3])).unwrap(), "-12:34:56");
        let b = 20240229235958u64.to_le_bytes();
        assert_eq!(
            datetime_old(&mut Reader::new(&b)).unwrap(),
            "2024-02-29 23:59:58"
        );
        let b = [0x5F, 0x5E, 0x10, 0x00, 0x0F, 0x42, 0x3F];
        let t = timestamp2(&mut Reader::new(&b), 6).unwrap();
        assert_eq!((t.seconds, t.micros, t.fsp), (0x5F5E1000, 999_999, 6));
    }
}
