//! The core's host entry (`oxsio::engineio::host`) for Python web servers:
//! ASGI, aiohttp and WSGI apps hand over requests and WebSocket messages,
//! and get responses and messages back. Types and threads only; the
//! protocol stays in the core.
//!
//! Asynchronous calls take a `done` callable, run on the shared runtime,
//! and call `done(result)` from a runtime thread (the asyncio side wraps it
//! in `loop.call_soon_threadsafe`). `*_blocking` variants wait with the GIL
//! released, for WSGI threads.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use oxsio::engineio::host::{Host, HostReceiver, HostSocket, WsMessage};
use oxsio::engineio::{RemoteAddr, Secure};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyBytes;
use tokio::sync::{Mutex, mpsc};

use crate::blocking;

/// Messages from the peer waiting for the engine, per WebSocket.
const INBOUND: usize = 256;
/// Most messages handed to Python in one `recv` batch.
const BATCH: usize = 256;

/// Message kinds as Python sees them.
const TEXT: u8 = 0;
const BINARY: u8 = 1;
const CLOSE: u8 = 2;

type Head = (
    String,
    String,
    Vec<(Vec<u8>, Vec<u8>)>,
    Option<(String, u16)>,
    bool,
);

/// `(status, [(name, value)], body)`, as Python gets a response.
pub type PyResponse = (u16, Vec<(String, String)>, Vec<u8>);

fn request<B>(head: Head, body: B) -> PyResult<http::Request<B>> {
    let (method, target, headers, remote, secure) = head;
    let mut b = http::Request::builder()
        .method(method.as_str())
        .uri(target.as_str());
    for (name, value) in headers {
        b = b.header(name, value);
    }
    let mut req = b
        .body(body)
        .map_err(|e| PyValueError::new_err(format!("bad request: {e}")))?;
    if let Some((ip, port)) = remote
        && let Ok(ip) = ip.parse::<IpAddr>()
    {
        req.extensions_mut()
            .insert(RemoteAddr(SocketAddr::new(ip, port)));
    }
    if secure {
        req.extensions_mut().insert(Secure);
    }
    Ok(req)
}

fn response(res: http::Response<Bytes>) -> PyResponse {
    let headers = res
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    (res.status().as_u16(), headers, res.into_body().to_vec())
}

/// Calls `done(value)` from a runtime thread; an exception in it is
/// reported as unraisable (the host's own callback is at fault).
fn call_done<T: for<'py> IntoPyObject<'py> + Send>(done: Py<PyAny>, value: T) {
    Python::attach(|py| {
        if let Err(e) = done.call1(py, (value,)) {
            e.write_unraisable(py, Some(done.bind(py)));
        }
    });
}

/// What the asynchronous `websocket` call hands to `done`.
enum Accepted {
    Socket(HostWs),
    Refused(PyResponse),
}

impl<'py> IntoPyObject<'py> for Accepted {
    type Target = PyAny;
    type Output = Bound<'py, PyAny>;
    type Error = PyErr;

    fn into_pyobject(self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        match self {
            Accepted::Socket(ws) => Ok(Bound::new(py, ws)?.into_any()),
            Accepted::Refused(r) => Ok(r.into_pyobject(py)?.into_any()),
        }
    }
}

/// Host calls of the native server (see the module docs).
pub struct HostEntry(pub Host);

impl HostEntry {
    pub fn http(&self, head: Head, body: &[u8], done: Py<PyAny>) -> PyResult<()> {
        let req = request(head, Bytes::copy_from_slice(body))?;
        let host = self.0.clone();
        oxsio::runtime::shared().spawn(async move {
            let res = host.http(req).await;
            call_done(done, response(res));
        });
        Ok(())
    }

    pub fn http_blocking(&self, py: Python<'_>, head: Head, body: &[u8]) -> PyResult<PyResponse> {
        let req = request(head, Bytes::copy_from_slice(body))?;
        let host = self.0.clone();
        let res = blocking::run(py, async move { host.http(req).await }, None)?;
        res.map(response)
            .ok_or_else(|| PyValueError::new_err("the server went away"))
    }

    pub fn websocket(&self, head: Head, done: Py<PyAny>) -> PyResult<()> {
        let req = request(head, ())?;
        let host = self.0.clone();
        oxsio::runtime::shared().spawn(async move {
            let out = match host.websocket(req).await {
                Ok(sock) => Accepted::Socket(HostWs::new(sock)),
                Err(res) => Accepted::Refused(response(res)),
            };
            call_done(done, out);
        });
        Ok(())
    }

    pub fn websocket_blocking(&self, py: Python<'_>, head: Head) -> PyResult<Py<PyAny>> {
        let req = request(head, ())?;
        let host = self.0.clone();
        let out = blocking::run(py, async move { host.websocket(req).await }, None)?
            .ok_or_else(|| PyValueError::new_err("the server went away"))?;
        match out {
            Ok(sock) => Ok(Bound::new(py, HostWs::new(sock))?.into_any().unbind()),
            Err(res) => Ok(response(res).into_pyobject(py)?.into_any().unbind()),
        }
    }
}

