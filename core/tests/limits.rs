//! Resource limits give clear errors, and a client that stops reading is
//! cut off without slowing the others.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::SinkExt;
use oxsio::client::{ClientBuilder, ClientError, ClientOptions, Reconnection};
use oxsio::{AckError, DisconnectReason, JoinError, Server, Socket, Transport};
use tokio::sync::mpsc;

const T: Duration = Duration::from_secs(5);

fn no_retry() -> ClientOptions {
    ClientOptions {
        reconnection: Reconnection {
            enabled: false,
            ..Default::default()
        },
        transports: vec![Transport::Websocket],
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_connections_answers_503() {
    let io = Server::builder().max_connections(2).build();
    let h = io.listen("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", h.local_addr());
    let a = ClientBuilder::new(&url)
        .options(no_retry())
        .connect()
        .await
        .unwrap();
    let b = ClientBuilder::new(&url)
        .options(no_retry())
        .connect()
        .await
        .unwrap();
    match ClientBuilder::new(&url).options(no_retry()).connect().await {
        Err(ClientError::Http(503, body)) => {
            assert!(body.contains("Too many connections"), "{body}")
        }
        other => panic!("{other:?}"),
    }
    a.disconnect();
    b.disconnect();
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_and_pending_acks_are_bounded() {
    let io = Server::builder()
        .max_rooms_per_socket(3)
        .max_pending_acks(2)
        .ack_timeout(Duration::from_millis(300))
        .build();
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    io.on_connection(move |s: Socket| {
        let tx = tx.clone();
        tokio::spawn(async move {
            s.try_join(["a", "b"]).unwrap();
            s.try_join("c").unwrap();
            s.try_join("a").unwrap(); // already in: no change
            assert_eq!(s.try_join("d"), Err(JoinError::TooManyRooms { max: 3 }));
            s.join("e"); // logged, not joined
            assert_eq!(s.rooms().len(), 4, "own room + a, b, c");
            let p1 = s.emit_with_ack("never", ());
            let p2 = s.emit_with_ack("never", ());
            let third = s.emit_with_ack("never", ()).await;
            assert_eq!(third, Err(AckError::TooManyPending { max: 2 }));
            assert_eq!(p1.await, Err(AckError::Timeout));
            assert_eq!(p2.await, Err(AckError::Timeout));
            // Slots free again after the timeouts.
            assert_eq!(s.emit_with_ack("never", ()).await, Err(AckError::Timeout));
            let _ = tx.send("done".into());
        });
    });
    let h = io.listen("127.0.0.1:0").await.unwrap();
    let c = ClientBuilder::new(format!("http://{}", h.local_addr()))
        .options(no_retry())
        .connect()
        .await
        .unwrap();
    assert_eq!(
        tokio::time::timeout(T, rx.recv()).await.unwrap().unwrap(),
        "done"
    );
    c.disconnect();
    h.shutdown().await;
}

/// One WebSocket client never reads while the others get a flood of
/// broadcasts: the others keep receiving, the stalled one is cut off.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_reader_is_cut_off_others_keep_receiving() {
    let io = Server::builder()
        .ping_interval(Duration::from_millis(300))
        .ping_timeout(Duration::from_millis(300))
        .max_buffer_size(64)
        .build();
    let (dtx, mut dis) = mpsc::unbounded_channel();
    io.on_connection(move |s: Socket| {
        s.join("all");
        let dtx = dtx.clone();
        s.on_disconnect(move |s, r| {
            let _ = dtx.send((s.id(), r));
        });
    });
    let h = io.listen("127.0.0.1:0").await.unwrap();
    let addr = h.local_addr();
    // The stalled client: connects to "/" and then never reads again.
    let (mut stalled, _) = tokio_tungstenite::connect_async(format!(
        "ws://{addr}/socket.io/?EIO=4&transport=websocket"
    ))
    .await
    .unwrap();
    stalled.send("40".into()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stalled_id = io.of("/").sockets().first().unwrap().id();
    // A good client that reads everything.
    let got = Arc::new(AtomicUsize::new(0));
    let g = got.clone();
    let good = ClientBuilder::new(format!("http://{addr}"))
        .options(no_retry())
        .build()
        .unwrap();
    good.on("flood", move |_| {
        g.fetch_add(1, Ordering::Relaxed);
    });
    good.connect().await.unwrap();
    let payload = "x".repeat(16 * 1024);
    let mut skipped = 0usize;
    for _ in 0..2000 {
        if io
            .to("all")
            .volatile()
            .emit("flood", payload.as_str())
            .is_err()
        {
            skipped += 1;
        }
        tokio::task::yield_now().await;
    }
    let (sid, reason) = tokio::time::timeout(T, dis.recv())
        .await
        .expect("stalled client cut off")
        .unwrap();
    assert_eq!(sid, stalled_id);
    assert!(
        matches!(
            reason,
            DisconnectReason::TransportError | DisconnectReason::PingTimeout
        ),
        "{reason:?}"
    );
    assert_eq!(skipped, 0, "volatile broadcasts never fail");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        got.load(Ordering::Relaxed) > 1000,
        "the good client got {}",
        got.load(Ordering::Relaxed)
    );
    assert!(good.connected());
    good.disconnect();
    drop(stalled);
    h.shutdown().await;
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Figure for the notes (long): 1 000 000 broadcast deliveries to 100 reading
/// clients while one WebSocket client never reads. Prints RSS before/after;
/// asserts the growth stays under the bound the queues imply.
/// `cargo test -p oxsio --release --test limits -- --ignored --nocapture`
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "long run"]
async fn million_deliveries_with_a_stalled_reader_keep_memory_bounded() {
    const CLIENTS: usize = 100;
    const BROADCASTS: usize = 10_000;
    let io = Server::builder().build();
    io.on_connection(|s: Socket| s.join("all"));
    let h = io.listen("127.0.0.1:0").await.unwrap();
    let addr = h.local_addr();
    let (mut stalled, _) = tokio_tungstenite::connect_async(format!(
        "ws://{addr}/socket.io/?EIO=4&transport=websocket"
    ))
    .await
    .unwrap();
    stalled.send("40".into()).await.unwrap();
    let got = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let g = got.clone();
        let c = ClientBuilder::new(format!("http://{addr}"))
            .options(no_retry())
            .build()
            .unwrap();
        c.on("tick", move |_| {
            g.fetch_add(1, Ordering::Relaxed);
        });
        c.connect().await.unwrap();
        clients.push(c);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = rss_kib();
    let payload = "p".repeat(100);
    let stalled_id = io.of("/").sockets().iter().map(|s| s.id()).find(|id| {
        clients
            .iter()
            .all(|c| c.id().as_deref() != Some(id.as_str()))
    });
    let start = std::time::Instant::now();
    let mut peak = before;
    let mut reader_failures = 0usize;
    for i in 0..BROADCASTS {
        // Not volatile: a full queue is reported; only the stalled socket may fail.
        if let Err(oxsio::BroadcastError::Sockets(failed)) =
            io.to("all").emit("tick", payload.as_str())
        {
            reader_failures += failed
                .iter()
                .filter(|(sid, _)| Some(*sid) != stalled_id)
                .count();
        }
        if i % 50 == 0 {
            while got.load(Ordering::Relaxed) + CLIENTS * 100 < CLIENTS * i {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            peak = peak.max(rss_kib());
        }
    }
    assert_eq!(reader_failures, 0, "a reading client's queue overflowed");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while got.load(Ordering::Relaxed) < CLIENTS * BROADCASTS && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = start.elapsed();
    let delivered = got.load(Ordering::Relaxed);
    eprintln!(
        "{delivered} deliveries to {CLIENTS} readers in {elapsed:?} ({:.0}/s) with one stalled reader; RSS {before} KiB before, peak {peak} KiB, growth {} KiB",
        delivered as f64 / elapsed.as_secs_f64(),
        peak.saturating_sub(before)
    );
    assert_eq!(delivered, CLIENTS * BROADCASTS, "readers lost messages");
    // Bound: the stalled socket holds at most max_buffer_size (256) queued
    // packets plus socket buffers; 64 MiB leaves room for allocator noise.
    assert!(
        peak.saturating_sub(before) < 64 * 1024,
        "memory grew by {} KiB",
        peak - before
    );
    for c in clients {
        c.disconnect();
    }
    drop(stalled);
    h.shutdown().await;
}

fn nested(depth: usize) -> oxsio::Value {
    let mut v = oxsio::Value::from(1);
    for _ in 1..depth {
        v = oxsio::Value::Array(vec![v]);
    }
    v
}

/// `max_json_depth` on the server and the client: 200 levels pass both
/// ways where both allow 250; with the default (128) the server closes the
/// connection as for any malformed packet, and so does the client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_depth_is_configurable_on_server_and_client() {
    for (server_depth, client_depth, ok) in [(250, 250, true), (128, 250, false), (250, 128, false)]
    {
        let io = Server::builder().max_json_depth(server_depth).build();
        io.on_connection(|s: Socket| {
            s.on("echo", |ev: oxsio::Event| {
                let _ = ev.socket.emit("echo", ev.args.clone());
                if let Some(ack) = ev.ack {
                    let _ = ack.send("got it");
                }
            });
        });
        let h = io.listen("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", h.local_addr());
        let opts = ClientOptions {
            max_json_depth: client_depth,
            ..no_retry()
        };
        let client = ClientBuilder::new(&url)
            .options(opts)
            .connect()
            .await
            .unwrap();
        let (tx, mut echoed) = mpsc::unbounded_channel();
        client.on("echo", move |ev: oxsio::client::ClientEvent| {
            let _ = tx.send(ev.args.len());
        });
        let (dtx, mut gone) = mpsc::unbounded_channel();
        client.on_disconnect(move |_, reason| {
            let _ = dtx.send(format!("{reason:?}"));
        });
        let deep = nested(200);
        let acked = tokio::time::timeout(T, client.emit_with_ack("echo", deep)).await;
        if ok {
            assert!(
                matches!(acked, Ok(Ok(_))),
                "{server_depth}/{client_depth}: {acked:?}"
            );
            let n = tokio::time::timeout(T, echoed.recv()).await.unwrap();
            assert_eq!(n, Some(1));
        } else {
            let why = tokio::time::timeout(T, gone.recv()).await;
            assert!(
                why.is_ok(),
                "{server_depth}/{client_depth}: still connected"
            );
        }
        client.disconnect();
        h.shutdown().await;
    }
}
