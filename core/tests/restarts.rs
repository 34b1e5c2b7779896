//! Restarts without loss: a client sends messages with acknowledgements,
//! retrying until acknowledged, while the server restarts 10 times. Every
//! acknowledged message reaches the handler exactly once (the handler
//! dedupes by message id, since a retry can follow a lost ack), none is
//! lost, and events emitted while offline are flushed in order.
#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oxsio::client::{ClientBuilder, ClientOptions, Reconnection};
use oxsio::{Event, Server, Socket, Transport, Value};

#[derive(Default)]
struct Ledger {
    seen: HashSet<u64>,
    delivered: Vec<u64>,
    duplicates: usize,
    offline: Vec<u64>,
}

fn app(ledger: Arc<Mutex<Ledger>>) -> Server {
    let io = Server::new();
    io.on_connection(move |s: Socket| {
        let l = ledger.clone();
        s.on("msg", move |ev: Event| {
            let id = ev.arg(0).as_u64().unwrap();
            let mut l = l.lock().unwrap();
            if l.seen.insert(id) {
                l.delivered.push(id);
            } else {
                l.duplicates += 1;
            }
            drop(l);
            if let Some(ack) = ev.ack {
                let _ = ack.send(id);
            }
        });
        let l = ledger.clone();
        s.on("offline", move |ev: Event| {
            l.lock().unwrap().offline.push(ev.arg(0).as_u64().unwrap())
        });
    });
    io
}

async fn run(transports: Vec<Transport>) {
    const N: u64 = 150;
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let first = app(ledger.clone()).listen("127.0.0.1:0").await.unwrap();
    let port = first.local_addr().port();
    let restarts = tokio::spawn({
        let ledger = ledger.clone();
        async move {
            let mut handle = first;
            for _ in 0..10 {
                tokio::time::sleep(Duration::from_millis(250)).await;
                handle.shutdown().await;
                tokio::time::sleep(Duration::from_millis(100)).await;
                handle = app(ledger.clone())
                    .listen(("127.0.0.1", port))
                    .await
                    .unwrap();
            }
            handle
        }
    });
    let opts = ClientOptions {
        transports: transports.clone(),
        reconnection: Reconnection {
            delay: Duration::from_millis(20),
            delay_max: Duration::from_millis(100),
            ..Default::default()
        },
        ..Default::default()
    };
    let socket = ClientBuilder::new(format!("http://127.0.0.1:{port}"))
        .options(opts)
        .connect()
        .await
        .unwrap();
    let (mut sent, mut acked, mut retries, mut offline_sent) = (0u64, 0u64, 0u64, 0u64);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    for id in 0..N {
        sent += 1;
        loop {
            assert!(tokio::time::Instant::now() < deadline, "no progress");
            if !socket.connected() {
                // Emitted while offline: buffered, flushed in order on reconnect.
                socket.emit("offline", offline_sent).unwrap();
                offline_sent += 1;
            }
            match socket
                .emit_with_ack_timeout("msg", id, Duration::from_millis(300))
                .await
            {
                Ok(reply) => {
                    assert_eq!(reply, vec![Value::from(id)]);
                    acked += 1;
                    break;
                }
                Err(_) => {
                    retries += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let last = restarts.await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    {
        let l = ledger.lock().unwrap();
        let lost = (0..N).filter(|i| !l.seen.contains(i)).count();
        eprintln!(
            "{transports:?}: sent {sent}, acked {acked}, delivered {}, duplicates suppressed {}, lost {lost}, retries {retries}, offline emits {offline_sent} (delivered {})",
            l.delivered.len(),
            l.duplicates,
            l.offline.len()
        );
        assert_eq!(acked, N);
        assert_eq!(lost, 0);
        assert_eq!(
            l.delivered.len() as u64,
            N,
            "each message exactly once to the handler's effect"
        );
        let mut sorted = l.delivered.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..N).collect::<Vec<_>>());
        // Offline emits arrive in order (a subsequence: some may be lost with a dying connection).
        assert!(
            l.offline.windows(2).all(|w| w[0] < w[1]),
            "offline emits out of order: {:?}",
            l.offline
        );
    }
    socket.disconnect();
    last.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_restarts_over_websocket() {
    run(vec![Transport::Websocket]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_restarts_over_polling() {
    run(vec![Transport::Polling]).await;
}
