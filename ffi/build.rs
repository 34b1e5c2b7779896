//! Gives `liboxsio.so` its SONAME, so programs record the ABI version they
//! were linked against (`liboxsio.so.0.1` for 0.1.x, `liboxsio.so.1` from
//! 1.0 on: before 1.0 a minor release may break the ABI, as cargo-c names
//! it). `ffi/install.sh` installs the file under that name with the
//! `liboxsio.so` development symlink.

fn main() {
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").unwrap_or_default();
    let minor = std::env::var("CARGO_PKG_VERSION_MINOR").unwrap_or_default();
    let abi = if major == "0" {
        format!("0.{minor}")
    } else {
        major
    };
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if os == "linux" || os == "android" || os.ends_with("bsd") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,liboxsio.so.{abi}");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
