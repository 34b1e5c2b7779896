#![allow(clippy::unwrap_used)]
//! Connection state recovery (oxsio client ⇄ oxsio server) through a proxy
//! that drops TCP connections, and the client's `retries`.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::proxy::Proxy;
use common::raw;
use oxsio::client::{ClientBuilder, ClientSocket, Reconnection};
use oxsio::{Event, RecoveryConfig, Server, ServerHandle, Socket, Transport, Value};

const T: Duration = Duration::from_secs(10);

/// Connections the server saw: (socket id, recovered).
type Seen = Arc<Mutex<Vec<(String, bool)>>>;

#[derive(Clone)]
struct Nick(String);

fn app(cfg: RecoveryConfig) -> (Server, Seen) {
    let io = Server::builder()
        .ping_interval(Duration::from_millis(400))
        .ping_timeout(Duration::from_millis(400))
        .connection_state_recovery(cfg)
        .build();
    let seen: Seen = Arc::default();
    let s2 = seen.clone();
    io.on_connection(move |socket: Socket| {
        if !socket.recovered() {
            socket.join("news");
            socket.insert(Nick(format!("nick-{}", socket.id())));
            socket.set_data(serde_json::json!({"score": 7}));
        }
        s2.lock()
            .unwrap()
            .push((socket.id().to_string(), socket.recovered()));
        socket.on("whoami", |ev: Event| {
            let nick = ev.socket.get::<Nick>().map(|n| n.0).unwrap_or_default();
            let rooms: Vec<Value> = ev
                .socket
                .rooms()
                .iter()
                .map(|r| Value::from(&**r))
                .collect();
            if let Some(ack) = ev.ack {
                let _ = ack.send((nick, Value::Array(rooms)));
            }
        });
    });
    (io, seen)
}

fn fast_reconnect(delay_ms: u64) -> Reconnection {
    Reconnection {
        delay: Duration::from_millis(delay_ms),
        delay_max: Duration::from_millis(delay_ms),
        randomization_factor: 0.0,
        ..Reconnection::default()
    }
}

/// A client that records the first argument of every `n` event.
async fn client(
    url: &str,
    transport: Transport,
    delay_ms: u64,
) -> (ClientSocket, Arc<Mutex<Vec<i64>>>) {
    let got: Arc<Mutex<Vec<i64>>> = Arc::default();
    let g = got.clone();
    let transports = match transport {
        Transport::Polling => vec![Transport::Polling],
        Transport::Websocket => vec![Transport::Websocket],
    };
    let socket = ClientBuilder::new(url)
        .transports(transports)
        .reconnection(fast_reconnect(delay_ms))
        .on("n", move |ev| {
            g.lock().unwrap().push(ev.arg(0).as_i64().unwrap_or(-1));
        })
        .connect()
        .await
        .unwrap();
    (socket, got)
}

