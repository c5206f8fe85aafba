//! The connection phase's packets: the server's Initial Handshake (protocol
//! version 10), the client's SSL Request and Handshake Response 41, and the
//! flavour/version detection from the server version string.
//!
//! Initial Handshake v10 (server → client, seq 0):
//! ```text
//! int<1>     protocol version = 10
//! string<NUL> server version   ("8.0.36", "5.5.5-10.11.19-MariaDB-…")
//! int<4>     connection id
//! bytes<8>   auth-plugin-data part 1
//! int<1>     filler 0x00
//! int<2>     capability flags, low 16 bits
//! -- the rest is present when the packet goes on --
//! int<1>     character set
//! int<2>     status flags
//! int<2>     capability flags, high 16 bits
//! int<1>     length of auth-plugin-data (0 without CLIENT_PLUGIN_AUTH)
//! bytes<6>   reserved
//! bytes<4>   MariaDB extended capabilities (when CLIENT_LONG_PASSWORD / the
//!            "CLIENT_MYSQL" bit is clear), else reserved
//! bytes<n>   auth-plugin-data part 2, n = max(13, length − 8), with
//!            CLIENT_SECURE_CONNECTION; its last byte is a NUL filler
//! string<NUL> auth plugin name, with CLIENT_PLUGIN_AUTH
//! ```
//!
//! Handshake Response 41 (client → server):
//! ```text
//! int<4> client capabilities | int<4> max packet size | int<1> charset
//! bytes<23> zero filler                        ← SSL Request ends here (32 bytes)
//! string<NUL> user
//! string<lenenc> auth response   (CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA)
//! string<NUL> auth plugin name   (CLIENT_PLUGIN_AUTH)
//! ```

use crate::wire::{put_lenenc_bytes, Reader, WireResult};

pub mod caps {
    pub const LONG_PASSWORD: u32 = 0x1;
    pub const LONG_FLAG: u32 = 0x4;
    pub const CONNECT_WITH_DB: u32 = 0x8;
    pub const PROTOCOL_41: u32 = 0x200;
    pub const SSL: u32 = 0x800;
    pub const TRANSACTIONS: u32 = 0x2000;
    pub const SECURE_CONNECTION: u32 = 0x8000;
    /// `;`-separated statements in one COM_QUERY (the mirror's batches).
    pub const MULTI_STATEMENTS: u32 = 0x1_0000;
    pub const MULTI_RESULTS: u32 = 0x2_0000;
    pub const PLUGIN_AUTH: u32 = 0x8_0000;
    pub const PLUGIN_AUTH_LENENC_CLIENT_DATA: u32 = 0x20_0000;
    pub const DEPRECATE_EOF: u32 = 0x100_0000;
}

/// utf8mb4_general_ci: known to MySQL 5.5+ and every MariaDB.
pub const CHARSET_UTF8MB4: u8 = 45;

/// Which server family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavour {
    MySql,
    MariaDb,
}

/// What the server said about itself in its handshake.
#[derive(Clone, Debug)]
pub struct InitialHandshake {
    pub server_version: String,
    pub connection_id: u32,
    pub capabilities: u32,
    pub charset: u8,
    pub status: u16,
    /// The nonce ("scramble"), without the trailing NUL filler.
    pub nonce: Vec<u8>,
    pub auth_plugin: String,
}

