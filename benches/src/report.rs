//! The markdown report and the PNG chart of the ratios to socketioxide.

use std::fmt::Write as _;
use std::path::Path;

use plotters::prelude::*;
use serde_json::Value;

use crate::orchestrate::{Peer, Sizes};

/// What the report says about the run itself.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct Meta {
    pub command: String,
    pub sizes: Sizes,
    pub reps: usize,
    /// Repetitions of the idle scenario when fewer than `reps`.
    #[serde(default)]
    pub idle_reps: Option<usize>,
    pub pin_note: String,
    /// (peer, implementation or "skipped: why"), for a later re-render.
    #[serde(default)]
    pub peer_notes: Vec<(String, String)>,
    /// The commit measured (see [`revision`]).
    #[serde(default)]
    pub revision: String,
    pub load_before: Option<f64>,
    pub load_after: Option<f64>,
    pub minutes: f64,
    pub nofile: u64,
}

/// The baseline of every ratio.
pub const BASE: &str = "socketioxide";

/// The headline metric of a scenario: (JSON key, label, higher is better).
fn primary(scenario: &str) -> (&'static str, &'static str, bool) {
    match scenario {
        "fanout" | "cluster_fanout" => ("deliveries_per_s", "deliveries/s", true),
        "connect" => ("conns_per_s", "connections/s", true),
        "idle" => ("cpu_pct", "server CPU %", false),
        _ => ("msgs_per_s", "msgs/s", true),
    }
}

/// The other columns of a scenario's table.
fn secondary(scenario: &str) -> Vec<(&'static str, &'static str, bool)> {
    match scenario {
        "fanout" | "cluster_fanout" => vec![
            ("cpu_us_per_msg", "server CPU µs/delivery", true),
            ("server_busy", "server busy (CPU s / s)", false),
            ("server_user_share", "user-space share of CPU", false),
            ("p50_us", "p50 µs", false),
            ("p99_us", "p99 µs", true),
            ("lost", "lost", false),
        ],
        "connect" => vec![
            ("kib_per_conn", "KiB/conn (RSS)", true),
            ("cpu_us_per_conn", "server CPU µs/conn", true),
        ],
        "idle" => vec![
            ("cpu_pct_per_100k", "CPU % per 100k conns (linear)", false),
            ("pings_answered", "pings answered", false),
            ("connected", "connected", false),
        ],
        _ => vec![
            ("cpu_us_per_msg", "server CPU µs/echo", true),
            ("server_busy", "server busy (CPU s / s)", false),
            ("server_user_share", "user-space share of CPU", false),
            ("p50_us", "p50 µs", false),
            ("p99_us", "p99 µs", true),
        ],
    }
}

/// A one-line summary of a measurement, for the progress log.
pub fn headline(v: &Value) -> String {
    let s = v["scenario"].as_str().unwrap_or("");
    let (k, label, _) = primary(s);
    let mut out = format!("{label} {}", fmt_num(v[k].as_f64()));
    for (k, label, _) in secondary(s).into_iter().take(2) {
        let _ = write!(out, ", {label} {}", fmt_num(v[k].as_f64()));
    }
    if v["ok"] != Value::Bool(true) {
        let why = v["error"]
            .as_str()
            .or(v["first_error"].as_str())
            .unwrap_or("incomplete");
        let _ = write!(out, "  [not ok: {why}]");
    }
    out
}

fn fmt_num(x: Option<f64>) -> String {
    match x {
        None => "–".into(),
        Some(x) if x.abs() >= 1000.0 => {
            let s = format!("{:.0}", x);
            let mut out = String::new();
            for (i, c) in s.chars().enumerate() {
                if i > 0 && (s.len() - i) % 3 == 0 && c != '-' {
                    out.push(' ');
                }
                out.push(c);
            }
            out
        }
        Some(x) if x.abs() >= 100.0 => format!("{x:.0}"),
        Some(x) if x.abs() >= 10.0 => format!("{x:.1}"),
        Some(x) if x.abs() >= 1.0 => format!("{x:.2}"),
        Some(x) => format!("{x:.3}"),
    }
}

/// Values of `key` for (scenario, peer), by repetition.
fn values(rows: &[Value], scenario: &str, peer: &str, key: &str) -> Vec<(u64, f64)> {
    rows.iter()
        .filter(|r| r["scenario"] == scenario && r["peer"] == peer)
        // A loss count means something only for a run that was not cut
        // short by its time limit.
        .filter(|r| key != "lost" || r["complete"] == Value::Bool(true))
        .filter_map(|r| Some((r["rep"].as_u64()?, r[key].as_f64()?)))
        .collect()
}

