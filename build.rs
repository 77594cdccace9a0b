//! Links `gen` as a fixed-address executable (not position-independent) on
//! Linux.
//!
//! minify-html carries its HTML entity table as a trie of 17,000 static
//! nodes, 13 MB of pointers. In a position-independent executable the
//! dynamic loader relocates every one of them at start: 155,000 relocations
//! and 3,200 copy-on-write page faults, 10 ms before `main` on every run
//! (`gen --version` took 10.7 ms, a no-op build of one site 34 ms). Linked at
//! a fixed address the linker resolves them once and the pages are read only
//! when used: `gen --version` takes 1.6 ms. The libraries, the heap and the
//! stacks are still placed at random; the executable's own code is not.
//!
//! Also names the locked dependencies in `RENDER_VERSION` (`GEN_LOCK_DIGEST`):
//! a gen built with another comrak, Tera, syntect or minify-html may render
//! the same inputs differently, so its first build renders every page again.

include!("src/render/lock_digest.rs");

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src/render/lock_digest.rs");
    println!("cargo:rerun-if-changed=Cargo.lock");
    // (A source without its lock, which cargo makes anew: no digest.)
    let lock = std::fs::read(std::path::Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default()).join("Cargo.lock"));
    let digest = lock.map(|l| format!("{:016x}", lock_digest(&l))).unwrap_or_else(|_| {
        println!("cargo:warning=no Cargo.lock: a dependency upgrade will not make gen's next build render every page again");
        "unlocked".into()
    });
    println!("cargo:rustc-env=GEN_LOCK_DIGEST={digest}");
    // (glibc only: musl targets link static executables their own way.)
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    if var("CARGO_CFG_TARGET_OS") == "linux" && var("CARGO_CFG_TARGET_ENV") == "gnu" {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
