//! `oxsio emit URL EVENT [ARG…]`: one event, and with `--ack` the
//! acknowledgement printed as a JSON array.

use bytes::Bytes;
use oxsio::Value;
use oxsio::client::ClientError;

use crate::Failure;
use crate::conn::{self, ConnArgs};

/// `oxsio emit` options.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    #[command(flatten)]
    conn: ConnArgs,
    /// Event name.
    event: String,
    /// Arguments: each is JSON if it parses (1, true, {"a":1}, "\"text\""), else a string.
    args: Vec<String>,
    /// Ask for an acknowledgement and print it (a JSON array) on stdout.
    #[arg(long)]
    ack: bool,
    /// A binary argument from a file, written @path; repeatable, added after ARGs.
    #[arg(long, value_name = "@FILE")]
    binary: Vec<String>,
    /// Seconds to stay connected after an emit without --ack, before
    /// disconnecting: a server may drop an event whose socket is already
    /// gone when it dispatches it (Node.js does, for an event and a
    /// disconnection read together).
    #[arg(long, default_value_t = 0.2)]
    linger: f64,
}

pub(crate) async fn run(a: Args) -> Result<(), Failure> {
    let mut args: Vec<Value> = a.args.iter().map(|s| conn::arg_value(s)).collect();
    for b in &a.binary {
        let path = b
            .strip_prefix('@')
            .ok_or_else(|| Failure::usage(format!("--binary {b:?}: write the file as @path")))?;
        let data = std::fs::read(path)
            .map_err(|e| Failure::usage(format!("cannot read --binary {path}: {e}")))?;
        args.push(Value::Binary(Bytes::from(data)));
    }
    if a.event.is_empty() {
        return Err(Failure::usage("the event name is empty"));
    }
    let linger = std::time::Duration::try_from_secs_f64(a.linger)
        .map_err(|_| Failure::usage(format!("--linger {} is not a number of seconds", a.linger)))?;
    let socket = conn::connect(&a.conn, a.conn.builder()?).await?;
    let timeout = a.conn.timeout()?;
    let result = if a.ack {
        match socket.emit_with_ack_timeout(&a.event, args, timeout).await {
            Ok(reply) => {
                let json = conn::to_json(&Value::Array(reply), &mut |b| conn::base64_json(b));
                println!("{json}");
                Ok(())
            }
            Err(ClientError::Timeout) => Err(Failure::run(format!(
                "no acknowledgement of {:?} within {:.1} s",
                a.event,
                timeout.as_secs_f64()
            ))),
            Err(e) => Err(Failure::run(format!("emit {:?}: {e}", a.event))),
        }
    } else {
        let r = socket
            .emit(&a.event, args)
            .map_err(|e| Failure::run(format!("emit {:?}: {e}", a.event)));
        if r.is_ok() {
            tokio::time::sleep(linger).await;
        }
        r
    };
    // Flushes what is queued, then leaves.
    socket.disconnect();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    result
}
