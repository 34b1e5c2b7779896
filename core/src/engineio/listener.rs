//! The standalone listener shared by the Socket.IO and Engine.IO servers:
//! accepts TCP (optionally TLS) connections and serves HTTP/1.1 with
//! upgrades on each, handing every request to `serve`.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, ToSocketAddrs};
use tokio::task::JoinHandle;

use super::http::Body;
use super::{RemoteAddr, Secure};

/// A bound listener's address, its stop signal and its accept task.
pub(crate) struct Listening {
    pub(crate) local_addr: SocketAddr,
    pub(crate) stop: Arc<tokio::sync::Notify>,
    pub(crate) task: JoinHandle<()>,
}

/// Binds `addr` and serves until `stop` is notified.
pub(crate) async fn listen<F, Fut>(
    addr: impl ToSocketAddrs,
    tls: Option<crate::tls::TlsConfig>,
    serve: F,
) -> std::io::Result<Listening>
where
    F: Fn(Request<hyper::body::Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<Body>> + Send + 'static,
{
    let listener = TcpListener::bind(addr).await?;
    let local_addr = listener.local_addr()?;
    let stop = Arc::new(tokio::sync::Notify::new());
    let stopped = stop.clone();
    let task = tokio::spawn(async move {
        loop {
            let (stream, peer) = tokio::select! {
                r = listener.accept() => match r {
                    Ok(x) => x,
                    Err(e) => {
                        // Out of file descriptors and the like: back off, keep serving.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                () = stopped.notified() => break,
            };
            let _ = stream.set_nodelay(true);
            let serve = serve.clone();
            let tls = tls.clone();
            tokio::spawn(async move {
                match tls {
                    None => serve_connection(serve, TokioIo::new(stream), peer, false).await,
                    Some(tls) => {
                        if let Some(stream) = crate::tls::accept(&tls, stream).await {
                            serve_connection(serve, TokioIo::new(stream), peer, true).await;
                        }
                    }
                }
            });
        }
    });
    Ok(Listening {
        local_addr,
        stop,
        task,
    })
}

/// The answer to a request this server refuses before routing it, as Node's
/// HTTP parser does: an HTTP/1.1 request without `Host` (RFC 9112 3.2), and
/// one with both `Content-Length` and `Transfer-Encoding` (the shape of
/// request smuggling, RFC 9112 6.1). The connection closes after it.
fn malformed<B>(req: &Request<B>) -> Option<Response<Body>> {
    let h = req.headers();
    if req.version() == http::Version::HTTP_11 && !h.contains_key(http::header::HOST) {
        return Some(bad_request("Missing Host header"));
    }
    if h.contains_key(http::header::CONTENT_LENGTH)
        && h.contains_key(http::header::TRANSFER_ENCODING)
    {
        return Some(bad_request("Content-Length with Transfer-Encoding"));
    }
    None
}

fn bad_request(message: &'static str) -> Response<Body> {
    let mut res = Response::new(Body::from(message));
    *res.status_mut() = http::StatusCode::BAD_REQUEST;
    res.headers_mut().insert(
        http::header::CONNECTION,
        http::HeaderValue::from_static("close"),
    );
    res
}

/// Serves HTTP/1.1 (with upgrades) on one accepted connection.
async fn serve_connection<I, F, Fut>(serve: F, io: TokioIo<I>, peer: SocketAddr, secure: bool)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    F: Fn(Request<hyper::body::Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<Body>> + Send + 'static,
{
    let svc = hyper::service::service_fn(move |mut req: Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(RemoteAddr(peer));
        if secure {
            req.extensions_mut().insert(Secure);
        }
        let refused = malformed(&req);
        let fut = refused.is_none().then(|| serve(req));
        async move {
            Ok::<_, Infallible>(match (refused, fut) {
                (Some(res), _) => res,
                (None, Some(fut)) => fut.await,
                (None, None) => bad_request("Bad request"),
            })
        }
    });
    let conn = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(10))
        .serve_connection(io, svc)
        .with_upgrades();
    let _ = conn.await;
}
