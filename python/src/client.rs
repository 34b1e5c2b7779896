//! `oxsio._native.Client`: a core [`Manager`] with one socket per
//! namespace; every socket event goes to a [`Queue`] drained by Python.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use oxsio::client::{
    Auth, ClientDisconnectReason, ClientError, ClientEvent, ClientOptions, ClientSocket, Manager,
    Reconnection, Status, TlsOptions,
};
use oxsio::codec::socketio::RESERVED_EVENTS;
use oxsio::{Args, Transport, Value};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyList, PyTuple};
use tokio::sync::oneshot;

use crate::blocking;
use crate::convert::{args_to_py, to_args, to_py, to_value};
use crate::errors::{self, Kind};
use crate::queue::Queue;
use crate::reply::{Ack, AuthReply};

/// What Rust tasks tell the Python side.
pub enum Msg {
    Connected {
        ns: String,
        sid: String,
        recovered: bool,
    },
    Event(ClientEvent),
    Disconnected {
        ns: String,
        reason: ClientDisconnectReason,
    },
    ConnectError {
        ns: String,
        error: ClientError,
    },
    Ack {
        id: u64,
        result: Result<Args, ClientError>,
    },
    Auth(oneshot::Sender<Value>),
    Mark(u64),
}

const CONNECTED: u8 = 0;
const EVENT: u8 = 1;
const DISCONNECTED: u8 = 2;
const ACK: u8 = 3;
const CONNECT_ERROR: u8 = 4;
const AUTH: u8 = 5;
const MARK: u8 = 6;

/// How long a reconnecting client waits for the Python `auth` callable.
const AUTH_TIMEOUT: Duration = Duration::from_secs(10);

fn reason_str(r: ClientDisconnectReason) -> &'static str {
    match r.as_str() {
        "io server disconnect" => "server disconnect",
        "io client disconnect" => "client disconnect",
        "ping timeout" => "ping timeout",
        "transport close" => "transport close",
        _ => "transport error",
    }
}

fn msg_to_py<'py>(py: Python<'py>, msg: Msg) -> PyResult<Bound<'py, PyTuple>> {
    let none = || py.None().into_bound(py);
    match msg {
        Msg::Event(ev) => {
            let ack = match ev.ack {
                Some(a) => Bound::new(py, Ack::client(a))?.into_any(),
                None => none(),
            };
            PyTuple::new(
                py,
                [
                    EVENT.into_pyobject(py)?.into_any(),
                    ev.socket.nsp().into_pyobject(py)?.into_any(),
                    ev.name.into_pyobject(py)?.into_any(),
                    args_to_py(py, &ev.args)?.into_any(),
                    ack,
                ],
            )
        }
        Msg::Connected { ns, sid, recovered } => PyTuple::new(
            py,
            [
                CONNECTED.into_pyobject(py)?.into_any(),
                ns.into_pyobject(py)?.into_any(),
                sid.into_pyobject(py)?.into_any(),
                PyBool::new(py, recovered).to_owned().into_any(),
            ],
        ),
        Msg::Disconnected { ns, reason } => PyTuple::new(
            py,
            [
                DISCONNECTED.into_pyobject(py)?.into_any(),
                ns.into_pyobject(py)?.into_any(),
                reason_str(reason).into_pyobject(py)?.into_any(),
            ],
        ),
        Msg::ConnectError { ns, error } => {
            // A refusal gives python-socketio's {'message', 'data'} dict; a
            // failed attempt gives its message.
            let data = match &error {
                ClientError::Refused { message, data } => {
                    let d = PyDict::new(py);
                    d.set_item("message", message)?;
                    if let Some(v) = data {
                        d.set_item("data", to_py(py, v)?)?;
                    }
                    d.into_any()
                }
                other => other.to_string().into_pyobject(py)?.into_any(),
            };
            PyTuple::new(
                py,
                [
                    CONNECT_ERROR.into_pyobject(py)?.into_any(),
                    ns.into_pyobject(py)?.into_any(),
                    data,
                ],
            )
        }
        Msg::Ack { id, result } => {
            let (args, err) = match result {
                Ok(args) => (args_to_py(py, &args)?.into_any(), none()),
                Err(e) => (
                    none(),
                    errors::client_error(e)
                        .into_value(py)
                        .into_bound(py)
                        .into_any(),
                ),
            };
            PyTuple::new(
                py,
                [
                    ACK.into_pyobject(py)?.into_any(),
                    id.into_pyobject(py)?.into_any(),
                    args,
                    err,
                ],
            )
        }
        Msg::Mark(id) => PyTuple::new(
            py,
            [
                MARK.into_pyobject(py)?.into_any(),
                id.into_pyobject(py)?.into_any(),
            ],
        ),
        Msg::Auth(tx) => PyTuple::new(
            py,
            [
                AUTH.into_pyobject(py)?.into_any(),
                Bound::new(py, AuthReply::new(tx))?.into_any(),
            ],
        ),
    }
}

