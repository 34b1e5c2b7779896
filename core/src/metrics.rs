//! Prometheus metrics of a server, opt-in with
//! [`ServerBuilder::metrics`](crate::ServerBuilder::metrics): counted on the
//! hot path with sharded relaxed atomics (each thread adds to its own cache
//! line), read and summed only when scraped.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `oxsio_engine_connections` | gauge | `transport` (polling, websocket) |
//! | `oxsio_engine_connections_opened_total` | counter | |
//! | `oxsio_handshake_refusals_total` | counter | `reason` |
//! | `oxsio_sockets` | gauge | `namespace` |
//! | `oxsio_packets_received_total`, `oxsio_packets_sent_total` | counter | `type` |
//! | `oxsio_received_bytes_total`, `oxsio_sent_bytes_total` | counter | |
//! | `oxsio_broadcasts_total`, `oxsio_broadcast_deliveries_total` | counter | |
//! | `oxsio_queue_full_drops_total`, `oxsio_volatile_drops_total` | counter | |
//! | `oxsio_ack_timeouts_total` | counter | |
//! | `oxsio_recovery_total` | counter | `result` (hit, miss) |
//! | `oxsio_adapter_requests_total` | counter | `op` |
//! | `oxsio_adapter_request_duration_seconds` | histogram | `op` |

use std::cell::Cell;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use crate::adapter::{Adapter, BroadcastOptions, RecoveryStats, Restore, Room, SessionState};
use crate::codec::socketio::Packet;
use crate::engineio::Message;
use crate::socketio::{AckError, BroadcastError, RemoteSocket};
use crate::{Args, Sid};

const SHARDS: usize = 8;

#[repr(align(64))]
#[derive(Default)]
struct Shard(AtomicU64);

/// A counter that threads add to without sharing a cache line.
#[derive(Default)]
pub(crate) struct Counter([Shard; SHARDS]);

static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static SHARD: usize = NEXT_SHARD.fetch_add(1, Ordering::Relaxed) % SHARDS;
    /// Set while a broadcast is being delivered on this thread.
    static BROADCAST: Cell<bool> = const { Cell::new(false) };
    /// Set while a volatile emit or broadcast runs on this thread.
    static VOLATILE: Cell<bool> = const { Cell::new(false) };
}

impl Counter {
    #[inline]
    pub(crate) fn add(&self, n: u64) {
        let i = SHARD.try_with(|s| *s).unwrap_or(0);
        self.0[i].0.fetch_add(n, Ordering::Relaxed);
    }

    #[inline]
    pub(crate) fn inc(&self) {
        self.add(1);
    }

    pub(crate) fn get(&self) -> u64 {
        self.0
            .iter()
            .fold(0u64, |s, c| s.wrapping_add(c.0.load(Ordering::Relaxed)))
    }
}

/// Socket.IO packet types, as labels; index 7 is a binary attachment frame.
pub(crate) const PACKET_TYPES: [&str; 8] = [
    "connect",
    "disconnect",
    "event",
    "ack",
    "connect_error",
    "binary_event",
    "binary_ack",
    "attachment",
];

/// The label index of a Socket.IO packet text (its first byte).
#[inline]
pub(crate) fn packet_type(text: &[u8]) -> usize {
    match text.first() {
        Some(b @ b'0'..=b'6') => (b - b'0') as usize,
        _ => 2,
    }
}

/// Why a handshake or a namespace connection was refused.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Refusal {
    UnknownTransport = 0,
    UnknownSid,
    BadRequest,
    BadHandshakeMethod,
    Forbidden,
    UnsupportedProtocolVersion,
    TooManyConnections,
    InvalidNamespace,
    Middleware,
    BadOrigin,
}

const REFUSALS: [&str; 10] = [
    "unknown_transport",
    "unknown_sid",
    "bad_request",
    "bad_handshake_method",
    "forbidden",
    "unsupported_protocol_version",
    "too_many_connections",
    "invalid_namespace",
    "middleware",
    "bad_origin",
];

