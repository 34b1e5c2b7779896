//! `oxsio._native`: the compiled half of the `oxsio` Python package. It
//! translates types and threads only; the protocol lives in the `oxsio`
//! crate. Users import `oxsio`, never this module.

mod blocking;
mod client;
mod convert;
mod emitter;
mod errors;
mod host;
mod logs;
mod queue;
mod reply;
mod server;

use pyo3::prelude::*;

/// The native module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<server::Server>()?;
    m.add_class::<client::Client>()?;
    m.add_class::<emitter::Emitter>()?;
    m.add_class::<host::HostWs>()?;
    m.add_function(wrap_pyfunction!(logs::enable_logs, m)?)?;
    m.add_function(wrap_pyfunction!(logs::next_logs, m)?)?;
    m.add_class::<reply::Ack>()?;
    m.add_class::<reply::ConnectReply>()?;
    m.add_class::<reply::AuthReply>()?;
    let c = errors::classes(py)?;
    m.add("SocketIOError", c.socketio.bind(py))?;
    m.add("ConnectionError", c.connection.bind(py))?;
    m.add("ConnectionRefusedError", c.refused.bind(py))?;
    m.add("TimeoutError", c.timeout.bind(py))?;
    m.add("BadNamespaceError", c.bad_namespace.bind(py))?;
    m.add("DisconnectedError", c.disconnected.bind(py))?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
