//! One-shot answers from Python back to Rust: acknowledgements, connect
//! verdicts and auth payloads.

use std::sync::Mutex;

use oxsio::client::{ClientAck, ClientError};
use oxsio::{AckSender, ConnectError, EmitError, Socket, Value};
use pyo3::prelude::*;
use tokio::sync::oneshot;

use crate::convert::{to_args, to_value};
use crate::errors;

fn take<T>(slot: &Mutex<Option<T>>) -> Option<T> {
    slot.lock().unwrap_or_else(|e| e.into_inner()).take()
}

enum AckInner {
    Server(AckSender),
    Client(ClientAck),
}

/// Answers the peer's acknowledgement request; only the first `send` counts.
#[pyclass(module = "oxsio._native", frozen)]
pub struct Ack(Mutex<Option<AckInner>>);

impl Ack {
    pub fn server(a: AckSender) -> Self {
        Ack(Mutex::new(Some(AckInner::Server(a))))
    }
    pub fn client(a: ClientAck) -> Self {
        Ack(Mutex::new(Some(AckInner::Client(a))))
    }
}

#[pymethods]
impl Ack {
    /// Sends `args` (a list or tuple) as the acknowledgement.
    fn send(&self, args: &Bound<'_, PyAny>) -> PyResult<()> {
        let args = to_args(args)?;
        match take(&self.0) {
            None => Ok(()),
            Some(AckInner::Server(a)) => match a.send(args) {
                Ok(()) | Err(EmitError::Disconnected) => Ok(()),
                Err(e) => Err(errors::emit_error(e)),
            },
            Some(AckInner::Client(a)) => match a.send(args) {
                Ok(()) | Err(ClientError::NotConnected) | Err(ClientError::Closed) => Ok(()),
                Err(e) => Err(errors::client_error(e)),
            },
        }
    }

    /// True until `send` has been called.
    #[getter]
    fn pending(&self) -> bool {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).is_some()
    }
}

/// How a connect verdict is delivered.
pub enum Verdict {
    /// The connect middleware waits for it.
    Middleware(oneshot::Sender<Result<(), ConnectError>>),
    /// `always_connect`: the socket is connected; refusing disconnects it.
    Connected(Socket),
}

/// The server's answer to a client joining a namespace.
#[pyclass(module = "oxsio._native", frozen)]
pub struct ConnectReply(Mutex<Option<Verdict>>);

impl ConnectReply {
    pub fn new(v: Verdict) -> Self {
        ConnectReply(Mutex::new(Some(v)))
    }
}

#[pymethods]
impl ConnectReply {
    /// Lets the client in.
    fn accept(&self) {
        if let Some(Verdict::Middleware(tx)) = take(&self.0) {
            let _ = tx.send(Ok(()));
        }
    }

    /// Refuses the client: it gets `connect_error` with `message` and `data`.
    #[pyo3(signature = (message, data=None))]
    fn refuse(&self, message: String, data: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let mut err = ConnectError::new(message);
        if let Some(d) = data {
            err = err.with_data(to_value(d)?);
        }
        match take(&self.0) {
            Some(Verdict::Middleware(tx)) => {
                let _ = tx.send(Err(err));
            }
            Some(Verdict::Connected(socket)) => socket.disconnect(),
            None => {}
        }
        Ok(())
    }
}

/// Delivers the value of an `auth` callable to a reconnecting client.
#[pyclass(module = "oxsio._native", frozen)]
pub struct AuthReply(Mutex<Option<oneshot::Sender<Value>>>);

impl AuthReply {
    pub fn new(tx: oneshot::Sender<Value>) -> Self {
        AuthReply(Mutex::new(Some(tx)))
    }
}

#[pymethods]
impl AuthReply {
    /// Sends the auth payload (any JSON-compatible value).
    fn send(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let v = to_value(value)?;
        if let Some(tx) = take(&self.0) {
            let _ = tx.send(v);
        }
        Ok(())
    }
}
