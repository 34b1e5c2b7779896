//! The TLS listener (`Server::listen_tls`): the oxsio client and the
//! official JS client over https / wss with a private CA, client
//! certificates (required and optional), a plain-HTTP request on the TLS
//! port, garbage and stalled handshakes, and an expired certificate.
//!
//! The JS client is installed by `tests/interop/setup.sh` (the README test command).
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use oxsio::client::{ClientBuilder, ClientError, Reconnection, TlsOptions};
use oxsio::tls::TlsConfig;
use oxsio::{Event, Server, ServerHandle, Socket, Transport, Value};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

const T: Duration = Duration::from_secs(10);

/// A private CA and what it signed, written to a temporary directory.
struct Pki {
    dir: PathBuf,
    ca: String,
    /// Leaf for localhost and 127.0.0.1, valid now.
    cert: String,
    key: String,
    /// The same names, expired yesterday.
    expired_cert: String,
    expired_key: String,
    /// A client certificate signed by the CA.
    client_cert: String,
    client_key: String,
}

fn ca() -> CertifiedIssuer<'static, KeyPair> {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.distinguished_name
        .push(DnType::CommonName, "oxsio test CA");
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    CertifiedIssuer::self_signed(p, KeyPair::generate().unwrap()).unwrap()
}

fn leaf(
    ca: &CertifiedIssuer<'static, KeyPair>,
    names: &[&str],
    usage: ExtendedKeyUsagePurpose,
    expired: bool,
) -> (String, String) {
    let mut p =
        CertificateParams::new(names.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()).unwrap();
    p.distinguished_name.push(
        DnType::CommonName,
        names.first().copied().unwrap_or("client"),
    );
    p.extended_key_usages = vec![usage];
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let day = 86_400;
    let (from, to) = if expired {
        (now - 30 * day, now - day)
    } else {
        (now - day, now + 30 * day)
    };
    p.not_before = rcgen::date_time_ymd(1970, 1, 1) + time_secs(from);
    p.not_after = rcgen::date_time_ymd(1970, 1, 1) + time_secs(to);
    let key = KeyPair::generate().unwrap();
    let cert = p.signed_by(&key, ca).unwrap();
    (cert.pem(), key.serialize_pem())
}

fn time_secs(s: i64) -> std::time::Duration {
    std::time::Duration::from_secs(s as u64)
}

