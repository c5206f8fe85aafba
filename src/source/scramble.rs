//! The password proofs of the authentication plugins, as pure functions of
//! (password, server nonce), so they can be checked against the server-side
//! verification the protocol documents.
//!
//! - `mysql_native_password`:
//!   `SHA1(pw) XOR SHA1(nonce[20] ‖ SHA1(SHA1(pw)))`; the server stores
//!   `SHA1(SHA1(pw))`.
//! - `caching_sha2_password` (fast path):
//!   `SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) ‖ nonce[20])`; the server
//!   caches `SHA256(SHA256(pw))`.
//! - `caching_sha2_password` full authentication without TLS: the bytes
//!   `pw ‖ 0x00`, each XOR-ed with `nonce[i mod 20]`, encrypted with the
//!   server's RSA public key using RSA-OAEP (SHA-1, MGF1-SHA-1).
//! - MariaDB `client_ed25519`: an Ed25519 signature of the 32-byte nonce
//!   where the password itself is the secret seed:
//!   `h = SHA512(pw)`, `a = clamp(h[0..32])`, `A = a·B`,
//!   `r = SHA512(h[32..64] ‖ nonce) mod ℓ`, `R = r·B`,
//!   `k = SHA512(R ‖ A ‖ nonce) mod ℓ`, `S = r + k·a mod ℓ`; the 64-byte
//!   answer is `R ‖ S`. The server stores `A` (base64).
//!
//! An empty password is answered with an empty proof for the two hash
//! plugins, as the servers expect.

use curve25519_dalek::edwards::EdwardsPoint;
use curve25519_dalek::scalar::{clamp_integer, Scalar};
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

pub fn native_password(password: &[u8], nonce: &[u8]) -> Vec<u8> {
    if password.is_empty() {
        return Vec::new();
    }
    let stage1 = Sha1::digest(password);
    let stage2 = Sha1::digest(stage1);
    let mut h = Sha1::new();
    h.update(nonce);
    h.update(stage2);
    let mix = h.finalize();
    stage1.iter().zip(mix.iter()).map(|(a, b)| a ^ b).collect()
}

pub fn caching_sha2(password: &[u8], nonce: &[u8]) -> Vec<u8> {
    if password.is_empty() {
        return Vec::new();
    }
    let stage1 = Sha256::digest(password);
    let stage2 = Sha256::digest(stage1);
    let mut h = Sha256::new();
    h.update(stage2);
    h.update(nonce);
    let mix = h.finalize();
    stage1.iter().zip(mix.iter()).map(|(a, b)| a ^ b).collect()
}

/// `pw ‖ 0x00` XOR-ed with the nonce, repeated.
pub fn xor_with_nonce(password: &[u8], nonce: &[u8]) -> Vec<u8> {
    let mut buf = password.to_vec();
    buf.push(0);
    if !nonce.is_empty() {
        for (i, b) in buf.iter_mut().enumerate() {
            *b ^= nonce[i % nonce.len()];
        }
    }
    buf
}

/// Encrypt the password for `caching_sha2_password` / `sha256_password`
/// full authentication with the server's PEM public key (SubjectPublicKeyInfo
/// or PKCS#1).
pub fn rsa_encrypt_password(pem: &[u8], password: &[u8], nonce: &[u8]) -> Result<Vec<u8>, String> {
    use rsa::pkcs1::DecodeRsaPublicKey;
    use rsa::pkcs8::DecodePublicKey;
    let text = std::str::from_utf8(pem).map_err(|_| "public key is not PEM text".to_string())?;
    let text = text.trim_matches(char::from(0)).trim();
    let key = rsa::RsaPublicKey::from_public_key_pem(text)
        .or_else(|_| rsa::RsaPublicKey::from_pkcs1_pem(text))
        .map_err(|e| format!("cannot read the server's RSA public key: {e}"))?;
    let plain = xor_with_nonce(password, nonce);
    key.encrypt(
        &mut rand::thread_rng(),
        rsa::Oaep::new::<sha1::Sha1>(),
        &plain,
    )
    .map_err(|e| format!("RSA encryption of the password failed: {e}"))
}

/// MariaDB `client_ed25519`: sign `nonce` with the password as seed.
pub fn ed25519_sign(password: &[u8], nonce: &[u8]) -> [u8; 64] {
    let h: [u8; 64] = Sha512::digest(password).into();
    let mut lower = [0u8; 32];
    lower.copy_from_slice(&h[..32]);
    let a = Scalar::from_bytes_mod_order(clamp_integer(lower));
    let public = EdwardsPoint::mul_base(&a).compress();

    let mut hr = Sha512::new();
    hr.update(&h[32..]);
    hr.update(nonce);
    let r = Scalar::from_bytes_mod_order_wide(&hr.finalize().into());
    let big_r = EdwardsPoint::mul_base(&r).compress();

    let mut hk = Sha512::new();
    hk.update(big_r.as_bytes());
    hk.update(public.as_bytes());
    hk.update(nonce);
    let k = Scalar::from_bytes_mod_order_wide(&hk.finalize().into());
    let s = r + k * a;

    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(big_r.as_bytes());
    sig[32..].copy_from_slice(s.as_bytes());
    sig
}

