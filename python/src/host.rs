//! The core's host entry (`oxsio::engineio::host`) for Python web servers:
//! ASGI, aiohttp and WSGI apps hand over requests and WebSocket messages,
//! and get responses and messages back. Types and threads only; the
//! protocol stays in the core.
//!
//! Asynchronous calls (asyncio hosts) return an id at once; their results
//! and every WebSocket message for the peer are queued in the server's
//! [`Hub`], which wakes the event loop through a socket pair that the loop
//! watches (`loop.add_reader`). The loop takes everything ready in one call
//! (`hub_take`). No runtime thread ever takes the GIL: under load, a thread
//! waiting for the GIL held by a busy event loop waits for Python's switch
//! interval (5 ms) each time. `*_blocking` variants wait with the GIL
//! released, for WSGI threads.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use oxsio::engineio::host::{Host, HostReceiver, HostSocket, WsMessage};
use oxsio::engineio::{RemoteAddr, Secure};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};
use tokio::sync::{Mutex as AsyncMutex, Semaphore, mpsc};

use crate::blocking;
use crate::server::Server;

/// Messages from the peer waiting for the engine, per WebSocket.
const INBOUND: usize = 256;
/// Most messages handed to Python in one `recv_blocking` batch.
const BATCH: usize = 256;
/// Messages for the peer queued ahead of the event loop, per WebSocket.
const OUT_CREDIT: usize = 256;

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

/// What the hub hands to the event loop, by request or WebSocket id.
enum Item {
    Response(PyResponse),
    Accepted(HostWs),
    Refused(PyResponse),
    Message(WsMessage),
    /// The engine is done with this WebSocket.
    End,
}

/// Item kinds as Python sees them (`(id, kind, value)`).
const ITEM_RESPONSE: u8 = 0;
const ITEM_ACCEPTED: u8 = 1;
const ITEM_REFUSED: u8 = 2;
const ITEM_MESSAGE: u8 = 3;
const ITEM_END: u8 = 4;

/// Results and WebSocket messages for one event loop, and the socket pair
/// that wakes it.
pub struct Hub {
    queue: Mutex<Vec<(u64, Item)>>,
    /// A wake-up byte is in flight (cleared by `take`).
    woken: AtomicBool,
    wake_tx: UnixStream,
    wake_rx: UnixStream,
    next_id: AtomicU64,
}

impl Hub {
    pub fn new() -> std::io::Result<Arc<Hub>> {
        let (wake_tx, wake_rx) = UnixStream::pair()?;
        wake_tx.set_nonblocking(true)?;
        wake_rx.set_nonblocking(true)?;
        Ok(Arc::new(Hub {
            queue: Mutex::new(Vec::new()),
            woken: AtomicBool::new(false),
            wake_tx,
            wake_rx,
            next_id: AtomicU64::new(1),
        }))
    }

    fn id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    fn push(&self, id: u64, item: Item) {
        if let Ok(mut q) = self.queue.lock() {
            q.push((id, item));
        }
        if !self.woken.swap(true, Ordering::SeqCst) {
            // Full pipe: a wake-up is pending anyway.
            let _ = (&self.wake_tx).write(&[1]);
        }
    }

    /// The descriptor the event loop watches for readability.
    pub fn fd(&self) -> i32 {
        self.wake_rx.as_raw_fd()
    }

    /// Everything ready, as `(id, kind, value)` tuples.
    pub fn take<'py>(&self, py: Python<'py>) -> PyResult<Vec<Bound<'py, PyTuple>>> {
        // Drain, then re-arm, then take: a push after the re-arm writes a
        // new byte, and one before it is in the queue taken below.
        let mut sink = [0u8; 64];
        while matches!((&self.wake_rx).read(&mut sink), Ok(n) if n > 0) {}
        self.woken.store(false, Ordering::SeqCst);
        let items = match self.queue.lock() {
            Ok(mut q) => std::mem::take(&mut *q),
            Err(_) => Vec::new(),
        };
        items
            .into_iter()
            .map(|(id, item)| {
                let (kind, value) = match item {
                    Item::Response(r) => (ITEM_RESPONSE, r.into_pyobject(py)?.into_any()),
                    Item::Accepted(ws) => (ITEM_ACCEPTED, Bound::new(py, ws)?.into_any()),
                    Item::Refused(r) => (ITEM_REFUSED, r.into_pyobject(py)?.into_any()),
                    Item::Message(m) => (ITEM_MESSAGE, to_py(py, m)?.into_bound(py)),
                    Item::End => (ITEM_END, py.None().into_bound(py)),
                };
                PyTuple::new(
                    py,
                    [
                        id.into_pyobject(py)?.into_any(),
                        kind.into_pyobject(py)?.into_any(),
                        value,
                    ],
                )
            })
            .collect()
    }
}

/// Host calls of the native server (see the module docs).
pub struct HostEntry(pub Host);

impl HostEntry {
    /// Starts answering a request; its response comes through `hub` under
    /// the returned id.
    pub fn http(&self, hub: &Arc<Hub>, head: Head, body: &[u8]) -> PyResult<u64> {
        let req = request(head, Bytes::copy_from_slice(body))?;
        let host = self.0.clone();
        let (hub, id) = (hub.clone(), hub.id());
        oxsio::runtime::shared().spawn(async move {
            let res = host.http(req).await;
            hub.push(id, Item::Response(response(res)));
        });
        Ok(id)
    }

