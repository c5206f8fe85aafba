//! TLS for the replica connection (rustls with the ring provider), and the
//! transport that is either plain TCP or TCP upgraded to TLS after the SSL
//! Request packet.
//!
//! Verification policy, by [`TlsMode`]:
//! - `preferred`, `required`: the chain must lead to a trusted root (the
//!   `ca` file, else the system roots); the host name is not checked.
//! - `verify`: chain and host name (or IP address) checked.
//! - `skip-verify`: no check at all (explicit opt-out; the handshake
//!   signatures are still verified so the session keys are sound).

use super::config::{SourceConfig, TlsMode};
use super::error::{Result, SourceError};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// Plain TCP or TLS over TCP.
pub enum Transport {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Transport {
    pub fn is_tls(&self) -> bool {
        matches!(self, Transport::Tls(_))
    }
}

impl AsyncRead for Transport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_flush(cx),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Transport::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn tls_err(config: &SourceConfig, detail: impl Into<String>) -> SourceError {
    SourceError::Tls {
        addr: config.addr(),
        detail: detail.into(),
    }
}

fn roots(config: &SourceConfig) -> Result<RootCertStore> {
    let mut store = RootCertStore::empty();
    match &config.ca {
        Some(path) => {
            let pem = std::fs::read(path).map_err(|e| {
                SourceError::Config(format!("cannot read CA file {}: {e}", path.display()))
            })?;
            let mut added = 0;
            for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
                let cert = cert
                    .map_err(|e| SourceError::Config(format!("CA file {}: {e}", path.display())))?;
                store
                    .add(cert)
                    .map_err(|e| SourceError::Config(format!("CA file {}: {e}", path.display())))?;
                added += 1;
            }
            if added == 0 {
                return Err(SourceError::Config(format!(
                    "CA file {} holds no PEM certificate",
                    path.display()
                )));
            }
        }
        None => {
            // Read once per process: the bundle is large and every
            // reconnect would read it again.
            static NATIVE: std::sync::OnceLock<Vec<CertificateDer<'static>>> =
                std::sync::OnceLock::new();
            let certs = NATIVE.get_or_init(|| rustls_native_certs::load_native_certs().certs);
            for cert in certs {
                let _ = store.add(cert.clone());
            }
        }
    }
    Ok(store)
}

/// The rustls client configuration for `config.tls`.
pub fn client_config(config: &SourceConfig) -> Result<Arc<ClientConfig>> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_err(config, e.to_string()))?;
    let built = match config.tls {
        TlsMode::Disabled => return Err(SourceError::Config("TLS is disabled".into())),
        TlsMode::SkipVerify => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider())))
            .with_no_client_auth(),
        TlsMode::Verify => builder
            .with_root_certificates(roots(config)?)
            .with_no_client_auth(),
        TlsMode::Preferred | TlsMode::Required => {
            let inner =
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots(config)?), provider())
                    .build()
                    .map_err(|e| tls_err(config, format!("no usable trusted roots: {e}")))?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(ChainOnly(inner)))
                .with_no_client_auth()
        }
    };
    Ok(Arc::new(built))
}

/// Upgrade a TCP stream after the SSL Request was sent.
pub async fn upgrade(config: &SourceConfig, tcp: TcpStream) -> Result<Transport> {
    let tls = client_config(config)?;
    let name = ServerName::try_from(config.host.clone())
        .map_err(|e| tls_err(config, format!("invalid server name {}: {e}", config.host)))?;
    let stream = tokio_rustls::TlsConnector::from(tls)
        .connect(name, tcp)
        .await
        .map_err(|e| {
            let hint = match config.tls {
                TlsMode::SkipVerify => "",
                _ => " (give the server's CA with ca=FILE, or opt out with tls=skip-verify)",
            };
            tls_err(config, format!("{e}{hint}"))
        })?;
    Ok(Transport::Tls(Box::new(stream)))
}

/// Chain verification without the host-name check.
#[derive(Debug)]
struct ChainOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// `tls=skip-verify`: accept any certificate.
#[derive(Debug)]
struct NoVerification(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
