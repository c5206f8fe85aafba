//! The authentication exchange after the Handshake Response: auth switch
//! requests, caching_sha2_password's extra round trips, and the final OK or
//! ERR. The proofs themselves are in [`super::scramble`].
//!
//! Server packets in this phase:
//! ```text
//! 0x00 …                          OK: authenticated
//! 0xFF …                          ERR: refused
//! 0xFE plugin string<NUL> data    Auth Switch Request: answer with the
//!                                 named plugin's proof over `data`
//! 0x01 data                       Auth More Data (caching_sha2_password):
//!      0x03                       fast authentication succeeded (OK follows)
//!      0x04                       full authentication needed
//!      PEM text                   the server's RSA public key (after our 0x02)
//! ```
//! Full authentication sends the clear password plus NUL over TLS, and
//! otherwise asks for the RSA key (0x02) and sends the encrypted password.

use super::error::{Result, SourceError};
use super::packet::PacketIo;
use super::response::{ErrPacket, ERR, OK};
use super::scramble;
use crate::wire::Reader;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

pub const NATIVE: &str = "mysql_native_password";
pub const CACHING_SHA2: &str = "caching_sha2_password";
pub const SHA256: &str = "sha256_password";
pub const ED25519: &str = "client_ed25519";

/// Error codes that mean "these credentials are refused" rather than
/// "the server cannot take you now".
const AUTH_FAILURE_CODES: &[u16] = &[1044, 1045, 1251, 1524, 1698, 1862];

/// The first proof, for the plugin the server announced. An unknown
/// plugin gets a native proof: the server then asks for a switch.
pub fn initial_response(plugin: &str, password: &[u8], nonce: &[u8]) -> (String, Vec<u8>) {
    match plugin {
        CACHING_SHA2 => (CACHING_SHA2.into(), scramble::caching_sha2(password, nonce)),
        _ => (NATIVE.into(), scramble::native_password(password, nonce)),
    }
}

pub struct AuthContext<'a> {
    pub user: &'a str,
    pub password: &'a [u8],
    pub tls: bool,
    pub timeout: Duration,
}

/// Run the exchange until the server accepts or refuses.
pub async fn finish<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut PacketIo<S>,
    ctx: &AuthContext<'_>,
    mut plugin: String,
    mut nonce: Vec<u8>,
) -> Result<()> {
    let addr = io.addr().to_string();
    let refused = |detail: String| SourceError::Auth {
        addr: addr.clone(),
        user: ctx.user.to_string(),
        detail,
    };
    // Guards against a server that loops on switch requests.
    for _round in 0..8 {
        let p = io.read_packet(Some(ctx.timeout), "authenticating").await?;
        match p.first().copied() {
            Some(OK) => return Ok(()),
            Some(ERR) => {
                let e = ErrPacket::parse(&p).map_err(|e| e.at(&addr))?;
                if AUTH_FAILURE_CODES.contains(&e.code) {
                    return Err(refused(format!(
                        "error {} ({}): {}",
                        e.code, e.state, e.message
                    )));
                }
                return Err(SourceError::Server {
                    addr: addr.clone(),
                    context: "authentication".into(),
                    code: e.code,
                    state: e.state,
                    message: e.message,
                });
            }
            Some(0xFE) => {
                let mut r = Reader::in_packet(&p, "auth switch request");
                r.u8("header").map_err(|e| e.at(&addr))?;
                if r.is_empty() {
                    return Err(refused(
                        "the server asks for the pre-4.1 password scheme, which is not supported"
                            .into(),
                    ));
                }
                plugin =
                    String::from_utf8_lossy(r.nul_bytes("plugin name").map_err(|e| e.at(&addr))?)
                        .into_owned();
                let data = r.rest();
                nonce = switch_nonce(&plugin, data).ok_or_else(|| {
                    SourceError::malformed(
                        &addr,
                        format!(
                            "auth switch to {plugin} with a nonce of {} bytes",
                            data.len()
                        ),
                    )
                })?;
                let proof = match plugin.as_str() {
                    NATIVE => scramble::native_password(ctx.password, &nonce),
                    CACHING_SHA2 => scramble::caching_sha2(ctx.password, &nonce),
                    ED25519 => scramble::ed25519_sign(ctx.password, &nonce).to_vec(),
                    SHA256 if ctx.tls => clear_password(ctx.password),
                    SHA256 => vec![1], // ask for the public key
                    other => {
                        return Err(SourceError::Unsupported {
                            addr: addr.clone(),
                            detail: format!(
                                "user '{}' needs the authentication plugin {other}, which sluice does not support \
                                 (supported: {NATIVE}, {CACHING_SHA2}, {ED25519})",
                                ctx.user
                            ),
                        })
                    }
                };
                io.write_packet(&proof).await?;
            }
            Some(0x01) => {
                let data = &p[1..];
                match (plugin.as_str(), data) {
                    (CACHING_SHA2, [0x03]) => {} // fast path ok: OK follows
                    (CACHING_SHA2, [0x04]) => {
                        if ctx.tls {
                            io.write_packet(&clear_password(ctx.password)).await?;
                        } else {
                            io.write_packet(&[0x02]).await?;
                        }
                    }
                    (CACHING_SHA2 | SHA256, pem) if pem.starts_with(b"-----BEGIN") => {
                        let sealed = scramble::rsa_encrypt_password(pem, ctx.password, &nonce)
                            .map_err(&refused)?;
                        io.write_packet(&sealed).await?;
                    }
                    _ => {
                        return Err(SourceError::malformed(
                            &addr,
                            format!(
                                "unexpected auth-more-data packet for plugin {plugin} ({} bytes)",
                                data.len()
                            ),
                        ))
                    }
                }
            }
            _ => {
                return Err(SourceError::malformed(
                    &addr,
                    format!(
                        "unexpected packet during authentication (first byte {:?}, {} bytes)",
                        p.first(),
                        p.len()
                    ),
                ))
            }
        }
    }
    Err(refused(
        "the server kept asking for more authentication rounds".into(),
    ))
}

/// The nonce of an auth switch request. The hash plugins send 20 bytes
/// plus a NUL filler; client_ed25519 sends exactly 32 random bytes, which
/// may themselves end in 0x00, so nothing is stripped from those.
fn switch_nonce(plugin: &str, data: &[u8]) -> Option<Vec<u8>> {
    match plugin {
        ED25519 => data.get(..32).map(<[u8]>::to_vec),
        _ => Some(match data {
            [head @ .., 0] => head.to_vec(),
            _ => data.to_vec(),
        }),
    }
}

fn clear_password(password: &[u8]) -> Vec<u8> {
    let mut v = password.to_vec();
    v.push(0);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switch_nonces() {
        let mut n = [7u8; 32];
        n[31] = 0;
        assert_eq!(switch_nonce(ED25519, &n).unwrap(), n.to_vec());
        assert!(switch_nonce(ED25519, &n[..31]).is_none());
        let mut native = b"abcdefghij0123456789".to_vec();
        native.push(0);
        assert_eq!(
            switch_nonce(NATIVE, &native).unwrap(),
            native[..20].to_vec()
        );
        assert_eq!(
            switch_nonce(CACHING_SHA2, &native[..20]).unwrap(),
            native[..20].to_vec()
        );
    }
}