/// (median, min, max).
fn stats(mut v: Vec<f64>) -> Option<(f64, f64, f64)> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    let med = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    Some((med, v[0], v[n - 1]))
}

fn fmt_stats(s: Option<(f64, f64, f64)>) -> String {
    match s {
        None => "–".into(),
        Some((m, lo, hi)) if lo == hi => fmt_num(Some(m)),
        Some((m, lo, hi)) => format!(
            "{} [{}–{}]",
            fmt_num(Some(m)),
            fmt_num(Some(lo)),
            fmt_num(Some(hi))
        ),
    }
}

fn fmt_ratio(s: Option<(f64, f64, f64)>) -> String {
    match s {
        None => "–".into(),
        Some((m, lo, hi)) => format!("{m:.2}× [{lo:.2}–{hi:.2}]"),
    }
}

/// Per-repetition ratios peer / base of `key`.
fn ratios(rows: &[Value], scenario: &str, peer: &str, base: &str, key: &str) -> Vec<f64> {
    let b = values(rows, scenario, base, key);
    values(rows, scenario, peer, key)
        .into_iter()
        .filter_map(|(rep, x)| {
            let (_, y) = b.iter().find(|(r, _)| *r == rep)?;
            (*y > 0.0).then(|| x / y)
        })
        .collect()
}

fn peers_in(rows: &[Value], scenario: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in rows.iter().filter(|r| r["scenario"] == scenario) {
        if let Some(p) = r["peer"].as_str()
            && !out.iter().any(|x| x == p)
        {
            out.push(p.to_owned());
        }
    }
    out
}

/// One target row: (target, achieved, verdict).
fn target_rows(rows: &[Value]) -> Vec<[String; 4]> {
    let mut out = Vec::new();
    let verdict = |s: Option<(f64, f64, f64)>, ok: &dyn Fn(f64) -> bool| match s {
        None => "not measured".to_owned(),
        Some((m, _, _)) if ok(m) => "met".to_owned(),
        Some(_) => "**not met**".to_owned(),
    };
    let r = stats(ratios(rows, "echo_64", "oxsio", BASE, "msgs_per_s"));
    out.push([
        "echo, 100 clients × 1000, 64 B".into(),
        "≥ 1.3× socketioxide msgs/s".into(),
        fmt_ratio(r),
        verdict(r, &|m| m >= 1.3),
    ]);
    let r = stats(ratios(rows, "echo_64", "oxsio", BASE, "cpu_us_per_msg"));
    out.push([
        "echo 64 B, server CPU per message".into(),
        "≤ 0.77× socketioxide".into(),
        fmt_ratio(r),
        verdict(r, &|m| m <= 0.77),
    ]);
    let r = stats(ratios(rows, "fanout", "oxsio", BASE, "deliveries_per_s"));
    out.push([
        "fanout, 1000 receivers, window 8".into(),
        "≥ 1.75× socketioxide deliveries/s".into(),
        fmt_ratio(r),
        verdict(r, &|m| m >= 1.75),
    ]);
    let r = stats(ratios(rows, "fanout", "oxsio", BASE, "p99_us"));
    out.push([
        "fanout p99 delivery latency".into(),
        "not worse than socketioxide (≤ 1×)".into(),
        fmt_ratio(r),
        verdict(r, &|m| m <= 1.0),
    ]);
    let r = stats(ratios(rows, "connect", "oxsio", BASE, "conns_per_s"));
    out.push([
        "connect, 10 000".into(),
        "≥ 1.4× socketioxide connections/s".into(),
        fmt_ratio(r),
        verdict(r, &|m| m >= 1.4),
    ]);
    let m = stats(
        values(rows, "connect", "oxsio", "kib_per_conn")
            .into_iter()
            .map(|x| x.1)
            .collect(),
    );
    let b = stats(
        values(rows, "connect", BASE, "kib_per_conn")
            .into_iter()
            .map(|x| x.1)
            .collect(),
    );
    out.push([
        "memory per idle WebSocket connection".into(),
        "≤ 11 KiB (socketioxide ≈ 28)".into(),
        format!("{} KiB (socketioxide {} KiB)", fmt_stats(m), fmt_stats(b)),
        verdict(m, &|m| m <= 11.0),
    ]);
    let r = stats(ratios(rows, "polling_echo", "oxsio", "node", "msgs_per_s"));
    out.push([
        "polling echo".into(),
        "≥ 2× Node.js socket.io".into(),
        fmt_ratio(r),
        verdict(r, &|m| m >= 2.0),
    ]);
    let r = stats(ratios(
        rows,
        "echo_64",
        "oxsio-python",
        "python-socketio",
        "msgs_per_s",
    ));
    out.push([
        "Python-hosted echo (64 B)".into(),
        "≥ 5× python-socketio".into(),
        fmt_ratio(r),
        verdict(r, &|m| m >= 5.0),
    ]);
    let r = stats(ratios(
        rows,
        "echo_64",
        "oxsio-c-poll",
        "oxsio",
        "msgs_per_s",
    ));
    out.push([
        "C poll-mode echo (64 B)".into(),
        "within 15% of Rust-native (≥ 0.85×)".into(),
        fmt_ratio(r),
        verdict(r, &|m| m >= 0.85),
    ]);
    for (scenario, label, metric) in [
        ("echo_64", "C# poll-mode echo (64 B, Mono)", "msgs_per_s"),
        ("fanout", "C# poll-mode fan-out (Mono)", "deliveries_per_s"),
    ] {
        let r = stats(ratios(rows, scenario, "oxsio-csharp-poll", "oxsio", metric));
        out.push([
            label.into(),
            "within 25% of Rust-native (≥ 0.75×)".into(),
            fmt_ratio(r),
            verdict(r, &|m| m >= 0.75),
        ]);
    }
    let c = stats(
        values(rows, "idle", "oxsio", "cpu_pct_per_100k")
            .into_iter()
            .map(|x| x.1)
            .collect(),
    );
    let n = stats(
        values(rows, "idle", "oxsio", "connected")
            .into_iter()
            .map(|x| x.1)
            .collect(),
    );
    out.push([
        "100 000 idle connections, heartbeat CPU".into(),
        "< 5% of a core".into(),
        format!(
            "{}% per 100k, linear from {} held connections",
            fmt_stats(c),
            n.map(|x| fmt_num(Some(x.0))).unwrap_or("–".into())
        ),
        verdict(c, &|m| m < 5.0),
    ]);
    out
}

