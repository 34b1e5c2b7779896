//! The shared runtime for callers without one (C, Python, plain threads):
//! created on first use and shared by every server and client they make.

use std::future::Future;
use std::sync::OnceLock;

use tokio::runtime::{Builder, Handle, Runtime};

static RUNTIME: OnceLock<Runtime> = OnceLock::new();

/// The shared multi-threaded runtime (created on first use).
///
/// # Panics
/// If the OS refuses to start the runtime's threads.
pub fn shared() -> &'static Runtime {
    RUNTIME.get_or_init(|| {
        Builder::new_multi_thread()
            .enable_all()
            .thread_name("oxsio-rt")
            .build()
            .unwrap_or_else(|e| panic!("oxsio: cannot start the runtime: {e}"))
    })
}

/// A handle to the current runtime, or to the shared one outside any runtime.
pub fn handle() -> Handle {
    Handle::try_current().unwrap_or_else(|_| shared().handle().clone())
}

/// Spawns on the current runtime, or on the shared one.
pub fn spawn<F>(fut: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    handle().spawn(fut)
}

/// True on the thread of a current-thread runtime, where blocking would
/// stall every task of that runtime.
pub fn on_current_thread_runtime() -> bool {
    Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::CurrentThread)
}