async fn wait_reconnected(socket: &ClientSocket, old_id: &str) {
    let deadline = Instant::now() + T;
    while Instant::now() < deadline {
        if socket.connected() && socket.id().as_deref() != Some(old_id) {
            return;
        }
        if socket.connected() && socket.recovered() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the client did not reconnect");
}

async fn wait_for(got: &Arc<Mutex<Vec<i64>>>, n: usize) {
    let ok = raw::eventually(T, || got.lock().unwrap().len() >= n).await;
    assert!(ok, "only {:?}", got.lock().unwrap());
}

async fn serve(io: &Server) -> ServerHandle {
    io.listen("127.0.0.1:0").await.unwrap()
}

async fn recovers_after_a_cut(transport: Transport, silent: bool) {
    let (io, seen) = app(RecoveryConfig::default());
    let handle = serve(&io).await;
    let proxy = Proxy::start(handle.local_addr()).await;
    let (socket, got) = client(&format!("http://{}", proxy.addr), transport, 100).await;
    let id = socket.id().unwrap();
    io.emit("n", 0).unwrap();
    wait_for(&got, 1).await;
    let server_socket = io.of("/").sockets().pop().unwrap();

    assert!(proxy.cut_all(silent) > 0);
    // While the client is away (or before the server noticed): a room
    // broadcast, a namespace broadcast, an emit to its id room, an emit on
    // the socket handle, one to a room it is not in, and a volatile one.
    io.to("news").emit("n", 1).unwrap();
    io.emit("n", 2).unwrap();
    io.to(server_socket.id()).emit("n", 3).unwrap();
    server_socket.emit("n", 4).unwrap();
    io.to("elsewhere").emit("n", 98).unwrap();
    io.volatile().emit("v", 99).unwrap();

    wait_reconnected(&socket, &id).await;
    assert!(socket.recovered(), "the client reports recovered");
    assert_eq!(socket.id().unwrap(), id, "same id");
    io.to("news").emit("n", 5).unwrap();
    wait_for(&got, 6).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(*got.lock().unwrap(), vec![0, 1, 2, 3, 4, 5]);

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[1], (id.clone(), true), "the server saw a recovery");
    // Rooms and data came back with the session.
    let reply = socket.emit_with_ack("whoami", ()).await.unwrap();
    assert_eq!(reply[0], Value::from(format!("nick-{id}")));
    let rooms = format!("{:?}", reply[1]);
    assert!(rooms.contains("news"), "{rooms}");
    let back = io.of("/").sockets().pop().unwrap();
    assert_eq!(
        back.data()["score"],
        Value::from(7),
        "socket.data came back"
    );
    socket.disconnect();
    handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_cut_recovers_every_missed_packet_once_in_order() {
    recovers_after_a_cut(Transport::Websocket, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_cut_recovers_every_missed_packet_once_in_order() {
    recovers_after_a_cut(Transport::Polling, false).await;
}

/// The server has not noticed the drop when the client comes back: the
/// new connection takes the session over (Node would start a new socket).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_drop_is_taken_over_before_the_heartbeat_notices() {
    recovers_after_a_cut(Transport::Websocket, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_polling_drop_is_taken_over() {
    recovers_after_a_cut(Transport::Polling, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_session_connects_as_a_new_socket() {
    let (io, seen) = app(RecoveryConfig {
        max_disconnection_duration: Duration::from_millis(150),
        ..RecoveryConfig::default()
    });
    let handle = serve(&io).await;
    let proxy = Proxy::start(handle.local_addr()).await;
    let (socket, got) = client(&format!("http://{}", proxy.addr), Transport::Websocket, 800).await;
    let id = socket.id().unwrap();
    io.emit("n", 0).unwrap();
    wait_for(&got, 1).await;
    proxy.cut_all(false);
    // Once the server saw the drop (else the proxy may still carry "1").
    let gone = raw::eventually(T, || io.of("/").sockets().is_empty()).await;
    assert!(gone, "the server did not see the drop");
    io.emit("n", 1).unwrap();
    wait_reconnected(&socket, &id).await;
    assert!(!socket.recovered());
    assert_ne!(socket.id().unwrap(), id);
    assert_eq!(*got.lock().unwrap(), vec![0]);
    let n = io.of("/").recovery_stats();
    assert_eq!(n.sessions, 0, "the expired session was freed: {n:?}");
    assert!(!seen.lock().unwrap().last().unwrap().1);
    handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_connects_the_client_as_new_without_error() {
    let (io, _) = app(RecoveryConfig::default());
    let handle = serve(&io).await;
    let proxy = Proxy::start(handle.local_addr()).await;
    let (socket, got) = client(&format!("http://{}", proxy.addr), Transport::Websocket, 100).await;
    let id = socket.id().unwrap();
    io.emit("n", 0).unwrap();
    wait_for(&got, 1).await;
    let errors = Arc::new(Mutex::new(0));
    let e2 = errors.clone();
    socket.on_connect_error(move |_, _| *e2.lock().unwrap() += 1);
    // "Restart": the proxy now leads to a fresh server.
    let (io2, seen2) = app(RecoveryConfig::default());
    let handle2 = serve(&io2).await;
    proxy.retarget(handle2.local_addr());
    handle.shutdown().await;
    proxy.cut_all(false);
    wait_reconnected(&socket, &id).await;
    assert!(!socket.recovered());
    assert_ne!(socket.id().unwrap(), id);
    assert_eq!(*errors.lock().unwrap(), 0, "no connect_error");
    assert_eq!(seen2.lock().unwrap().len(), 1);
    assert!(!seen2.lock().unwrap()[0].1);
    handle2.shutdown().await;
}

/// Reads the CONNECT reply of a raw client: (sid, pid).
async fn raw_connect(c: &mut raw::Client, auth: serde_json::Value) -> (String, Option<String>) {
    c.send_text(&format!("40{auth}")).await;
    loop {
        let p = c.recv_packet().await;
        if let oxsio::codec::socketio::PacketData::Connect(Some(v)) = &p.data {
            return (
                v["sid"].as_str().unwrap().to_owned(),
                v["pid"].as_str().map(str::to_owned),
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_foreign_and_malformed_offers_are_new_sockets() {
    let (io, seen) = app(RecoveryConfig::default());
    let handle = serve(&io).await;
    let addr = handle.local_addr();
    let mut a = raw::Client::ws(addr).await;
    let (a_sid, a_pid) = raw_connect(&mut a, serde_json::json!({})).await;
    let a_pid = a_pid.expect("the CONNECT reply carries a pid");
    assert_ne!(a_pid, a_sid, "the private id is not the public one");

    // Another client offers A's public id, or made-up ones: new sockets,
    // and A is left alone.
    for offer in [
        serde_json::json!({"pid": a_sid, "offset": "0-1"}),
        serde_json::json!({"pid": "AAAAAAAAAAAAAAAAAAAA", "offset": "0-1"}),
        serde_json::json!({"pid": 42, "offset": "0-1"}),
        // A's real pid with an offset of the wrong type.
        serde_json::json!({"pid": a_pid, "offset": 7}),
    ] {
        let mut b = raw::Client::ws(addr).await;
        let (b_sid, b_pid) = raw_connect(&mut b, offer.clone()).await;
        assert_ne!(b_sid, a_sid, "{offer}");
        assert_ne!(b_pid.as_deref(), Some(a_pid.as_str()), "{offer}");
    }
    assert!(seen.lock().unwrap().iter().all(|(_, r)| !r));
    assert!(
        io.of("/")
            .get_socket(oxsio::Sid::parse(&a_sid).unwrap())
            .is_some_and(|s| s.connected()),
        "A is still connected"
    );
    handle.shutdown().await;
}

/// A's session offered with an offset from another server epoch: new socket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offset_of_another_server_is_not_recovered() {
    let (io, _) = app(RecoveryConfig::default());
    let handle = serve(&io).await;
    let addr = handle.local_addr();
    let mut a = raw::Client::ws(addr).await;
    let (a_sid, a_pid) = raw_connect(&mut a, serde_json::json!({})).await;
    drop(a);
    let gone = raw::eventually(T, || io.of("/").recovery_stats().sessions == 1).await;
    assert!(gone, "A's session is kept");
    let mut b = raw::Client::ws(addr).await;
    let (b_sid, _) = raw_connect(
        &mut b,
        serde_json::json!({"pid": a_pid, "offset": "ffff-1"}),
    )
    .await;
    assert_ne!(b_sid, a_sid);
    // A's session is still there for A.
    assert_eq!(io.of("/").recovery_stats().sessions, 1);
    handle.shutdown().await;
}

/// A client too slow for its bounded queue is not silently skipped: its
/// connection closes and its replay brings every packet, once and in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_closes_for_a_replay_instead_of_losing_packets() {
    let io = Server::builder()
        .max_buffer_size(8)
        .connection_state_recovery(RecoveryConfig::default())
        .build();
    let reasons: Arc<Mutex<Vec<String>>> = Arc::default();
    let r2 = reasons.clone();
    io.on_connection(move |socket: Socket| {
        let r = r2.clone();
        socket.on_disconnect(move |_, reason| r.lock().unwrap().push(reason.to_string()));
    });
    let handle = serve(&io).await;
    let addr = handle.local_addr();
    // A client that reads nothing: socket buffers, then the queue, fill up.
    let mut a = raw::Client::ws(addr).await;
    let (sid, pid) = raw_connect(&mut a, serde_json::json!({})).await;
    // 64 MiB: more than the loopback socket buffers can hold.
    let big = "x".repeat(64 * 1024);
    let total = 1000;
    for n in 0..total {
        io.emit("n", (n, big.as_str())).unwrap();
    }
    let closed = raw::eventually(T, || !reasons.lock().unwrap().is_empty()).await;
    assert!(closed, "the slow client was not closed");
    assert_eq!(reasons.lock().unwrap()[0], "transport error");
    drop(a);
    // It comes back (it had no offset: replayed from its session start).
    let mut b = raw::Client::ws(addr).await;
    let (again, _) = raw_connect(&mut b, serde_json::json!({"pid": pid})).await;
    assert_eq!(again, sid, "recovered");
    let mut got = Vec::new();
    while got.len() < total as usize {
        let (_, name, args, _) = b.recv_event().await;
        assert_eq!(name, "n");
        got.push(args[0].as_i64().unwrap());
    }
    assert_eq!(got, (0..total).collect::<Vec<i64>>());
    handle.shutdown().await;
}

/// `skip_middlewares`: a recovered socket skips the connect middlewares
/// (default), or runs them again, and a refusal then keeps the session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn middlewares_run_on_recovery_as_configured() {
    for skip in [true, false] {
        let (io, seen) = app(RecoveryConfig {
            skip_middlewares: skip,
            ..RecoveryConfig::default()
        });
        let runs = Arc::new(Mutex::new(0));
        let refuse = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (r2, f2) = (runs.clone(), refuse.clone());
        io.of("/").use_middleware(move |_s| {
            *r2.lock().unwrap() += 1;
            if f2.load(std::sync::atomic::Ordering::Relaxed) {
                Err(oxsio::ConnectError::new("not now"))
            } else {
                Ok(())
            }
        });
        let handle = serve(&io).await;
        let addr = handle.local_addr();
        let mut a = raw::Client::ws(addr).await;
        let (sid, pid) = raw_connect(&mut a, serde_json::json!({})).await;
        let pid = pid.unwrap();
        drop(a);
        assert!(raw::eventually(T, || io.of("/").recovery_stats().sessions == 1).await);
        if !skip {
            // Refused: the session stays for another try.
            refuse.store(true, std::sync::atomic::Ordering::Relaxed);
            let mut b = raw::Client::ws(addr).await;
            let refused = b
                .connect_ns("/", Some(serde_json::json!({"pid": pid})))
                .await;
            assert!(refused.is_err(), "refused by the middleware");
            assert_eq!(
                io.of("/").recovery_stats().sessions,
                1,
                "kept after a refusal"
            );
            refuse.store(false, std::sync::atomic::Ordering::Relaxed);
        }
        let mut c = raw::Client::ws(addr).await;
        let (again, _) = raw_connect(&mut c, serde_json::json!({"pid": pid})).await;
        assert_eq!(again, sid, "skip_middlewares {skip}: recovered");
        assert_eq!(seen.lock().unwrap().last().unwrap(), &(sid.clone(), true));
        let expected = if skip { 1 } else { 3 };
        assert_eq!(*runs.lock().unwrap(), expected, "skip_middlewares {skip}");
        handle.shutdown().await;
    }
}

// ---- the client's retries / ackTimeout --------------------------------

/// A server whose `task` handler acknowledges a payload only from its
/// `fail_first + 1`-th delivery on; returns deliveries per payload.
fn flaky_server(fail_first: usize) -> (Server, Arc<Mutex<Vec<i64>>>) {
    let io = Server::new();
    let log: Arc<Mutex<Vec<i64>>> = Arc::default();
    let l2 = log.clone();
    io.on_connection(move |socket: Socket| {
        let log = l2.clone();
        socket.on("task", move |ev: Event| {
            let n = ev.arg(0).as_i64().unwrap();
            let count = {
                let mut l = log.lock().unwrap();
                l.push(n);
                l.iter().filter(|x| **x == n).count()
            };
            if count > fail_first
                && let Some(ack) = ev.ack
            {
                let _ = ack.send(format!("done {n}"));
            }
        });
    });
    (io, log)
}

async fn retry_client(url: &str, retries: u32) -> ClientSocket {
    ClientBuilder::new(url)
        .transports([Transport::Websocket])
        .retries(retries)
        .ack_timeout(Duration::from_millis(200))
        .reconnection(fast_reconnect(100))
        .connect()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_resend_until_acknowledged_one_at_a_time_in_order() {
    let (io, log) = flaky_server(1);
    let handle = serve(&io).await;
    let socket = retry_client(&format!("http://{}", handle.local_addr()), 3).await;
    socket.emit("task", 1).unwrap();
    socket.emit("task", 2).unwrap();
    let reply = socket.emit_with_ack("task", 3).await.unwrap();
    assert_eq!(reply, vec![Value::from("done 3")]);
    // Each packet twice (the first try is not acknowledged), and packet 2
    // only after 1 was acknowledged.
    assert_eq!(*log.lock().unwrap(), vec![1, 1, 2, 2, 3, 3]);
    handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_run_out_with_a_timeout_error() {
    let (io, log) = flaky_server(usize::MAX);
    let handle = serve(&io).await;
    let socket = retry_client(&format!("http://{}", handle.local_addr()), 2).await;
    let err = socket.emit_with_ack("task", 7).await.unwrap_err();
    assert!(
        matches!(err, oxsio::client::ClientError::Timeout),
        "{err:?}"
    );
    assert_eq!(*log.lock().unwrap(), vec![7, 7, 7], "1 try + 2 retries");
    // The queue moves on.
    socket.emit("task", 8).unwrap();
    let ok = raw::eventually(T, || {
        log.lock().unwrap().iter().filter(|x| **x == 8).count() == 3
    })
    .await;
    assert!(ok, "{:?}", log.lock().unwrap());
    handle.shutdown().await;
}

/// A packet whose acknowledgement was lost with the connection is sent
/// again after the reconnection (at least once).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_packet_is_sent_again_after_a_reconnection() {
    let io = Server::new();
    let log: Arc<Mutex<Vec<i64>>> = Arc::default();
    let l2 = log.clone();
    io.on_connection(move |socket: Socket| {
        let log = l2.clone();
        socket.on("task", move |ev: Event| {
            let first = {
                let mut l = log.lock().unwrap();
                l.push(ev.arg(0).as_i64().unwrap());
                l.len() == 1
            };
            // The first delivery is never answered: its connection dies.
            if !first && let Some(ack) = ev.ack {
                let _ = ack.send("ok");
            }
        });
    });
    let handle = serve(&io).await;
    let proxy = Proxy::start(handle.local_addr()).await;
    let socket = ClientBuilder::new(format!("http://{}", proxy.addr))
        .transports([Transport::Websocket])
        .retries(5)
        // Far beyond the wait below: only a resend on reconnection answers in time.
        .ack_timeout(Duration::from_secs(60))
        .reconnection(fast_reconnect(100))
        .connect()
        .await
        .unwrap();
    let pending = socket.emit_with_ack("task", 1);
    let delivered = raw::eventually(T, || log.lock().unwrap().len() == 1).await;
    assert!(delivered);
    proxy.cut_all(false);
    let reply = tokio::time::timeout(T, pending)
        .await
        .expect("sent again on reconnection, not after the 60 s ack timeout")
        .unwrap();
    assert_eq!(reply, vec![Value::from("ok")]);
    assert_eq!(*log.lock().unwrap(), vec![1, 1]);
    handle.shutdown().await;
}

// ---- soak --------------------------------------------------------------

/// A 1 000 msg/s stream to 50 clients (half WebSocket, half polling) while
/// the proxy drops connections at random about 100 times, abruptly or
/// silently. Every client gets every packet exactly once, in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn soak_random_drops_lose_and_duplicate_nothing() {
    let (io, seen) = app(RecoveryConfig::default());
    let handle = serve(&io).await;
    let proxy = Proxy::start(handle.local_addr()).await;
    let url = format!("http://{}", proxy.addr);
    let mut clients = Vec::new();
    for i in 0..50 {
        let t = if i % 2 == 0 {
            Transport::Websocket
        } else {
            Transport::Polling
        };
        clients.push(client(&url, t, 50).await);
    }
    let total: i64 = 10_000;
    let streamer = {
        let io = io.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(10));
            let mut n = 0;
            while n < total {
                tick.tick().await;
                for _ in 0..10 {
                    io.emit("n", n).unwrap();
                    n += 1;
                }
            }
        })
    };
    let mut rng = 0x9e37_79b9_7f4a_7c15_u64;
    let mut drops = 0;
    while !streamer.is_finished() && drops < 100 {
        tokio::time::sleep(Duration::from_millis(90)).await;
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        if proxy.cut_one(rng as usize, rng.is_multiple_of(3)) {
            drops += 1;
        }
    }
    streamer.await.unwrap();
    let all_in = raw::eventually(Duration::from_secs(30), || {
        clients
            .iter()
            .all(|(_, got)| got.lock().unwrap().last() == Some(&(total - 1)))
    })
    .await;
    let (mut delivered, mut lost, mut duplicated, mut disorder) = (0usize, 0usize, 0usize, 0usize);
    for (_, got) in &clients {
        let got = got.lock().unwrap();
        delivered += got.len();
        let mut count: HashMap<i64, usize> = HashMap::new();
        for n in got.iter() {
            *count.entry(*n).or_default() += 1;
        }
        lost += (0..total).filter(|n| !count.contains_key(n)).count();
        duplicated += count.values().map(|c| c - 1).sum::<usize>();
        disorder += got.windows(2).filter(|w| w[0] >= w[1]).count();
    }
    let recovered = seen.lock().unwrap().iter().filter(|(_, r)| *r).count();
    let new = seen.lock().unwrap().iter().filter(|(_, r)| !*r).count();
    println!(
        "soak: sent {} x 50 clients = {}, delivered {delivered}, lost {lost}, duplicated {duplicated}, \
         out of order {disorder}; {drops} drops ({} connections cut), {recovered} recoveries, {new} new sockets",
        total,
        total as usize * 50,
        proxy.cuts()
    );
    assert!(all_in, "not every client got the last packet");
    assert_eq!((lost, duplicated, disorder), (0, 0, 0));
    assert!(drops >= 50, "only {drops} drops");
    assert_eq!(new, 50, "every reconnection was a recovery");
    for (s, _) in &clients {
        s.disconnect();
    }
    handle.shutdown().await;
}
