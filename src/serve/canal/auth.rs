//! Canal's password check.
//!
//! Canal stores `SHA1(SHA1(password))` as hex (`canal.passwd`). The server
//! sends random seeds in the Handshake; the client answers with the hex text
//! of `scramble = SHA1(seeds + SHA1(SHA1(password))) XOR SHA1(password)`.
//! The server recovers `SHA1(password)` as `scramble XOR SHA1(seeds +
//! stored)` and checks that its SHA1 is the stored value, so the password
//! never crosses the wire. This is MySQL's `mysql_native_password` scheme.
//!
//! Some clients (the Python one, for instance) send whatever bytes the user
//! gives them; a password that is not 40 hex digits is taken as the plain
//! password and checked against the stored hash.

use sha1::{Digest, Sha1};

/// Configured credentials: with none, any client is accepted.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Empty accepts any user name.
    pub user: String,
    /// `SHA1(SHA1(password))`; `None` accepts any password.
    pub passwd_hash: Option<[u8; 20]>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("passwd_hash", &self.passwd_hash.map(|_| "<set>"))
            .finish()
    }
}

impl Credentials {
    /// From a plain password.
    pub fn from_plain(user: &str, password: &str) -> Self {
        Credentials {
            user: user.to_string(),
            passwd_hash: Some(double_sha1(password.as_bytes())),
        }
    }

    /// From Canal's `canal.passwd` form: 40 hex digits of
    /// `SHA1(SHA1(password))`.
    pub fn from_canal_hex(user: &str, hex: &str) -> Result<Self, String> {
        let bytes = decode_hex(hex)
            .filter(|b| b.len() == 20)
            .ok_or_else(|| format!("canal password hash must be 40 hex digits, got {hex:?}"))?;
        let mut hash = [0u8; 20];
        hash.copy_from_slice(&bytes);
        Ok(Credentials {
            user: user.to_string(),
            passwd_hash: Some(hash),
        })
    }

    /// Canal's rule: the user must match (when one is configured); with a
    /// password configured, the client must prove it knows it.
    pub fn check(&self, user: &str, password: &[u8], seed: &[u8]) -> bool {
        if !self.user.is_empty() && self.user != user {
            return false;
        }
        let Some(stored) = self.passwd_hash else {
            return true;
        };
        if password.is_empty() {
            return false;
        }
        let token = std::str::from_utf8(password).ok().and_then(decode_hex);
        match token {
            Some(token) if token.len() == 20 => {
                let mut h = Sha1::new();
                h.update(seed);
                h.update(stored);
                let mask = h.finalize();
                let stage1: Vec<u8> = token.iter().zip(mask.iter()).map(|(a, b)| a ^ b).collect();
                constant_eq(&Sha1::digest(&stage1), &stored)
            }
            _ => constant_eq(&double_sha1(password), &stored),
        }
    }
}

/// What a Canal client sends for `password` given `seed`: the hex text of
/// `scramble411(password, seed)`.
pub fn scramble_hex(password: &str, seed: &[u8]) -> String {
    let stage1 = Sha1::digest(password.as_bytes());
    let stage2 = Sha1::digest(stage1);
    let mut h = Sha1::new();
    h.update(seed);
    h.update(stage2);
    let mask = h.finalize();
    stage1
        .iter()
        .zip(mask.iter())
        .map(|(a, b)| format!("{:02x}", a ^ b))
        .collect()
}

fn double_sha1(data: &[u8]) -> [u8; 20] {
    Sha1::digest(Sha1::digest(data)).into()
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| {
            text.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canal_default_password_hash() {
        // canal.passwd for the password "canal", as Canal's docs give it.
        let c = Credentials::from_canal_hex("canal", "E3619321C1A937C46A0D8BD1DAC39F93B27D4458")
            .unwrap();
        assert_eq!(c, Credentials::from_plain("canal", "canal"));
    }

    #[test]
    fn scrambled_password_is_accepted_and_wrong_ones_are_not() {
        let c = Credentials::from_plain("canal", "secret");
        let seed = b"12345678";
        let token = scramble_hex("secret", seed);
        assert!(c.check("canal", token.as_bytes(), seed));
        assert!(
            !c.check("canal", token.as_bytes(), b"87654321"),
            "seed matters"
        );
        assert!(!c.check("canal", scramble_hex("wrong", seed).as_bytes(), seed));
        assert!(!c.check("other", token.as_bytes(), seed), "user matters");
        assert!(!c.check("canal", b"", seed), "empty password refused");
        assert!(c.check("canal", b"secret", seed), "plain password accepted");
        assert!(!c.check("canal", b"Secret", seed));
    }

    #[test]
    fn no_password_configured_accepts_any() {
        let c = Credentials {
            user: String::new(),
            passwd_hash: None,
        };
        assert!(c.check("anyone", b"whatever", b"s"));
        assert!(Credentials::from_canal_hex("u", "zz").is_err());
    }
}
