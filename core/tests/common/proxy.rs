//! A TCP proxy that can drop the connections it carries: abruptly (RST on
//! both sides, as a lost mobile link looks to the peers), or silently (the
//! client side is reset, the server side stays open and hears nothing, so
//! the server learns of it only from its heartbeat).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

#[derive(Default)]
struct Inner {
    target: Mutex<Option<SocketAddr>>,
    conns: Mutex<Vec<(u64, oneshot::Sender<bool>)>>,
    graveyard: Mutex<Vec<TcpStream>>,
    next: AtomicU64,
    cuts: AtomicUsize,
}

/// See the module docs. Dropping it stops accepting; carried connections
/// end with their peers.
pub struct Proxy {
    pub addr: SocketAddr,
    inner: Arc<Inner>,
    accept: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut_all(false);
    }
}

fn reset(s: TcpStream) {
    #[allow(deprecated)]
    let _ = s.set_linger(Some(std::time::Duration::ZERO));
    drop(s);
}

impl Proxy {
    /// A proxy on a free loopback port in front of `target`.
    pub async fn start(target: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let inner = Arc::new(Inner::default());
        *inner.target.lock().unwrap() = Some(target);
        let i = inner.clone();
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Some(target) = *i.target.lock().unwrap() else {
                    continue;
                };
                let i = i.clone();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(target).await else {
                        reset(client);
                        return;
                    };
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    let id = i.next.fetch_add(1, Ordering::Relaxed);
                    let (tx, rx) = oneshot::channel();
                    i.conns.lock().unwrap().push((id, tx));
                    let (mut client, mut server) = (client, server);
                    let silent = tokio::select! {
                        // A cut wins over bytes that arrive with it.
                        biased;
                        cut = rx => cut.ok(),
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => None,
                    };
                    i.conns.lock().unwrap().retain(|(c, _)| *c != id);
                    match silent {
                        Some(true) => {
                            reset(client);
                            i.graveyard.lock().unwrap().push(server);
                        }
                        _ => {
                            reset(client);
                            reset(server);
                        }
                    }
                });
            }
        });
        Proxy {
            addr,
            inner,
            accept,
        }
    }

    /// Points new connections at another server.
    pub fn retarget(&self, target: SocketAddr) {
        *self.inner.target.lock().unwrap() = Some(target);
    }

    /// Drops every carried connection; returns how many.
    pub fn cut_all(&self, silent: bool) -> usize {
        let conns = std::mem::take(&mut *self.inner.conns.lock().unwrap());
        let n = conns.len();
        for (_, tx) in conns {
            let _ = tx.send(silent);
        }
        self.inner.cuts.fetch_add(n, Ordering::Relaxed);
        n
    }

    /// Drops the carried connection at `pick % count`; false when none.
    pub fn cut_one(&self, pick: usize, silent: bool) -> bool {
        let tx = {
            let mut conns = self.inner.conns.lock().unwrap();
            if conns.is_empty() {
                return false;
            }
            let i = pick % conns.len();
            conns.swap_remove(i).1
        };
        self.inner.cuts.fetch_add(1, Ordering::Relaxed);
        tx.send(silent).is_ok()
    }

    /// Connections carried now.
    pub fn open(&self) -> usize {
        self.inner.conns.lock().unwrap().len()
    }

    /// Connections dropped so far.
    pub fn cuts(&self) -> usize {
        self.inner.cuts.load(Ordering::Relaxed)
    }
}
