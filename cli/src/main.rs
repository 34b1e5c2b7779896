//! `oxsio`: a Socket.IO v4 command-line tool. `serve` runs an echo / chat
//! server; `listen`, `emit` and `bench` speak the protocol to any server
//! (oxsio, Node.js socket.io, python-socketio…).
//!
//! Exit codes: 0 success, 1 a failure at run time (refused, timed out,
//! disconnected), 2 bad usage (unknown option, bad URL, bad JSON).

mod bench;
mod conn;
mod emit;
mod listen;
mod serve;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Socket.IO from the terminal: serve, listen, emit, bench.
#[derive(Parser, Debug)]
#[command(name = "oxsio", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Runs an echo / chat server (the events of tests/interop/APP.md).
    Serve(Box<serve::Args>),
    /// Connects and prints the events received, one JSON line each.
    Listen(listen::Args),
    /// Connects, emits one event, prints the acknowledgement with --ack.
    Emit(emit::Args),
    /// Load: echo round trips, broadcast fan-out or connections per second.
    Bench(bench::Args),
}

/// A failure, with the exit code it maps to.
#[derive(Debug)]
pub(crate) enum Failure {
    /// Bad input on the command line (exit code 2).
    Usage(String),
    /// A failure while running (exit code 1).
    Run(String),
}

impl Failure {
    pub(crate) fn usage(m: impl Into<String>) -> Failure {
        Failure::Usage(m.into())
    }
    pub(crate) fn run(m: impl Into<String>) -> Failure {
        Failure::Run(m.into())
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("oxsio: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = rt.block_on(async move {
        match cli.command {
            Command::Serve(a) => serve::run(*a).await,
            Command::Listen(a) => listen::run(a).await,
            Command::Emit(a) => emit::run(a).await,
            Command::Bench(a) => bench::run(a).await,
        }
    });
    // Background tasks (reconnections, heartbeats) end with the runtime.
    rt.shutdown_timeout(std::time::Duration::from_millis(200));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(m)) => {
            eprintln!("oxsio: {m}");
            ExitCode::from(2)
        }
        Err(Failure::Run(m)) => {
            eprintln!("oxsio: {m}");
            ExitCode::from(1)
        }
    }
}
