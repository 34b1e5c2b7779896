//! TLS for the server's own listener ([`Server::listen_tls`](crate::Server::listen_tls)),
//! with rustls: a certificate chain and its private key in PEM, and
//! optionally client certificates verified against a CA.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let tls = oxsio::tls::TlsConfig::builder()
//!     .cert_chain_file("fullchain.pem")
//!     .key_file("privkey.pem")
//!     .build()?;
//! let handle = oxsio::Server::new().listen_tls("127.0.0.1:3443", tls).await?;
//! # drop(handle); Ok(()) }
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// Why a [`TlsConfig`] could not be built. Each variant names the input to fix.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read: check its path and permissions.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// No certificate chain was given (`cert_chain_pem` / `cert_chain_file`).
    #[error("no certificate chain given")]
    MissingCertificate,
    /// No private key was given (`key_pem` / `key_file`).
    #[error("no private key given")]
    MissingKey,
    /// The certificate chain is not PEM with at least one `CERTIFICATE` block.
    #[error("certificate chain: {0}")]
    Certificate(String),
    /// The key is not a PEM private key (PKCS#8, PKCS#1 or SEC1).
    #[error("private key: {0}")]
    Key(String),
    /// The client CA is not PEM with at least one usable CA certificate.
    #[error("client CA: {0}")]
    ClientCa(String),
    /// rustls refused the combination, e.g. the key does not match the
    /// certificate: check that both come from the same issuance.
    #[error("TLS configuration: {0}")]
    Config(String),
}

#[derive(Clone, Debug)]
enum Source {
    Pem(Vec<u8>),
    File(PathBuf),
}

impl Source {
    fn load(&self) -> Result<std::borrow::Cow<'_, [u8]>, TlsError> {
        match self {
            Source::Pem(b) => Ok(std::borrow::Cow::Borrowed(b)),
            Source::File(p) => std::fs::read(p)
                .map(std::borrow::Cow::Owned)
                .map_err(|source| TlsError::Read {
                    path: p.clone(),
                    source,
                }),
        }
    }
}

/// A server TLS configuration, ready to listen with. Cheap to clone.
#[derive(Clone)]
pub struct TlsConfig {
    pub(crate) acceptor: TlsAcceptor,
    pub(crate) handshake_timeout: Duration,
}

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConfig")
            .field("handshake_timeout", &self.handshake_timeout)
            .finish_non_exhaustive()
    }
}

/// Builds a [`TlsConfig`]; a certificate chain and a key are required.
#[derive(Clone, Debug, Default)]
pub struct TlsConfigBuilder {
    cert: Option<Source>,
    key: Option<Source>,
    client_ca: Option<Source>,
    client_auth_optional: bool,
    handshake_timeout: Option<Duration>,
}

const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

impl TlsConfig {
    /// Options for a new configuration.
    pub fn builder() -> TlsConfigBuilder {
        TlsConfigBuilder::default()
    }

    /// A configuration from a certificate chain (leaf first) and its key, in PEM.
    ///
    /// # Errors
    /// See [`TlsConfigBuilder::build`].
    pub fn from_pem(
        cert_chain_pem: impl Into<Vec<u8>>,
        key_pem: impl Into<Vec<u8>>,
    ) -> Result<TlsConfig, TlsError> {
        TlsConfig::builder()
            .cert_chain_pem(cert_chain_pem)
            .key_pem(key_pem)
            .build()
    }

    /// Wraps a rustls configuration made by the caller (ALPN, resumption,
    /// certificate resolvers… are then the caller's; oxsio serves HTTP/1.1).
    pub fn from_rustls(config: Arc<ServerConfig>) -> TlsConfig {
        TlsConfig {
            acceptor: TlsAcceptor::from(config),
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        }
    }

    /// Time a client has to finish the TLS handshake (default 10 s); a
    /// connection that has not finished by then is closed.
    pub fn handshake_timeout(mut self, d: Duration) -> TlsConfig {
        self.handshake_timeout = d;
        self
    }
}

