//! The exception hierarchy of `oxsio`, and the one place where Rust errors
//! become Python exceptions.
//!
//! ```text
//! SocketIOError(Exception)
//! ├── ConnectionError(SocketIOError, builtins.ConnectionError)
//! │   └── ConnectionRefusedError
//! ├── TimeoutError(SocketIOError, builtins.TimeoutError)
//! ├── BadNamespaceError
//! └── DisconnectedError
//! ```
//!
//! Classes with two bases cannot come from `create_exception!`, so every
//! class is made with `type(name, bases, namespace)` on first use.

use oxsio::client::ClientError;
use oxsio::{AckError, EmitError};
use pyo3::exceptions::{PyException, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};

/// Every exception class, created once per interpreter.
pub struct Classes {
    pub socketio: Py<PyType>,
    pub connection: Py<PyType>,
    pub refused: Py<PyType>,
    pub timeout: Py<PyType>,
    pub bad_namespace: Py<PyType>,
    pub disconnected: Py<PyType>,
}

static CLASSES: PyOnceLock<Classes> = PyOnceLock::new();

fn new_class(
    py: Python<'_>,
    name: &str,
    bases: Vec<Bound<'_, PyAny>>,
    doc: &str,
) -> PyResult<Py<PyType>> {
    let ns = PyDict::new(py);
    ns.set_item("__module__", "oxsio")?;
    ns.set_item("__doc__", doc)?;
    let bases = PyTuple::new(py, bases)?;
    let ty = py
        .get_type::<PyType>()
        .call1((name, bases, ns))?
        .cast_into::<PyType>()?;
    Ok(ty.unbind())
}

/// The exception classes (created on first call).
pub fn classes(py: Python<'_>) -> PyResult<&'static Classes> {
    CLASSES.get_or_try_init(py, || {
        let builtins = py.import("builtins")?;
        let base = new_class(
            py,
            "SocketIOError",
            vec![py.get_type::<PyException>().into_any()],
            "Base class of every oxsio error.",
        )?;
        let connection = new_class(
            py,
            "ConnectionError",
            vec![
                base.bind(py).clone().into_any(),
                builtins.getattr("ConnectionError")?,
            ],
            "The connection could not be made, or was refused.",
        )?;
        let refused = new_class(
            py,
            "ConnectionRefusedError",
            vec![connection.bind(py).clone().into_any()],
            "Raise it from a server `connect` handler to refuse the client; \
             its arguments become the `connect_error` data (message, then data).",
        )?;
        let timeout = new_class(
            py,
            "TimeoutError",
            vec![
                base.bind(py).clone().into_any(),
                builtins.getattr("TimeoutError")?,
            ],
            "No answer in time (acknowledgement, connection).",
        )?;
        let bad_namespace = new_class(
            py,
            "BadNamespaceError",
            vec![base.bind(py).clone().into_any()],
            "The namespace is not connected (client) or not served (server).",
        )?;
        let disconnected = new_class(
            py,
            "DisconnectedError",
            vec![base.bind(py).clone().into_any()],
            "The socket is disconnected, or the server or client is closed.",
        )?;
        Ok(Classes {
            socketio: base,
            connection,
            refused,
            timeout,
            bad_namespace,
            disconnected,
        })
    })
}

/// Which class of the hierarchy.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    SocketIo,
    Connection,
    Timeout,
    BadNamespace,
    Disconnected,
    Value,
    Runtime,
}

/// Builds an exception of `kind` with `message`.
pub fn err(kind: Kind, message: impl Into<String>) -> PyErr {
    let message = message.into();
    Python::attach(|py| {
        let class = match (kind, classes(py)) {
            (Kind::Value, _) => return PyValueError::new_err(message),
            (Kind::Runtime, _) => return PyRuntimeError::new_err(message),
            (_, Err(e)) => return e,
            (Kind::SocketIo, Ok(c)) => &c.socketio,
            (Kind::Connection, Ok(c)) => &c.connection,
            (Kind::Timeout, Ok(c)) => &c.timeout,
            (Kind::BadNamespace, Ok(c)) => &c.bad_namespace,
            (Kind::Disconnected, Ok(c)) => &c.disconnected,
        };
        PyErr::from_type(class.bind(py).clone(), (message,))
    })
}

/// Client errors.
pub fn client_error(e: ClientError) -> PyErr {
    let kind = match &e {
        ClientError::InvalidUrl(_) | ClientError::PayloadTooLarge { .. } => Kind::Value,
        ClientError::Emit(EmitError::ReservedEvent(_)) => Kind::Value,
        ClientError::Connect(_)
        | ClientError::Tls(_)
        | ClientError::Protocol(_)
        | ClientError::Http(..)
        | ClientError::Refused { .. } => Kind::Connection,
        ClientError::Timeout => Kind::Timeout,
        ClientError::NotConnected | ClientError::Closed => Kind::Disconnected,
        ClientError::BufferFull | ClientError::Emit(_) => Kind::SocketIo,
        ClientError::BlockingInAsync => Kind::Runtime,
    };
    err(kind, e.to_string())
}

/// Server emit errors.
pub fn emit_error(e: EmitError) -> PyErr {
    match e {
        EmitError::ReservedEvent(_) => err(Kind::Value, e.to_string()),
        EmitError::Disconnected => err(Kind::Disconnected, e.to_string()),
        EmitError::QueueFull => err(Kind::SocketIo, e.to_string()),
    }
}

/// Server acknowledgement errors.
pub fn ack_error(e: AckError) -> PyErr {
    match e {
        AckError::Timeout => err(Kind::Timeout, e.to_string()),
        AckError::Emit(e) => emit_error(e),
        // Disconnected, and the limits the core may add (e.g. too many pending).
        other => {
            let kind = if matches!(other, AckError::Disconnected) {
                Kind::Disconnected
            } else {
                Kind::SocketIo
            };
            err(kind, other.to_string())
        }
    }
}