fn rel(from: &Path, to: &Path) -> String {
    // The chart may not exist yet: canonicalise directories only.
    let canon = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    let dir = canon(
        from.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new(".")),
    );
    let to_dir = canon(
        to.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new(".")),
    );
    let to = match to.file_name() {
        Some(name) => to_dir.join(name),
        None => to.to_path_buf(),
    };
    match to.strip_prefix(&dir) {
        Ok(r) => r.display().to_string(),
        Err(_) => to.display().to_string(),
    }
}

/// The commit measured, and whether core/ had uncommitted changes.
pub fn revision() -> String {
    let root = crate::orchestrate::repo_root();
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(&root)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    match git(&["rev-parse", "--short", "HEAD"]) {
        None => "unknown (not a git checkout)".into(),
        Some(rev) => {
            let dirty = git(&["status", "--porcelain", "--", "core", "ffi", "python"])
                .map(|s| !s.is_empty())
                .unwrap_or(false);
            if dirty {
                format!(
                    "`{rev}` plus uncommitted changes in core/, ffi/ or python/ (the working tree was measured)"
                )
            } else {
                format!("`{rev}`")
            }
        }
    }
}

/// The peers of `rows`, in order of appearance.
pub fn peer_names(rows: &[Value]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for r in rows {
        if let Some(p) = r["peer"].as_str()
            && !out.iter().any(|x| x == p)
        {
            out.push(p.to_owned());
        }
    }
    out
}

/// (peer, implementation or skip note) for the report.
pub fn peer_notes(peers: &[Peer]) -> Vec<(String, String)> {
    peers
        .iter()
        .map(|p| {
            let about = match &p.skip {
                Some(why) => format!("skipped: {why}"),
                None => p.about.clone(),
            };
            (p.name.to_owned(), about)
        })
        .collect()
}

