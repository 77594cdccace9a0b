// Included by `build.rs` and by the render tests (one definition of the
// digest both compute): FNV-1a, 64 bits, over `Cargo.lock` as it is.

/// The digest of a dependency lock file's bytes, as `RENDER_VERSION` ends.
#[allow(dead_code)]
fn lock_digest(lock: &[u8]) -> u64 {
    lock.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}
