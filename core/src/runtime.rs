//! The shared runtime for callers without one (C, Python, plain threads):
//! created on first use and shared by every server and client they make.
//!
//! On Linux its threads run under the `SCHED_BATCH` policy: woken by the
//! network or by a host thread's emit, they do not preempt the host's
//! threads on the same core, but run when the host thread waits, yields or
//! uses up its time slice. A game loop or a C/Python thread draining events
//! then gets them in batches instead of being interrupted by each one (in
//! poll mode on one core this cut context switches per event about
//! eightfold). On a machine with a free core nothing changes: a woken
//! thread goes there. Set `OXSIO_RUNTIME_SCHED=normal` in the environment
//! before the first server or client is made to keep the default policy.

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
        let batch = std::env::var("OXSIO_RUNTIME_SCHED").map_or(true, |v| v != "normal");
        Builder::new_multi_thread()
            .enable_all()
            .thread_name("oxsio-rt")
            .on_thread_start(move || {
                if batch {
                    sched::yield_to_host_threads();
                }
            })
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

/// True when the calling thread runs under `SCHED_BATCH` (Linux); false
/// elsewhere. Lets tests and hosts check the shared runtime's policy.
pub fn thread_is_batch_scheduled() -> bool {
    sched::is_batch()
}

#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
mod sched {
    /// Moves the calling thread to `SCHED_BATCH` (same nice value; no
    /// privilege needed). A refusal is harmless: the thread keeps its policy.
    pub(super) fn yield_to_host_threads() {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: pid 0 is the calling thread; `param` is a valid, live
        // sched_param for the duration of the call.
        let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_BATCH, &param) };
        if rc != 0 {
            tracing::debug!(
                "oxsio: SCHED_BATCH refused: {}",
                std::io::Error::last_os_error()
            );
        }
    }

    pub(super) fn is_batch() -> bool {
        // SAFETY: pid 0 is the calling thread; the call reads no memory of ours.
        unsafe { libc::sched_getscheduler(0) == libc::SCHED_BATCH }
    }
}

#[cfg(not(target_os = "linux"))]
mod sched {
    pub(super) fn yield_to_host_threads() {}

    pub(super) fn is_batch() -> bool {
        false
    }
}
