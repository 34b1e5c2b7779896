//! `oxsio listen URL`: every event received, one JSON line each on stdout:
//! `{"event":"chat","args":[…]}`. Binary arguments are printed as
//! `{"_binary":"<base64>"}`, or with `--binary-dir` written into files
//! there and printed as `{"_file":"<path>"}`.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::mpsc;

use crate::Failure;
use crate::conn::{self, ConnArgs};

/// `oxsio listen` options.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    #[command(flatten)]
    conn: ConnArgs,
    /// Only these events (repeatable); default: every event.
    #[arg(long, short = 'e')]
    event: Vec<String>,
    /// Write binary arguments into files in this directory instead of base64.
    #[arg(long, value_name = "DIR")]
    binary_dir: Option<PathBuf>,
    /// Exit after this many events (default: run until Ctrl-C or disconnection).
    #[arg(long)]
    count: Option<u64>,
}

enum Note {
    Line(String),
    Disconnected(String),
}

pub(crate) async fn run(a: Args) -> Result<(), Failure> {
    if let Some(dir) = &a.binary_dir {
        std::fs::create_dir_all(dir).map_err(|e| {
            Failure::usage(format!("cannot create --binary-dir {}: {e}", dir.display()))
        })?;
    }
    let (tx, mut rx) = mpsc::unbounded_channel::<Note>();
    let filter = Arc::new(a.event.clone());
    let files = Arc::new(AtomicU64::new(0));
    let dir = a.binary_dir.clone();
    let lines = tx.clone();
    let socket = conn::build(a.conn.builder()?)?;
    socket.on_any(move |ev| {
        if !filter.is_empty() && !filter.contains(&ev.name) {
            return;
        }
        let mut save = |bytes: &[u8]| match &dir {
            None => conn::base64_json(bytes),
            Some(dir) => {
                let n = files.fetch_add(1, Ordering::Relaxed) + 1;
                let path = dir.join(format!("{}-{n}.bin", sanitize(&ev.name)));
                match std::fs::write(&path, bytes) {
                    Ok(()) => serde_json::json!({ "_file": path.to_string_lossy() }),
                    Err(e) => serde_json::json!({
                        "_file_error": format!("{}: {e}", path.display()),
                        "_binary": conn::base64_json(bytes)["_binary"],
                    }),
                }
            }
        };
        let args: Vec<serde_json::Value> = ev
            .args
            .iter()
            .map(|v| conn::to_json(v, &mut save))
            .collect();
        let line = serde_json::json!({ "event": ev.name, "args": args });
        let _ = lines.send(Note::Line(line.to_string()));
    });
    let gone = tx.clone();
    socket.on_disconnect(move |_, reason| {
        let _ = gone.send(Note::Disconnected(reason.as_str().to_owned()));
    });
    drop(tx);
    // Connect through the shared helper, with the handlers above installed.
    let socket = conn::connect_built(&a.conn, socket).await?;
    eprintln!(
        "oxsio: listening on {} as {}",
        a.conn.url()?,
        socket.id().unwrap_or_default()
    );
    let stop = conn::stop_signal();
    let mut seen = 0u64;
    let stdout = std::io::stdout();
    let result = loop {
        if a.count.is_some_and(|c| seen >= c) {
            break Ok(());
        }
        tokio::select! {
            note = rx.recv() => match note {
                Some(Note::Line(l)) => {
                    let mut out = stdout.lock();
                    if writeln!(out, "{l}").and_then(|()| out.flush()).is_err() {
                        // stdout closed (e.g. `| head`): done.
                        break Ok(());
                    }
                    seen += 1;
                }
                Some(Note::Disconnected(reason)) => {
                    break Err(Failure::run(format!("disconnected: {reason}")));
                }
                None => break Ok(()),
            },
            () = stop.notified() => break Ok(()),
        }
    };
    socket.disconnect();
    result
}

/// An event name usable in a file name.
fn sanitize(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(64)
        .collect();
    if s.is_empty() { "event".to_owned() } else { s }
}
