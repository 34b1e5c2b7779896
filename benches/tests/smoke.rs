//! The bench builds and a tiny smoke run of every scenario (against oxsio
//! only: few clients, a few seconds) completes.

use std::process::Command;

#[test]
fn smoke_run_of_every_scenario_completes() {
    let out = Command::new(env!("CARGO_BIN_EXE_oxsio-bench"))
        .arg("smoke")
        .output()
        .expect("run oxsio-bench smoke");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "smoke failed:\n{stdout}\n{stderr}");
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let scenarios: Vec<&str> = lines
        .iter()
        .filter_map(|v| v["scenario"].as_str())
        .collect();
    assert_eq!(
        scenarios,
        [
            "echo_64",
            "echo_64_msgpack",
            "echo_1k",
            "fanout",
            "connect",
            "polling_echo",
            "idle"
        ],
        "{stdout}"
    );
    for v in &lines {
        assert_eq!(v["ok"], true, "scenario did not complete: {v}");
    }
}

/// The recovery scenario on a tiny scale: every away client is recovered
/// and gets every packet it missed.
#[test]
fn smoke_run_of_the_recovery_scenario_completes() {
    let out = Command::new(env!("CARGO_BIN_EXE_bench-recovery"))
        .args([
            "--clients",
            "20",
            "--packets",
            "200",
            "--steady",
            "4",
            "--limit-s",
            "60",
        ])
        .arg("--server")
        .arg(env!("CARGO_BIN_EXE_bench-server-oxsio"))
        .output()
        .expect("run bench-recovery");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "bench-recovery failed:\n{stdout}\n{stderr}"
    );
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    let on = &lines[0];
    assert_eq!(on["recovery"], true, "{on}");
    assert_eq!(on["ok"], true, "{on}");
    assert_eq!(on["recovered"], 20, "{on}");
    assert_eq!(on["replayed_packets"], 20 * 200, "{on}");
    assert_eq!(on["lost"], 0, "{on}");
    let off = &lines[1];
    assert_eq!(off["recovery"], false, "{off}");
    assert_eq!(off["recovered"], 0, "{off}");
}
