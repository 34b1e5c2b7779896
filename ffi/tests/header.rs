//! `include/oxsio.h` is generated: this test regenerates it with cbindgen
//! and fails on any difference. `OXSIO_BLESS=1 cargo test -p oxsio-ffi
//! --test header` rewrites it.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

const PREAMBLE: &str = r#"/*
 * oxsio: Socket.IO v5 / Engine.IO v4 server and client, C ABI.
 *
 * Conventions (every function follows them):
 *
 * - Names are oxsio_<type>_<verb>; the first argument is the object. Every
 *   fallible call returns an oxsio_result (OXSIO_RESULT_OK = 0);
 *   oxsio_result_message(code) gives its text and oxsio_last_error_message()
 *   the detail of the last failure on the calling thread. Outputs are
 *   written to out-parameters only on success. No panic crosses the
 *   boundary (OXSIO_RESULT_PANIC instead).
 * - Handles (oxsio_server, oxsio_client, oxsio_socket, oxsio_event) are
 *   opaque, generation-checked ids: a NULL, freed, forged or wrongly-typed
 *   handle gives OXSIO_RESULT_INVALID_HANDLE or
 *   OXSIO_RESULT_WRONG_HANDLE_TYPE, never a crash. Each handle you own is
 *   released by exactly one oxsio_<type>_free, which accepts NULL and never
 *   blocks on the network. Memory the library lends (strings, buffers) is
 *   never free()d by you. Every handle may be used from any thread.
 * - Inputs (const char * NUL-terminated UTF-8, const uint8_t * + size_t)
 *   are borrowed for the call only. Borrowed outputs say how long they live.
 * - Payloads: the arguments of an event cross as UTF-8 JSON text holding a
 *   JSON array (one element per argument) plus an array of binary buffers
 *   (oxsio_buf). Wherever the JSON holds {"_placeholder":true,"num":i}
 *   the buffer i sits there, nested anywhere (the Socket.IO convention).
 *   Incoming events render their arguments the same way
 *   (oxsio_event_args_json + oxsio_event_binary), or let you read one
 *   argument directly (oxsio_event_arg_string, _number, _bool, _binary).
 *   The *_emit_binary calls and oxsio_event_arg_binary send and read one
 *   binary argument without any JSON (game state).
 * - Dispatch, chosen per handle at creation:
 *   OXSIO_DISPATCH_CALLBACK: callbacks run on a library thread with the
 *   user_data you registered; the event is borrowed for the call
 *   (oxsio_event_clone keeps it). Do not block in them for long.
 *   OXSIO_DISPATCH_POLL: the library never runs your code; events queue
 *   (bounded: see oxsio_client_poll) and your thread drains them each frame
 *   with oxsio_client_poll / oxsio_server_poll, which never block;
 *   oxsio_*_wait waits with a timeout.
 * - Defaults for every function, unless its own doc says otherwise:
 *   Threads: callable from any thread. NULL: handles and out-parameters
 *   must not be NULL (OXSIO_RESULT_INVALID_HANDLE /
 *   OXSIO_RESULT_NULL_ARGUMENT otherwise). Returns: OXSIO_RESULT_OK, or an
 *   argument (1xx) or handle (2xx) error. Never blocks on the network.
 * - Callbacks take user_data first. A registration's user_data_free (may
 *   be NULL) is called exactly once, on any thread, when the registration
 *   ends, and only if the registering call returned OXSIO_RESULT_OK.
 *   Freeing a handle from inside one of its callbacks is allowed.
 */"#;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn generate() -> String {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).unwrap();
    let version = format!(
        "#define OXSIO_VERSION \"{}\"\n#define OXSIO_VERSION_MAJOR {}\n#define OXSIO_VERSION_MINOR {}\n#define OXSIO_VERSION_PATCH {}",
        env!("CARGO_PKG_VERSION"),
        env!("CARGO_PKG_VERSION_MAJOR"),
        env!("CARGO_PKG_VERSION_MINOR"),
        env!("CARGO_PKG_VERSION_PATCH"),
    );
    let mut out = Vec::new();
    cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .with_header(PREAMBLE)
        .with_after_include(format!("\n{version}"))
        .generate()
        .expect("cbindgen")
        .write(&mut out);
    String::from_utf8(out).unwrap()
}

#[test]
fn header_is_up_to_date() {
    let path = root().join("include/oxsio.h");
    let fresh = generate();
    if std::env::var_os("OXSIO_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &fresh).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != fresh {
        let first = committed
            .lines()
            .zip(fresh.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(committed.lines().count().min(fresh.lines().count()));
        panic!(
            "include/oxsio.h is out of date (first difference at line {}); \
             run `OXSIO_BLESS=1 cargo test -p oxsio-ffi --test header` and commit it",
            first + 1
        );
    }
}

#[test]
fn version_macros_match_the_crate() {
    let header = std::fs::read_to_string(root().join("include/oxsio.h")).unwrap();
    assert!(header.contains(&format!(
        "#define OXSIO_VERSION \"{}\"",
        env!("CARGO_PKG_VERSION")
    )));
    assert!(header.contains(&format!(
        "#define OXSIO_VERSION_MAJOR {}",
        env!("CARGO_PKG_VERSION_MAJOR")
    )));
}
