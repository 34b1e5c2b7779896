//! `oxsio bench URL`: load against any server speaking the interop app's
//! events (`oxsio serve`, tests/interop/reference_server.js):
//!
//! - `echo`: each client emits `echo` and waits for the `echo` back (or,
//!   with `--ack`, `echo-ack` and its acknowledgement), round after round;
//! - `fanout`: one sender emits `broadcast` and the server sends the event
//!   to every other client; a round ends when every receiver got it;
//! - `connect`: clients connect (handshake + namespace) and disconnect.
//!
//! A progress bar per scenario on stderr, a summary table on stdout.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::ValueEnum;
use indicatif::{ProgressBar, ProgressStyle};
use oxsio::Value;
use oxsio::client::ClientSocket;
use tokio::sync::mpsc;

use crate::Failure;
use crate::conn::{self, ConnArgs};

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
enum Scenario {
    Echo,
    Fanout,
    Connect,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Scenario::Echo => "echo",
            Scenario::Fanout => "fanout",
            Scenario::Connect => "connect",
        }
    }
}

/// `oxsio bench` options.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    #[command(flatten)]
    conn: ConnArgs,
    /// Scenarios to run, in order (repeatable; default: echo, fanout, connect).
    #[arg(long, short = 's', value_enum)]
    scenario: Vec<Scenario>,
    /// Clients (echo: each sends; fanout: receivers; connect: concurrent connectors).
    #[arg(long, short = 'c', default_value_t = 10)]
    clients: usize,
    /// Seconds per scenario.
    #[arg(long, short = 'd', default_value_t = 5.0)]
    duration: f64,
    /// Bytes of the string payload of each message.
    #[arg(long, default_value_t = 32)]
    payload: usize,
    /// Echo with acknowledgements (`echo-ack`) instead of `echo` events.
    #[arg(long)]
    ack: bool,
}

/// One line of the summary.
struct Row {
    scenario: &'static str,
    clients: usize,
    ops: u64,
    unit: &'static str,
    elapsed: Duration,
    latencies_us: Vec<u64>,
    errors: u64,
}

pub(crate) async fn run(a: Args) -> Result<(), Failure> {
    if a.clients == 0 || a.clients > 100_000 {
        return Err(Failure::usage("--clients must be between 1 and 100000"));
    }
    let duration = Duration::try_from_secs_f64(a.duration)
        .ok()
        .filter(|d| !d.is_zero() && *d <= Duration::from_secs(24 * 3600))
        .ok_or_else(|| {
            Failure::usage(format!(
                "--duration {} is not a positive number of seconds",
                a.duration
            ))
        })?;
    let scenarios = if a.scenario.is_empty() {
        vec![Scenario::Echo, Scenario::Fanout, Scenario::Connect]
    } else {
        a.scenario.clone()
    };
    // Fails early and clearly when the server is not there.
    conn::connect(&a.conn, a.conn.builder()?)
        .await?
        .disconnect();
    let payload = "x".repeat(a.payload);
    let mut rows = Vec::new();
    for s in scenarios {
        let row = match s {
            Scenario::Echo => echo(&a, duration, &payload).await?,
            Scenario::Fanout => fanout(&a, duration, &payload).await?,
            Scenario::Connect => connect(&a, duration).await?,
        };
        rows.push(row);
    }
    print_table(&a, &rows);
    Ok(())
}