impl TlsConfigBuilder {
    /// The certificate chain in PEM, leaf first, then intermediates.
    pub fn cert_chain_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.cert = Some(Source::Pem(pem.into()));
        self
    }
    /// The certificate chain from a PEM file (read by [`build`](Self::build)).
    pub fn cert_chain_file(mut self, path: impl AsRef<Path>) -> Self {
        self.cert = Some(Source::File(path.as_ref().to_owned()));
        self
    }
    /// The private key of the leaf certificate in PEM (PKCS#8, PKCS#1 or SEC1).
    pub fn key_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.key = Some(Source::Pem(pem.into()));
        self
    }
    /// The private key from a PEM file (read by [`build`](Self::build)).
    pub fn key_file(mut self, path: impl AsRef<Path>) -> Self {
        self.key = Some(Source::File(path.as_ref().to_owned()));
        self
    }
    /// Verifies client certificates against these CA certificates (PEM).
    /// Clients without a valid certificate are refused during the
    /// handshake, unless [`client_auth_optional`](Self::client_auth_optional).
    /// Default: no client certificates asked for.
    pub fn client_ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.client_ca = Some(Source::Pem(pem.into()));
        self
    }
    /// The client CA certificates from a PEM file (read by [`build`](Self::build)).
    pub fn client_ca_file(mut self, path: impl AsRef<Path>) -> Self {
        self.client_ca = Some(Source::File(path.as_ref().to_owned()));
        self
    }
    /// With a client CA: also accept clients that present no certificate
    /// (a certificate that is presented must still be valid). Default false.
    pub fn client_auth_optional(mut self, optional: bool) -> Self {
        self.client_auth_optional = optional;
        self
    }
    /// Time a client has to finish the TLS handshake (default 10 s).
    pub fn handshake_timeout(mut self, d: Duration) -> Self {
        self.handshake_timeout = Some(d);
        self
    }

    /// Reads and checks everything.
    ///
    /// # Errors
    /// A missing or unreadable input, PEM without the expected blocks, a
    /// key that does not match the certificate ([`TlsError`] says which).
    pub fn build(self) -> Result<TlsConfig, TlsError> {
        let cert_pem = self.cert.as_ref().ok_or(TlsError::MissingCertificate)?;
        let key_pem = self.key.as_ref().ok_or(TlsError::MissingKey)?;
        let chain = parse_certs(&cert_pem.load()?).map_err(TlsError::Certificate)?;
        let key = PrivateKeyDer::from_pem_slice(&key_pem.load()?)
            .map_err(|e| TlsError::Key(pem_error(e)))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(e.to_string()))?;
        let builder = match &self.client_ca {
            None => builder.with_no_client_auth(),
            Some(ca) => {
                let mut roots = RootCertStore::empty();
                for cert in parse_certs(&ca.load()?).map_err(TlsError::ClientCa)? {
                    roots
                        .add(cert)
                        .map_err(|e| TlsError::ClientCa(e.to_string()))?;
                }
                let mut v = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
                if self.client_auth_optional {
                    v = v.allow_unauthenticated();
                }
                let verifier = v.build().map_err(|e| TlsError::ClientCa(e.to_string()))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut config = builder
            .with_single_cert(chain, key)
            .map_err(|e| TlsError::Config(e.to_string()))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsConfig {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            handshake_timeout: self.handshake_timeout.unwrap_or(DEFAULT_HANDSHAKE_TIMEOUT),
        })
    }
}

fn pem_error(e: rustls::pki_types::pem::Error) -> String {
    match e {
        rustls::pki_types::pem::Error::NoItemsFound => "no PEM block found".to_owned(),
        other => other.to_string(),
    }
}

fn parse_certs(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .map_err(pem_error)?;
    if certs.is_empty() {
        return Err("no CERTIFICATE block in the PEM".to_owned());
    }
    Ok(certs)
}