/// The public key MariaDB stores for an ed25519 account (for tests).
pub fn ed25519_public(password: &[u8]) -> [u8; 32] {
    let h: [u8; 64] = Sha512::digest(password).into();
    let mut lower = [0u8; 32];
    lower.copy_from_slice(&h[..32]);
    EdwardsPoint::mul_base_clamped(lower).compress().to_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    const NONCE: &[u8; 20] = b"abcdefghij0123456789";

    /// The server's check, written from the protocol description: recover
    /// stage1 from the proof and compare its hash with the stored stage2.
    #[test]
    fn native_password_passes_the_server_side_check() {
        let pw = b"secret";
        let stored = Sha1::digest(Sha1::digest(pw));
        let proof = native_password(pw, NONCE);
        let mut h = Sha1::new();
        h.update(NONCE);
        h.update(stored);
        let mix = h.finalize();
        let stage1: Vec<u8> = proof.iter().zip(mix.iter()).map(|(a, b)| a ^ b).collect();
        assert_eq!(Sha1::digest(&stage1), stored);
        // A different password or nonce fails the same check.
        let wrong = native_password(b"secreT", NONCE);
        let stage1: Vec<u8> = wrong.iter().zip(mix.iter()).map(|(a, b)| a ^ b).collect();
        assert_ne!(Sha1::digest(&stage1), stored);
        assert!(native_password(b"", NONCE).is_empty());
        // PASSWORD('secret') in MySQL/MariaDB is '*' + hex(SHA1(SHA1(pw))).
        assert_eq!(
            stored.to_vec(),
            hex("14E65567ABDB5135D0CFD9A70B3032C179A49EE7")
        );
    }

    #[test]
    fn caching_sha2_passes_the_server_side_check() {
        let pw = b"sha2 pass";
        let cached = Sha256::digest(Sha256::digest(pw));
        let proof = caching_sha2(pw, NONCE);
        assert_eq!(proof.len(), 32);
        let mut h = Sha256::new();
        h.update(cached);
        h.update(NONCE);
        let mix = h.finalize();
        let stage1: Vec<u8> = proof.iter().zip(mix.iter()).map(|(a, b)| a ^ b).collect();
        assert_eq!(Sha256::digest(&stage1), cached);
        assert_ne!(caching_sha2(pw, b"abcdefghij012345678X"), proof);
        assert!(caching_sha2(b"", NONCE).is_empty());
    }

    /// Vectors computed outside Rust (Python's hashlib, following the
    /// formulas in the module docs).
    #[test]
    fn known_vectors() {
        assert_eq!(
            native_password(b"secret", NONCE),
            hex("99db25ccb2a625f0e7cf4ce2e895ef9609dfe5e4")
        );
        assert_eq!(
            caching_sha2(b"sha2 pass", NONCE),
            hex("62bdbda2fc370efb75f9d5ef08753726fd6ff5634c5ace418763d463917cbd83")
        );
    }

    #[test]
    fn rsa_full_auth_decrypts_to_the_xored_password() {
        use rsa::pkcs8::EncodePublicKey;
        let private = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 1024).unwrap();
        let pem = private
            .to_public_key()
            .to_public_key_pem(rsa::pkcs8::LineEnding::LF)
            .unwrap();
        let sealed = rsa_encrypt_password(pem.as_bytes(), b"pw", NONCE).unwrap();
        assert_eq!(sealed.len(), 128);
        let plain = private
            .decrypt(rsa::Oaep::new::<sha1::Sha1>(), &sealed)
            .unwrap();
        assert_eq!(plain, vec![b'p' ^ b'a', b'w' ^ b'b', b'c']);
        assert!(rsa_encrypt_password(b"not a key", b"pw", NONCE).is_err());
    }

    /// RFC 8032 section 7.1, tests 1 and 2: with a 32-byte password the
    /// MariaDB derivation is exactly Ed25519 with that seed.
    #[test]
    fn ed25519_matches_rfc8032_vectors() {
        let seed = hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
        assert_eq!(
            ed25519_public(&seed).to_vec(),
            hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
        );
        assert_eq!(
            ed25519_sign(&seed, b"").to_vec(),
            hex("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b")
        );
        let seed = hex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb");
        assert_eq!(
            ed25519_sign(&seed, &[0x72]).to_vec(),
            hex("92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00")
        );
    }
}