/// The markdown report.
pub fn markdown(
    meta: &Meta,
    rows: &[Value],
    scenarios: &[String],
    out: &Path,
    chart: &Path,
) -> String {
    let mut md = String::new();
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "?".into());
    let _ = writeln!(md, "# Benchmarks\n");
    let _ = writeln!(
        md,
        "Load benchmark of oxsio against socketioxide, the official Node.js socket.io and python-socketio, \
         each serving the same app (on connect join room \"all\"; `echo` → emit back to the sender; \
         `broadcast` → emit to room \"all\", sender included). Written by `oxsio-bench` (crate `benches/`); \
         raw measurements in `benches/results/raw.jsonl`.\n"
    );
    let _ = writeln!(md, "- command: `{}`", meta.command);
    let rev = if meta.revision.is_empty() {
        revision()
    } else {
        meta.revision.clone()
    };
    let _ = writeln!(md, "- revision: {rev}");
    let _ = writeln!(
        md,
        "- machine: {} CPUs ({cpu}); load average {} before, {} after; {:.0} min",
        crate::sys::cpus_total(),
        fmt_num(meta.load_before),
        fmt_num(meta.load_after),
        meta.minutes
    );
    let _ = writeln!(
        md,
        "- fairness: {}; a fresh server per measurement; {} interleaved repetitions{} (peer order rotated each repetition, and reversed every other one); medians with [min–max]; ratios to {BASE} computed per repetition, then their median [min–max]",
        meta.pin_note,
        meta.reps,
        match meta.idle_reps {
            Some(i) if i < meta.reps && scenarios.iter().any(|s| s == "idle") => {
                format!(" ({i} of the idle scenario)")
            }
            _ => String::new(),
        }
    );
    let _ = writeln!(
        md,
        "- server CPU = utime + stime of the server process (/proc/<pid>/stat, all threads) over the measured phase; memory = VmRSS (/proc/<pid>/status)"
    );
    let _ = writeln!(
        md,
        "- profile `{}`; open-files limit {} (hard limit of this machine: it caps the idle connections per process)",
        meta.sizes.profile, meta.nofile
    );
    let _ = writeln!(md, "\n## Peers\n\n| peer | implementation |\n|---|---|");
    for (name, about) in &meta.peer_notes {
        let _ = writeln!(md, "| {name} | {about} |");
    }
    let _ = writeln!(md, "\n## Scenarios\n\n| scenario | sizes |\n|---|---|");
    for (s, d) in meta.sizes.describe() {
        if scenarios.contains(&s) {
            let _ = writeln!(md, "| {s} | {d} |");
        }
    }
    let _ = writeln!(
        md,
        "\n## Targets (oxsio, from this run)\n\n| scenario | target | measured (median [min–max]) | |\n|---|---|---|---|"
    );
    for [a, b, c, d] in target_rows(rows) {
        let _ = writeln!(md, "| {a} | {b} | {c} | {d} |");
    }
    let _ = writeln!(md, "\n![ratios to socketioxide]({})\n", rel(out, chart));
    let _ = writeln!(
        md,
        "Reading the figures: \"server busy\" is the server's CPU seconds per second of the measurement. \
         Below 1 the server was not the limit — the single load core was, or other work on the machine \
         took the server's core — and throughput ratios are compressed toward 1×; the server CPU per \
         message (or per connection) is then the figure to compare. \"user-space share\" is the part of \
         the server's CPU spent in its own code rather than in the kernel's TCP stack. Profiling notes: \
         `benches/PROFILE.md`.\n"
    );
    let _ = writeln!(md, "## Results\n");
    for s in scenarios {
        let peers = peers_in(rows, s);
        if peers.is_empty() || s == crate::cluster::SCENARIO {
            continue;
        }
        let (pk, plabel, higher) = primary(s);
        let sec = secondary(s);
        let _ = writeln!(md, "### {s}\n");
        let mut head = format!("| peer | {plabel} | × {BASE} |");
        let mut rule = "|---|---|---|".to_owned();
        for (_, label, with_ratio) in &sec {
            let _ = write!(head, " {label} |");
            rule.push_str("---|");
            if *with_ratio {
                let _ = write!(head, " × {BASE} |");
                rule.push_str("---|");
            }
        }
        head.push_str(" complete |");
        rule.push_str("---|");
        let _ = writeln!(md, "{head}\n{rule}");
        for p in &peers {
            let vals = |k: &str| stats(values(rows, s, p, k).into_iter().map(|x| x.1).collect());
            let mut line = format!(
                "| {p} | {} | {} |",
                fmt_stats(vals(pk)),
                fmt_ratio(stats(ratios(rows, s, p, BASE, pk)))
            );
            for (k, _, with_ratio) in &sec {
                let _ = write!(line, " {} |", fmt_stats(vals(k)));
                if *with_ratio {
                    let _ = write!(line, " {} |", fmt_ratio(stats(ratios(rows, s, p, BASE, k))));
                }
            }
            let all: Vec<&Value> = rows
                .iter()
                .filter(|r| r["scenario"] == s.as_str() && r["peer"] == p.as_str())
                .collect();
            let ok = all.iter().filter(|r| r["ok"] == Value::Bool(true)).count();
            let _ = write!(line, " {ok}/{} |", all.len());
            let _ = writeln!(md, "{line}");
        }
        let notes: Vec<String> = rows
            .iter()
            .filter(|r| r["scenario"] == s.as_str() && r["ok"] != Value::Bool(true))
            .map(|r| {
                let why = r["error"].as_str().or(r["first_error"].as_str()).map(str::to_owned).unwrap_or_else(|| {
                    if r["complete"] == Value::Bool(false) {
                        "time limit reached before all messages (rates are over the completed ones)".into()
                    } else if r["dropped_while_held"].as_u64().unwrap_or(0) > 0 {
                        format!("the server closed {} of the held connections", r["dropped_while_held"])
                    } else if r["pings_answered"].as_u64() == Some(0) {
                        "no heartbeat seen during the hold".into()
                    } else {
                        "see raw.jsonl".into()
                    }
                });
                format!("{} rep {}: {why}", r["peer"].as_str().unwrap_or("?"), r["rep"])
            })
            .collect();
        if !notes.is_empty() {
            let _ = writeln!(md, "\nIncomplete runs: {}.", notes.join("; "));
        }
        let _ = writeln!(
            md,
            "\n{} is {} better.\n",
            plabel,
            if higher { "higher" } else { "lower" }
        );
    }
    // The cluster section: from this run, else from the last cluster-only
    // run (`oxsio-bench cluster`, benches/results/cluster.jsonl).
    if rows
        .iter()
        .any(|r| r["scenario"] == crate::cluster::SCENARIO)
    {
        md.push_str(&cluster_section(rows, None));
    } else if let Some((crows, cmeta)) = crate::cluster::saved() {
        md.push_str(&cluster_section(&crows, Some(&cmeta)));
    }
    md
}

