//! The bench builds and a tiny smoke run of every scenario (against oxsio
//! only: few clients, a few seconds) completes. The cluster scenario runs
//! there on the classic adapter (2 oxsio nodes on a redis-server the run
//! starts) when redis-server is installed; otherwise the run says it
//! skipped it.

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
        .filter(|s| *s != "cluster_fanout")
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
    let cluster: Vec<_> = lines
        .iter()
        .filter(|v| v["scenario"] == "cluster_fanout")
        .collect();
    if cluster.is_empty() {
        assert!(
            stderr.contains("cluster_fanout skipped: redis-server is not installed"),
            "{stderr}"
        );
    } else {
        assert_eq!(cluster.len(), 1, "{stdout}");
        assert_eq!(cluster[0]["adapter"], "redis", "{stdout}");
        assert_eq!(cluster[0]["nodes"], 2, "{stdout}");
        assert_eq!(cluster[0]["duplicates"], 0, "{stdout}");
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