impl InitialHandshake {
    pub fn parse(payload: &[u8]) -> WireResult<InitialHandshake> {
        let mut r = Reader::in_packet(payload, "initial handshake");
        let protocol = r.u8("protocol version")?;
        if protocol != 10 {
            return Err(Reader::in_packet(payload, "initial handshake").invalid(
                "protocol version",
                format!("protocol version {protocol}, only 10 is supported"),
            ));
        }
        let server_version = String::from_utf8_lossy(r.nul_bytes("server version")?).into_owned();
        let connection_id = r.u32("connection id")?;
        let mut nonce = r.take(8, "auth-plugin-data part 1")?.to_vec();
        r.skip(1, "filler")?;
        let mut capabilities = u32::from(r.u16("capability flags")?);
        let mut hs = InitialHandshake {
            server_version,
            connection_id,
            capabilities,
            charset: 0,
            status: 0,
            nonce: Vec::new(),
            auth_plugin: String::new(),
        };
        if r.is_empty() {
            hs.nonce = nonce;
            return Ok(hs);
        }
        hs.charset = r.u8("character set")?;
        hs.status = r.u16("status flags")?;
        capabilities |= u32::from(r.u16("capability flags (upper)")?) << 16;
        hs.capabilities = capabilities;
        let data_len = r.u8("auth-plugin-data length")?;
        r.skip(10, "reserved")?;
        if capabilities & caps::SECURE_CONNECTION != 0 {
            let n = (usize::from(data_len).saturating_sub(8)).max(13);
            let part2 = r.take(n.min(r.remaining()), "auth-plugin-data part 2")?;
            // The announced length counts a final NUL filler; without a
            // length (0), part 2 is 12 bytes plus the NUL.
            let want = match usize::from(data_len) {
                len if len > 8 => len - 9,
                _ => 12,
            };
            let part2 = match part2.get(..want) {
                Some(p) => p,
                None => part2.strip_suffix(&[0]).unwrap_or(part2),
            };
            nonce.extend_from_slice(part2);
        }
        hs.nonce = nonce;
        if capabilities & caps::PLUGIN_AUTH != 0 {
            hs.auth_plugin = String::from_utf8_lossy(r.nul_or_eof_bytes()).into_owned();
        }
        Ok(hs)
    }

    /// MariaDB names itself in the version string; it also clears the
    /// CLIENT_LONG_PASSWORD ("CLIENT_MYSQL") capability, which every MySQL
    /// server sets.
    pub fn flavour(&self) -> Flavour {
        match parse_version(&self.server_version).0 {
            Flavour::MySql if self.capabilities & caps::LONG_PASSWORD == 0 && self.charset != 0 => {
                Flavour::MariaDb
            }
            f => f,
        }
    }

    pub fn version(&self) -> (u16, u16, u16) {
        parse_version(&self.server_version).1
    }
}

/// Flavour and version from a version string: MariaDB names itself
/// ("10.11.19-MariaDB-…", sent as "5.5.5-10.11.19-MariaDB-…" for old
/// replication clients); everything else is MySQL.
pub fn parse_version(s: &str) -> (Flavour, (u16, u16, u16)) {
    let flavour = if s.contains("MariaDB") || s.contains("mariadb") {
        Flavour::MariaDb
    } else {
        Flavour::MySql
    };
    let s = match flavour {
        Flavour::MariaDb => s.strip_prefix("5.5.5-").unwrap_or(s),
        Flavour::MySql => s,
    };
    let mut parts = s
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u16>().ok());
    let mut next = || parts.next().flatten().unwrap_or(0);
    (flavour, (next(), next(), next()))
}

/// The capabilities this client asks for, limited to what the server has.
pub fn client_capabilities(server: u32, tls: bool) -> u32 {
    let wanted = caps::LONG_PASSWORD
        | caps::LONG_FLAG
        | caps::PROTOCOL_41
        | caps::TRANSACTIONS
        | caps::SECURE_CONNECTION
        | caps::MULTI_STATEMENTS
        | caps::MULTI_RESULTS
        | caps::PLUGIN_AUTH
        | caps::PLUGIN_AUTH_LENENC_CLIENT_DATA
        | if tls { caps::SSL } else { 0 };
    wanted & server
}

/// The 32-byte prefix shared by the SSL Request and the Handshake Response.
fn put_prefix(out: &mut Vec<u8>, capabilities: u32, max_packet: u32) {
    out.extend_from_slice(&capabilities.to_le_bytes());
    out.extend_from_slice(&max_packet.to_le_bytes());
    out.push(CHARSET_UTF8MB4);
    out.extend_from_slice(&[0u8; 23]);
}

pub fn ssl_request(capabilities: u32, max_packet: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(32);
    put_prefix(&mut out, capabilities, max_packet);
    out
}