/// One WebSocket a Python web server accepted, between its peer and the
/// engine. Messages are `(kind, data)`: kind 0 text (`str`), 1 binary
/// (`bytes`), 2 close (`int` code).
#[pyclass(module = "oxsio._native", frozen)]
pub struct HostWs {
    inbound: mpsc::Sender<WsMessage>,
    outbound: Arc<Mutex<HostReceiver>>,
}

impl HostWs {
    fn new(sock: HostSocket) -> HostWs {
        let (mut tx, rx) = sock.split();
        let (inbound, mut queue) = mpsc::channel::<WsMessage>(INBOUND);
        oxsio::runtime::shared().spawn(async move {
            while let Some(m) = queue.recv().await {
                let close = matches!(m, WsMessage::Close(..));
                if tx.send(m).await.is_err() || close {
                    return;
                }
            }
            // The Python side dropped its handle without a close.
            let _ = tx.send(WsMessage::Close(1006, String::new())).await;
        });
        HostWs {
            inbound,
            outbound: Arc::new(Mutex::new(rx)),
        }
    }
}

fn from_py(kind: u8, data: &Bound<'_, PyAny>) -> PyResult<WsMessage> {
    Ok(match kind {
        TEXT => WsMessage::Text(data.extract()?),
        BINARY => WsMessage::Binary(Bytes::from(data.extract::<Vec<u8>>()?)),
        CLOSE => WsMessage::Close(data.extract().unwrap_or(1005), String::new()),
        k => return Err(PyValueError::new_err(format!("unknown message kind {k}"))),
    })
}

fn to_py(py: Python<'_>, m: WsMessage) -> PyResult<Py<PyAny>> {
    let t = match m {
        WsMessage::Text(t) => (TEXT, t.into_pyobject(py)?.into_any()),
        WsMessage::Binary(b) => (BINARY, PyBytes::new(py, &b).into_any()),
        WsMessage::Close(code, _) => (CLOSE, code.into_pyobject(py)?.into_any()),
    };
    Ok(t.into_pyobject(py)?.into_any().unbind())
}

/// The next messages for the peer: one awaited, then whatever is already
/// decoded, up to [`BATCH`]. Empty once the engine is done.
async fn next_batch(rx: &Mutex<HostReceiver>) -> Vec<WsMessage> {
    let mut rx = rx.lock().await;
    let mut out = Vec::new();
    if let Some(m) = rx.recv().await {
        out.push(m);
        while out.len() < BATCH {
            match tokio::time::timeout(Duration::ZERO, rx.recv()).await {
                Ok(Some(m)) => out.push(m),
                _ => break,
            }
        }
    }
    out
}

fn batch_to_py(py: Python<'_>, batch: Vec<WsMessage>) -> PyResult<Vec<Py<PyAny>>> {
    batch.into_iter().map(|m| to_py(py, m)).collect()
}

#[pymethods]
impl HostWs {
    /// Hands a message from the peer to the engine without waiting: False
    /// when the engine is behind (then use `send_later`), or gone.
    fn send(&self, kind: u8, data: &Bound<'_, PyAny>) -> PyResult<bool> {
        Ok(self.inbound.try_send(from_py(kind, data)?).is_ok())
    }

    /// Hands a message to the engine once it has room, then calls
    /// `done(ok)` from a runtime thread.
    fn send_later(&self, kind: u8, data: &Bound<'_, PyAny>, done: Py<PyAny>) -> PyResult<()> {
        let m = from_py(kind, data)?;
        let tx = self.inbound.clone();
        oxsio::runtime::shared().spawn(async move {
            let ok = tx.send(m).await.is_ok();
            call_done(done, ok);
        });
        Ok(())
    }

    /// `send` that waits for room (GIL released); False if the engine is gone.
    fn send_blocking(&self, py: Python<'_>, kind: u8, data: &Bound<'_, PyAny>) -> PyResult<bool> {
        let m = from_py(kind, data)?;
        let tx = self.inbound.clone();
        Ok(blocking::run(py, async move { tx.send(m).await.is_ok() }, None)?.unwrap_or(false))
    }

    /// Calls `done(batch)` with the next messages for the peer, from a
    /// runtime thread; an empty batch means the engine is done.
    fn recv(&self, done: Py<PyAny>) {
        let rx = self.outbound.clone();
        oxsio::runtime::shared().spawn(async move {
            let batch = next_batch(&rx).await;
            Python::attach(|py| {
                let out = batch_to_py(py, batch).and_then(|b| done.call1(py, (b,)));
                if let Err(e) = out {
                    e.write_unraisable(py, Some(done.bind(py)));
                }
            });
        });
    }

    /// `recv` that waits (GIL released) up to `timeout` seconds; None on
    /// timeout, an empty list once the engine is done.
    #[pyo3(signature = (timeout=None))]
    fn recv_blocking(
        &self,
        py: Python<'_>,
        timeout: Option<f64>,
    ) -> PyResult<Option<Vec<Py<PyAny>>>> {
        let rx = self.outbound.clone();
        let t = blocking::duration(timeout)?;
        match blocking::run(py, async move { next_batch(&rx).await }, t)? {
            Some(batch) => Ok(Some(batch_to_py(py, batch)?)),
            None => Ok(None),
        }
    }
}