    pub fn http_blocking(&self, py: Python<'_>, head: Head, body: &[u8]) -> PyResult<PyResponse> {
        let req = request(head, Bytes::copy_from_slice(body))?;
        let host = self.0.clone();
        let res = blocking::run(py, async move { host.http(req).await }, None)?;
        res.map(response)
            .ok_or_else(|| PyValueError::new_err("the server went away"))
    }

    /// Offers a WebSocket to the engine; the answer (a `HostWs`, or a
    /// refusal) and then the messages for the peer come through `hub`
    /// under the returned id.
    pub fn websocket(&self, hub: &Arc<Hub>, head: Head) -> PyResult<u64> {
        let req = request(head, ())?;
        let host = self.0.clone();
        let (hub, id) = (hub.clone(), hub.id());
        oxsio::runtime::shared().spawn(async move {
            match host.websocket(req).await {
                Ok(sock) => {
                    let (ws, rx) = HostWs::new(sock);
                    let credit = ws.credit.clone();
                    hub.push(id, Item::Accepted(ws));
                    pump_to_hub(rx, credit, hub, id).await;
                }
                Err(res) => hub.push(id, Item::Refused(response(res))),
            }
        });
        Ok(id)
    }

    pub fn websocket_blocking(&self, py: Python<'_>, head: Head) -> PyResult<Py<PyAny>> {
        let req = request(head, ())?;
        let host = self.0.clone();
        let out = blocking::run(py, async move { host.websocket(req).await }, None)?
            .ok_or_else(|| PyValueError::new_err("the server went away"))?;
        match out {
            Ok(sock) => {
                let (mut ws, rx) = HostWs::new(sock);
                ws.outbound = Some(Arc::new(AsyncMutex::new(rx)));
                Ok(Bound::new(py, ws)?.into_any().unbind())
            }
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
    /// For the blocking (WSGI) side: it pulls messages itself.
    outbound: Option<Arc<AsyncMutex<HostReceiver>>>,
    /// Messages the asyncio side may have unconsumed (see `consumed`).
    credit: Arc<Semaphore>,
}

impl HostWs {
    fn new(sock: HostSocket) -> (HostWs, HostReceiver) {
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
        let ws = HostWs {
            inbound,
            outbound: None,
            credit: Arc::new(Semaphore::new(OUT_CREDIT)),
        };
        (ws, rx)
    }
}

/// Moves the engine's messages for the peer into the hub, at most
/// [`OUT_CREDIT`] ahead of what the event loop has sent on.
async fn pump_to_hub(mut rx: HostReceiver, credit: Arc<Semaphore>, hub: Arc<Hub>, id: u64) {
    loop {
        match credit.acquire().await {
            Ok(p) => p.forget(),
            Err(_) => break,
        }
        match rx.recv().await {
            Some(m) => hub.push(id, Item::Message(m)),
            None => break,
        }
    }
    hub.push(id, Item::End);
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
async fn next_batch(rx: &AsyncMutex<HostReceiver>) -> Vec<WsMessage> {
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

    /// Hands a message to the engine once it has room; `True` comes through
    /// the hub as a response item under the returned id (False if the
    /// engine is gone).
    fn send_later(&self, hub: &Server, kind: u8, data: &Bound<'_, PyAny>) -> PyResult<u64> {
        let m = from_py(kind, data)?;
        let tx = self.inbound.clone();
        let hub = hub.hub()?;
        let id = hub.id();
        oxsio::runtime::shared().spawn(async move {
            let ok = tx.send(m).await.is_ok();
            hub.push(id, Item::Response((u16::from(ok), Vec::new(), Vec::new())));
        });
        Ok(id)
    }

    /// The event loop sent `n` more messages on to the peer.
    fn consumed(&self, n: usize) {
        self.credit.add_permits(n.min(OUT_CREDIT));
    }

    /// `send` that waits for room (GIL released); False if the engine is gone.
    fn send_blocking(&self, py: Python<'_>, kind: u8, data: &Bound<'_, PyAny>) -> PyResult<bool> {
        let m = from_py(kind, data)?;
        let tx = self.inbound.clone();
        Ok(blocking::run(py, async move { tx.send(m).await.is_ok() }, None)?.unwrap_or(false))
    }

    /// The next messages for the peer (blocking side), waiting (GIL
    /// released) up to `timeout` seconds; None on
    /// timeout, an empty list once the engine is done.
    #[pyo3(signature = (timeout=None))]
    fn recv_blocking(
        &self,
        py: Python<'_>,
        timeout: Option<f64>,
    ) -> PyResult<Option<Vec<Py<PyAny>>>> {
        let Some(rx) = self.outbound.clone() else {
            return Err(PyValueError::new_err(
                "this WebSocket's messages go through the hub",
            ));
        };
        let t = blocking::duration(timeout)?;
        match blocking::run(py, async move { next_batch(&rx).await }, t)? {
            Some(batch) => Ok(Some(batch_to_py(py, batch)?)),
            None => Ok(None),
        }
    }
}
