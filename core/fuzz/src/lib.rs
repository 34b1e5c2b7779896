//! The fuzz targets' bodies live in `targets.rs`, shared with the replay
//! test `core/tests/fuzz_corpus.rs` (which includes the same file).
#[path = "targets.rs"]
pub mod targets;