/// Adapter operations that are requests (possibly to other nodes).
#[derive(Clone, Copy)]
enum Op {
    FetchSockets = 0,
    Rooms,
    ServerSideEmit,
    ServerCount,
    BroadcastWithAck,
    AddSockets,
    DelSockets,
    DisconnectSockets,
}

const OPS: [&str; 8] = [
    "fetch_sockets",
    "rooms",
    "server_side_emit",
    "server_count",
    "broadcast_with_ack",
    "add_sockets",
    "del_sockets",
    "disconnect_sockets",
];

/// Upper bounds (seconds) of the adapter latency histogram.
const BUCKETS: [f64; 10] = [0.0005, 0.001, 0.005, 0.01, 0.025, 0.1, 0.25, 1.0, 5.0, 10.0];

#[derive(Default)]
struct Histogram {
    buckets: [Counter; BUCKETS.len()],
    count: Counter,
    sum_us: Counter,
}

impl Histogram {
    fn observe(&self, d: Duration) {
        let s = d.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|b| s <= *b) {
            self.buckets[i].inc();
        }
        self.count.inc();
        self.sum_us.add(d.as_micros() as u64);
    }
}

/// Every counter of one server.
#[derive(Default)]
pub(crate) struct Metrics {
    pub(crate) opened: Counter,
    pub(crate) refusals: [Counter; REFUSALS.len()],
    pub(crate) packets_in: [Counter; 8],
    pub(crate) packets_out: [Counter; 8],
    pub(crate) bytes_in: Counter,
    pub(crate) bytes_out: Counter,
    pub(crate) broadcasts: Counter,
    pub(crate) deliveries: Counter,
    pub(crate) queue_full: Counter,
    pub(crate) volatile_drops: Counter,
    pub(crate) ack_timeouts: Counter,
    pub(crate) recovery_hits: Counter,
    pub(crate) recovery_misses: Counter,
    requests: [Counter; OPS.len()],
    latency: [Histogram; OPS.len()],
}

impl Metrics {
    pub(crate) fn refused(&self, r: Refusal) {
        self.refusals[r as usize].inc();
    }

    /// A message queued for a client, or refused by a full queue.
    #[inline]
    pub(crate) fn sent(&self, ty: usize, bytes: usize, queued: bool) {
        if queued {
            self.packets_out[ty].inc();
            self.bytes_out.add(bytes as u64);
            if BROADCAST.with(Cell::get) {
                self.deliveries.inc();
            }
        } else if VOLATILE.with(Cell::get) {
            self.volatile_drops.inc();
        } else {
            self.queue_full.inc();
        }
    }

    #[inline]
    pub(crate) fn received(&self, ty: usize, bytes: usize) {
        self.packets_in[ty].inc();
        self.bytes_in.add(bytes as u64);
    }

    fn request(&self, op: Op, d: Duration) {
        self.requests[op as usize].inc();
        self.latency[op as usize].observe(d);
    }

