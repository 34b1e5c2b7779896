//! Connection state recovery on one node: the log of replayable packets and
//! the sessions of disconnected sockets, for one namespace.
//!
//! Offsets are `<epoch>-<seq>` in hex: `seq` numbers logged packets in
//! order, `epoch` is random per log, so an offset from another server (or
//! from before a restart) is never mistaken for one of ours.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use super::{BroadcastOptions, Room};
use crate::Value;
use crate::codec::Parser;
use crate::codec::socketio::{Packet, PacketData};
use crate::engineio::Message;
use crate::sid::Sid;
use crate::socketio::{RecoveryConfig, encode_message_with};

/// The typed values stored with [`Socket::insert`](crate::Socket::insert),
/// carried across a recovery on this node (they cannot travel between
/// processes; [`Socket::data`](crate::Socket::data) can).
#[derive(Default)]
pub struct SessionExtensions(pub(crate) crate::socketio::Extensions);

impl std::fmt::Debug for SessionExtensions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionExtensions")
            .field("values", &self.0.len())
            .finish()
    }
}

/// The state of a socket that lost its connection, kept for recovery.
#[derive(Debug)]
pub struct SessionState {
    /// The socket id, given back on recovery.
    pub sid: Sid,
    /// The private session id the client offers to recover.
    pub pid: Arc<str>,
    /// The socket's rooms, its own id room included.
    pub rooms: Vec<Room>,
    /// The socket's serialisable data ([`Socket::data`](crate::Socket::data)).
    pub data: Value,
    /// Typed values the application stored on the socket.
    pub extensions: SessionExtensions,
}

/// A session taken for a reconnecting client, with the point its replay
/// starts from (opaque to the socket layer).
#[derive(Debug)]
pub struct Restore {
    /// The session.
    pub session: SessionState,
    /// Where the replay starts, in the adapter's own terms (the Redis
    /// streams adapter: the last stream entry its restore read).
    pub resume: String,
    /// Packets read from a log shared by the cluster while restoring (the
    /// Redis streams adapter), each with its offset (already appended as
    /// its last argument); empty for adapters that replay from their own log.
    pub replay: Vec<(String, Packet)>,
}

struct Logged {
    seq: u64,
    at: Instant,
    rooms: Vec<Room>,
    except: Vec<Room>,
    msg: Message,
}

struct Persisted {
    state: SessionState,
    at: Instant,
    /// First seq the session may need when the client offers no offset.
    start: u64,
}

#[derive(Default)]
struct Inner {
    log: VecDeque<Logged>,
    /// Seq of the next logged packet (seqs start at 1).
    next_seq: u64,
    sessions: HashMap<Arc<str>, Persisted>,
    /// Persist order, for expiry and eviction (entries may be stale).
    order: VecDeque<(Instant, Arc<str>)>,
    /// Connected sockets' pids and the seq their session began at.
    live: HashMap<Arc<str>, u64>,
}

impl Inner {
    /// Seq of the oldest packet still kept (or the next one when none is).
    fn first_kept(&self) -> u64 {
        self.log.front().map_or(self.next_seq, |l| l.seq)
    }

    fn expire(&mut self, now: Instant, keep: Duration) {
        while let Some(front) = self.log.front() {
            if now.duration_since(front.at) > keep {
                self.log.pop_front();
            } else {
                break;
            }
        }
        while let Some((at, pid)) = self.order.front() {
            if now.duration_since(*at) <= keep {
                break;
            }
            if self.sessions.get(pid).is_some_and(|p| p.at == *at) {
                self.sessions.remove(pid);
            }
            self.order.pop_front();
        }
        if self.sessions.is_empty() {
            self.order = VecDeque::new();
            if self.sessions.capacity() > 64 {
                self.sessions = HashMap::new();
            }
        }
        if self.log.is_empty() && self.log.capacity() > 64 {
            self.log = VecDeque::new();
        }
    }
}

/// Figures of a recovery store, for monitoring and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RecoveryStats {
    /// Disconnected sessions kept.
    pub sessions: usize,
    /// Packets kept for replay.
    pub packets: usize,
}

/// The in-memory recovery store of one namespace.
pub(crate) struct RecoveryStore {
    config: RecoveryConfig,
    epoch: u32,
    inner: Mutex<Inner>,
    sweeping: AtomicBool,
}

/// True for packets that are logged: events without ack, not volatile.
pub(crate) fn loggable(packet: &Packet, opts: &BroadcastOptions) -> bool {
    matches!(packet.data, PacketData::Event { id: None, .. }) && !opts.flags.volatile
}

