//! Replays the saved fuzz corpus (`core/fuzz/corpus/<target>/`) and the
//! crash/regression inputs (`core/tests/corpus/`) through the same
//! functions the libFuzzer targets run (`core/fuzz/src/targets.rs`), so
//! the test command checks them without cargo-fuzz or a nightly toolchain.
#![allow(clippy::unwrap_used, missing_docs)]

#[path = "../fuzz/src/targets.rs"]
mod targets;

use std::path::{Path, PathBuf};

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    v
}

fn replay(target: &str, path: &Path) {
    let data = std::fs::read(path).unwrap();
    let r = std::panic::catch_unwind(|| targets::run(target, &data));
    assert!(
        r.is_ok(),
        "fuzz target {target} fails on {} ({:?})",
        path.display(),
        String::from_utf8_lossy(&data)
    );
}

#[test]
fn saved_fuzz_corpus_replays_clean() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let mut total = 0;
    for target in targets::TARGETS {
        let inputs = files(&root.join(target));
        assert!(
            !inputs.is_empty() && inputs.len() <= 400,
            "corpus of {target}: {} files (want 1..=400)",
            inputs.len()
        );
        for path in &inputs {
            replay(target, path);
        }
        total += inputs.len();
    }
    eprintln!("replayed {total} corpus inputs");
}

#[test]
fn regression_inputs_pass_every_target() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    for path in files(&dir) {
        for target in targets::TARGETS {
            replay(target, &path);
        }
    }
}