    /// The text exposition format (0.0.4); `gauges` adds the values read
    /// from the server at scrape time.
    pub(crate) fn render(&self, gauges: &Gauges) -> String {
        let mut out = String::with_capacity(8192);
        let head = |out: &mut String, name: &str, ty: &str, help: &str| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {ty}");
        };
        head(
            &mut out,
            "oxsio_engine_connections",
            "gauge",
            "Open Engine.IO connections by current transport.",
        );
        let _ = writeln!(
            out,
            "oxsio_engine_connections{{transport=\"polling\"}} {}\noxsio_engine_connections{{transport=\"websocket\"}} {}",
            gauges.polling, gauges.websocket
        );
        let simple: [(&str, &str, &Counter); 2] = [
            (
                "oxsio_engine_connections_opened_total",
                "Engine.IO connections opened.",
                &self.opened,
            ),
            (
                "oxsio_broadcasts_total",
                "Broadcasts sent from this node.",
                &self.broadcasts,
            ),
        ];
        for (name, help, c) in simple {
            head(&mut out, name, "counter", help);
            let _ = writeln!(out, "{name} {}", c.get());
        }
        head(
            &mut out,
            "oxsio_handshake_refusals_total",
            "counter",
            "Handshakes and namespace connections refused, by reason.",
        );
        for (i, r) in REFUSALS.iter().enumerate() {
            let _ = writeln!(
                out,
                "oxsio_handshake_refusals_total{{reason=\"{r}\"}} {}",
                self.refusals[i].get()
            );
        }
        head(
            &mut out,
            "oxsio_sockets",
            "gauge",
            "Connected Socket.IO sockets by namespace.",
        );
        for (ns, n) in &gauges.sockets {
            let _ = writeln!(out, "oxsio_sockets{{namespace=\"{}\"}} {n}", escape(ns));
        }
        for (name, help, arr) in [
            (
                "oxsio_packets_received_total",
                "Socket.IO packets received, by type.",
                &self.packets_in,
            ),
            (
                "oxsio_packets_sent_total",
                "Socket.IO packets queued for clients, by type.",
                &self.packets_out,
            ),
        ] {
            head(&mut out, name, "counter", help);
            for (i, t) in PACKET_TYPES.iter().enumerate() {
                let _ = writeln!(out, "{name}{{type=\"{t}\"}} {}", arr[i].get());
            }
        }
        let more: [(&str, &str, &Counter); 8] = [
            (
                "oxsio_received_bytes_total",
                "Bytes of Socket.IO packets received (attachments included).",
                &self.bytes_in,
            ),
            (
                "oxsio_sent_bytes_total",
                "Bytes of Socket.IO packets queued for clients (attachments included).",
                &self.bytes_out,
            ),
            (
                "oxsio_broadcast_deliveries_total",
                "Packets of broadcasts queued for local sockets.",
                &self.deliveries,
            ),
            (
                "oxsio_queue_full_drops_total",
                "Packets refused because a client's outgoing queue was full.",
                &self.queue_full,
            ),
            (
                "oxsio_volatile_drops_total",
                "Volatile packets dropped for slow clients.",
                &self.volatile_drops,
            ),
            (
                "oxsio_ack_timeouts_total",
                "Acknowledgements not received in time.",
                &self.ack_timeouts,
            ),
            (
                "oxsio_recovery_hits_total",
                "Reconnecting clients whose session was recovered.",
                &self.recovery_hits,
            ),
            (
                "oxsio_recovery_misses_total",
                "Reconnecting clients whose session could not be recovered.",
                &self.recovery_misses,
            ),
        ];
        for (name, help, c) in more {
            head(&mut out, name, "counter", help);
            let _ = writeln!(out, "{name} {}", c.get());
        }
        head(
            &mut out,
            "oxsio_adapter_requests_total",
            "counter",
            "Adapter requests (to every node with a cluster adapter), by operation.",
        );
        for (i, op) in OPS.iter().enumerate() {
            let _ = writeln!(
                out,
                "oxsio_adapter_requests_total{{op=\"{op}\"}} {}",
                self.requests[i].get()
            );
        }
        head(
            &mut out,
            "oxsio_adapter_request_duration_seconds",
            "histogram",
            "Time until an adapter request completed, by operation.",
        );
        for (i, op) in OPS.iter().enumerate() {
            let h = &self.latency[i];
            let mut cumulative = 0;
            for (b, le) in BUCKETS.iter().enumerate() {
                cumulative += h.buckets[b].get();
                let _ = writeln!(
                    out,
                    "oxsio_adapter_request_duration_seconds_bucket{{op=\"{op}\",le=\"{le}\"}} {cumulative}"
                );
            }
            let count = h.count.get();
            let _ = writeln!(
                out,
                "oxsio_adapter_request_duration_seconds_bucket{{op=\"{op}\",le=\"+Inf\"}} {count}\n\
                 oxsio_adapter_request_duration_seconds_sum{{op=\"{op}\"}} {}\n\
                 oxsio_adapter_request_duration_seconds_count{{op=\"{op}\"}} {count}",
                h.sum_us.get() as f64 / 1e6
            );
        }
        out
    }
}