impl RecoveryStore {
    pub(crate) fn new(config: RecoveryConfig) -> Arc<RecoveryStore> {
        Arc::new(RecoveryStore {
            config,
            epoch: rand::random::<u32>(),
            inner: Mutex::new(Inner {
                next_seq: 1,
                ..Inner::default()
            }),
            sweeping: AtomicBool::new(false),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn offset(&self, seq: u64) -> String {
        format!("{:x}-{:x}", self.epoch, seq)
    }

    fn parse_offset(&self, offset: &str) -> Option<u64> {
        let (epoch, seq) = offset.split_once('-')?;
        if u32::from_str_radix(epoch, 16).ok()? != self.epoch {
            return None;
        }
        u64::from_str_radix(seq, 16).ok()
    }

    pub(crate) fn stats(&self) -> RecoveryStats {
        let g = self.lock();
        RecoveryStats {
            sessions: g.sessions.len(),
            packets: g.log.len(),
        }
    }

    /// Logs `packet` with its offset appended, then calls `deliver` with the
    /// encoded message while no session can be restored, so that a socket
    /// being recovered gets it either in its replay or live, never both.
    pub(crate) fn log_and_deliver<R>(
        &self,
        mut packet: Packet,
        opts: &BroadcastOptions,
        parser: Parser,
        deliver: impl FnOnce(&Packet, &Message) -> R,
    ) -> R {
        let mut g = self.lock();
        let seq = g.next_seq;
        g.next_seq += 1;
        if let PacketData::Event { args, .. } = &mut packet.data {
            args.push(Value::from(self.offset(seq)));
        }
        let msg = encode_message_with(parser, &packet);
        let now = Instant::now();
        g.log.push_back(Logged {
            seq,
            at: now,
            rooms: opts.rooms.clone(),
            except: opts.except.clone(),
            msg: msg.clone(),
        });
        while g.log.len() > self.config.max_stored_packets {
            g.log.pop_front();
        }
        if g.log
            .front()
            .is_some_and(|f| now.duration_since(f.at) > self.config.max_disconnection_duration)
        {
            g.expire(now, self.config.max_disconnection_duration);
        }
        deliver(&packet, &msg)
    }

    /// Keeps a disconnected socket's session.
    pub(crate) fn persist(self: &Arc<Self>, state: SessionState) {
        let now = Instant::now();
        {
            let mut g = self.lock();
            let start = g.live.remove(&state.pid).unwrap_or(g.next_seq);
            g.expire(now, self.config.max_disconnection_duration);
            while g.sessions.len() >= self.config.max_sessions.max(1) {
                match g.order.pop_front() {
                    Some((at, pid)) => {
                        if g.sessions.get(&pid).is_some_and(|p| p.at == at) {
                            g.sessions.remove(&pid);
                        }
                    }
                    None => break,
                }
            }
            g.order.push_back((now, state.pid.clone()));
            g.sessions.insert(
                state.pid.clone(),
                Persisted {
                    state,
                    at: now,
                    start,
                },
            );
        }
        self.start_sweeper();
    }

    /// Takes the session of `pid` if it can be recovered from `offset`
    /// (None: the client had no packet since its session began).
    pub(crate) fn take(&self, pid: &str, offset: Option<&str>) -> Option<Restore> {
        let now = Instant::now();
        let mut g = self.lock();
        g.expire(now, self.config.max_disconnection_duration);
        let p = g.sessions.get(pid)?;
        let from = match offset {
            Some(o) => self.parse_offset(o)?.checked_add(1)?,
            None => p.start,
        };
        // The offset must be one we issued, and nothing after it forgotten.
        if from > g.next_seq || from < g.first_kept() {
            return None;
        }
        let p = g.sessions.remove(pid)?;
        Some(Restore {
            resume: format!("{from:x}"),
            replay: Vec::new(),
            session: p.state,
        })
    }

    /// Puts a taken session back (a middleware refused the socket).
    pub(crate) fn put_back(self: &Arc<Self>, restore: Restore) {
        self.persist(restore.session);
    }

    /// Registers a connecting socket's pid and calls `attach` with the
    /// packets its session missed (none for a new session) while no packet
    /// can be logged. Returns false when a restore can no longer be
    /// completed (its packets were dropped meanwhile); `attach` then gets
    /// nothing.
    pub(crate) fn attach(
        &self,
        pid: &Arc<str>,
        restore: Option<&Restore>,
        attach: &mut dyn FnMut(Vec<Message>),
    ) -> bool {
        let mut g = self.lock();
        let from = restore.map(|r| u64::from_str_radix(&r.resume, 16).unwrap_or(u64::MAX));
        let missed = match (restore, from) {
            (Some(r), Some(from)) if from >= g.first_kept() && from <= g.next_seq => {
                let skip = (from - g.first_kept()) as usize;
                let missed: Vec<Message> = g
                    .log
                    .iter()
                    .skip(skip)
                    .filter(|l| included(&r.session.rooms, &l.rooms, &l.except))
                    .map(|l| l.msg.clone())
                    .collect();
                (missed.len() <= self.config.max_packets_per_session).then_some((from, missed))
            }
            _ => None,
        };
        match missed {
            Some((from, missed)) => {
                g.live.insert(pid.clone(), from);
                attach(missed);
                true
            }
            None => {
                // A new session, or one that can no longer be completed:
                // nothing to fence, the lock goes first.
                let start = g.next_seq;
                g.live.insert(pid.clone(), start);
                drop(g);
                attach(Vec::new());
                false
            }
        }
    }

    /// A connected socket left without a session to keep.
    pub(crate) fn forget(&self, pid: &str) {
        self.lock().live.remove(pid);
    }

    fn sweep_period(&self) -> Duration {
        (self.config.max_disconnection_duration / 4)
            .clamp(Duration::from_millis(10), Duration::from_secs(30))
    }

    /// Frees expired sessions and packets in the background while any are kept.
    fn start_sweeper(self: &Arc<Self>) {
        if self.sweeping.swap(true, Ordering::AcqRel) {
            return;
        }
        let weak: Weak<RecoveryStore> = Arc::downgrade(self);
        let period = self.sweep_period();
        // Sockets may close on a host thread: the current or shared runtime.
        crate::runtime::spawn(async move {
            loop {
                tokio::time::sleep(period).await;
                let Some(store) = weak.upgrade() else { return };
                let mut g = store.lock();
                g.expire(Instant::now(), store.config.max_disconnection_duration);
                if g.sessions.is_empty() && g.log.is_empty() {
                    store.sweeping.store(false, Ordering::Release);
                    return;
                }
            }
        });
    }
}

/// Node's `shouldIncludePacket`: in a target room (or all) and in no excluded room.
pub(crate) fn included(session_rooms: &[Room], rooms: &[Room], except: &[Room]) -> bool {
    let hit = rooms.is_empty() || session_rooms.iter().any(|r| rooms.contains(r));
    hit && !session_rooms.iter().any(|r| except.contains(r))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(max: usize) -> Arc<RecoveryStore> {
        RecoveryStore::new(RecoveryConfig {
            max_stored_packets: max,
            max_packets_per_session: 3,
            ..RecoveryConfig::default()
        })
    }

    fn state(pid: &str, rooms: &[&str]) -> SessionState {
        SessionState {
            sid: Sid::random(),
            pid: Arc::from(pid),
            rooms: rooms.iter().map(|r| Room::from(*r)).collect(),
            data: Value::Null,
            extensions: SessionExtensions::default(),
        }
    }

    fn log(s: &RecoveryStore, event: &str, rooms: &[&str]) -> String {
        let opts = BroadcastOptions {
            rooms: rooms.iter().map(|r| Room::from(*r)).collect(),
            ..BroadcastOptions::default()
        };
        let p = Packet::event("/", event, vec![Value::from(1)], None);
        s.log_and_deliver(p, &opts, Parser::Json, |_, m| m.text.to_string())
    }

    fn offset_of(text: &str) -> String {
        let end = text.rfind('"').unwrap_or(0);
        let start = text[..end].rfind('"').unwrap_or(0);
        text[start + 1..end].to_owned()
    }

    #[test]
    fn offsets_are_appended_and_replay_follows_rooms() {
        let s = store(100);
        let pid: Arc<str> = Arc::from("p1");
        assert!(!s.attach(&pid, None, &mut |_| {}));
        let first = log(&s, "a", &[]);
        assert!(first.starts_with("42[\"a\",1,\""), "{first}");
        s.persist(state("p1", &["r1"]));
        log(&s, "b", &["r1"]);
        log(&s, "c", &["r2"]);
        log(&s, "d", &[]);
        let r = s.take("p1", Some(&offset_of(&first))).expect("recoverable");
        let mut got = Vec::new();
        assert!(s.attach(&pid, Some(&r), &mut |m| got = m));
        let names: Vec<String> = got.iter().map(|m| m.text.to_string()).collect();
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(names[0].contains("\"b\"") && names[1].contains("\"d\""));
    }

    #[test]
    fn unknown_foreign_or_forgotten_offsets_are_refused() {
        let s = store(2);
        let pid: Arc<str> = Arc::from("p1");
        s.attach(&pid, None, &mut |_| {});
        let first = log(&s, "a", &[]);
        s.persist(state("p1", &[]));
        assert!(s.take("p1", Some("zz")).is_none());
        assert!(s.take("p1", Some("0-1")).is_none());
        assert!(s.take("nope", Some(&offset_of(&first))).is_none());
        log(&s, "b", &[]);
        log(&s, "c", &[]); // "b" is still kept, "a" is dropped: fine for offset "a"
        log(&s, "d", &[]); // "b" dropped: a client at "a" missed it
        assert!(s.take("p1", Some(&offset_of(&first))).is_none());
        assert_eq!(s.stats().sessions, 1);
    }

    #[test]
    fn a_session_that_missed_too_much_is_not_recovered() {
        let s = store(100);
        let pid: Arc<str> = Arc::from("p1");
        s.attach(&pid, None, &mut |_| {});
        s.persist(state("p1", &[]));
        for _ in 0..4 {
            log(&s, "x", &[]);
        }
        let r = s.take("p1", None).expect("taken from the session start");
        assert!(!s.attach(&pid, Some(&r), &mut |m| assert!(m.is_empty())));
    }
}
