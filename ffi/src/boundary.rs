//! The boundary: panic guards, argument checks, and the handle registry.
//!
//! Handles are not pointers to Rust objects: each is an id made of a slot
//! index and a generation, looked up in a global registry. A freed handle's
//! slot gets a new generation, so a stale, forged or wrongly-typed handle is
//! detected and answered with an error code instead of touching freed memory.

use std::ffi::{CStr, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use crate::client::ClientShared;
use crate::error::{Error, Result, finish, oxsio_result, set_last};
use crate::event::EventData;
use crate::server::ServerShared;
use crate::socket::SocketShared;

/// Runs an export's body, turning a panic into `OXSIO_RESULT_PANIC`.
pub(crate) fn guard(f: impl FnOnce() -> Result<()>) -> oxsio_result {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => finish(r),
        Err(_) => {
            set_last("a panic was caught at the C boundary");
            oxsio_result::Panic
        }
    }
}

/// Runs an export's body that returns a plain value; a panic gives `default`.
pub(crate) fn guard_value<T>(default: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(default)
}

/// A borrowed, NUL-terminated UTF-8 string argument.
pub(crate) fn str_arg<'a>(p: *const c_char, what: &str) -> Result<&'a str> {
    if p.is_null() {
        return Err(Error::new(
            oxsio_result::NullArgument,
            format!("{what} is NULL"),
        ));
    }
    // SAFETY: the caller passes a NUL-terminated string borrowed for the call.
    let c = unsafe { CStr::from_ptr(p) };
    c.to_str().map_err(|e| {
        Error::new(
            oxsio_result::InvalidUtf8,
            format!("{what} is not UTF-8: {e}"),
        )
    })
}

/// Like [`str_arg`], NULL allowed.
pub(crate) fn opt_str_arg<'a>(p: *const c_char, what: &str) -> Result<Option<&'a str>> {
    if p.is_null() {
        Ok(None)
    } else {
        str_arg(p, what).map(Some)
    }
}

/// A borrowed byte slice argument (`data` may be NULL only when `len` is 0).
pub(crate) fn bytes_arg<'a>(data: *const u8, len: usize, what: &str) -> Result<&'a [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    if data.is_null() {
        return Err(Error::new(
            oxsio_result::NullArgument,
            format!("{what} is NULL with a non-zero length"),
        ));
    }
    if len > isize::MAX as usize {
        return Err(Error::new(
            oxsio_result::InvalidArgument,
            format!("{what}: length too large"),
        ));
    }
    // SAFETY: the caller passes `len` readable bytes borrowed for the call.
    Ok(unsafe { std::slice::from_raw_parts(data, len) })
}

/// Writes an out-parameter, which must not be NULL.
pub(crate) fn write_out<T>(out: *mut T, v: T, what: &str) -> Result<()> {
    if out.is_null() {
        return Err(Error::new(
            oxsio_result::NullArgument,
            format!("{what} is NULL"),
        ));
    }
    // SAFETY: the caller passes a writable pointer to a `T`.
    unsafe { out.write(v) };
    Ok(())
}

/// Writes an optional out-parameter (skipped when NULL).
pub(crate) fn write_opt<T>(out: *mut T, v: T) {
    if !out.is_null() {
        // SAFETY: the caller passes a writable pointer to a `T` or NULL.
        unsafe { out.write(v) };
    }
}

/// Checks that an out-parameter is not NULL before any work is done.
pub(crate) fn need_out<T>(out: *mut T, what: &str) -> Result<()> {
    if out.is_null() {
        Err(Error::new(
            oxsio_result::NullArgument,
            format!("{what} is NULL"),
        ))
    } else {
        Ok(())
    }
}

// ---- registry ---------------------------------------------------------------

/// What a handle refers to.
#[derive(Clone)]
pub(crate) enum Entry {
    Server(Arc<ServerShared>),
    Client(Arc<ClientShared>),
    Socket(Arc<SocketShared>),
    Event(Arc<EventData>),
    Emitter(Arc<crate::emitter::EmitterShared>),
}

impl Entry {
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Entry::Emitter(_) => "oxsio_emitter",
            Entry::Server(_) => "oxsio_server",
            Entry::Client(_) => "oxsio_client",
            Entry::Socket(_) => "oxsio_socket",
            Entry::Event(_) => "oxsio_event",
        }
    }
}

struct Slot {
    generation: u32,
    entry: Option<Entry>,
}

#[derive(Default)]
struct Shard {
    slots: Vec<Slot>,
    free: Vec<u32>,
}

const SHARD_BITS: u32 = 4;
const SHARDS: usize = 1 << SHARD_BITS;
const INDEX_BITS: u32 = 28;

static REGISTRY: [RwLock<Shard>; SHARDS] = [const {
    RwLock::new(Shard {
        slots: Vec::new(),
        free: Vec::new(),
    })
}; SHARDS];
static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);

fn shard(i: usize) -> &'static RwLock<Shard> {
    &REGISTRY[i % SHARDS]
}

fn split(h: usize) -> Option<(usize, usize, u32)> {
    let generation = (h >> 32) as u32;
    if generation == 0 {
        return None;
    }
    let low = h & 0xffff_ffff;
    Some((low & (SHARDS - 1), low >> SHARD_BITS, generation))
}