fn bar(name: &str, duration: Duration) -> ProgressBar {
    let pb = ProgressBar::new(duration.as_millis() as u64);
    let style =
        ProgressStyle::with_template("{prefix:>8} [{elapsed_precise}] {bar:30.cyan/blue} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
    pb.set_style(style);
    pb.set_prefix(name.to_owned());
    pb
}

/// Moves the bar with the clock and the counter until `done`.
fn drive_bar(
    pb: ProgressBar,
    start: Instant,
    count: Arc<AtomicU64>,
    unit: &'static str,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let t = start.elapsed();
            let n = count.load(Ordering::Relaxed);
            pb.set_position(t.as_millis() as u64);
            pb.set_message(format!(
                "{n} {unit} ({:.0}/s)",
                n as f64 / t.as_secs_f64().max(1e-3)
            ));
            if pb.is_finished() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
}

/// Connects `n` clients with a progress bar; the first failure ends the run.
async fn connect_many(
    a: &Args,
    n: usize,
    setup: impl Fn(&ClientSocket),
) -> Result<Vec<ClientSocket>, Failure> {
    let pb = ProgressBar::new(n as u64);
    pb.set_style(
        ProgressStyle::with_template("{prefix:>8} {bar:30.green/blue} {pos}/{len} connected")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    pb.set_prefix("setup");
    let mut out = Vec::with_capacity(n);
    // In batches, so that a big N does not open every handshake at once.
    let mut pending = Vec::new();
    for i in 0..n {
        let socket = conn::build(a.conn.builder()?)?;
        setup(&socket);
        let args = a.conn.clone();
        pending.push(tokio::spawn(async move {
            conn::connect_built(&args, socket).await
        }));
        if pending.len() == 50 || i + 1 == n {
            for p in pending.drain(..) {
                let s = p
                    .await
                    .map_err(|e| Failure::run(format!("connect task: {e}")))??;
                out.push(s);
                pb.inc(1);
            }
        }
    }
    pb.finish_and_clear();
    Ok(out)
}

async fn echo(a: &Args, duration: Duration, payload: &str) -> Result<Row, Failure> {
    let timeout = a.conn.timeout()?;
    let mut receivers = Vec::new();
    let mut txs = Vec::new();
    for _ in 0..a.clients {
        let (tx, rx) = mpsc::unbounded_channel::<()>();
        txs.push(Mutex::new(Some(tx)));
        receivers.push(rx);
    }
    let txs = Arc::new(txs);
    let next = AtomicU64::new(0);
    let clients = connect_many(a, a.clients, |s| {
        let i = next.fetch_add(1, Ordering::Relaxed) as usize;
        if let Some(tx) = txs[i].lock().ok().and_then(|mut t| t.take()) {
            s.on("echo", move |_| {
                let _ = tx.send(());
            });
        }
    })
    .await?;
    let count = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let pb = bar("echo", duration);
    let start = Instant::now();
    let ticker = drive_bar(pb.clone(), start, count.clone(), "round trips");
    let deadline = tokio::time::Instant::now() + duration;
    let mut tasks = Vec::new();
    for (socket, mut rx) in clients.iter().cloned().zip(receivers) {
        let (count, errors, payload, ack) =
            (count.clone(), errors.clone(), Value::from(payload), a.ack);
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while tokio::time::Instant::now() < deadline {
                let t0 = Instant::now();
                let ok = if ack {
                    socket
                        .emit_with_ack_timeout("echo-ack", payload.clone(), timeout)
                        .await
                        .is_ok()
                } else {
                    socket.emit("echo", payload.clone()).is_ok()
                        && matches!(tokio::time::timeout(timeout, rx.recv()).await, Ok(Some(())))
                };
                if ok {
                    lat.push(t0.elapsed().as_micros() as u64);
                    count.fetch_add(1, Ordering::Relaxed);
                } else {
                    errors.fetch_add(1, Ordering::Relaxed);
                    if !socket.connected() {
                        break;
                    }
                }
            }
            lat
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.unwrap_or_default());
    }
    let elapsed = start.elapsed();
    pb.finish_and_clear();
    let _ = ticker.await;
    for c in &clients {
        c.disconnect();
    }
    Ok(Row {
        scenario: Scenario::Echo.name(),
        clients: a.clients,
        ops: count.load(Ordering::Relaxed),
        unit: "msg/s",
        elapsed,
        latencies_us: latencies,
        errors: errors.load(Ordering::Relaxed),
    })
}

async fn fanout(a: &Args, duration: Duration, payload: &str) -> Result<Row, Failure> {
    const EVENT: &str = "oxsio-bench-fanout";
    let timeout = a.conn.timeout()?;
    let base = Instant::now();
    let delivered = Arc::new(AtomicU64::new(0));
    let latencies = Arc::new(Mutex::new(Vec::<u64>::new()));
    let notify = Arc::new(tokio::sync::Notify::new());
    let receivers = connect_many(a, a.clients, |s| {
        let (delivered, latencies, notify) = (delivered.clone(), latencies.clone(), notify.clone());
        s.on(EVENT, move |ev| {
            if let Some(sent) = ev.arg(0)["t"].as_u64() {
                let now = base.elapsed().as_micros() as u64;
                if let Ok(mut l) = latencies.lock() {
                    l.push(now.saturating_sub(sent));
                }
            }
            delivered.fetch_add(1, Ordering::Relaxed);
            notify.notify_one();
        });
    })
    .await?;
    let sender = conn::connect(&a.conn, a.conn.builder()?).await?;
    let pb = bar("fanout", duration);
    let start = Instant::now();
    let ticker = drive_bar(pb.clone(), start, delivered.clone(), "deliveries");
    let n = a.clients as u64;
    let mut rounds = 0u64;
    let mut errors = 0u64;
    while start.elapsed() < duration {
        let expected = (rounds + 1) * n;
        let mut msg = oxsio::Map::new();
        msg.insert("t".into(), Value::from(base.elapsed().as_micros() as u64));
        msg.insert("p".into(), Value::from(payload));
        if sender
            .emit("broadcast", (EVENT, Value::Object(msg)))
            .is_err()
        {
            errors += 1;
            break;
        }
        rounds += 1;
        let wait = async {
            while delivered.load(Ordering::Relaxed) < expected {
                notify.notified().await;
            }
        };
        if tokio::time::timeout(timeout, wait).await.is_err() {
            // Missing deliveries: counted, and the run goes on from here.
            let got = delivered.load(Ordering::Relaxed);
            errors += expected.saturating_sub(got);
            delivered.store(expected, Ordering::Relaxed);
        }
    }
    let elapsed = start.elapsed();
    pb.finish_and_clear();
    let _ = ticker.await;
    sender.disconnect();
    for r in &receivers {
        r.disconnect();
    }
    let lat = latencies.lock().map(|l| l.clone()).unwrap_or_default();
    Ok(Row {
        scenario: Scenario::Fanout.name(),
        clients: a.clients,
        ops: (lat.len() as u64).min(rounds * n),
        unit: "deliveries/s",
        elapsed,
        latencies_us: lat,
        errors,
    })
}

async fn connect(a: &Args, duration: Duration) -> Result<Row, Failure> {
    let count = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let pb = bar("connect", duration);
    let start = Instant::now();
    let ticker = drive_bar(pb.clone(), start, count.clone(), "connections");
    let deadline = tokio::time::Instant::now() + duration;
    let first_error: Arc<Mutex<Option<String>>> = Arc::default();
    let mut tasks = Vec::new();
    for _ in 0..a.clients {
        let (count, errors, args, first_error) = (
            count.clone(),
            errors.clone(),
            a.conn.clone(),
            first_error.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while tokio::time::Instant::now() < deadline {
                let t0 = Instant::now();
                let r = match args.builder() {
                    Ok(b) => conn::connect(&args, b).await,
                    Err(e) => Err(e),
                };
                match r {
                    Ok(s) => {
                        lat.push(t0.elapsed().as_micros() as u64);
                        count.fetch_add(1, Ordering::Relaxed);
                        s.disconnect();
                    }
                    Err(e) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        if let Ok(mut f) = first_error.lock() {
                            f.get_or_insert(match e {
                                Failure::Run(m) | Failure::Usage(m) => m,
                            });
                        }
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
            lat
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.unwrap_or_default());
    }
    let elapsed = start.elapsed();
    pb.finish_and_clear();
    let _ = ticker.await;
    if let Some(e) = first_error.lock().ok().and_then(|f| f.clone()) {
        eprintln!("oxsio: connect: first error: {e}");
    }
    Ok(Row {
        scenario: Scenario::Connect.name(),
        clients: a.clients,
        ops: count.load(Ordering::Relaxed),
        unit: "conn/s",
        elapsed,
        latencies_us: latencies,
        errors: errors.load(Ordering::Relaxed),
    })
}

fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i.min(sorted.len() - 1)).copied()
}

fn ms(us: Option<u64>) -> String {
    us.map_or_else(
        || "-".to_owned(),
        |u| format!("{:.2} ms", u as f64 / 1000.0),
    )
}

fn print_table(a: &Args, rows: &[Row]) {
    let transport = match a.conn.transport {
        conn::TransportArg::Polling => "polling",
        conn::TransportArg::Websocket => "websocket",
        conn::TransportArg::Upgrade => "upgrade",
    };
    let header = [
        "scenario",
        "transport",
        "clients",
        "operations",
        "seconds",
        "rate",
        "p50",
        "p99",
        "errors",
    ];
    let mut lines = vec![header.map(str::to_owned).to_vec()];
    for r in rows {
        let mut lat = r.latencies_us.clone();
        lat.sort_unstable();
        let secs = r.elapsed.as_secs_f64();
        lines.push(vec![
            r.scenario.to_owned(),
            transport.to_owned(),
            r.clients.to_string(),
            r.ops.to_string(),
            format!("{secs:.2}"),
            format!("{:.1} {}", r.ops as f64 / secs.max(1e-9), r.unit),
            ms(percentile(&lat, 0.5)),
            ms(percentile(&lat, 0.99)),
            r.errors.to_string(),
        ]);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|c| lines.iter().map(|l| l[c].len()).max().unwrap_or(0))
        .collect();
    for (i, l) in lines.iter().enumerate() {
        let cells: Vec<String> = l
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", cells.join("  ").trim_end());
        if i == 0 {
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
            println!("{}", rule.join("  "));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn percentiles() {
        assert_eq!(percentile(&[], 0.5), None);
        assert_eq!(percentile(&[7], 0.99), Some(7));
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 0.5), Some(51));
        assert_eq!(percentile(&v, 0.99), Some(99));
    }
}
