//! Pure codecs: bytes ⇄ packets, no I/O.
//!
//! Every malformed input is an error value, never a panic, so these
//! functions can be fed anything a peer sends.

pub mod deflate;
pub mod engineio;
pub(crate) mod json;
pub mod polling;
pub mod polling_v3;
pub mod socketio;
pub mod value;
pub mod websocket;