pub fn handshake_response(
    capabilities: u32,
    max_packet: u32,
    user: &str,
    auth_response: &[u8],
    plugin: &str,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + user.len() + auth_response.len());
    put_prefix(&mut out, capabilities, max_packet);
    out.extend_from_slice(user.as_bytes());
    out.push(0);
    if capabilities & caps::PLUGIN_AUTH_LENENC_CLIENT_DATA != 0 {
        put_lenenc_bytes(&mut out, auth_response);
    } else {
        // CLIENT_SECURE_CONNECTION: one length byte (proofs are ≤ 255).
        let n = auth_response.len().min(255);
        out.push(n as u8);
        out.extend_from_slice(&auth_response[..n]);
    }
    if capabilities & caps::PLUGIN_AUTH != 0 {
        out.extend_from_slice(plugin.as_bytes());
        out.push(0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A MariaDB 10.11 handshake, built field by field.
    fn mariadb_handshake() -> Vec<u8> {
        let mut p = vec![10];
        p.extend_from_slice(b"5.5.5-10.11.19-MariaDB-0+deb12u1\0");
        p.extend_from_slice(&42u32.to_le_bytes());
        p.extend_from_slice(b"12345678");
        p.push(0);
        let caps: u32 = 0xF7FE | (0x81BF << 16);
        p.extend_from_slice(&(caps as u16).to_le_bytes());
        p.push(45);
        p.extend_from_slice(&2u16.to_le_bytes());
        p.extend_from_slice(&((caps >> 16) as u16).to_le_bytes());
        p.push(21);
        p.extend_from_slice(&[0; 6]);
        p.extend_from_slice(&[0x1D, 0, 0, 0]);
        p.extend_from_slice(b"abcdefghijkl\0");
        p.extend_from_slice(b"mysql_native_password\0");
        p
    }

    #[test]
    fn parses_a_mariadb_handshake() {
        let hs = InitialHandshake::parse(&mariadb_handshake()).unwrap();
        assert_eq!(hs.connection_id, 42);
        assert_eq!(hs.nonce, b"12345678abcdefghijkl");
        assert_eq!(hs.auth_plugin, "mysql_native_password");
        assert_eq!(hs.flavour(), Flavour::MariaDb);
        assert_eq!(hs.version(), (10, 11, 19));
        assert!(hs.capabilities & caps::PLUGIN_AUTH != 0);
        // Without the name, the cleared CLIENT_MYSQL bit still tells.
        let renamed = mariadb_handshake()
            .windows(7)
            .position(|w| w == b"MariaDB")
            .unwrap();
        let mut p = mariadb_handshake();
        p[renamed..renamed + 7].copy_from_slice(b"Custom_");
        let hs = InitialHandshake::parse(&p).unwrap();
        assert_eq!(hs.flavour(), Flavour::MariaDb);
    }

    #[test]
    fn version_strings() {
        assert_eq!(parse_version("8.0.36"), (Flavour::MySql, (8, 0, 36)));
        assert_eq!(
            parse_version("8.4.0-commercial"),
            (Flavour::MySql, (8, 4, 0))
        );
        assert_eq!(
            parse_version("11.4.2-MariaDB-log"),
            (Flavour::MariaDb, (11, 4, 2))
        );
        assert_eq!(parse_version("garbage"), (Flavour::MySql, (0, 0, 0)));
    }

    #[test]
    fn truncated_handshakes_fail_with_the_field_name() {
        let full = mariadb_handshake();
        let e = InitialHandshake::parse(&full[..40]).unwrap_err();
        assert_eq!(e.field, "auth-plugin-data part 1");
        let e = InitialHandshake::parse(&[9]).unwrap_err();
        assert!(e.to_string().contains("protocol version 9"));
    }

    #[test]
    fn response_layout() {
        let c = caps::PROTOCOL_41 | caps::PLUGIN_AUTH | caps::PLUGIN_AUTH_LENENC_CLIENT_DATA;
        let r = handshake_response(c, 1 << 24, "bob", &[1, 2, 3], "mysql_native_password");
        assert_eq!(&r[..4], &c.to_le_bytes());
        assert_eq!(r[8], CHARSET_UTF8MB4);
        assert_eq!(&r[32..36], b"bob\0");
        assert_eq!(&r[36..40], &[3, 1, 2, 3]);
        assert_eq!(&r[40..], b"mysql_native_password\0");
        assert_eq!(ssl_request(c, 1 << 24), r[..32].to_vec());
    }

    proptest! {
        #[test]
        fn arbitrary_handshakes_never_panic(mut bytes in proptest::collection::vec(any::<u8>(), 0..120), cut in 0usize..120) {
            let _ = InitialHandshake::parse(&bytes);
            let mut real = mariadb_handshake();
            real.truncate(cut.min(real.len()));
            let _ = InitialHandshake::parse(&real);
            bytes.insert(0, 10);
            let _ = InitialHandshake::parse(&bytes);
        }
    }
}
