//! The in-memory adapter: a room index for one node.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::BoxFuture;

use super::{
    Adapter, BroadcastOptions, RecoveryStats, RecoveryStore, Restore, Room, SessionState, loggable,
};
use crate::Args;
use crate::codec::socketio::{Packet, PacketData};
use crate::engineio::Message;
use crate::sid::{Sid, SidMap, SidSet};
use crate::socketio::{AckError, BroadcastError, EmitError, NsHandle, RemoteSocket, Socket};

#[derive(Default)]
struct Index {
    rooms: HashMap<Room, SidSet>,
    sids: SidMap<HashSet<Room>>,
}

/// The default adapter: rooms and broadcasts within this process.
///
/// Each socket's own id room is implicit (resolved from the namespace's
/// socket table), so an idle socket costs no index entry.
///
/// With [connection state recovery](crate::RecoveryConfig) on, it also
/// keeps the namespace's replay log and disconnected sessions.
pub struct MemoryAdapter {
    ns: NsHandle,
    index: RwLock<Index>,
    /// Set on first use from the namespace's options (the namespace is not
    /// reachable while it builds its adapter).
    recovery: OnceLock<Option<Arc<RecoveryStore>>>,
}

impl MemoryAdapter {
    /// An adapter for the namespace behind `ns`.
    pub fn new(ns: NsHandle) -> Self {
        MemoryAdapter {
            ns,
            index: RwLock::new(Index::default()),
            recovery: OnceLock::new(),
        }
    }

    /// An adapter that never logs packets nor keeps sessions itself, even
    /// with recovery on: the cluster adapter over it does (Redis streams).
    #[cfg(any(feature = "redis", feature = "postgres"))]
    pub(crate) fn unlogged(ns: NsHandle) -> Self {
        MemoryAdapter {
            ns,
            index: RwLock::new(Index::default()),
            recovery: OnceLock::from(None),
        }
    }

    /// The namespace's recovery options (None: recovery is off).
    #[cfg(any(feature = "redis", feature = "postgres"))]
    pub(crate) fn recovery_config(&self) -> Option<crate::RecoveryConfig> {
        self.ns.upgrade()?.common.recovery.clone()
    }

    fn recovery(&self) -> Option<&Arc<RecoveryStore>> {
        self.recovery
            .get_or_init(|| {
                let config = self.ns.upgrade()?.common.recovery.clone()?;
                Some(RecoveryStore::new(config))
            })
            .as_ref()
    }

    /// Queues `msg` for every local target. A `logged` message that a
    /// socket's full queue cannot take is not lost: the socket's connection
    /// is closed, and the client gets it in its replay when it recovers.
    /// Also returns the targets with `on_any_outgoing` handlers, to be shown
    /// the event once no lock is held (their handlers may emit).
    fn deliver(
        &self,
        msg: &Message,
        opts: &BroadcastOptions,
        logged: bool,
    ) -> (Result<(), BroadcastError>, Vec<Socket>) {
        let mut failed = Vec::new();
        let mut watching = Vec::new();
        for socket in self.local_targets(opts) {
            if socket.watches_outgoing() {
                watching.push(socket.clone());
            }
            match socket.send_message(msg.clone()) {
                Ok(()) => {}
                Err(EmitError::QueueFull) if opts.flags.volatile => {}
                Err(EmitError::QueueFull) if logged => socket.close_overflowed(),
                // Left while we were sending: no longer a target.
                Err(EmitError::Disconnected) => {}
                Err(e) => failed.push((socket.id(), e)),
            }
        }
        let r = if failed.is_empty() {
            Ok(())
        } else {
            Err(BroadcastError::Sockets(failed))
        };
        (r, watching)
    }

