//! `oxsio_emitter`: publishes to a cluster of Socket.IO servers on the
//! classic Redis adapter (oxsio or Node.js nodes) from a process that is
//! not a server, as `@socket.io/redis-emitter` does.

use std::ffi::c_char;
use std::sync::Arc;
use std::time::Duration;

use oxsio_core::adapter::redis::{Emitter, EmitterConfig, EmitterError};
use serde::Deserialize;

use crate::boundary::{
    Entry, guard, id, lookup, need_out, opt_str_arg, ptr, register, str_arg, unregister_if,
    write_out,
};
use crate::dispatch::block_on;
use crate::error::{Error, Result, oxsio_result};
use crate::payload::oxsio_buf;
use crate::server::{
    OXSIO_TARGET_LOCAL, OXSIO_TARGET_VOLATILE, oxsio_target, parse_config, str_list,
};
use crate::socket::args_of;

/// An emitter handle, made by `oxsio_emitter_new`, released by `oxsio_emitter_free`.
pub struct oxsio_emitter {
    _private: [u8; 0],
}

pub(crate) struct EmitterShared {
    emitter: Emitter,
    timeout: Duration,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct EmitterJson {
    url: Option<String>,
    nodes: Option<Vec<String>>,
    prefix: Option<String>,
    timeout_ms: Option<u64>,
}

impl From<EmitterError> for Error {
    fn from(e: EmitterError) -> Error {
        let code = match e {
            EmitterError::Config(_) => oxsio_result::InvalidConfig,
            EmitterError::Reserved(_) => oxsio_result::ReservedEvent,
            EmitterError::Publish(_) => oxsio_result::Io,
        };
        Error::new(code, e.to_string())
    }
}

fn get(e: *const oxsio_emitter) -> Result<Arc<EmitterShared>> {
    match lookup(id(e))? {
        Entry::Emitter(s) => Ok(s),
        other => Err(Error::new(
            oxsio_result::WrongHandleType,
            format!("the handle is an {}", other.type_name()),
        )),
    }
}

/// The emitter narrowed to `target` (NULL: every socket of `"/"`).
fn select(s: &EmitterShared, t: *const oxsio_target) -> Result<Emitter> {
    if t.is_null() {
        return Ok(s.emitter.clone());
    }
    // SAFETY: the caller passes a readable oxsio_target for the call.
    let t = unsafe { &*t };
    if t.flags & !OXSIO_TARGET_VOLATILE != 0 {
        let why = if t.flags & OXSIO_TARGET_LOCAL != 0 {
            "OXSIO_TARGET_LOCAL has no meaning for an emitter (it has no local sockets)".into()
        } else {
            format!("unknown target flags {:#x}", t.flags)
        };
        return Err(Error::new(oxsio_result::InvalidArgument, why));
    }
    let mut e = match opt_str_arg(t.nsp, "target.nsp")? {
        Some(nsp) => s.emitter.of(nsp),
        None => s.emitter.clone(),
    };
    for r in str_list(t.rooms, t.room_count, "target.rooms")? {
        e = e.to(r);
    }
    for r in str_list(t.except_rooms, t.except_count, "target.except_rooms")? {
        e = e.except(r);
    }
    if t.flags & OXSIO_TARGET_VOLATILE != 0 {
        e = e.volatile();
    }
    Ok(e)
}

fn run<F>(s: &EmitterShared, fut: F) -> Result<()>
where
    F: std::future::Future<Output = std::result::Result<(), EmitterError>> + Send + 'static,
{
    // The emitter bounds connecting and publishing by its own timeout; the
    // margin only guards against a stuck runtime.
    block_on(fut, s.timeout * 2 + Duration::from_secs(1))?.map_err(Error::from)
}

/// Creates an emitter. `config_json` (NULL or `""`: a Redis at
/// `redis://127.0.0.1:6379`) is a JSON object with optional keys `url`
/// (one Redis), or `nodes` (seed URLs of a Redis Cluster; PUBLISH reaches
/// every node of it), `prefix` ("socket.io", the servers' key prefix) and
/// `timeout_ms` (5000: bound on connecting and on each publish). Unknown
/// keys, or both `url` and `nodes`, give `OXSIO_RESULT_INVALID_CONFIG`.
///
/// The emitter speaks the classic `@socket.io/redis-adapter` protocol:
/// servers on the sharded adapter do not hear it. Connecting happens on
/// the first call.
///
/// Ownership: release `*out_emitter` with `oxsio_emitter_free`.
/// Borrowing: `config_json` is read during the call. Threads: any.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_emitter_new(
    config_json: *const c_char,
    out_emitter: *mut *mut oxsio_emitter,
) -> oxsio_result {
    guard(|| {
        need_out(out_emitter, "out_emitter")?;
        let c: EmitterJson = parse_config(opt_str_arg(config_json, "config_json")?)?;
        let mut config = match (c.url, c.nodes) {
            (Some(_), Some(_)) => {
                return Err(Error::new(
                    oxsio_result::InvalidConfig,
                    "config: give either url or nodes, not both",
                ));
            }
            (_, Some(nodes)) => EmitterConfig::cluster(nodes),
            (url, None) => {
                EmitterConfig::new(url.unwrap_or_else(|| "redis://127.0.0.1:6379".into()))
            }
        };
        if let Some(p) = c.prefix {
            config = config.prefix(p);
        }
        if let Some(t) = c.timeout_ms {
            config = config.timeout(Duration::from_millis(t));
        }
        let timeout = config.timeout;
        let emitter = Emitter::new(config)?;
        let h = register(Entry::Emitter(Arc::new(EmitterShared { emitter, timeout })));
        write_out(out_emitter, ptr(h), "out_emitter")
    })
}