/// One connection: the manager and its namespace sockets.
struct Conn {
    manager: Manager,
    sockets: Vec<ClientSocket>,
    /// Give up on the first failed attempt instead of waiting for a retry.
    fail_fast: bool,
    /// The last connection failure, per socket index.
    failures: Arc<Mutex<Vec<Option<ClientError>>>>,
}

impl Conn {
    fn socket(&self, ns: &str) -> Option<&ClientSocket> {
        self.sockets.iter().find(|s| s.nsp() == ns)
    }
}

/// The native client. Used through `oxsio.Client` / `oxsio.AsyncClient`.
#[pyclass(module = "oxsio._native", frozen)]
pub struct Client {
    queue: Arc<Queue<Msg>>,
    conn: Mutex<Option<Conn>>,
    reconnection: Reconnection,
    connect_timeout: Duration,
    ack_timeout: Duration,
    retries: u32,
    max_attachments: usize,
    max_json_depth: usize,
    max_payload: usize,
    per_message_deflate: Option<usize>,
    eio3: bool,
    parser: oxsio::codec::Parser,
    tls: TlsOptions,
}

impl Client {
    fn conn(&self) -> std::sync::MutexGuard<'_, Option<Conn>> {
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The connected socket of `ns`.
    fn connected_socket(&self, ns: &str) -> PyResult<ClientSocket> {
        self.conn()
            .as_ref()
            .and_then(|c| c.socket(ns).cloned())
            .filter(ClientSocket::connected)
            .ok_or_else(|| {
                errors::err(
                    Kind::BadNamespace,
                    format!("{ns} is not a connected namespace."),
                )
            })
    }
}

/// python-socketio's `serializer` names: "default" and "msgpack".
pub(crate) fn parser(serializer: &str) -> PyResult<oxsio::codec::Parser> {
    match serializer {
        "default" => Ok(oxsio::codec::Parser::Json),
        "msgpack" => Ok(oxsio::codec::Parser::MsgPack),
        other => Err(PyValueError::new_err(format!(
            "serializer must be 'default' or 'msgpack', not {other:?}"
        ))),
    }
}

fn check_event(event: &str) -> PyResult<()> {
    if RESERVED_EVENTS.contains(&event) {
        Err(PyValueError::new_err(format!(
            "event name {event:?} is reserved"
        )))
    } else {
        Ok(())
    }
}

