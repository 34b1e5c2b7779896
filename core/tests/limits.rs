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
