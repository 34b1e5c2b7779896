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
    new_class_with(py, name, bases, doc, None)
}

/// Like [`new_class`], with an optional `__init__`.
fn new_class_with(
    py: Python<'_>,
    name: &str,
    bases: Vec<Bound<'_, PyAny>>,
    doc: &str,
    init: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyType>> {
    let ns = PyDict::new(py);
    if let Some(init) = init {
        ns.set_item("__init__", init)?;
    }
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
        // OSError subclasses (the builtin ConnectionError and TimeoutError)
        // read two to five arguments as errno/strerror/...; an `__init__`
        // of their own keeps `args` exactly as given.
        let keep_args = py.eval(
            c"lambda self, *args: BaseException.__init__(self, *args)",
            None,
            None,
        )?;
        let base = new_class(
            py,
            "SocketIOError",
            vec![py.get_type::<PyException>().into_any()],
            "Base class of every oxsio error.",
        )?;
        let connection = new_class_with(
            py,
            "ConnectionError",
            vec![
                base.bind(py).clone().into_any(),
                builtins.getattr("ConnectionError")?,
            ],
            "The connection could not be made, or was refused.",
            Some(&keep_args),
        )?;
        let refused = new_class(
            py,
            "ConnectionRefusedError",
            vec![connection.bind(py).clone().into_any()],
            "Raise it from a server `connect` handler to refuse the client; \
             its arguments become the `connect_error` data (message, then data).",
        )?;
        let timeout = new_class_with(
            py,
            "TimeoutError",
            vec![
                base.bind(py).clone().into_any(),
                builtins.getattr("TimeoutError")?,
            ],
            "No answer in time (acknowledgement, connection).",
            Some(&keep_args),
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

/// Client errors. (`matches!` rather than `match`: variants the core adds
/// later fall back to `SocketIOError`.)
pub fn client_error(e: ClientError) -> PyErr {
    use ClientError as C;
    let kind = if matches!(
        e,
        C::InvalidUrl(_) | C::PayloadTooLarge { .. } | C::Emit(EmitError::ReservedEvent(_))
    ) {
        Kind::Value
    } else if matches!(
        e,
        C::Connect(_) | C::Tls(_) | C::Protocol(_) | C::Http(..) | C::Refused { .. }
    ) {
        Kind::Connection
    } else if matches!(e, C::Timeout) {
        Kind::Timeout
    } else if matches!(e, C::NotConnected | C::Closed) {
        Kind::Disconnected
    } else if matches!(e, C::BlockingInAsync) {
        Kind::Runtime
    } else {
        Kind::SocketIo
    };
    err(kind, e.to_string())
}

/// Server emit errors.
pub fn emit_error(e: EmitError) -> PyErr {
    let kind = if matches!(e, EmitError::ReservedEvent(_)) {
        Kind::Value
    } else if matches!(e, EmitError::Disconnected) {
        Kind::Disconnected
    } else {
        Kind::SocketIo
    };
    err(kind, e.to_string())
}

/// Server acknowledgement errors.
pub fn ack_error(e: AckError) -> PyErr {
    match e {
        AckError::Emit(e) => emit_error(e),
        other => {
            let kind = if matches!(other, AckError::Timeout) {
                Kind::Timeout
            } else if matches!(other, AckError::Disconnected) {
                Kind::Disconnected
            } else {
                Kind::SocketIo
            };
            err(kind, other.to_string())
        }
    }
}
