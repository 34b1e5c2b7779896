//! The install, tested as a C or C++ user consumes it: `ffi/install.sh`
//! installs into a temporary prefix, then the C chat server and the C++
//! chat client of `examples/` are built from there, once with CMake
//! `find_package(oxsio)` (the shared `oxsio::oxsio` and the static
//! `oxsio::oxsio_static` targets, `ffi/tests/install/CMakeLists.txt`) and
//! once with `pkg-config`, and each pair chats.
//!
//! Needs cmake, pkg-config, gcc, g++ (tests/run-all.sh installs them).
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// `liboxsio.so.0.<minor>` before 1.0, `liboxsio.so.<major>` after (ffi/build.rs).
fn soname() -> String {
    let (major, minor) = (
        env!("CARGO_PKG_VERSION_MAJOR"),
        env!("CARGO_PKG_VERSION_MINOR"),
    );
    if major == "0" {
        format!("liboxsio.so.0.{minor}")
    } else {
        format!("liboxsio.so.{major}")
    }
}

fn run(cmd: &mut Command) -> Output {
    let o = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        o.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn stdout(cmd: &mut Command) -> String {
    String::from_utf8(run(cmd).stdout)
        .unwrap()
        .trim()
        .to_owned()
}

// cargo runs tests with target/<profile> in LD_LIBRARY_PATH, where
// liboxsio.so.<abi> may be too: the programs run and ldd look without it,
// as on a user's machine.

/// The dynamic section's NEEDED entries of an executable.
fn needed(exe: &Path) -> Vec<String> {
    let out = stdout(Command::new("readelf").arg("-d").arg(exe));
    out.lines()
        .filter(|l| l.contains("(NEEDED)"))
        .filter_map(|l| l.split('[').nth(1))
        .map(|s| s.trim_end_matches(']').to_owned())
        .collect()
}

/// A server process and the port it printed (`listening N`).
struct Server {
    child: Child,
    port: u16,
    lines: mpsc::Receiver<String>,
}

impl Server {
    fn start(exe: &Path) -> Server {
        let mut child = Command::new(exe)
            .env_remove("LD_LIBRARY_PATH")
            .arg("0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        let port = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = rx
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("{} printed no `listening` line", exe.display()));
            if let Some(p) = line.trim().strip_prefix("listening ") {
                break p.parse().unwrap();
            }
        };
        Server {
            child,
            port,
            lines: rx,
        }
    }

    /// SIGTERM, then its remaining output (bounded wait).
    fn stop(mut self) -> String {
        run(Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string()));
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut out = String::new();
        while let Ok(l) = self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            out.push_str(&l);
            out.push('\n');
        }
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                assert!(st.success(), "server exited with {st}:\n{out}");
                return out;
            }
            assert!(Instant::now() < deadline, "server did not stop:\n{out}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The C server and the C++ client chat: the client's message is
/// acknowledged and the server logs it.
fn chat(server: &Path, client: &Path) {
    let srv = Server::start(server);
    let url = format!("http://127.0.0.1:{}/", srv.port);
    let mut c = Command::new("timeout");
    c.env_remove("LD_LIBRARY_PATH")
        .arg("60")
        .arg(client)
        .args([&url, "alice", "game", "hello"]);
    let out = String::from_utf8(run(&mut c).stdout).unwrap();
    for needle in [
        "welcome to lobby",
        "chat ack [\"delivered\",",
        "1 delivered",
    ] {
        assert!(out.contains(needle), "client: no {needle:?} in:\n{out}");
    }
    let log = srv.stop();
    assert!(
        log.contains("chat alice@game: hello"),
        "server: no chat line in:\n{log}"
    );
}

#[test]
fn install_then_build_with_cmake_and_pkg_config() {
    let exe = std::env::current_exe().unwrap();
    let work = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join(format!("install-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    let prefix = work.join("prefix");
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let root = root();
    run(Command::new("bash")
        .arg(root.join("ffi/install.sh"))
        .arg("--prefix")
        .arg(&prefix)
        .args(["--profile", profile])
        .current_dir(&root));

    // The tree a user gets.
    let lib = prefix.join("lib");
    let real = lib.join(format!("liboxsio.so.{}", env!("CARGO_PKG_VERSION")));
    assert!(real.is_file());
    assert_eq!(
        std::fs::read_link(lib.join(soname())).unwrap(),
        Path::new(real.file_name().unwrap())
    );
    assert_eq!(
        std::fs::read_link(lib.join("liboxsio.so")).unwrap(),
        Path::new(&soname())
    );
    let dynamic = stdout(Command::new("readelf").arg("-d").arg(&real));
    assert!(
        dynamic.contains(&format!("Library soname: [{}]", soname())),
        "no SONAME:\n{dynamic}"
    );
    for f in ["lib/liboxsio.a", "include/oxsio.h", "include/oxsio.hpp"] {
        assert!(prefix.join(f).is_file(), "{f} not installed");
    }

    // CMake: find_package(oxsio) from the prefix.
    let build = work.join("cmake-build");
    run(Command::new("cmake")
        .arg("-S")
        .arg(root.join("ffi/tests/install"))
        .arg("-B")
        .arg(&build)
        .arg(format!("-DCMAKE_PREFIX_PATH={}", prefix.display()))
        .arg(format!("-DEXAMPLES={}", root.join("examples").display())));
    run(Command::new("cmake").arg("--build").arg(&build));
    let server = build.join("chat_server");
    let client = build.join("chat_client_cpp");
    for exe in [&server, &client] {
        assert!(
            needed(exe).contains(&soname()),
            "{} does not load {}: {:?}",
            exe.display(),
            soname(),
            needed(exe)
        );
        let ldd = stdout(Command::new("ldd").env_remove("LD_LIBRARY_PATH").arg(exe));
        let from = ldd.lines().find(|l| l.contains("liboxsio")).unwrap();
        assert!(
            from.contains(&lib.display().to_string()),
            "{} loads liboxsio from elsewhere: {from}",
            exe.display()
        );
    }
    chat(&server, &client);
    let server_static = build.join("chat_server_static");
    let client_static = build.join("chat_client_cpp_static");
    for exe in [&server_static, &client_static] {
        assert!(
            !needed(exe).iter().any(|n| n.contains("oxsio")),
            "{} is linked statically, yet needs {:?}",
            exe.display(),
            needed(exe)
        );
    }
    chat(&server_static, &client_static);

    // pkg-config, with the prefix's oxsio.pc.
    let pc_path = lib.join("pkgconfig");
    let pkg = |args: &[&str]| {
        stdout(
            Command::new("pkg-config")
                .env("PKG_CONFIG_PATH", &pc_path)
                .args(args)
                .arg("oxsio"),
        )
    };
    assert_eq!(pkg(&["--modversion"]), env!("CARGO_PKG_VERSION"));
    let cflags = pkg(&["--cflags"]);
    let libs = pkg(&["--libs"]);
    let libdir = pkg(&["--variable=libdir"]);
    assert_eq!(Path::new(&libdir), lib);
    let pc_dir = work.join("pkg-config-build");
    std::fs::create_dir_all(&pc_dir).unwrap();
    let pc_server = pc_dir.join("chat_server");
    let pc_client = pc_dir.join("chat_client_cpp");
    run(Command::new("gcc")
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic"])
        .args(cflags.split_whitespace())
        .arg(root.join("examples/c/chat_server.c"))
        .args(libs.split_whitespace())
        .arg(format!("-Wl,-rpath,{libdir}"))
        .arg("-o")
        .arg(&pc_server));
    run(Command::new("g++")
        .args(["-std=c++17", "-Wall", "-Wextra", "-Werror"])
        .args(cflags.split_whitespace())
        .arg(root.join("examples/cpp/chat_client.cpp"))
        .args(libs.split_whitespace())
        .arg(format!("-Wl,-rpath,{libdir}"))
        .arg("-o")
        .arg(&pc_client));
    assert!(needed(&pc_server).contains(&soname()));
    chat(&pc_server, &pc_client);

    // `pkg-config --static`: the archive and the system libraries it needs.
    let static_libs = pkg(&["--static", "--libs"]);
    let pc_static = pc_dir.join("chat_server_static");
    run(Command::new("gcc")
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic"])
        .args(cflags.split_whitespace())
        .arg(root.join("examples/c/chat_server.c"))
        .arg("-Wl,-Bstatic")
        .args(
            static_libs
                .split_whitespace()
                .filter(|a| *a == "-loxsio" || a.starts_with("-L")),
        )
        .arg("-Wl,-Bdynamic")
        .args(
            static_libs
                .split_whitespace()
                .filter(|a| *a != "-loxsio" && !a.starts_with("-L")),
        )
        .arg("-o")
        .arg(&pc_static));
    assert!(!needed(&pc_static).iter().any(|n| n.contains("oxsio")));
    chat(&pc_static, &pc_client);

    // The CMake package finds its prefix from its own path: a moved tree
    // still builds and links against the moved library.
    let moved = work.join("moved");
    std::fs::rename(&prefix, &moved).unwrap();
    let build2 = work.join("cmake-build-moved");
    run(Command::new("cmake")
        .arg("-S")
        .arg(root.join("ffi/tests/install"))
        .arg("-B")
        .arg(&build2)
        .arg(format!("-DCMAKE_PREFIX_PATH={}", moved.display()))
        .arg(format!("-DEXAMPLES={}", root.join("examples").display())));
    run(Command::new("cmake")
        .arg("--build")
        .arg(&build2)
        .args(["--target", "chat_server"]));
    let ldd = stdout(
        Command::new("ldd")
            .env_remove("LD_LIBRARY_PATH")
            .arg(build2.join("chat_server")),
    );
    assert!(
        ldd.contains(&moved.join("lib").join(soname()).display().to_string()),
        "the moved build does not load the moved library:\n{ldd}"
    );

    let _ = std::fs::remove_dir_all(&work);
}
