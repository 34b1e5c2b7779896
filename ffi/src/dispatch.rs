//! The two dispatch modes: callbacks on a library thread, or a bounded
//! queue the host drains with `poll` on its own thread.

use std::collections::VecDeque;
use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use crate::boundary::{Entry, ptr, register, unregister};
use crate::error::{Error, Result, oxsio_result};
use crate::event::{EventData, oxsio_event, oxsio_event_kind};

/// How a handle hands events to the host, chosen when it is created.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum oxsio_dispatch {
    /// Callbacks run on a library thread (never the host's), one event at a
    /// time per socket; they must not block for long.
    Callback = 0,
    /// Poll mode: the library never runs host code. Events wait in a bounded
    /// queue until the host drains it with `oxsio_*_poll` on its own thread.
    Poll = 1,
}

impl oxsio_dispatch {
    pub(crate) fn from_u32(v: u32) -> Result<oxsio_dispatch> {
        match v {
            0 => Ok(oxsio_dispatch::Callback),
            1 => Ok(oxsio_dispatch::Poll),
            _ => Err(Error::new(
                oxsio_result::InvalidArgument,
                format!("unknown dispatch mode {v}"),
            )),
        }
    }
}

/// An event callback: `user_data` as registered, and the event, borrowed
/// for the duration of the call (`oxsio_event_clone` keeps it longer).
pub type oxsio_event_cb =
    Option<unsafe extern "C" fn(user_data: *mut c_void, event: *const oxsio_event)>;

/// Releases a callback's `user_data`; called exactly once, on any thread,
/// when the registration ends (handle freed, or the handler replaced).
pub type oxsio_free_cb = Option<unsafe extern "C" fn(user_data: *mut c_void)>;

struct UserData(*mut c_void);
// SAFETY: the host promises (in the header) that user_data may be used from
// the library's threads; the library only passes it back.
unsafe impl Send for UserData {}
// SAFETY: as above.
unsafe impl Sync for UserData {}

/// A registered C callback; dropping it releases `user_data`.
pub(crate) struct Callback {
    cb: unsafe extern "C" fn(*mut c_void, *const oxsio_event),
    user_data: UserData,
    free: oxsio_free_cb,
}

impl Callback {
    pub(crate) fn new(
        cb: oxsio_event_cb,
        user_data: *mut c_void,
        free: oxsio_free_cb,
    ) -> Result<Arc<Callback>> {
        let cb = cb.ok_or_else(|| Error::new(oxsio_result::NullArgument, "callback is NULL"))?;
        Ok(Arc::new(Callback {
            cb,
            user_data: UserData(user_data),
            free,
        }))
    }

    /// Forgets `user_data_free` (the registering call failed).
    pub(crate) fn forget_free(&mut self) {
        self.free = None;
    }

    /// Calls the host with a borrowed event handle.
    pub(crate) fn call(&self, ev: usize) {
        // SAFETY: a function pointer the host registered with its user_data.
        unsafe { (self.cb)(self.user_data.0, ptr::<oxsio_event>(ev).cast_const()) }
    }
}

impl Drop for Callback {
    fn drop(&mut self) {
        if let Some(f) = self.free {
            // SAFETY: the host's release function, called exactly once.
            unsafe { f(self.user_data.0) }
        }
    }
}

