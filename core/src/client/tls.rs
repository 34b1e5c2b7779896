//! Dialing: TCP, and TLS through rustls for `https://` and `wss://`.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use super::error::ClientError;

/// Where trusted root certificates come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RootCerts {
    /// The Mozilla roots compiled in (`webpki-roots`), the default.
    #[default]
    Webpki,
    /// The operating system's store.
    System,
}

/// TLS settings for `https://` and `wss://` URLs.
///
/// The connection uses rustls's process-wide `CryptoProvider`: the one the
/// application installed with `CryptoProvider::install_default` (aws-lc-rs
/// gives post-quantum key exchange), otherwise *ring*, which oxsio enables.
/// An application whose dependencies enable both rustls providers must
/// install one before the first `https://` or `wss://` connection.
#[derive(Debug, Clone, Default)]
pub struct TlsOptions {
    /// Root certificates to trust.
    pub roots: RootCerts,
    /// Extra CA certificates in PEM (e.g. a development CA).
    pub extra_ca_pem: Option<Vec<u8>>,
    /// Accept any certificate. **Development only**: disables all checks.
    pub accept_invalid_certs: bool,
}

impl TlsOptions {
    /// Builds the rustls configuration on the process-wide `CryptoProvider`:
    /// the one the application installed (`CryptoProvider::install_default`,
    /// e.g. aws-lc-rs for post-quantum key exchange), otherwise the one of
    /// rustls's enabled crate features (*ring* in oxsio's own build).
    pub(crate) fn client_config(&self) -> Result<Arc<ClientConfig>, ClientError> {
        let builder = ClientConfig::builder();
        let provider = builder.crypto_provider().clone();
        let config = if self.accept_invalid_certs {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAll(provider)))
                .with_no_client_auth()
        } else {
            let mut roots = RootCertStore::empty();
            match self.roots {
                RootCerts::Webpki => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
                RootCerts::System => {
                    for cert in rustls_native_certs::load_native_certs().certs {
                        let _ = roots.add(cert);
                    }
                }
            }
            if let Some(pem) = &self.extra_ca_pem {
                let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem)
                    .collect::<Result<_, _>>()
                    .map_err(|e| ClientError::Tls(format!("invalid CA PEM: {e}")))?;
                if certs.is_empty() {
                    return Err(ClientError::Tls("no certificate in CA PEM".into()));
                }
                for cert in certs {
                    roots
                        .add(cert)
                        .map_err(|e| ClientError::Tls(format!("invalid CA certificate: {e}")))?;
                }
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        };
        Ok(Arc::new(config))
    }
}

#[derive(Debug)]
struct AcceptAll(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAll {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
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
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
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

/// A byte stream, plain or TLS.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Opens a connection to `host:port`, with TLS when `tls` is given.
pub(crate) async fn dial(
    host: &str,
    port: u16,
    tls: Option<&Arc<ClientConfig>>,
) -> Result<Box<dyn Io>, ClientError> {
    let tcp = TcpStream::connect((host, port))
        .await
        .map_err(|e| ClientError::Connect(e.to_string()))?;
    let _ = tcp.set_nodelay(true);
    let Some(config) = tls else {
        return Ok(Box::new(tcp));
    };
    let name = ServerName::try_from(
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned(),
    )
    .map_err(|_| ClientError::InvalidUrl(format!("invalid host name {host:?}")))?;
    let stream = TlsConnector::from(config.clone())
        .connect(name, tcp)
        .await
        .map_err(|e| ClientError::Tls(e.to_string()))?;
    Ok(Box::new(stream))
}