    /// The local sockets targeted by `opts`.
    pub fn local_targets(&self, opts: &BroadcastOptions) -> Vec<Socket> {
        let Ok(idx) = self.index.read() else {
            return Vec::new();
        };
        let members = |room: &Room, out: &mut SidSet| {
            if let Some(set) = idx.rooms.get(room) {
                out.extend(set.iter().copied());
            } else if let Some(sid) = Sid::parse(room) {
                out.insert(sid);
            }
        };
        let mut excluded = SidSet::default();
        for room in &opts.except {
            members(room, &mut excluded);
        }
        if opts.rooms.is_empty() {
            let mut all = self.ns.sockets();
            if !excluded.is_empty() {
                all.retain(|s| !excluded.contains(&s.id()));
            }
            return all;
        }
        let targets: Vec<Sid> = if let [room] = opts.rooms.as_slice() {
            // One room (the common case): no union set to build.
            let mut one = SidSet::default();
            match idx.rooms.get(room) {
                Some(set) => set
                    .iter()
                    .copied()
                    .filter(|sid| !excluded.contains(sid))
                    .collect(),
                None => {
                    members(room, &mut one);
                    one.into_iter()
                        .filter(|sid| !excluded.contains(sid))
                        .collect()
                }
            }
        } else {
            let mut union = SidSet::default();
            for room in &opts.rooms {
                members(room, &mut union);
            }
            union
                .into_iter()
                .filter(|sid| !excluded.contains(sid))
                .collect()
        };
        drop(idx);
        self.ns.get_sockets(targets)
    }
}

impl MemoryAdapter {
    /// Sends an event asking each local target for an acknowledgement;
    /// returns one receiver per socket that got it (a multi-node adapter
    /// reports their count, then each reply, to the requesting node).
    pub fn send_with_acks(
        &self,
        mut packet: Packet,
        opts: &BroadcastOptions,
    ) -> Vec<tokio::sync::oneshot::Receiver<Args>> {
        let id = self.ns.next_ack_id();
        if let PacketData::Event { id: slot, .. } = &mut packet.data {
            *slot = Some(id);
        }
        let msg = self.ns.encode_message(&packet);
        let mut waiters = Vec::new();
        for socket in self.local_targets(opts) {
            socket.notify_outgoing(&packet);
            let rx = socket.register_ack(id);
            match socket.send_message(msg.clone()) {
                Ok(()) => waiters.push(rx),
                Err(_) => socket.cancel_ack(id),
            }
        }
        waiters
    }

    /// True when some local socket joined `room` (a socket's own id room
    /// is implicit and never counts).
    pub fn has_room(&self, room: &str) -> bool {
        self.index
            .read()
            .map(|i| i.rooms.contains_key(room))
            .unwrap_or(false)
    }

    /// The namespace this adapter serves.
    pub fn ns(&self) -> &NsHandle {
        &self.ns
    }
}

impl Adapter for MemoryAdapter {
    fn add_all(&self, sid: Sid, rooms: &[Room]) {
        // The admin UI (development mode) hears of each new membership, as
        // Node's adapter emits `join-room`; told once the lock is released.
        let watch = self.ns.room_watch();
        let mut joined = Vec::new();
        {
            let Ok(mut idx) = self.index.write() else {
                return;
            };
            for room in rooms {
                let new = idx.rooms.entry(room.clone()).or_default().insert(sid);
                idx.sids.entry(sid).or_default().insert(room.clone());
                if new && watch.is_some() {
                    joined.push(room.clone());
                }
            }
        }
        if let Some(w) = watch {
            w.joined(sid, &joined);
        }
    }

    fn del(&self, sid: Sid, room: &str) {
        let mut left = false;
        {
            let Ok(mut idx) = self.index.write() else {
                return;
            };
            if let Some(set) = idx.rooms.get_mut(room) {
                left = set.remove(&sid);
                if set.is_empty() {
                    idx.rooms.remove(room);
                }
            }
            if let Some(set) = idx.sids.get_mut(&sid) {
                set.remove(room);
                if set.is_empty() {
                    idx.sids.remove(&sid);
                }
            }
        }
        if left && let Some(w) = self.ns.room_watch() {
            w.left(sid, &[Room::from(room)]);
        }
    }

    fn del_all(&self, sid: Sid) {
        let left: Vec<Room> = {
            let Ok(mut idx) = self.index.write() else {
                return;
            };
            let Some(rooms) = idx.sids.remove(&sid) else {
                return;
            };
            let mut left = Vec::with_capacity(rooms.len());
            for room in rooms {
                if let Some(set) = idx.rooms.get_mut(&room) {
                    set.remove(&sid);
                    if set.is_empty() {
                        idx.rooms.remove(&room);
                    }
                }
                left.push(room);
            }
            left
        };
        if let Some(w) = self.ns.room_watch() {
            w.left(sid, &left);
        }
    }

    fn socket_rooms(&self, sid: Sid) -> Vec<Room> {
        let mut out: Vec<Room> = vec![Room::from(sid.as_str())];
        if let Ok(idx) = self.index.read()
            && let Some(set) = idx.sids.get(&sid)
        {
            out.extend(set.iter().cloned());
        }
        out
    }