/// Registers an object; returns its handle (never 0).
pub(crate) fn register(entry: Entry) -> usize {
    let s = NEXT_SHARD.fetch_add(1, Ordering::Relaxed) % SHARDS;
    let mut sh = shard(s).write().unwrap_or_else(|e| e.into_inner());
    let index = if let Some(i) = sh.free.pop() {
        let slot = &mut sh.slots[i as usize];
        slot.entry = Some(entry);
        i as usize
    } else {
        let i = sh.slots.len();
        if i >= (1 << INDEX_BITS) {
            // Hundreds of millions of live handles in one shard: refuse by
            // handing out a handle that never resolves.
            return 0;
        }
        sh.slots.push(Slot {
            generation: 1,
            entry: Some(entry),
        });
        i
    };
    let generation = sh.slots[index].generation;
    ((generation as usize) << 32) | (index << SHARD_BITS) | s
}

/// Looks a handle up.
pub(crate) fn lookup(h: usize) -> Result<Entry> {
    let (s, index, generation) = split(h).ok_or_else(invalid)?;
    let sh = shard(s).read().unwrap_or_else(|e| e.into_inner());
    match sh.slots.get(index) {
        Some(slot) if slot.generation == generation => slot.entry.clone().ok_or_else(invalid),
        _ => Err(invalid()),
    }
}

/// Unregisters a handle if it is still the same object; returns it.
pub(crate) fn unregister(h: usize) -> Option<Entry> {
    let (s, index, generation) = split(h)?;
    let mut sh = shard(s).write().unwrap_or_else(|e| e.into_inner());
    let slot = sh.slots.get_mut(index)?;
    if slot.generation != generation || slot.entry.is_none() {
        return None;
    }
    let entry = slot.entry.take();
    slot.generation = slot.generation.wrapping_add(1).max(1);
    sh.free.push(index as u32);
    entry
}

/// Unregisters a handle only if it has the expected type.
pub(crate) fn unregister_if(h: usize, want: fn(&Entry) -> bool) -> Result<Entry> {
    let (s, index, generation) = split(h).ok_or_else(invalid)?;
    let mut sh = shard(s).write().unwrap_or_else(|e| e.into_inner());
    let slot = sh.slots.get_mut(index).ok_or_else(invalid)?;
    if slot.generation != generation {
        return Err(invalid());
    }
    match &slot.entry {
        None => return Err(invalid()),
        Some(e) if !want(e) => return Err(wrong_type(e)),
        Some(_) => {}
    }
    let entry = slot.entry.take().ok_or_else(invalid)?;
    slot.generation = slot.generation.wrapping_add(1).max(1);
    sh.free.push(index as u32);
    Ok(entry)
}

fn invalid() -> Error {
    Error::new(
        oxsio_result::InvalidHandle,
        "invalid handle (NULL, forged, or already freed)",
    )
}

fn wrong_type(e: &Entry) -> Error {
    Error::new(
        oxsio_result::WrongHandleType,
        format!("the handle is an {}", e.type_name()),
    )
}

pub(crate) fn get_server(h: usize) -> Result<Arc<ServerShared>> {
    match lookup(h)? {
        Entry::Server(s) => Ok(s),
        e => Err(wrong_type(&e)),
    }
}

pub(crate) fn get_client(h: usize) -> Result<Arc<ClientShared>> {
    match lookup(h)? {
        Entry::Client(s) => Ok(s),
        e => Err(wrong_type(&e)),
    }
}

pub(crate) fn get_socket(h: usize) -> Result<Arc<SocketShared>> {
    match lookup(h)? {
        Entry::Socket(s) => Ok(s),
        e => Err(wrong_type(&e)),
    }
}

pub(crate) fn get_event(h: usize) -> Result<Arc<EventData>> {
    match lookup(h)? {
        Entry::Event(s) => Ok(s),
        e => Err(wrong_type(&e)),
    }
}

/// The handle id behind a C handle pointer.
pub(crate) fn id<T>(p: *const T) -> usize {
    p as usize
}

/// A C handle pointer for a handle id (never dereferenced by anyone).
pub(crate) fn ptr<T>(h: usize) -> *mut T {
    std::ptr::without_provenance_mut(h)
}

/// Copies `text` and a NUL into `buf` (`capacity` bytes) and its length
/// (without NUL) into `*out_len` (may be NULL); `BUFFER_TOO_SMALL`, with
/// `*out_len` set, when it does not fit or `buf` is NULL.
pub(crate) fn copy_text(
    text: &str,
    buf: *mut c_char,
    capacity: usize,
    out_len: *mut usize,
    what: &str,
) -> Result<()> {
    write_opt(out_len, text.len());
    if capacity < text.len() + 1 || buf.is_null() {
        return Err(Error::new(
            oxsio_result::BufferTooSmall,
            format!("{what} needs {} bytes", text.len() + 1),
        ));
    }
    // SAFETY: the caller passes `capacity` writable bytes at `buf`.
    unsafe {
        std::ptr::copy_nonoverlapping(text.as_ptr(), buf.cast::<u8>(), text.len());
        buf.add(text.len()).write(0);
    }
    Ok(())
}