thread_local! {
    /// The dispatches whose callbacks run on this thread (innermost last).
    static RUNNING: std::cell::RefCell<Vec<usize>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Calls every callback with one event, lent to them as a fresh handle that
/// is released afterwards (unless a callback freed it already). Nothing is
/// called once the dispatch is closed.
pub(crate) fn call_all(d: &Dispatch, cbs: &[Arc<Callback>], ev: EventData) {
    let ev = Arc::new(ev);
    if cbs.is_empty() {
        return;
    }
    d.inflight.fetch_add(1, Ordering::SeqCst);
    if d.is_closed() {
        d.inflight.fetch_sub(1, Ordering::SeqCst);
        return;
    }
    let me = d as *const Dispatch as usize;
    RUNNING.with(|r| r.borrow_mut().push(me));
    let h = register(Entry::Event(ev));
    for cb in cbs {
        if d.is_closed() {
            break;
        }
        cb.call(h);
    }
    drop(unregister(h));
    RUNNING.with(|r| {
        let mut r = r.borrow_mut();
        if let Some(i) = r.iter().rposition(|x| *x == me) {
            r.remove(i);
        }
    });
    d.inflight.fetch_sub(1, Ordering::SeqCst);
}

/// Default bound of a poll-mode queue.
pub(crate) const DEFAULT_QUEUE: usize = 4096;

/// A handle's event sink.
pub(crate) struct Dispatch {
    pub(crate) mode: oxsio_dispatch,
    /// Boxed by the producer: the queue moves pointers, not whole events.
    queue: Mutex<VecDeque<Arc<EventData>>>,
    ready: Condvar,
    pub(crate) capacity: usize,
    dropped: AtomicU64,
    closed: AtomicBool,
    inflight: std::sync::atomic::AtomicUsize,
    /// Threads blocked in `wait` (changed under the queue lock): a push
    /// signals the condvar only when someone waits, which saves a futex
    /// syscall per event while the poller is busy draining.
    waiting: std::sync::atomic::AtomicUsize,
}

impl Dispatch {
    pub(crate) fn new(mode: oxsio_dispatch, capacity: usize) -> Arc<Dispatch> {
        Arc::new(Dispatch {
            mode,
            queue: Mutex::new(VecDeque::new()),
            ready: Condvar::new(),
            capacity: capacity.max(1),
            dropped: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            inflight: std::sync::atomic::AtomicUsize::new(0),
            waiting: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    pub(crate) fn is_poll(&self) -> bool {
        self.mode == oxsio_dispatch::Poll
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Stops delivery and drops every queued event. Waits (at most 5 s)
    /// for callbacks running on other threads to return, so none runs after
    /// the handle's `free` returns; callbacks of this dispatch running on
    /// the calling thread (a `free` from inside a callback) are not waited for.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        let me = self as *const Dispatch as usize;
        let mine = RUNNING.with(|r| r.borrow().iter().filter(|x| **x == me).count());
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.inflight.load(Ordering::SeqCst) > mine && Instant::now() < deadline {
            std::thread::sleep(Duration::from_micros(200));
        }
        let drained: Vec<Arc<EventData>> = {
            let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
            q.drain(..).collect()
        };
        self.ready.notify_all();
        drop(drained);
    }

    /// Queues an event (poll mode). Overflow policy: when the queue holds
    /// `capacity` events, new `OXSIO_EVENT_KIND_MESSAGE` events are dropped and
    /// counted; every other kind is always queued.
    pub(crate) fn push(&self, ev: EventData) {
        if self.is_closed() {
            return;
        }
        let ev = Arc::new(ev);
        let (rejected, waiting) = {
            let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
            let waiting = self.waiting.load(Ordering::Relaxed) > 0;
            if q.len() >= self.capacity && ev.kind == oxsio_event_kind::Message {
                (Some(ev), waiting)
            } else {
                q.push_back(ev);
                (None, waiting)
            }
        };
        if let Some(ev) = rejected {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            drop(ev);
        } else if waiting {
            self.ready.notify_all();
        }
    }

    /// Takes the next event as a new owned handle.
    pub(crate) fn poll(&self) -> Result<usize> {
        if !self.is_poll() {
            return Err(Error::new(
                oxsio_result::WrongMode,
                "poll on a callback-mode handle",
            ));
        }
        let ev = {
            let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
            q.pop_front()
        };
        match ev {
            Some(ev) => Ok(register(Entry::Event(ev))),
            None => Err(Error::from(oxsio_result::Empty)),
        }
    }

    /// Waits until an event is queued or `timeout` passes.
    pub(crate) fn wait(&self, timeout: Duration) -> Result<()> {
        if !self.is_poll() {
            return Err(Error::new(
                oxsio_result::WrongMode,
                "wait on a callback-mode handle",
            ));
        }
        let deadline = Instant::now() + timeout;
        let mut q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        if q.is_empty() && !self.is_closed() {
            // Give the CPU to the library's threads once before sleeping: when
            // they share a core with the poller (a pinned game loop), events
            // then arrive in batches instead of one wake-up (and two context
            // switches) each.
            drop(q);
            std::thread::yield_now();
            q = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        }
        loop {
            if !q.is_empty() {
                return Ok(());
            }
            if self.is_closed() {
                return Err(Error::from(oxsio_result::Closed));
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::from(oxsio_result::Timeout));
            }
            self.waiting.fetch_add(1, Ordering::Relaxed);
            q = self
                .ready
                .wait_timeout(q, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
            self.waiting.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Events dropped by the overflow policy so far.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// Handlers by event name (callback mode); `None` key = every event.
#[derive(Default)]
pub(crate) struct Handlers {
    by_name: std::collections::HashMap<String, Vec<Arc<Callback>>>,
    any: Vec<Arc<Callback>>,
    /// The registrations made with `once` (by address), removed when they fire.
    once: std::collections::HashSet<usize>,
}

fn addr(cb: &Arc<Callback>) -> usize {
    Arc::as_ptr(cb) as usize
}

impl Handlers {
    pub(crate) fn add(&mut self, name: Option<&str>, cb: Arc<Callback>) {
        match name {
            Some(n) => self.by_name.entry(n.to_owned()).or_default().push(cb),
            None => self.any.push(cb),
        }
    }

    /// As `add`, for one call only: the first matching event removes it
    /// (its `user_data_free` runs after that call).
    pub(crate) fn add_once(&mut self, name: Option<&str>, cb: Arc<Callback>) {
        self.once.insert(addr(&cb));
        self.add(name, cb);
    }

    /// Removes the handlers of `name` (every handler when `None`); the
    /// removed ones are returned so they are released outside any lock.
    pub(crate) fn remove(&mut self, name: Option<&str>) -> Vec<Arc<Callback>> {
        let removed = match name {
            Some(n) => self.by_name.remove(n).unwrap_or_default(),
            None => {
                let mut all: Vec<Arc<Callback>> = std::mem::take(&mut self.any);
                for (_, v) in self.by_name.drain() {
                    all.extend(v);
                }
                all
            }
        };
        for cb in &removed {
            self.once.remove(&addr(cb));
        }
        removed
    }

    /// The handlers of `name` then the catch-all ones; `once` handlers
    /// among them are removed (the returned list keeps them for this call).
    pub(crate) fn matching(&mut self, name: &str) -> Vec<Arc<Callback>> {
        let mut v: Vec<Arc<Callback>> = self.by_name.get(name).cloned().unwrap_or_default();
        v.extend(self.any.iter().cloned());
        if !self.once.is_empty() {
            let fired: Vec<usize> = v
                .iter()
                .map(addr)
                .filter(|a| self.once.contains(a))
                .collect();
            if !fired.is_empty() {
                for a in &fired {
                    self.once.remove(a);
                }
                if let Some(l) = self.by_name.get_mut(name) {
                    l.retain(|c| !fired.contains(&addr(c)));
                }
                self.any.retain(|c| !fired.contains(&addr(c)));
            }
        }
        v
    }
}

/// Locks a mutex, ignoring poisoning (a panic elsewhere was already caught).
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `fut` on the shared runtime and waits at most `timeout` for it on
/// this thread. Refused on a library thread where waiting could stall the
/// runtime.
pub(crate) fn block_on<F>(fut: F, timeout: Duration) -> Result<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(Error::new(
            oxsio_result::WouldBlock,
            "blocking call on a library thread (inside a callback); call it from your own thread",
        ));
    }
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    oxsio_core::runtime::shared().spawn(async move {
        let _ = tx.send(fut.await);
    });
    rx.recv_timeout(timeout)
        .map_err(|_| Error::from(oxsio_result::Timeout))
}

#[cfg(test)]
mod tests {
    use super::*;

    unsafe extern "C" fn nop(_: *mut c_void, _: *const oxsio_event) {}
    static FREES: AtomicU64 = AtomicU64::new(0);
    unsafe extern "C" fn count_free(_: *mut c_void) {
        FREES.fetch_add(1, Ordering::SeqCst);
    }

    #[test]
    fn once_handlers_fire_once_then_are_released() {
        let mut h = Handlers::default();
        h.add(
            Some("e"),
            Callback::new(Some(nop), std::ptr::null_mut(), None).unwrap(),
        );
        h.add_once(
            Some("e"),
            Callback::new(Some(nop), std::ptr::null_mut(), Some(count_free)).unwrap(),
        );
        h.add_once(
            None,
            Callback::new(Some(nop), std::ptr::null_mut(), Some(count_free)).unwrap(),
        );
        assert_eq!(h.matching("e").len(), 3);
        assert_eq!(
            FREES.load(Ordering::SeqCst),
            2,
            "both once handlers released after the call"
        );
        assert_eq!(h.matching("e").len(), 1);
        assert_eq!(h.matching("other").len(), 0);
    }
}