    fn broadcast(&self, packet: Packet, opts: &BroadcastOptions) -> Result<(), BroadcastError> {
        if let Some(store) = self.recovery()
            && loggable(&packet, opts)
        {
            let (r, watching, logged) =
                store.log_and_deliver(packet, opts, self.ns.parser(), |packet, msg| {
                    let (r, watching) = self.deliver(msg, opts, true);
                    let logged = (!watching.is_empty()).then(|| packet.clone());
                    (r, watching, logged)
                });
            // As Node's adapter: a broadcast is an outgoing event of each
            // target; shown once the replay log is unlocked.
            if let Some(packet) = logged {
                for s in &watching {
                    s.notify_outgoing(&packet);
                }
            }
            return r;
        }
        let (r, watching) = self.deliver(&self.ns.encode_message(&packet), opts, false);
        for s in &watching {
            s.notify_outgoing(&packet);
        }
        r
    }

    fn broadcast_with_ack(
        &self,
        mut packet: Packet,
        opts: &BroadcastOptions,
        timeout: Duration,
    ) -> BoxFuture<'static, Result<Vec<Args>, AckError>> {
        let id = self.ns.next_ack_id();
        if let PacketData::Event { id: slot, .. } = &mut packet.data {
            *slot = Some(id);
        }
        let msg = self.ns.encode_message(&packet);
        let mut waiters = Vec::new();
        for socket in self.local_targets(opts) {
            socket.notify_outgoing(&packet);
            let rx = socket.register_ack(id);
            match socket.send_message(msg.clone()) {
                Ok(()) => waiters.push(rx),
                Err(_) => socket.cancel_ack(id),
            }
        }
        async move {
            let all = futures_util::future::join_all(waiters);
            match tokio::time::timeout(timeout, all).await {
                Ok(replies) => Ok(replies.into_iter().filter_map(Result::ok).collect()),
                Err(_) => Err(AckError::Timeout),
            }
        }
        .boxed()
    }

    fn fetch_sockets(&self, opts: &BroadcastOptions) -> BoxFuture<'static, Vec<RemoteSocket>> {
        let sockets: Vec<RemoteSocket> = self
            .local_targets(opts)
            .iter()
            .map(RemoteSocket::from_local)
            .collect();
        async move { sockets }.boxed()
    }

    fn add_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        for s in self.local_targets(opts) {
            self.add_all(s.id(), rooms);
        }
    }

    fn del_sockets(&self, opts: &BroadcastOptions, rooms: &[Room]) {
        for s in self.local_targets(opts) {
            for r in rooms {
                self.del(s.id(), r);
            }
        }
    }

    fn disconnect_sockets(&self, opts: &BroadcastOptions, close: bool) {
        for s in self.local_targets(opts) {
            s.disconnect_with(close);
        }
    }

    fn rooms(&self) -> BoxFuture<'static, Vec<Room>> {
        let mut rooms: Vec<Room> = self
            .index
            .read()
            .map(|i| i.rooms.keys().cloned().collect())
            .unwrap_or_default();
        rooms.extend(
            self.ns
                .sockets()
                .iter()
                .map(|s| Room::from(s.id().as_str())),
        );
        async move { rooms }.boxed()
    }

    fn supports_recovery(&self) -> bool {
        self.recovery().is_some()
    }

    fn persist_session(&self, session: SessionState) {
        if let Some(store) = self.recovery() {
            store.persist(session);
        }
    }

    fn restore_session(
        &self,
        pid: &str,
        offset: Option<&str>,
    ) -> BoxFuture<'static, Option<Restore>> {
        let r = self.recovery().and_then(|s| s.take(pid, offset));
        Box::pin(std::future::ready(r))
    }

    fn return_session(&self, restore: Restore) {
        if let Some(store) = self.recovery() {
            store.put_back(restore);
        }
    }

    fn attach_session(
        &self,
        pid: &Arc<str>,
        restore: Option<&Restore>,
        attach: &mut dyn FnMut(Vec<Message>),
    ) -> bool {
        match self.recovery() {
            Some(store) => store.attach(pid, restore, attach),
            None => {
                attach(Vec::new());
                false
            }
        }
    }

    fn forget_session(&self, pid: &str) {
        if let Some(store) = self.recovery() {
            store.forget(pid);
        }
    }

    fn recovery_stats(&self) -> RecoveryStats {
        self.recovery().map(|s| s.stats()).unwrap_or_default()
    }
}