/// The answer to a plain-HTTP request sent to the TLS port.
const PLAIN_HTTP_REFUSAL: &[u8] = b"HTTP/1.1 400 Bad Request\r\n\
Content-Type: text/plain; charset=UTF-8\r\n\
Connection: close\r\n\
Content-Length: 50\r\n\
\r\n\
This port speaks TLS: use https:// or wss:// here\n";

/// Accepts one TLS connection. Plain HTTP gets a 400 saying to use TLS;
/// anything else that is not a TLS handshake, or a handshake that fails or
/// does not finish in time, closes the connection. `None`: closed.
pub(crate) async fn accept(tls: &TlsConfig, mut tcp: TcpStream) -> Option<TlsStream<TcpStream>> {
    let deadline = tokio::time::Instant::now() + tls.handshake_timeout;
    let mut first = [0u8; 1];
    match tokio::time::timeout_at(deadline, tcp.peek(&mut first)).await {
        Ok(Ok(1)) => {}
        _ => return None,
    }
    // 0x16: a TLS handshake record. An ASCII letter: a plain HTTP method.
    if first[0] != 0x16 {
        if first[0].is_ascii_uppercase() {
            let _ = tokio::time::timeout_at(deadline, refuse_plain_http(&mut tcp)).await;
        }
        tracing::debug!(byte = first[0], "not a TLS handshake; closed");
        return None;
    }
    match tokio::time::timeout_at(deadline, tls.acceptor.accept(tcp)).await {
        Ok(Ok(s)) => Some(s),
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!("TLS handshake timed out");
            None
        }
    }
}

/// Reads the request head (at most 8 KiB), so that closing does not reset
/// the connection before the client reads the answer, then answers 400.
async fn refuse_plain_http(tcp: &mut TcpStream) {
    let mut buf = vec![0u8; 8192];
    let mut len = 0;
    while len < buf.len() {
        match tcp.read(&mut buf[len..]).await {
            Ok(0) | Err(_) => break,
            Ok(n) => len += n,
        }
        if buf[..len].windows(4).any(|w| w == b"\r\n\r\n") {
            break;
        }
    }
    let _ = tcp.write_all(PLAIN_HTTP_REFUSAL).await;
    let _ = tcp.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusal_length_is_right() {
        let text = std::str::from_utf8(PLAIN_HTTP_REFUSAL).unwrap();
        let (_, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(text.contains(&format!("Content-Length: {}\r\n", body.len())));
    }

    #[test]
    fn bad_inputs_are_named() {
        let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let (cert, key) = (ck.cert.pem(), ck.signing_key.serialize_pem());
        assert!(TlsConfig::from_pem(cert.clone(), key.clone()).is_ok());
        assert!(matches!(
            TlsConfig::builder().key_pem(key.clone()).build(),
            Err(TlsError::MissingCertificate)
        ));
        assert!(matches!(
            TlsConfig::builder().cert_chain_pem(cert.clone()).build(),
            Err(TlsError::MissingKey)
        ));
        assert!(matches!(
            TlsConfig::from_pem("garbage", key.clone()),
            Err(TlsError::Certificate(_))
        ));
        assert!(matches!(
            TlsConfig::from_pem(cert.clone(), cert.clone()),
            Err(TlsError::Key(_))
        ));
        let other = rcgen::generate_simple_self_signed(vec!["x".to_owned()]).unwrap();
        assert!(matches!(
            TlsConfig::from_pem(cert.clone(), other.signing_key.serialize_pem()),
            Err(TlsError::Config(_))
        ));
        assert!(matches!(
            TlsConfig::builder()
                .cert_chain_pem(cert.clone())
                .key_pem(key.clone())
                .client_ca_pem("nope")
                .build(),
            Err(TlsError::ClientCa(_))
        ));
        let missing = TlsConfig::builder()
            .cert_chain_file("/nonexistent/cert.pem")
            .key_pem(key)
            .build();
        assert!(matches!(missing, Err(TlsError::Read { .. })), "{missing:?}");
    }
}
