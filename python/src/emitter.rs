//! `_native.Emitter`: the Redis emitter (`@socket.io/redis-emitter`
//! protocol) for processes that are not servers. The facade exposes it as
//! `RedisManager(write_only=True)`.

use std::time::Duration;

use oxsio::adapter::redis::{Emitter as CoreEmitter, EmitterConfig, EmitterError};
use pyo3::prelude::*;

use crate::blocking;
use crate::convert::to_args;
use crate::errors::{Kind, err};

/// Publishes events and cluster operations to the servers of a cluster on
/// the classic Redis adapter.
#[pyclass(module = "oxsio._native", frozen)]
pub struct Emitter {
    inner: CoreEmitter,
    timeout: Duration,
}

fn emitter_error(e: EmitterError) -> PyErr {
    match e {
        EmitterError::Config(m) => err(Kind::Value, m),
        EmitterError::Reserved(m) => err(Kind::Value, format!("\"{m}\" is a reserved event name")),
        EmitterError::Publish(m) => err(Kind::Connection, format!("Redis publish failed: {m}")),
    }
}

impl Emitter {
    fn select(&self, namespace: &str, to: Vec<String>, skip: Vec<String>) -> CoreEmitter {
        let mut e = self.inner.of(namespace);
        for r in to {
            e = e.to(r);
        }
        for r in skip {
            e = e.except(r);
        }
        e
    }

    fn wait<F>(&self, py: Python<'_>, fut: F) -> PyResult<()>
    where
        F: Future<Output = Result<(), EmitterError>> + Send + 'static,
    {
        // The emitter bounds connecting and publishing itself.
        match blocking::run(py, fut, Some(self.timeout * 2 + Duration::from_secs(1)))? {
            Some(r) => r.map_err(emitter_error),
            None => Err(err(Kind::Timeout, "Redis publish timed out")),
        }
    }
}

#[pymethods]
impl Emitter {
    #[new]
    #[pyo3(signature = (url = None, nodes = None, prefix = "socket.io", timeout = 5.0))]
    fn new(
        url: Option<String>,
        nodes: Option<Vec<String>>,
        prefix: &str,
        timeout: f64,
    ) -> PyResult<Self> {
        let timeout = blocking::duration(Some(timeout))?
            .filter(|d| !d.is_zero())
            .ok_or_else(|| err(Kind::Value, "timeout must be positive"))?;
        let config = match (url, nodes) {
            (Some(_), Some(_)) => return Err(err(Kind::Value, "give either url or nodes")),
            (Some(u), None) => EmitterConfig::new(u),
            (None, Some(n)) => EmitterConfig::cluster(n),
            (None, None) => EmitterConfig::new("redis://127.0.0.1:6379"),
        };
        let inner =
            CoreEmitter::new(config.prefix(prefix).timeout(timeout)).map_err(emitter_error)?;
        Ok(Emitter { inner, timeout })
    }

    #[pyo3(signature = (namespace, event, args, to, skip, volatile = false))]
    #[allow(clippy::too_many_arguments)]
    fn emit(
        &self,
        py: Python<'_>,
        namespace: &str,
        event: &str,
        args: &Bound<'_, PyAny>,
        to: Vec<String>,
        skip: Vec<String>,
        volatile: bool,
    ) -> PyResult<()> {
        let args = to_args(args)?;
        let mut e = self.select(namespace, to, skip);
        if volatile {
            e = e.volatile();
        }
        let event = event.to_owned();
        self.wait(py, async move { e.emit(&event, args).await })
    }

    fn sockets_join(
        &self,
        py: Python<'_>,
        namespace: &str,
        to: Vec<String>,
        skip: Vec<String>,
        rooms: Vec<String>,
    ) -> PyResult<()> {
        let e = self.select(namespace, to, skip);
        self.wait(py, async move { e.sockets_join(rooms).await })
    }

    fn sockets_leave(
        &self,
        py: Python<'_>,
        namespace: &str,
        to: Vec<String>,
        skip: Vec<String>,
        rooms: Vec<String>,
    ) -> PyResult<()> {
        let e = self.select(namespace, to, skip);
        self.wait(py, async move { e.sockets_leave(rooms).await })
    }

    fn disconnect_sockets(
        &self,
        py: Python<'_>,
        namespace: &str,
        to: Vec<String>,
        skip: Vec<String>,
        close: bool,
    ) -> PyResult<()> {
        let e = self.select(namespace, to, skip);
        self.wait(py, async move { e.disconnect_sockets(close).await })
    }

    fn server_side_emit(
        &self,
        py: Python<'_>,
        namespace: &str,
        event: &str,
        args: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let args = to_args(args)?;
        let e = self.inner.of(namespace);
        let event = event.to_owned();
        self.wait(py, async move { e.server_side_emit(&event, args).await })
    }
}