fn e<E: std::fmt::Debug>(r: Result<(), E>) -> Result<(), String> {
    r.map_err(|e| format!("{e:?}"))
}

/// The chart: per scenario, each peer's headline ratio to socketioxide
/// (idle: socketioxide's CPU over the peer's, so higher is better
/// everywhere), median bar with a min–max line. Labels need a TrueType
/// font (DejaVu Sans from fonts-dejavu-core); without one the chart is
/// drawn without text.
pub fn chart(
    rows: &[Value],
    scenarios: &[String],
    peer_names: &[String],
    path: &Path,
) -> Result<(), String> {
    let font = [
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    ]
    .iter()
    .find_map(|p| std::fs::read(p).ok())
    .map(|bytes| {
        let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok()
    })
    .unwrap_or(false);
    let palette = [
        RGBColor(214, 39, 40),
        RGBColor(31, 119, 180),
        RGBColor(44, 160, 44),
        RGBColor(255, 127, 14),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
    ];
    // (scenario, peer index, median, min, max)
    let mut bars = Vec::new();
    // The cluster scenario has its own table (no socketioxide baseline).
    for s in scenarios.iter().filter(|s| *s != crate::cluster::SCENARIO) {
        let (k, _, higher) = primary(s);
        for (i, p) in peer_names.iter().enumerate() {
            let r: Vec<f64> = ratios(rows, s, p, BASE, k)
                .into_iter()
                .map(|x| if higher { x } else { 1.0 / x })
                .filter(|x| x.is_finite())
                .collect();
            if let Some((m, lo, hi)) = stats(r) {
                bars.push((s.clone(), i, m, lo, hi));
            }
        }
    }
    let (w, h) = (1200u32, 640u32);
    let root = BitMapBackend::new(path, (w, h)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let (left, right, top, bottom) = (70i32, 20i32, 60i32, 110i32);
    let plot_w = w as i32 - left - right;
    let plot_h = h as i32 - top - bottom;
    let ymax = bars.iter().map(|b| b.4).fold(2.0f64, f64::max) * 1.1;
    let y = |v: f64| top + plot_h - ((v / ymax) * plot_h as f64).round() as i32;
    // Axes and grid.
    e(root.draw(&PathElement::new(
        vec![
            (left, top),
            (left, top + plot_h),
            (left + plot_w, top + plot_h),
        ],
        BLACK.stroke_width(1),
    )))?;
    let mut tick = 0.5;
    while tick < ymax {
        e(root.draw(&PathElement::new(
            vec![(left, y(tick)), (left + plot_w, y(tick))],
            RGBColor(225, 225, 225).stroke_width(1),
        )))?;
        if font {
            e(root.draw(&Text::new(
                format!("{tick:.1}×"),
                (left - 50, y(tick) - 7),
                ("sans-serif", 14).into_font(),
            )))?;
        }
        tick += 0.5;
    }
    e(root.draw(&PathElement::new(
        vec![(left, y(1.0)), (left + plot_w, y(1.0))],
        BLACK.stroke_width(2),
    )))?;
    let groups = scenarios.len().max(1) as i32;
    let gw = plot_w / groups;
    let slots = peer_names.len().max(1) as i32;
    let bw = ((gw - 20) / slots).max(2);
    for (gi, s) in scenarios.iter().enumerate() {
        let gx = left + gi as i32 * gw + 10;
        for (scen, pi, m, lo, hi) in bars.iter().filter(|b| &b.0 == s) {
            let _ = scen;
            let x0 = gx + *pi as i32 * bw;
            let color = palette[*pi % palette.len()];
            e(root.draw(&Rectangle::new(
                [(x0 + 2, y(*m)), (x0 + bw - 2, y(0.0))],
                color.filled(),
            )))?;
            let xc = x0 + bw / 2;
            e(root.draw(&PathElement::new(
                vec![(xc, y(*lo)), (xc, y(*hi))],
                BLACK.stroke_width(2),
            )))?;
            if font && bw >= 28 {
                e(root.draw(&Text::new(
                    format!("{m:.2}"),
                    (x0 + 2, y(*hi) - 16),
                    ("sans-serif", 12).into_font(),
                )))?;
            }
        }
        if font {
            let label = if s == "idle" {
                "idle (1/CPU)".to_owned()
            } else {
                s.clone()
            };
            e(root.draw(&Text::new(
                label,
                (gx, top + plot_h + 8),
                ("sans-serif", 16).into_font(),
            )))?;
        }
    }
    // Legend.
    for (i, p) in peer_names.iter().enumerate() {
        let x = left + (i as i32 % 6) * 180;
        let yy = h as i32 - 60 + (i as i32 / 6) * 22;
        e(root.draw(&Rectangle::new(
            [(x, yy), (x + 16, yy + 16)],
            palette[i % palette.len()].filled(),
        )))?;
        if font {
            e(root.draw(&Text::new(
                p.to_string(),
                (x + 22, yy),
                ("sans-serif", 15).into_font(),
            )))?;
        }
    }
    if font {
        e(root.draw(&Text::new(
            format!("Ratio to {BASE} per scenario (headline metric; higher is better; bar = median, line = min–max over repetitions)"),
            (left, 18),
            ("sans-serif", 17).into_font(),
        )))?;
    }
    root.present().map_err(|e| e.to_string())?;
    Ok(())
}

/// The markers around the cluster section of the report, so that a
/// cluster-only run (`oxsio-bench cluster`) can replace just that section.
pub const CLUSTER_BEGIN: &str = "<!-- cluster:begin -->";
/// See [`CLUSTER_BEGIN`].
pub const CLUSTER_END: &str = "<!-- cluster:end -->";

/// `key` of the cluster rows of (peer, adapter), by repetition.
fn cluster_values(rows: &[Value], peer: &str, adapter: &str, key: &str) -> Vec<(u64, f64)> {
    rows.iter()
        .filter(|r| {
            r["scenario"] == crate::cluster::SCENARIO
                && r["peer"] == peer
                && r["adapter"] == adapter
        })
        .filter_map(|r| Some((r["rep"].as_u64()?, r[key].as_f64()?)))
        .collect()
}

/// Per-repetition ratios (peer a on adapter a) / (peer b on adapter b).
fn cluster_ratios(rows: &[Value], a: (&str, &str), b: (&str, &str), key: &str) -> Vec<f64> {
    let base = cluster_values(rows, b.0, b.1, key);
    cluster_values(rows, a.0, a.1, key)
        .into_iter()
        .filter_map(|(rep, x)| {
            let (_, y) = base.iter().find(|(r, _)| *r == rep)?;
            (*y > 0.0).then(|| x / y)
        })
        .collect()
}

/// The cluster section: deliveries/s per adapter for 2 oxsio nodes, 1
/// oxsio node, 2 Node nodes, and the ratios of the same repetition; the
/// goals of issue 18; the CPU per delivery. `meta` is given for a
/// cluster-only run (its own command and revision).
pub fn cluster_section(rows: &[Value], meta: Option<&Meta>) -> String {
    let mut md = String::new();
    let rows: Vec<Value> = rows
        .iter()
        .filter(|r| r["scenario"] == crate::cluster::SCENARIO)
        .cloned()
        .collect();
    let _ = writeln!(md, "{CLUSTER_BEGIN}\n## Cluster: fanout across 2 nodes\n");
    let mut adapters: Vec<String> = Vec::new();
    for r in &rows {
        if let Some(a) = r["adapter"].as_str()
            && a != "none"
            && !adapters.iter().any(|x| x == a)
        {
            adapters.push(a.to_owned());
        }
    }
    let f = |r: &Value, k: &str| r[k].as_u64().unwrap_or(0);
    let sizes = rows
        .first()
        .map(|r| {
            format!(
                "{} receivers split evenly across the nodes (receiver i on node i mod 2), {} broadcasts to room \"all\" from one sender on the first node, window {}",
                f(r, "receivers"),
                f(r, "broadcasts"),
                f(r, "window")
            )
        })
        .unwrap_or_default();
    let _ = writeln!(
        md,
        "Broadcast deliveries/s in a fanout ({sizes}); every delivery checked (lost, duplicates). \
         Per adapter, 2 nodes of the same implementation on that adapter; the baseline is 1 node \
         without an adapter. Every configuration is measured once per repetition, interleaved, in the \
         same run; ratios are computed per repetition, then summarised (median [min–max]). \
         The nodes **and the services** (redis-server, the 3 Redis Cluster masters, PostgreSQL, \
         started by the bench on loopback) share the server CPU; the load has the other one. \
         Server CPU is summed over the nodes (not the services). \"server busy\" below 1 means the \
         nodes did not have the server CPU to themselves (the services, or other work on this shared \
         machine, took some): throughput then varies from one repetition to the next, and the CPU per \
         delivery is the steadier figure.\n"
    );
    if let Some(m) = meta {
        let _ = writeln!(
            md,
            "- command: `{}`\n- revision: {}\n- {} repetitions; load average {} before, {} after; {:.0} min; {}",
            m.command,
            m.revision,
            m.reps,
            fmt_num(m.load_before),
            fmt_num(m.load_after),
            m.minutes,
            m.pin_note
        );
        for (what, why) in &m.peer_notes {
            let _ = writeln!(md, "- skipped: {what}: {why}");
        }
        md.push('\n');
    }
    let k = "deliveries_per_s";
    let stat = |p: &str, a: &str| {
        stats(
            cluster_values(&rows, p, a, k)
                .into_iter()
                .map(|x| x.1)
                .collect(),
        )
    };
    let _ = writeln!(
        md,
        "| adapter | oxsio 2 nodes | oxsio 1 node | ratio 2/1 | oxsio server CPU per delivery, 2/1 | Node 2 nodes | Node 1 node | Node ratio 2/1 | ratio oxsio/Node (2 nodes) |\n|---|---|---|---|---|---|---|---|---|"
    );
    let cpu = "cpu_us_per_msg";
    for a in &adapters {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            crate::cluster::AdapterKind::label(a),
            fmt_stats(stat("oxsio", a)),
            fmt_stats(stat("oxsio", "none")),
            fmt_ratio(stats(cluster_ratios(
                &rows,
                ("oxsio", a),
                ("oxsio", "none"),
                k
            ))),
            fmt_ratio(stats(cluster_ratios(
                &rows,
                ("oxsio", a),
                ("oxsio", "none"),
                cpu
            ))),
            fmt_stats(stat("node", a)),
            fmt_stats(stat("node", "none")),
            fmt_ratio(stats(cluster_ratios(
                &rows,
                ("node", a),
                ("node", "none"),
                k
            ))),
            fmt_ratio(stats(cluster_ratios(&rows, ("oxsio", a), ("node", a), k))),
        );
    }
    let _ = writeln!(
        md,
        "| {} | {} | | | | {} | | | {} |",
        crate::cluster::AdapterKind::label("none"),
        fmt_stats(stat("oxsio", "none")),
        fmt_stats(stat("node", "none")),
        fmt_ratio(stats(cluster_ratios(
            &rows,
            ("oxsio", "none"),
            ("node", "none"),
            k
        ))),
    );
    // Goals of issue 18.
    let _ = writeln!(md, "\n| goal | measured | |\n|---|---|---|");
    let verdict = |s: Option<(f64, f64, f64)>, ok: &dyn Fn(f64) -> bool| match s {
        None => "not measured",
        Some((m, _, _)) if ok(m) => "met",
        Some(_) => "**not met**",
    };
    let r = stats(cluster_ratios(
        &rows,
        ("oxsio", "redis"),
        ("oxsio", "none"),
        k,
    ));
    let _ = writeln!(
        md,
        "| classic Redis: 2 oxsio nodes ≥ 0.9× one oxsio node | {} | {} |",
        fmt_ratio(r),
        verdict(r, &|m| m >= 0.9)
    );
    let r = stats(cluster_ratios(
        &rows,
        ("oxsio", "redis"),
        ("oxsio", "none"),
        cpu,
    ));
    let _ = writeln!(
        md,
        "| (the steadier figure on a shared machine) classic Redis: server CPU per delivery of 2 oxsio nodes ≤ 1/0.9 × one node's | {} | {} |",
        fmt_ratio(r),
        verdict(r, &|m| m <= 1.0 / 0.9)
    );
    for a in &adapters {
        let r = stats(cluster_ratios(&rows, ("oxsio", a), ("node", a), k));
        let _ = writeln!(
            md,
            "| {a}: 2 oxsio nodes ahead of 2 Node nodes (> 1×) | {} | {} |",
            fmt_ratio(r),
            verdict(r, &|m| m > 1.0)
        );
    }
    // CPU, latency and completeness per configuration.
    let _ = writeln!(
        md,
        "\n| peer | adapter | nodes | deliveries/s | server CPU µs/delivery (all nodes) | server busy | p50 µs | p99 µs | complete |\n|---|---|---|---|---|---|---|---|---|"
    );
    for p in ["oxsio", "node"] {
        for a in std::iter::once("none").chain(adapters.iter().map(String::as_str)) {
            let all: Vec<&Value> = rows
                .iter()
                .filter(|r| r["peer"] == p && r["adapter"] == a)
                .collect();
            if all.is_empty() {
                continue;
            }
            let v = |key: &str| {
                stats(
                    cluster_values(&rows, p, a, key)
                        .into_iter()
                        .map(|x| x.1)
                        .collect(),
                )
            };
            let ok = all.iter().filter(|r| r["ok"] == Value::Bool(true)).count();
            let _ = writeln!(
                md,
                "| {p} | {a} | {} | {} | {} | {} | {} | {} | {ok}/{} |",
                all[0]["nodes"],
                fmt_stats(v(k)),
                fmt_stats(v("cpu_us_per_msg")),
                fmt_stats(v("server_busy")),
                fmt_stats(v("p50_us")),
                fmt_stats(v("p99_us")),
                all.len()
            );
        }
    }
    let notes: Vec<String> = rows
        .iter()
        .filter(|r| r["ok"] != Value::Bool(true))
        .map(|r| {
            let why = r["error"]
                .as_str()
                .or(r["first_error"].as_str())
                .map(str::to_owned)
                .unwrap_or_else(|| {
                    format!(
                        "lost {}, duplicates {}, undelivered at the time limit {}",
                        r["lost"], r["duplicates"], r["undelivered_at_limit"]
                    )
                });
            format!(
                "{} on {} rep {}: {why}",
                r["peer"].as_str().unwrap_or("?"),
                r["adapter"].as_str().unwrap_or("?"),
                r["rep"]
            )
        })
        .collect();
    if !notes.is_empty() {
        let _ = writeln!(md, "\nIncomplete runs: {}.", notes.join("; "));
    }
    let _ = writeln!(md, "\n{CLUSTER_END}");
    md
}