#[pymethods]
impl Client {
    #[new]
    #[pyo3(signature = (
        *,
        reconnection = true,
        reconnection_attempts = 0,
        reconnection_delay = 1.0,
        reconnection_delay_max = 5.0,
        randomization_factor = 0.5,
        request_timeout = 20.0,
        ack_timeout = 60.0,
        ssl_verify = true,
        ca_pem = None,
        retries = 0,
        max_attachments = 10,
        max_json_depth = 128,
        max_payload = 104857600,
        per_message_deflate = None,
        eio3 = false,
        serializer = "default",
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        reconnection: bool,
        reconnection_attempts: u32,
        reconnection_delay: f64,
        reconnection_delay_max: f64,
        randomization_factor: f64,
        request_timeout: f64,
        ack_timeout: f64,
        ssl_verify: bool,
        ca_pem: Option<Vec<u8>>,
        retries: u32,
        max_attachments: usize,
        max_json_depth: usize,
        max_payload: usize,
        per_message_deflate: Option<usize>,
        eio3: bool,
        serializer: &str,
    ) -> PyResult<Self> {
        let secs = |v: f64| blocking::duration(Some(v)).map(Option::unwrap_or_default);
        let parser = parser(serializer)?;
        if !(0.0..=1.0).contains(&randomization_factor) {
            return Err(PyValueError::new_err(
                "randomization_factor must be between 0 and 1",
            ));
        }
        Ok(Client {
            queue: Queue::new(),
            conn: Mutex::default(),
            reconnection: Reconnection {
                enabled: reconnection,
                attempts: (reconnection_attempts > 0).then_some(reconnection_attempts),
                delay: secs(reconnection_delay)?,
                delay_max: secs(reconnection_delay_max)?,
                randomization_factor,
            },
            connect_timeout: secs(request_timeout)?,
            ack_timeout: secs(ack_timeout)?,
            retries,
            max_attachments,
            max_json_depth,
            max_payload,
            per_message_deflate,
            eio3,
            parser,
            tls: TlsOptions {
                extra_ca_pem: ca_pem,
                accept_invalid_certs: !ssl_verify,
                ..TlsOptions::default()
            },
        })
    }

    /// Starts connecting to `url` on `namespaces` (returns at once; see
    /// `wait_connected`). `auth` is sent as is, or, with `auth_callable`,
    /// asked from Python (event 5) before every attempt.
    #[pyo3(signature = (
        url,
        namespaces,
        *,
        headers = None,
        auth = None,
        auth_callable = false,
        transports = None,
        path = "/socket.io/",
        retry = false,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn connect(
        &self,
        url: &str,
        namespaces: Vec<String>,
        headers: Option<Vec<(String, String)>>,
        auth: Option<&Bound<'_, PyAny>>,
        auth_callable: bool,
        transports: Option<Vec<String>>,
        path: &str,
        retry: bool,
    ) -> PyResult<()> {
        let mut slot = self.conn();
        if let Some(c) = slot.as_ref()
            && c.sockets.iter().any(ClientSocket::connected)
        {
            return Err(errors::err(Kind::Connection, "Already connected"));
        }
        if namespaces.is_empty() {
            return Err(PyValueError::new_err("no namespace to connect"));
        }
        let mut opts = ClientOptions {
            reconnection: self.reconnection.clone(),
            connect_timeout: self.connect_timeout,
            ack_timeout: self.ack_timeout,
            retries: self.retries,
            max_attachments: self.max_attachments,
            max_json_depth: self.max_json_depth,
            max_payload: self.max_payload,
            per_message_deflate: self.per_message_deflate,
            eio3: self.eio3,
            parser: self.parser,
            tls: self.tls.clone(),
            path: path.to_owned(),
            ..ClientOptions::default()
        };
        for (k, v) in headers.unwrap_or_default() {
            let name = http::HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| PyValueError::new_err(format!("invalid header name {k:?}")))?;
            let value = http::HeaderValue::from_str(&v)
                .map_err(|_| PyValueError::new_err(format!("invalid value for header {k:?}")))?;
            opts.headers.append(name, value);
        }
        if let Some(t) = transports {
            let mut list = Vec::new();
            for name in t {
                list.push(match name.as_str() {
                    "polling" => Transport::Polling,
                    "websocket" => Transport::Websocket,
                    other => {
                        return Err(PyValueError::new_err(format!(
                            "unknown transport {other:?} (use 'polling' or 'websocket')"
                        )));
                    }
                });
            }
            opts.transports = list;
        }
        let auth = if auth_callable {
            let tx = self.queue.tx();
            Auth::from_async(move || {
                let (reply, rx) = oneshot::channel();
                tx.push(Msg::Auth(reply));
                async move {
                    match tokio::time::timeout(AUTH_TIMEOUT, rx).await {
                        Ok(Ok(v)) => v,
                        _ => Value::Null,
                    }
                }
            })
        } else {
            match auth {
                Some(a) if !a.is_none() => Auth::Value(to_value(a)?),
                _ => Auth::None,
            }
        };
        let manager = Manager::new(url, opts).map_err(errors::client_error)?;
        let failures = Arc::new(Mutex::new(vec![None; namespaces.len()]));
        let mut sockets = Vec::new();
        for (i, ns) in namespaces.iter().enumerate() {
            if !ns.starts_with('/') {
                return Err(PyValueError::new_err(format!(
                    "namespace {ns:?} must start with '/'"
                )));
            }
            let socket = manager.socket_with_auth(ns, auth.clone());
            let tx = self.queue.tx();
            socket.on_any(move |ev: &ClientEvent| tx.push(Msg::Event(ev.clone())));
            let tx = self.queue.tx();
            socket.on_connect(move |s: &ClientSocket| {
                tx.push(Msg::Connected {
                    ns: s.nsp().to_owned(),
                    sid: s.id().unwrap_or_default(),
                    recovered: s.recovered(),
                });
            });
            let tx = self.queue.tx();
            socket.on_disconnect(move |s: &ClientSocket, reason| {
                tx.push(Msg::Disconnected {
                    ns: s.nsp().to_owned(),
                    reason,
                });
            });
            let tx = self.queue.tx();
            let fail = failures.clone();
            socket.on_connect_error(move |s: &ClientSocket, e: &ClientError| {
                if let Ok(mut f) = fail.lock()
                    && let Some(slot) = f.get_mut(i)
                {
                    *slot = Some(e.clone());
                }
                tx.push(Msg::ConnectError {
                    ns: s.nsp().to_owned(),
                    error: e.clone(),
                });
            });
            sockets.push(socket);
        }
        // python-socketio reports every failed reconnection attempt as a
        // connect_error of each namespace.
        let tx = self.queue.tx();
        let names = namespaces.clone();
        manager.on_reconnect_error(move |e: &ClientError| {
            for ns in &names {
                tx.push(Msg::ConnectError {
                    ns: ns.clone(),
                    error: e.clone(),
                });
            }
        });
        // The first namespace starts the connection; the others are opened
        // once it has an answer. (Opening them all at once makes the core
        // send a second CONNECT for each, which python-socketio refuses.)
        sockets[0].open();
        if sockets.len() > 1 {
            let first = sockets[0].clone();
            let rest: Vec<ClientSocket> = sockets[1..].to_vec();
            let bound = self.connect_timeout;
            oxsio::runtime::spawn(async move {
                let mut rx = first.watch_status();
                let answered = async {
                    loop {
                        if matches!(
                            *rx.borrow_and_update(),
                            Status::Connected(_) | Status::Refused(_)
                        ) {
                            return;
                        }
                        if rx.changed().await.is_err() {
                            return;
                        }
                    }
                };
                let _ = tokio::time::timeout(bound, answered).await;
                for s in rest {
                    s.open();
                }
            });
        }
        *slot = Some(Conn {
            manager,
            sockets,
            fail_fast: !retry,
            failures,
        });
        Ok(())
    }

    /// Waits (GIL released) up to `timeout` seconds for every namespace to
    /// connect: True when all are, False if still connecting. Raises
    /// ConnectionError when one is refused or, without `retry`, when an
    /// attempt fails.
    fn wait_connected(&self, py: Python<'_>, timeout: f64) -> PyResult<bool> {
        let deadline = Instant::now() + blocking::duration(Some(timeout))?.unwrap_or_default();
        let (sockets, failures, fail_fast) = {
            let c = self.conn();
            let c = c
                .as_ref()
                .ok_or_else(|| errors::err(Kind::Disconnected, "not connecting"))?;
            (c.sockets.clone(), c.failures.clone(), c.fail_fast)
        };
        loop {
            let mut all = true;
            let mut refused = Vec::new();
            for s in &sockets {
                match s.status() {
                    Status::Connected(_) => {}
                    Status::Refused(e) => refused.push(format!("{} ({e})", s.nsp())),
                    _ => all = false,
                }
            }
            if !refused.is_empty() {
                return Err(errors::err(
                    Kind::Connection,
                    format!(
                        "One or more namespaces failed to connect: {}",
                        refused.join(", ")
                    ),
                ));
            }
            if all {
                return Ok(true);
            }
            if fail_fast
                && let Some(e) = failures
                    .lock()
                    .ok()
                    .and_then(|f| f.iter().flatten().next().cloned())
            {
                return Err(errors::err(Kind::Connection, e.to_string()));
            }
            if Instant::now() >= deadline {
                return Ok(false);
            }
            py.detach(|| std::thread::sleep(Duration::from_millis(5)));
            py.check_signals()?;
        }
    }

    /// Leaves every namespace and closes the connection (no reconnection).
    fn disconnect(&self) {
        if let Some(c) = self.conn().as_ref() {
            for s in &c.sockets {
                s.disconnect();
            }
            c.manager.close();
        }
    }

    /// Ends the event stream: `next_events` returns None once drained.
    fn close(&self) {
        self.queue.close();
    }

    /// Waits (GIL released) up to `timeout` seconds for events without
    /// taking them: True when `next_events` has some, False on timeout,
    /// None once closed and drained.
    #[pyo3(signature = (timeout=None, max=1024))]
    fn prefetch(&self, py: Python<'_>, timeout: Option<f64>, max: usize) -> PyResult<Option<bool>> {
        self.queue.prefetch(py, blocking::duration(timeout)?, max)
    }

    /// Queues `(6, id)` behind every event queued so far (lets the caller
    /// wait until the handlers of those events have run).
    fn mark(&self, id: u64) {
        self.queue.push(Msg::Mark(id));
    }

    /// True while connected or reconnecting.
    #[getter]
    fn active(&self) -> bool {
        self.conn().as_ref().is_some_and(|c| {
            c.sockets
                .iter()
                .any(|s| matches!(s.status(), Status::Connected(_) | Status::Connecting))
        })
    }

    /// Blocks (GIL released; Ctrl-C raises KeyboardInterrupt) until the
    /// connection has ended and no reconnection is under way (True), or
    /// `timeout` seconds pass (False).
    #[pyo3(signature = (timeout=None))]
    fn wait(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<bool> {
        let deadline = blocking::duration(timeout)?.map(|t| Instant::now() + t);
        loop {
            if !self.active() {
                // No namespace is wanted any more: release the connection.
                if let Some(c) = self.conn().as_ref() {
                    c.manager.close();
                }
                return Ok(true);
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Ok(false);
            }
            py.detach(|| std::thread::sleep(blocking::SLICE));
            py.check_signals()?;
        }
    }

    /// The socket id of namespace `ns` while connected.
    fn sid(&self, ns: &str) -> Option<String> {
        self.conn().as_ref()?.socket(ns)?.id()
    }

    /// The namespaces connected now.
    fn connected_namespaces(&self) -> Vec<String> {
        self.conn()
            .as_ref()
            .map(|c| {
                c.sockets
                    .iter()
                    .filter(|s| s.connected())
                    .map(|s| s.nsp().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Takes the waiting events; see `Server.next_events`.
    #[pyo3(signature = (timeout=None, max=1024))]
    fn next_events<'py>(
        &self,
        py: Python<'py>,
        timeout: Option<f64>,
        max: usize,
    ) -> PyResult<Option<Bound<'py, PyList>>> {
        let Some(batch) = self.queue.take(py, blocking::duration(timeout)?, max)? else {
            return Ok(None);
        };
        let items = batch
            .into_iter()
            .map(|m| msg_to_py(py, m))
            .collect::<PyResult<Vec<_>>>()?;
        Ok(Some(PyList::new(py, items)?))
    }

    /// Emits `event` with `args` on namespace `ns`.
    fn emit(&self, ns: &str, event: &str, args: &Bound<'_, PyAny>) -> PyResult<()> {
        check_event(event)?;
        let args = to_args(args)?;
        self.connected_socket(ns)?
            .emit(event, args)
            .map_err(errors::client_error)
    }

    /// Emits asking for an acknowledgement; the result comes back through
    /// `next_events` as `(3, id, args, error)`.
    fn emit_with_ack(
        &self,
        ns: &str,
        event: &str,
        args: &Bound<'_, PyAny>,
        timeout: f64,
        id: u64,
    ) -> PyResult<()> {
        check_event(event)?;
        let args = to_args(args)?;
        let timeout = blocking::duration(Some(timeout))?.unwrap_or_default();
        let socket = self.connected_socket(ns)?;
        let fut = if self.retries > 0 {
            // Each try waits `ack_timeout`; the queue resends.
            socket.emit_with_ack(event, args)
        } else {
            socket.emit_with_ack_timeout(event, args, timeout)
        };
        let tx = self.queue.tx();
        oxsio::runtime::spawn(async move {
            let result = fut.await;
            tx.push(Msg::Ack { id, result });
        });
        Ok(())
    }

    /// Emits and blocks (GIL released) until the server acknowledges;
    /// returns the acknowledgement's arguments.
    fn call<'py>(
        &self,
        py: Python<'py>,
        ns: &str,
        event: &str,
        args: &Bound<'py, PyAny>,
        timeout: f64,
    ) -> PyResult<Bound<'py, PyList>> {
        check_event(event)?;
        let args = to_args(args)?;
        let mut timeout = blocking::duration(Some(timeout))?.unwrap_or_default();
        let socket = self.connected_socket(ns)?;
        let fut = if self.retries > 0 {
            timeout = self.ack_timeout * (self.retries + 1);
            socket.emit_with_ack(event, args)
        } else {
            socket.emit_with_ack_timeout(event, args, timeout)
        };
        match blocking::run(py, fut, Some(timeout + Duration::from_secs(1)))? {
            Some(Ok(args)) => args_to_py(py, &args),
            Some(Err(e)) => Err(errors::client_error(e)),
            None => Err(PyRuntimeError::new_err("acknowledgement wait ended")),
        }
    }
}
