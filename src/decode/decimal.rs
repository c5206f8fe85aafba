//! MySQL's binary DECIMAL (NEWDECIMAL) format to its exact decimal text.
//!
//! Layout for DECIMAL(p, s): the integer part has `p - s` digits, the
//! fraction `s` digits. Each side is cut into groups of 9 digits stored as
//! 4-byte big-endian integers; the leftover digits of a side take
//! `DIG2BYTES[leftover]` bytes, at the far left of the integer part and
//! the far right of the fraction:
//!
//! ```text
//! [int leftover][int 9-digit groups...][frac 9-digit groups...][frac leftover]
//! ```
//!
//! The first bit of the first byte is the sign, inverted (1 = positive);
//! a negative number has every byte inverted. DECIMAL(65,30) is at most
//! 30 bytes.

use super::DecodeError;

const DIG2BYTES: [usize; 10] = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4];

/// Bytes a DECIMAL(precision, scale) value takes.
pub fn binary_size(precision: u8, scale: u8) -> Result<usize, DecodeError> {
    if precision == 0 || precision > 65 || scale > 30 || scale > precision {
        return Err(DecodeError::Invalid {
            what: "DECIMAL metadata",
            detail: format!("precision {precision}, scale {scale}"),
        });
    }
    let intg = usize::from(precision - scale);
    let frac = usize::from(scale);
    Ok(intg / 9 * 4 + DIG2BYTES[intg % 9] + frac / 9 * 4 + DIG2BYTES[frac % 9])
}

/// Render the `binary_size` bytes of a DECIMAL(precision, scale) into `out`.
pub fn decode_into(
    bytes: &[u8],
    precision: u8,
    scale: u8,
    out: &mut String,
) -> Result<(), DecodeError> {
    let size = binary_size(precision, scale)?;
    if bytes.len() != size {
        return Err(DecodeError::Truncated {
            what: "DECIMAL value",
            need: size,
            have: bytes.len(),
        });
    }
    let mut buf = [0u8; 32];
    buf[..size].copy_from_slice(bytes);
    let negative = buf[0] & 0x80 == 0;
    buf[0] ^= 0x80;
    if negative {
        for b in &mut buf[..size] {
            *b = !*b;
        }
        out.push('-');
    }
    let intg = usize::from(precision - scale);
    let frac = usize::from(scale);
    let mut pos = 0usize;
    let mut group = |len: usize| -> u64 {
        let mut v = 0u64;
        for &b in &buf[pos..pos + len] {
            v = (v << 8) | u64::from(b);
        }
        pos += len;
        v
    };
    // Integer part, leading zeros dropped.
    let mut started = false;
    let lead = DIG2BYTES[intg % 9];
    if lead > 0 {
        let v = group(lead);
        if v != 0 {
            push_digits(out, v, 0);
            started = true;
        }
    }
    for _ in 0..intg / 9 {
        let v = group(4);
        if started {
            push_digits(out, v, 9);
        } else if v != 0 {
            push_digits(out, v, 0);
            started = true;
        }
    }
    if !started {
        out.push('0');
    }
    if frac > 0 {
        out.push('.');
        for _ in 0..frac / 9 {
            let v = group(4);
            push_digits(out, v, 9);
        }
        let tail = frac % 9;
        if tail > 0 {
            let v = group(DIG2BYTES[tail]);
            push_digits(out, v, tail);
        }
    }
    Ok(())
}

/// Decimal digits of `v`, zero-padded on the left to `width`.
pub fn push_digits(out: &mut String, mut v: u64, width: usize) {
    let mut tmp = [b'0'; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    let digits = tmp.len() - i;
    for _ in digits..width {
        out.push('0');
    }
    // SAFETY-free: ASCII digits only.
    for &d in &tmp[i..] {
        out.push(char::from(d));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(bytes: &[u8], p: u8, s: u8) -> String {
        let mut out = String::new();
        decode_into(bytes, p, s, &mut out).unwrap();
        out
    }

    #[test]
    fn documented_example() {
        // 1234567890.1234 as DECIMAL(14,4): int 10 digits = 1 leftover
        // (1 byte) + one group; frac 4 digits (2 bytes).
        let b = [0x81, 0x0D, 0xFB, 0x38, 0xD2, 0x04, 0xD2];
        assert_eq!(binary_size(14, 4).unwrap(), 7);
        assert_eq!(dec(&b, 14, 4), "1234567890.1234");
        let neg: Vec<u8> = b.iter().map(|x| !x).collect();
        assert_eq!(dec(&neg, 14, 4), "-1234567890.1234");
    }

    #[test]
    fn small_and_zero() {
        // DECIMAL(5,2) 12.30: int 3 digits (2 bytes) frac 2 digits (1 byte).
        assert_eq!(dec(&[0x80, 0x0C, 30], 5, 2), "12.30");
        assert_eq!(dec(&[0x80, 0x00, 0], 5, 2), "0.00");
        assert_eq!(dec(&[0x7F, 0xFF, 0xFE], 5, 2), "-0.01");
        assert_eq!(dec(&[0x80, 0x07], 4, 0), "7");
    }

    #[test]
    fn widest() {
        // DECIMAL(65,30): 35 integer digits, all nines; 30 fraction digits.
        let size = binary_size(65, 30).unwrap();
        assert_eq!(size, 30);
        let mut b = Vec::new();
        b.extend(99_999_999u32.to_be_bytes()); // 8-digit leftover: 4 bytes
        for _ in 0..3 {
            b.extend(999_999_999u32.to_be_bytes());
        }
        for _ in 0..3 {
            b.extend(999_999_999u32.to_be_bytes());
        }
        b.extend(999u16.to_be_bytes()); // 3-digit leftover: 2 bytes
        b[0] ^= 0x80;
        assert_eq!(b.len(), size);
        let s = dec(&b, 65, 30);
        assert_eq!(s, format!("{}.{}", "9".repeat(35), "9".repeat(30)));
    }

    #[test]
    fn bad_metadata_and_length() {
        assert!(binary_size(66, 0).is_err());
        assert!(binary_size(5, 6).is_err());
        let mut out = String::new();
        assert!(decode_into(&[0x80], 5, 2, &mut out).is_err());
    }
}
