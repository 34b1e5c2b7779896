//! The C ABI of oxsio: Socket.IO v5 / Engine.IO v4 server and client for C,
//! C++ and game engines. The header `include/oxsio.h` is generated from this
//! crate by cbindgen (`cargo test -p oxsio-ffi --test header`, with
//! `OXSIO_BLESS=1` to rewrite it).
//!
//! This crate holds no protocol logic: it translates types (C strings, JSON
//! text and buffers ⇄ [`oxsio_core::Value`]) and threads (callbacks on a
//! library thread, or a bounded queue drained by the host's `poll`).
//!
//! Conventions every function follows (see the header's preamble):
//! - every export runs inside a panic boundary ([`boundary`]);
//! - handles are generation-checked ids, so a freed, forged or wrongly-typed
//!   handle is an error code, never a crash;
//! - fallible calls return [`oxsio_result`]; outputs are written only on success.
#![allow(unsafe_code)]
#![allow(non_camel_case_types)]
// The exports take raw pointers by design: their validity is the C caller's
// contract, stated in the header; NULL is always checked.
#![allow(clippy::not_unsafe_ptr_arg_deref)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

#[cfg(not(target_pointer_width = "64"))]
compile_error!("oxsio-ffi encodes handles in 64-bit pointers; 32-bit targets are not supported");

pub mod boundary;
pub mod client;
pub mod dispatch;
pub mod emitter;
pub mod error;
pub mod event;
pub mod log;
pub mod payload;
pub mod server;
pub mod socket;

pub use client::*;
pub use dispatch::*;
pub use emitter::*;
pub use error::*;
pub use event::*;
pub use log::*;
pub use payload::*;
pub use server::*;
pub use socket::*;

use std::ffi::c_char;

/// The library version as a NUL-terminated static string (e.g. `"0.1.0"`);
/// compare with `OXSIO_VERSION` to detect a header/library mismatch.
///
/// Ownership: static, never free it. Threads: any.
#[unsafe(no_mangle)]
pub extern "C" fn oxsio_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}