/// A label value with `\`, `"` and newlines escaped.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Values read from the server when scraped.
#[derive(Default)]
pub(crate) struct Gauges {
    pub(crate) polling: usize,
    pub(crate) websocket: usize,
    pub(crate) sockets: Vec<(String, usize)>,
}

/// Marks the current thread as sending a volatile packet while alive.
pub(crate) struct VolatileScope(bool);

impl VolatileScope {
    pub(crate) fn enter(volatile: bool) -> VolatileScope {
        let prev = VOLATILE.with(|v| v.replace(volatile));
        VolatileScope(prev)
    }
}

impl Drop for VolatileScope {
    fn drop(&mut self) {
        let prev = self.0;
        VOLATILE.with(|v| v.set(prev));
    }
}

struct BroadcastScope {
    prev: bool,
    _volatile: VolatileScope,
}

impl BroadcastScope {
    fn enter(volatile: bool) -> BroadcastScope {
        let prev = BROADCAST.with(|b| b.replace(true));
        // A volatile socket emit may reach the adapter (recovery logs it).
        let volatile = volatile || VOLATILE.with(Cell::get);
        BroadcastScope {
            prev,
            _volatile: VolatileScope::enter(volatile),
        }
    }
}

impl Drop for BroadcastScope {
    fn drop(&mut self) {
        let prev = self.prev;
        BROADCAST.with(|b| b.set(prev));
    }
}

/// An adapter that counts what goes through the one it wraps.
pub(crate) struct MeteredAdapter {
    pub(crate) inner: Arc<dyn Adapter>,
    pub(crate) metrics: Arc<Metrics>,
}

type BoxFuture<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'static>>;

impl MeteredAdapter {
    fn timed<T: Send + 'static>(
        &self,
        op: Op,
        fut: BoxFuture<T>,
        after: impl FnOnce(&Metrics, &T) + Send + 'static,
    ) -> BoxFuture<T> {
        let m = self.metrics.clone();
        Box::pin(async move {
            let t0 = tokio::time::Instant::now();
            let r = fut.await;
            m.request(op, t0.elapsed());
            after(&m, &r);
            r
        })
    }

    fn sync(&self, op: Op, f: impl FnOnce()) {
        let t0 = std::time::Instant::now();
        f();
        self.metrics.request(op, t0.elapsed());
    }
}