impl Pki {
    fn new(tag: &str) -> Pki {
        let ca = ca();
        let names = ["localhost", "127.0.0.1"];
        let (cert, key) = leaf(&ca, &names, ExtendedKeyUsagePurpose::ServerAuth, false);
        let (expired_cert, expired_key) =
            leaf(&ca, &names, ExtendedKeyUsagePurpose::ServerAuth, true);
        let (client_cert, client_key) =
            leaf(&ca, &["client"], ExtendedKeyUsagePurpose::ClientAuth, false);
        let dir = std::env::temp_dir().join(format!("oxsio-tls-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pki = Pki {
            dir,
            ca: ca.pem(),
            cert,
            key,
            expired_cert,
            expired_key,
            client_cert,
            client_key,
        };
        for (name, pem) in [
            ("ca.pem", &pki.ca),
            ("cert.pem", &pki.cert),
            ("key.pem", &pki.key),
            ("client.pem", &pki.client_cert),
            ("client.key", &pki.client_key),
        ] {
            std::fs::write(pki.dir.join(name), pem).unwrap();
        }
        pki
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).to_string_lossy().into_owned()
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn echo_server() -> Server {
    let io = Server::new();
    io.on_connection(|s: Socket| {
        // Over the TLS listener the handshake says so (Node's `handshake.secure`).
        assert!(s.handshake().secure, "handshake.secure over TLS");
        assert_eq!(s.handshake().to_node_value()["secure"], Value::Bool(true));
        s.on("echo", |ev: Event| {
            let _ = ev.socket.emit("echo", ev.args);
        });
    });
    io
}

async fn serve(tls: TlsConfig) -> ServerHandle {
    echo_server().listen_tls("127.0.0.1:0", tls).await.unwrap()
}

/// Connects the oxsio client, echoes once; the error if it cannot connect.
async fn oxsio_echo(url: &str, transports: Vec<Transport>, ca: &str) -> Result<(), ClientError> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let socket = ClientBuilder::new(url)
        .transports(transports)
        .reconnection(Reconnection {
            enabled: false,
            ..Default::default()
        })
        .tls(TlsOptions {
            extra_ca_pem: Some(ca.as_bytes().to_vec()),
            ..Default::default()
        })
        .on("echo", move |ev| {
            let _ = tx.send(ev.args);
        })
        .connect()
        .await?;
    socket.emit("echo", "over tls").unwrap();
    let got = tokio::time::timeout(T, rx.recv()).await.unwrap().unwrap();
    assert_eq!(got, vec![Value::from("over tls")]);
    socket.disconnect();
    Ok(())
}

/// Runs tests/interop/tls_client.js; its one line of output.
async fn js_client(url: &str, transport: &str, ca: &str, client: Option<(&str, &str)>) -> String {
    let dir = common::repo_root().join("tests/interop");
    let mut cmd = tokio::process::Command::new("node");
    cmd.arg(dir.join("tls_client.js"))
        .args([url, transport, ca])
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    if let Some((cert, key)) = client {
        cmd.args([cert, key]);
    }
    let out = tokio::time::timeout(Duration::from_secs(20), cmd.output())
        .await
        .expect("node finished")
        .unwrap_or_else(|e| panic!("cannot start node (run tests/interop/setup.sh): {e}"));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oxsio_and_official_clients_over_https_and_wss() {
    let pki = Pki::new("basic");
    let tls = TlsConfig::builder()
        .cert_chain_file(pki.path("cert.pem"))
        .key_file(pki.path("key.pem"))
        .build()
        .unwrap();
    let h = serve(tls).await;
    let port = h.local_addr().port();
    for host in ["localhost", "127.0.0.1"] {
        for (scheme, transports) in [
            ("https", vec![Transport::Polling]),
            ("https", vec![Transport::Polling, Transport::Websocket]),
            ("wss", vec![Transport::Websocket]),
        ] {
            let url = format!("{scheme}://{host}:{port}");
            oxsio_echo(&url, transports, &pki.ca)
                .await
                .unwrap_or_else(|e| panic!("{url}: {e}"));
        }
    }
    for transport in ["polling", "websocket"] {
        let line = js_client(
            &format!("https://localhost:{port}"),
            transport,
            &pki.path("ca.pem"),
            None,
        )
        .await;
        assert_eq!(line, format!("ok {transport} over tls"));
    }
    // Without the private CA, the official client refuses the certificate.
    let line = js_client(
        &format!("https://localhost:{port}"),
        "websocket",
        "/dev/null",
        None,
    )
    .await;
    assert!(line.starts_with("error"), "{line}");
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_certificate_is_refused_by_both_clients() {
    let pki = Pki::new("expired");
    let h = serve(TlsConfig::from_pem(pki.expired_cert.clone(), pki.expired_key.clone()).unwrap())
        .await;
    let url = format!("https://localhost:{}", h.local_addr().port());
    let err = oxsio_echo(&url, vec![Transport::Websocket], &pki.ca)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, ClientError::Tls(_)), "{err:?}");
    assert!(text.to_lowercase().contains("expired"), "{text}");
    for transport in ["polling", "websocket"] {
        let line = js_client(&url, transport, &pki.path("ca.pem"), None).await;
        assert!(line.starts_with("error"), "{transport}: {line}");
    }
    h.shutdown().await;
}

/// A raw TLS client (tokio-rustls) that sends one polling handshake, with
/// or without a client certificate; the HTTP status line, or the error.
async fn raw_handshake(port: u16, pki: &Pki, with_cert: bool) -> Result<String, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(pki.ca.as_bytes()).unwrap())
        .unwrap();
    let b = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    let config = if with_cert {
        b.with_client_auth_cert(
            vec![CertificateDer::from_pem_slice(pki.client_cert.as_bytes()).unwrap()],
            PrivateKeyDer::from_pem_slice(pki.client_key.as_bytes()).unwrap(),
        )
        .unwrap()
    } else {
        b.with_no_client_auth()
    };
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut s = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .map_err(|e| e.to_string())?;
    let req = "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    s.write_all(req.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    // TLS 1.3 reports a refused client certificate on the first read.
    tokio::time::timeout(T, s.read_to_end(&mut out))
        .await
        .unwrap()
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out).into_owned();
    Ok(text.lines().next().unwrap_or_default().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_certificates_required_and_optional() {
    let pki = Pki::new("mtls");
    let required = TlsConfig::builder()
        .cert_chain_pem(pki.cert.clone())
        .key_pem(pki.key.clone())
        .client_ca_file(pki.path("ca.pem"))
        .build()
        .unwrap();
    let h = serve(required).await;
    let port = h.local_addr().port();
    assert_eq!(
        raw_handshake(port, &pki, true).await.unwrap(),
        "HTTP/1.1 200 OK"
    );
    let refused = raw_handshake(port, &pki, false).await;
    assert!(refused.is_err(), "{refused:?}");
    // The official client with and without its certificate.
    let url = format!("https://localhost:{port}");
    let client = Some((pki.path("client.pem"), pki.path("client.key")));
    let client = client.as_ref().map(|(c, k)| (c.as_str(), k.as_str()));
    for transport in ["polling", "websocket"] {
        let ok = js_client(&url, transport, &pki.path("ca.pem"), client).await;
        assert_eq!(ok, format!("ok {transport} over tls"));
        let refused = js_client(&url, transport, &pki.path("ca.pem"), None).await;
        assert!(refused.starts_with("error"), "{transport}: {refused}");
    }
    // The oxsio client has no client certificate: refused.
    assert!(
        oxsio_echo(&url, vec![Transport::Websocket], &pki.ca)
            .await
            .is_err()
    );
    h.shutdown().await;

    let optional = TlsConfig::builder()
        .cert_chain_pem(pki.cert.clone())
        .key_pem(pki.key.clone())
        .client_ca_pem(pki.ca.clone())
        .client_auth_optional(true)
        .build()
        .unwrap();
    let h = serve(optional).await;
    let port = h.local_addr().port();
    assert_eq!(
        raw_handshake(port, &pki, true).await.unwrap(),
        "HTTP/1.1 200 OK"
    );
    assert_eq!(
        raw_handshake(port, &pki, false).await.unwrap(),
        "HTTP/1.1 200 OK"
    );
    h.shutdown().await;
}

/// Everything the peer sends until it closes (bounded by `T`).
async fn read_all(s: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = tokio::time::timeout(T, s.read_to_end(&mut out)).await;
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_and_garbage_are_refused_and_the_server_keeps_serving() {
    let pki = Pki::new("bad");
    let tls = TlsConfig::from_pem(pki.cert.clone(), pki.key.clone())
        .unwrap()
        .handshake_timeout(Duration::from_millis(500));
    let h = serve(tls).await;
    let addr = h.local_addr();

    // Plain HTTP on the TLS port: a clean 400 that says what to do.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let answer = String::from_utf8(read_all(&mut s).await).unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{answer}"
    );
    assert!(
        answer.ends_with("use https:// or wss:// here\n"),
        "{answer}"
    );

    // Garbage: a TLS record header followed by junk, and bytes that are
    // neither TLS nor HTTP. Each connection is closed, nothing is answered.
    for garbage in [
        &b"\x16\x03\x01\x00\x05hello-not-a-client-hello"[..],
        &b"\x00\xff\xfe\x01garbage"[..],
        &[0x16u8; 4096][..],
    ] {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let _ = s.write_all(garbage).await;
        let got = read_all(&mut s).await;
        assert!(
            got.is_empty() || got[0] == 0x15,
            "only a TLS alert may come back: {got:?}"
        );
    }

    // A client that opens a connection and says nothing is closed after
    // the handshake timeout.
    let started = std::time::Instant::now();
    let mut idle = TcpStream::connect(addr).await.unwrap();
    let got = read_all(&mut idle).await;
    assert!(got.is_empty());
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(400) && waited < Duration::from_secs(5),
        "{waited:?}"
    );

    // A TLS connection whose client stops half-way is closed too.
    let mut half = TcpStream::connect(addr).await.unwrap();
    half.write_all(b"\x16\x03\x01\x02\x00\x01").await.unwrap();
    assert!(read_all(&mut half).await.iter().all(|b| *b != b'H'));

    // The server still serves others.
    oxsio_echo(
        &format!("wss://localhost:{}", addr.port()),
        vec![Transport::Websocket],
        &pki.ca,
    )
    .await
    .unwrap();
    h.shutdown().await;
}

#[test]
fn pem_files_that_do_not_exist_are_named() {
    let err = TlsConfig::builder()
        .cert_chain_file(Path::new("/nonexistent/oxsio-cert.pem"))
        .key_file("/nonexistent/oxsio-key.pem")
        .build()
        .unwrap_err();
    assert!(
        err.to_string().contains("/nonexistent/oxsio-cert.pem"),
        "{err}"
    );
}