/// Emits `event` to the sockets `target` selects (NULL: every socket of
/// `"/"`) on every server. `target.nsp` may be any namespace name;
/// `OXSIO_TARGET_VOLATILE` is passed on; `OXSIO_TARGET_LOCAL` is refused.
/// Arguments as for `oxsio_socket_emit` (JSON array text, binary parts as
/// placeholders into `buffers`).
///
/// Threads: any but a library thread (waits until Redis took the message,
/// at most about twice `timeout_ms`). Returns: `OXSIO_RESULT_RESERVED_EVENT`
/// for `connect`, `disconnect`, …; `OXSIO_RESULT_IO` when Redis did not
/// take the message; `OXSIO_RESULT_WOULD_BLOCK` inside a callback.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_emitter_emit(
    emitter: *const oxsio_emitter,
    target: *const oxsio_target,
    event: *const c_char,
    args_json: *const c_char,
    buffers: *const oxsio_buf,
    buffer_count: usize,
) -> oxsio_result {
    guard(|| {
        let s = get(emitter)?;
        let e = select(&s, target)?;
        let name = str_arg(event, "event")?.to_owned();
        let args = args_of(args_json, buffers, buffer_count)?;
        run(&s, async move { e.emit(&name, args).await })
    })
}

/// Makes the sockets `target` selects join `room`, on every server.
///
/// Threads: as `oxsio_emitter_emit`.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_emitter_sockets_join(
    emitter: *const oxsio_emitter,
    target: *const oxsio_target,
    room: *const c_char,
) -> oxsio_result {
    guard(|| {
        let s = get(emitter)?;
        let e = select(&s, target)?;
        let room = str_arg(room, "room")?.to_owned();
        run(&s, async move { e.sockets_join([room]).await })
    })
}

/// Makes the sockets `target` selects leave `room`, on every server.
///
/// Threads: as `oxsio_emitter_emit`.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_emitter_sockets_leave(
    emitter: *const oxsio_emitter,
    target: *const oxsio_target,
    room: *const c_char,
) -> oxsio_result {
    guard(|| {
        let s = get(emitter)?;
        let e = select(&s, target)?;
        let room = str_arg(room, "room")?.to_owned();
        run(&s, async move { e.sockets_leave([room]).await })
    })
}

/// Disconnects the sockets `target` selects on every server; with `close`,
/// their connections too.
///
/// Threads: as `oxsio_emitter_emit`.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_emitter_disconnect_sockets(
    emitter: *const oxsio_emitter,
    target: *const oxsio_target,
    close: bool,
) -> oxsio_result {
    guard(|| {
        let s = get(emitter)?;
        let e = select(&s, target)?;
        run(&s, async move { e.disconnect_sockets(close).await })
    })
}

/// Sends `event` to the server-side handlers of every server of namespace
/// `nsp` (NULL: `"/"`), as Node's `serverSideEmit`; no acknowledgement.
/// Arguments as for `oxsio_emitter_emit`.
///
/// Threads: as `oxsio_emitter_emit`.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_emitter_server_side_emit(
    emitter: *const oxsio_emitter,
    nsp: *const c_char,
    event: *const c_char,
    args_json: *const c_char,
    buffers: *const oxsio_buf,
    buffer_count: usize,
) -> oxsio_result {
    guard(|| {
        let s = get(emitter)?;
        let e = match opt_str_arg(nsp, "nsp")? {
            Some(n) => s.emitter.of(n),
            None => s.emitter.clone(),
        };
        let name = str_arg(event, "event")?.to_owned();
        let args = args_of(args_json, buffers, buffer_count)?;
        run(&s, async move { e.server_side_emit(&name, args).await })
    })
}

/// Releases the emitter. NULL is accepted.
///
/// Threads: any.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_emitter_free(emitter: *mut oxsio_emitter) -> oxsio_result {
    guard(|| {
        if emitter.is_null() {
            return Ok(());
        }
        unregister_if(id(emitter), |e| matches!(e, Entry::Emitter(_)))?;
        Ok(())
    })
}