impl Adapter for MeteredAdapter {
    fn add_all(&self, sid: Sid, rooms: &[Room]) {
        self.inner.add_all(sid, rooms);
    }
    fn socket_connected(&self, sid: Sid) {
        self.inner.socket_connected(sid);
    }
    fn close(&self) {
        self.inner.close();
    }
    fn del(&self, sid: Sid, room: &str) {
        self.inner.del(sid, room);
    }
    fn del_all(&self, sid: Sid) {
        self.inner.del_all(sid);
    }
    fn socket_rooms(&self, sid: Sid) -> Vec<Room> {
        self.inner.socket_rooms(sid)
    }
    fn broadcast(&self, packet: Packet, opts: &BroadcastOptions) -> Result<(), BroadcastError> {
        self.metrics.broadcasts.inc();
        let _scope = BroadcastScope::enter(opts.flags.volatile);
        self.inner.broadcast(packet, opts)
    }
    fn broadcast_with_ack(
        &self,
        packet: Packet,
        opts: &BroadcastOptions,
        timeout: Duration,
    ) -> BoxFuture<Result<Vec<Args>, AckError>> {
        self.metrics.broadcasts.inc();
        let fut = {
            let _scope = BroadcastScope::enter(opts.flags.volatile);
            self.inner.broadcast_with_ack(packet, opts, timeout)
        };
        self.timed(Op::BroadcastWithAck, fut, |m, r| {
            if matches!(r, Err(AckError::Timeout)) {
                m.ack_timeouts.inc();
            }
        })
    }
    fn fetch_sockets(&self, opts: &BroadcastOptions) -> BoxFuture<Vec<RemoteSocket>> {
        self.timed(Op::FetchSockets, self.inner.fetch_sockets(opts), |_, _| {})
    }
    fn add_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        self.sync(Op::AddSockets, || self.inner.add_sockets(opts, rooms));
    }
    fn del_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        self.sync(Op::DelSockets, || self.inner.del_sockets(opts, rooms));
    }
    fn disconnect_sockets(&self, opts: &BroadcastOptions, close: bool) {
        self.sync(Op::DisconnectSockets, || {
            self.inner.disconnect_sockets(opts, close);
        });
    }
    fn rooms(&self) -> BoxFuture<Vec<Room>> {
        self.timed(Op::Rooms, self.inner.rooms(), |_, _| {})
    }
    fn server_side_emit(
        &self,
        event: &str,
        args: Args,
        ack: Option<Duration>,
    ) -> BoxFuture<Result<Vec<crate::Value>, AckError>> {
        self.timed(
            Op::ServerSideEmit,
            self.inner.server_side_emit(event, args, ack),
            |m, r| {
                if matches!(r, Err(AckError::Timeout)) {
                    m.ack_timeouts.inc();
                }
            },
        )
    }
    fn server_count(&self) -> BoxFuture<usize> {
        self.timed(Op::ServerCount, self.inner.server_count(), |_, _| {})
    }
    fn supports_recovery(&self) -> bool {
        self.inner.supports_recovery()
    }
    fn persist_session(&self, session: SessionState) {
        self.inner.persist_session(session);
    }
    fn restore_session(&self, pid: &str, offset: Option<&str>) -> BoxFuture<Option<Restore>> {
        let metrics = self.metrics.clone();
        let restore = self.inner.restore_session(pid, offset);
        Box::pin(async move {
            let r = restore.await;
            if r.is_none() {
                metrics.recovery_misses.inc();
            }
            r
        })
    }
    fn return_session(&self, restore: Restore) {
        self.inner.return_session(restore);
    }
    fn attach_session(
        &self,
        pid: &Arc<str>,
        restore: Option<&Restore>,
        attach: &mut dyn FnMut(Vec<Message>),
    ) -> bool {
        let recovered = self.inner.attach_session(pid, restore, attach);
        if recovered {
            self.metrics.recovery_hits.inc();
        } else if restore.is_some() {
            self.metrics.recovery_misses.inc();
        }
        recovered
    }
    fn forget_session(&self, pid: &str) {
        self.inner.forget_session(pid);
    }
    fn recovery_stats(&self) -> RecoveryStats {
        self.inner.recovery_stats()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_sum_over_threads() {
        let c = Arc::new(Counter::default());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let c = c.clone();
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        c.inc();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(c.get(), 4000);
    }

    #[test]
    fn scopes_route_drops() {
        let m = Metrics::default();
        m.sent(2, 10, true);
        m.sent(2, 10, false);
        {
            let _v = VolatileScope::enter(true);
            m.sent(2, 10, false);
            let _b = BroadcastScope::enter(true);
            m.sent(5, 7, true);
        }
        m.sent(2, 10, false);
        assert_eq!(m.packets_out[2].get(), 1);
        assert_eq!(m.packets_out[5].get(), 1);
        assert_eq!(m.bytes_out.get(), 17);
        assert_eq!(m.deliveries.get(), 1);
        assert_eq!(m.queue_full.get(), 2);
        assert_eq!(m.volatile_drops.get(), 1);
    }

    #[test]
    fn packet_types_from_the_first_byte() {
        assert_eq!(PACKET_TYPES[packet_type(b"0{}")], "connect");
        assert_eq!(PACKET_TYPES[packet_type(b"51-[\"a\"]")], "binary_event");
        assert_eq!(PACKET_TYPES[packet_type(b"")], "event");
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
